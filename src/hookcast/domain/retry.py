"""Retry policy as pure decisions: what an attempt's outcome means and when to try again.

The worker classifies an attempt (`classify`), asks `decide` what to do next, and records the
decision; nothing here sleeps, reads the clock or draws random numbers (`jitter_sample` is
passed in), so every rule is tested with plain tables.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Final

from hookcast.domain.errors import ValidationFailed
from hookcast.domain.leases import LOST_BY
from hookcast.domain.models import RetryPolicySpec

__all__ = [
    "GONE_STATUS",
    "MAX_CUSTOM_DELAY",
    "MAX_CUSTOM_DELAYS",
    "MAX_RETRY_AFTER",
    "MIN_CUSTOM_DELAY",
    "QUICK_DELAYS",
    "STANDARD_DELAYS",
    "Completed",
    "Decision",
    "GiveUp",
    "OutcomeKind",
    "RetryAt",
    "attempts_allowed",
    "classify",
    "decide",
    "failing_too_long",
    "parse_retry_after",
    "parse_retry_policy",
    "retry_policy_to_json",
    "why_given_up",
]

# Waits before attempts 2..8: the first attempt is immediate, then 5 s, 5 min, 30 min, 2 h,
# 5 h, 10 h, 10 h -- about 28 hours in all, long enough to outlast a weekend-night outage.
STANDARD_DELAYS: Final[tuple[float, ...]] = (5, 300, 1800, 7200, 18000, 36000, 36000)
# 3 attempts 3 s apart: what api.video and Media Manager do.
QUICK_DELAYS: Final[tuple[float, ...]] = (3, 3)
# A custom schedule may not turn one event into a burst of requests to someone else's
# server (any editor can point a webhook anywhere): at most 10 retries (11 attempts; the
# standard schedule makes 8), none sooner than MIN_CUSTOM_DELAY after the previous attempt.
MAX_CUSTOM_DELAYS: Final = 10
MIN_CUSTOM_DELAY: Final = 1.0
MAX_CUSTOM_DELAY: Final = 7 * 24 * 3600.0
# A Retry-After longer than this is capped: an endpoint must not park deliveries for days.
MAX_RETRY_AFTER: Final = 3600.0
JITTER: Final = 0.2

_PRESETS: Final[dict[str, tuple[float, ...]]] = {
    "standard": STANDARD_DELAYS,
    "quick": QUICK_DELAYS,
}
_FIELD = "retry_policy"
_DELTA_SECONDS = re.compile(r"^-?[0-9]{1,12}(\.[0-9]{1,6})?$")


# --- the customer's choice --------------------------------------------------------------------


def parse_retry_policy(raw: object, *, min_delay: float = MIN_CUSTOM_DELAY) -> RetryPolicySpec:
    """Validate a webhook's `retry_policy` setting.

    `None` or "standard" (the default), "quick", or a list of 1..10 delays in seconds, each
    between `min_delay` (1 s unless the operator lowered it) and 7 days, which becomes the
    policy named "custom".
    """
    if raw is None:
        raw = "standard"
    if isinstance(raw, str):
        return _preset(raw)
    if isinstance(raw, list | tuple):
        return RetryPolicySpec("custom", _custom_delays(raw, min_delay))
    raise ValidationFailed(
        'retry_policy must be "standard", "quick" or a list of delays in seconds', field=_FIELD
    )


def _preset(name: str) -> RetryPolicySpec:
    if name not in _PRESETS:
        raise ValidationFailed(
            f'retry_policy "{name}" is unknown: use "standard", "quick" or a list of delays '
            "in seconds",
            field=_FIELD,
        )
    return RetryPolicySpec(name, _PRESETS[name])


def _custom_delays(raw: list[object] | tuple[object, ...], low: float) -> tuple[float, ...]:
    if not 1 <= len(raw) <= MAX_CUSTOM_DELAYS:
        raise ValidationFailed(
            f"retry_policy needs between 1 and {MAX_CUSTOM_DELAYS} delays, not {len(raw)}",
            field=_FIELD,
        )
    return tuple(_custom_delay(index, value, low) for index, value in enumerate(raw))


def _custom_delay(index: int, value: object, low: float) -> float:
    # bool is an int subclass, but `true` is not a number of seconds; NaN fails the range test
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad_delay(index, value, low)
    if not low <= value <= MAX_CUSTOM_DELAY:
        raise _bad_delay(index, value, low)
    return float(value)


def _bad_delay(index: int, value: object, low: float) -> ValidationFailed:
    return ValidationFailed(
        f"retry_policy[{index}] must be a number of seconds between {low:g} and "
        f"{int(MAX_CUSTOM_DELAY)} (7 days), not {value!r}",
        field=_FIELD,
    )


def retry_policy_to_json(spec: RetryPolicySpec) -> str | list[float]:
    """The API form of a policy: the preset's name, or the custom list of delays."""
    if spec.name in _PRESETS:
        return spec.name
    # 5.0 reads as 5 in JSON; the value is the same number either way.
    return [int(delay) if delay.is_integer() else delay for delay in spec.delays]


def attempts_allowed(spec: RetryPolicySpec) -> int:
    """How many attempts the policy makes before it gives up: the first and one per delay."""
    return len(_delays(spec)) + 1


def _delays(spec: RetryPolicySpec) -> tuple[float, ...]:
    # Presets are resolved by name so a spec built without its delays (the Webhook model's
    # default is RetryPolicySpec("standard", ())) still follows the preset.
    return _PRESETS.get(spec.name, spec.delays)


# --- what an attempt's outcome means ----------------------------------------------------------


class OutcomeKind(enum.StrEnum):
    SUCCESS = "success"  # 2xx
    GONE = "gone"  # 410: the receiver asks us to stop
    THROTTLED = "throttled"  # 429, 502, 503, 504: the endpoint is overloaded; slow down
    REDIRECT = "redirect"  # 3xx: not followed (the target was not SSRF-checked), so a failure
    FAILURE = "failure"  # any other status, or no response at all (timeout, refused, ...)


_THROTTLING_STATUSES: Final = frozenset({429, 502, 503, 504})
GONE_STATUS: Final = 410  # a receiver asking to be sent nothing more


def classify(status_code: int | None, error: str | None, *, success_from: int = 200) -> OutcomeKind:
    """What an attempt's status (or transport error) means for the retry policy.

    A status from `success_from` (200; api.video's format counts 1xx too) to 299 is a
    success. A status wins over an error: once the endpoint answered, an error while reading
    the rest of its response does not change what it said.
    """
    if status_code is None:
        return OutcomeKind.FAILURE
    if success_from <= status_code < 300:
        return OutcomeKind.SUCCESS
    if status_code == GONE_STATUS:
        return OutcomeKind.GONE
    if status_code in _THROTTLING_STATUSES:
        return OutcomeKind.THROTTLED
    if 300 <= status_code < 400:
        return OutcomeKind.REDIRECT
    return OutcomeKind.FAILURE


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date.

    Unparseable values give None (ignored); negative values and past dates give 0.
    """
    if value is None:
        return None
    value = value.strip()
    if _DELTA_SECONDS.match(value):
        return max(0.0, float(value))
    when = _parse_http_date(value)
    if when is None:
        return None
    return max(0.0, (when - now).total_seconds())


def _parse_http_date(value: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # HTTP-dates are GMT; a "-0000" zone parses as naive
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


# --- what to do next --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Completed:
    """The endpoint took the delivery."""


_COMPLETED = Completed()  # it has no fields: one for every success, not one per delivery


@dataclass(frozen=True, slots=True)
class RetryAt:
    """Try again at `at`."""

    at: datetime


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Stop retrying. `disable_webhook` is a reason to disable the whole webhook, if any."""

    reason: str
    disable_webhook: str | None = None


Decision = Completed | RetryAt | GiveUp

_GONE = "endpoint answered 410 Gone"


def decide(
    spec: RetryPolicySpec,
    *,
    attempts_made: int,
    outcome: OutcomeKind,
    retry_after: float | None,
    now: datetime,
    jitter_sample: float,
) -> Decision:
    """What happens after attempt number `attempts_made` ended with `outcome` at `now`.

    Jitter (±20%, from `jitter_sample` in [0, 1]) applies to the "standard" preset only, so
    that endpoints recovering from an outage are not hit by every retry at the same second;
    "quick" and custom schedules are exact because the customer chose those times.
    A Retry-After (capped at MAX_RETRY_AFTER) can push the retry later, never earlier.
    """
    if attempts_made < 1:
        raise ValueError(f"attempts_made must be at least 1, not {attempts_made}")
    if not 0.0 <= jitter_sample <= 1.0:
        raise ValueError(f"jitter_sample must be in [0, 1], not {jitter_sample}")
    if outcome is OutcomeKind.SUCCESS:
        return _COMPLETED
    if outcome is OutcomeKind.GONE:
        return GiveUp(_GONE, disable_webhook=_GONE)
    delays = _delays(spec)
    if attempts_made > len(delays):
        return GiveUp(f"no success after {attempts_made} attempts")
    wait = _with_jitter(spec, delays[attempts_made - 1], jitter_sample)
    if retry_after is not None and math.isfinite(retry_after):
        wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
    return RetryAt(now + timedelta(seconds=wait))


def why_given_up(
    *, last_status: int | None, last_error: str | None, attempts_made: int, spec: RetryPolicySpec
) -> str:
    """Why a failed delivery was given up, in words, read back from its last attempt and its
    webhook's policy (a failed delivery stores no reason of its own)."""
    if last_status == GONE_STATUS:
        return (
            "The endpoint answered 410 Gone, which asks for nothing more: the webhook was disabled"
        )
    if last_status is None and last_error is not None and last_error.startswith(LOST_BY):
        return f"Its sending was {last_error}"
    tried = f"{attempts_made} attempt{'' if attempts_made == 1 else 's'}"
    if attempts_made >= attempts_allowed(spec):
        return f"Retries used up: {tried}, all that the {spec.name} retry policy makes"
    # The policy was changed since, to one that makes more attempts than it then made.
    return f"Retries used up: {tried}, all that its retry policy made then"


def _with_jitter(spec: RetryPolicySpec, delay: float, sample: float) -> float:
    if spec.name != "standard":
        return delay
    return delay * (1 - JITTER + 2 * JITTER * sample)


# --- webhook health ---------------------------------------------------------------------------


def failing_too_long(
    *, failing_since: datetime | None, now: datetime, threshold: timedelta
) -> str | None:
    """A reason to disable a webhook that has had no success for at least `threshold`."""
    if failing_since is None or now - failing_since < threshold:
        return None
    return f"no successful delivery for {_describe_duration(threshold)}"


def disable_warning(
    *, failing_since: datetime | None, now: datetime, threshold: timedelta, warn_before: timedelta
) -> datetime | None:
    """When a webhook failing since `failing_since` will be disabled, if `now` is within
    `warn_before` of it (and it is not due already: then `failing_too_long` disables it)."""
    if failing_since is None:
        return None
    disable_at = failing_since + threshold
    if now < disable_at - warn_before or now >= disable_at:
        return None
    return disable_at


def _describe_duration(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            return _plural(seconds // size, unit)
    if seconds >= 3600:
        return _plural(round(seconds / 3600), "hour")
    return _plural(seconds, "second")


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"
