"""Identifiers and secrets: what is generated always passes its own check, and the checks
accept exactly their documented alphabets (properties, with hypothesis)."""

from __future__ import annotations

import base64
import itertools
import re
import string
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookcast.domain.ids import (
    API_KEY_PREFIX,
    SECRET_PREFIX,
    is_event_id,
    is_resource_id,
    new_api_key_secret,
    new_delivery_id,
    new_event_id,
    new_resource_id,
    new_webhook_secret,
)

# Properties of pure domain code (the standard library only: import-linter's first
# contract): no dependency's version reaches them, so make test-lowest leaves them to the
# suite (~15 s of its CPU).
pytestmark = pytest.mark.suite_only

_ALNUM = string.ascii_letters + string.digits


def test_generated_ids_pass_their_checks_and_do_not_repeat() -> None:
    resource_ids = {new_resource_id() for _ in range(500)}
    event_ids = {new_event_id() for _ in range(500)}
    assert len(resource_ids) == len(event_ids) == 500
    assert all(is_resource_id(value) for value in resource_ids)
    assert all(is_event_id(value) for value in event_ids)
    assert all(is_event_id(new_delivery_id()) for _ in range(100))


def test_delivery_ids_are_dlv_and_22_letters_and_digits_and_do_not_repeat() -> None:
    made = {new_delivery_id() for _ in range(500)}
    assert len(made) == 500
    assert all(re.fullmatch(r"dlv_[A-Za-z0-9]{22}", value) for value in made)


_MOST_MILLIS = 62**8 - 1


@given(
    st.integers(min_value=0, max_value=_MOST_MILLIS - 1),
    st.integers(min_value=1, max_value=_MOST_MILLIS),
)
def test_a_delivery_id_made_later_sorts_after_one_made_earlier(first: int, gap: int) -> None:
    # Sorted as SQLite's BINARY collation sorts text (code points): the attempts' index on
    # delivery ids then fills in the order deliveries are recorded (domain/ids.py says why).
    later = min(first + gap, _MOST_MILLIS)
    with mock.patch("hookcast.domain.ids.time.time_ns", return_value=first * 1_000_000):
        earlier_id = new_delivery_id()
    with mock.patch("hookcast.domain.ids.time.time_ns", return_value=later * 1_000_000 + 999):
        later_id = new_delivery_id()
    assert earlier_id < later_id


def test_delivery_ids_made_in_one_millisecond_sort_in_the_order_made() -> None:
    # A publish's deliveries share a millisecond and a creation time: the delivery log lists
    # them by id, in the order the publish named its events.
    with mock.patch("hookcast.domain.ids.time.time_ns", return_value=1_765_000_000_000_000_000):
        made = [new_delivery_id() for _ in range(200)]
        events = [new_event_id() for _ in range(200)]
    assert sorted(made) == made
    assert sorted(events) == events


def _count(made: str) -> str:
    """The 3 characters after an id's millisecond: where it came in that millisecond."""
    return made[12:15]


def test_an_ids_count_does_not_say_how_many_ids_came_before_it_in_its_millisecond() -> None:
    # The first id of each millisecond: with counts from 0, each said "000", and a second
    # id told a tenant how many ids (other tenants' included) the process made in between.
    millis = iter(range(1_765_000_000_000, 1_765_000_000_040))
    with mock.patch("hookcast.domain.ids.time.time_ns", side_effect=lambda: next(millis) * 10**6):
        firsts = [new_delivery_id() for _ in range(20)] + [new_event_id() for _ in range(20)]
    assert len({_count(made) for made in firsts}) > 30  # random starts, a few may repeat


def test_ids_past_a_milliseconds_counts_wait_for_the_next_one_and_keep_their_order() -> None:
    # A millisecond's count starts at a random offset below 62**3 // 2 = 119,164, so at
    # least 62**3 - 119,163 = 119,165 ids fit in it (a process makes a few hundred at ~2 us
    # each); the one after waits for the clock's next millisecond rather than wrapping
    # round to the lowest count (which sorted it, and the rest, before those made earlier).
    fit = 62**3 - (62**3 // 2 - 1)
    millisecond = 1_765_000_000_123
    clock = itertools.chain(itertools.repeat(millisecond, fit + 1), [millisecond + 1])
    with (
        mock.patch("hookcast.domain.ids.secrets.randbelow", side_effect=lambda n: n - 1),
        mock.patch("hookcast.domain.ids.time.time_ns", side_effect=lambda: next(clock) * 10**6),
    ):
        made = [new_delivery_id() for _ in range(fit + 1)]
    assert sorted(made) == made
    assert len(set(made)) == fit + 1
    assert made[-2][4:12] < made[-1][4:12]  # the last in the next millisecond
    assert _count(made[-2]) == "zzz"


def test_webhook_secrets_are_whsec_and_32_random_bytes() -> None:
    secrets = {new_webhook_secret() for _ in range(100)}
    assert len(secrets) == 100
    for secret in secrets:
        assert secret.startswith(SECRET_PREFIX)
        assert len(base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)) == 32


def test_api_key_secrets_are_prefixed_url_safe_and_long() -> None:
    secret = new_api_key_secret("KU27RqgK")
    assert secret.startswith(API_KEY_PREFIX)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", secret.removeprefix(API_KEY_PREFIX + "KU27RqgK_"))


@given(st.text(alphabet=_ALNUM, min_size=8, max_size=8))
def test_any_eight_letters_and_digits_are_a_resource_id(value: str) -> None:
    assert is_resource_id(value)


@given(st.text(max_size=12))
def test_a_resource_id_is_exactly_eight_ascii_letters_or_digits(value: str) -> None:
    expected = len(value) == 8 and all(char in _ALNUM for char in value)
    assert is_resource_id(value) is expected


@given(
    st.text(alphabet=_ALNUM, min_size=1, max_size=1),
    st.text(alphabet=_ALNUM + "_.:-", max_size=127),
)
def test_caller_chosen_event_ids_in_the_safe_alphabet_are_accepted(first: str, rest: str) -> None:
    assert is_event_id(first + rest)


@given(st.text(max_size=140))
def test_event_ids_never_admit_what_headers_or_urls_could_choke_on(value: str) -> None:
    if is_event_id(value):
        assert 1 <= len(value) <= 128
        assert value[0] in _ALNUM
        assert all(char in _ALNUM + "_.:-" for char in value)
        assert value.isascii()
        assert value.isprintable()


@given(
    st.sampled_from([new_resource_id, new_event_id]),
    st.sampled_from(["\n", "\r\n", " ", "\t", "\x00", "/", "é"]),
)
def test_a_valid_id_with_anything_after_it_is_refused(make: object, suffix: str) -> None:
    assert callable(make)
    value = make()
    check = is_resource_id if make is new_resource_id else is_event_id
    assert check(value)
    assert not check(value + suffix)
