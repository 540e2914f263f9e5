"""Identifiers and secrets: 8-character resource ids, event and delivery ids, secrets."""

from __future__ import annotations

import base64
import functools
import itertools
import re
import secrets
import string
import time
from collections.abc import Iterator

_ALPHABET = string.ascii_letters + string.digits
# fullmatch, not match: `$` also matches before a trailing newline ("1A23bCD4\n").
_RESOURCE_ID = re.compile(r"^[A-Za-z0-9]{8}$")
# Caller-chosen event ids are echoed in headers and URLs, so keep them to a safe alphabet.
_EVENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
API_KEY_PREFIX = "hck_"


_UNBIASED = 256 - 256 % len(_ALPHABET)  # bytes below this map evenly onto the alphabet
# Each byte below _UNBIASED to its character, the others dropped: bytes.translate does per
# random byte in C what a generator did in Python (~16 us per delivery id, ~2 now).
_TO_CHAR = bytes(ord(_ALPHABET[b % len(_ALPHABET)]) for b in range(256))
_BIASED = bytes(range(_UNBIASED, 256))


def random_chars(length: int) -> str:
    """`length` characters drawn uniformly from the alphabet, from one read of the system's
    random source (a call per character cost ~3% of a busy server's time)."""
    chars = b""
    while len(chars) < length:
        chars += secrets.token_bytes(length * 2).translate(_TO_CHAR, _BIASED)
    return chars[:length].decode("ascii")


def new_resource_id() -> str:
    """An id shaped like JW Player's: 8 letters and digits (webhooks, sites, accounts, keys)."""
    return random_chars(8)


def is_resource_id(value: str) -> bool:
    return bool(_RESOURCE_ID.fullmatch(value))


def new_event_id() -> str:
    """`evt_` and 22 letters and digits in time order, as a delivery id's (new_delivery_id
    says why): the Events page lists one publish's events, which share their creation time,
    by id, in the order published (with random ids, in any order)."""
    return "evt_" + _ordered_chars()


def is_event_id(value: str) -> bool:
    return bool(_EVENT_ID.fullmatch(value))


# The same 62 characters in ASCII's order, which is how SQLite (its BINARY collation) and
# PostgreSQL under the C collation sort text: numbers written in them sort as they compare.
_ORDERED = string.digits + string.ascii_uppercase + string.ascii_lowercase
_TIME_CHARS = 8  # milliseconds since the epoch: 62**8 of them reach past the year 8000
# A process's count of ids within one millisecond, 3 characters (62**3 of them): the
# first, then the last two by lookup (a computation of all three cost ~3 us an id).
_COUNTS = 62**3
# Each millisecond's count starts at a random offset below this: from 0, an id's count said
# how many ids the process had made in its millisecond before it, other tenants' included
# (their volume). So at least _COUNTS - _STARTS + 1 = 119,165 ids fit in a millisecond (a
# process makes a few hundred at ~2 us an id); the next waits for the clock's next one.
_STARTS = _COUNTS // 2
_PAIRS = [high + low for high in _ORDERED for low in _ORDERED]


def new_delivery_id() -> str:
    """`dlv_` and 22 letters and digits: the time it was made (milliseconds, 8 characters
    that sort as the times do), the process's count of ids in that millisecond from a
    random start (3 more), then 11 random ones (65 bits).

    Why the time first: a delivery's id is the key of the attempts' index on SQLite and of
    every delivery's primary key, and deliveries are recorded in about the order they were
    made. With random ids, each of a recording's 128 attempts went to a page of its own in
    the attempts' index (0.77 pages written to the WAL per result, 0.28 with ids in time
    order); in time order they share a few. SQLite alone, per recorded result: the
    attempts' INSERT 1.7 µs against 4.0-4.3, the COMMIT 1.9-2.9 against 4.9-5.9
    (docs/benchmarks/embedded-delivery.md, "Tenth pass: the SQLite recording by rowid").

    Why the count: a publish's deliveries share their creation time and their millisecond,
    and the delivery log lists ties by id; with random characters next, one publish's
    deliveries listed in any order, now in the order they were made (its events' order)."""
    return "dlv_" + _ordered_chars()


def _ordered_chars() -> str:
    """22 letters and digits that sort in the order made within a process: the millisecond,
    a count of the ids made in it from a random start, then 11 random characters."""
    while True:
        prefix, counted = _millisecond(time.time_ns() // 1_000_000)
        count = next(counted)
        if count < _COUNTS:
            break
        # The millisecond's counts are spent: wrapping round would sort this id before those
        # made earlier in it, so it waits for the next millisecond (a fresh count).
        time.sleep(0)
    first, last_two = divmod(count, len(_PAIRS))
    return prefix + _ORDERED[first] + _PAIRS[last_two] + random_chars(11)


@functools.lru_cache(maxsize=1)  # the deliveries of one publish share their millisecond
def _millisecond(millis: int) -> tuple[str, Iterator[int]]:
    """`millis` in `_TIME_CHARS` ordered characters, and a count of the ids made in it from
    a random start below `_STARTS` (next() on an itertools.count is atomic under the GIL:
    threads share it safely)."""
    return _base62(millis, _TIME_CHARS), itertools.count(secrets.randbelow(_STARTS))


def _base62(number: int, width: int) -> str:
    """`number` in `width` characters of `_ORDERED`, most significant first."""
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        chars.append(_ORDERED[digit])
    return "".join(reversed(chars))


def new_webhook_secret() -> str:
    """`whsec_` + base64 of 32 random bytes: usable as-is by Standard Webhooks libraries."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def new_api_key_secret(key_id: str) -> str:
    """`hck_`, the key's id, `_` and 32 random bytes: a person holding a secret finds its key
    in `keys list` and the dashboard by the id (no secret: those lists show it), to revoke it."""
    return f"{API_KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
