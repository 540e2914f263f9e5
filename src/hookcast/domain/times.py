"""Times as people and the API give them: ISO 8601, read as UTC when no offset is named.

In the domain (standard library only) so the command line can read and explain a time
without loading the use-cases."""

from __future__ import annotations

from datetime import UTC, datetime

from hookcast.domain.errors import ValidationFailed

__all__ = ["TIME_FORMS", "timestamp"]

# What `timestamp` accepts (datetime.fromisoformat, with "Z" for UTC), said in its errors:
# a date alone was accepted and its midnight meant, but the error named only a full time.
TIME_FORMS = (
    "an ISO 8601 date or time such as 2024-08-27, 2024-08-27T00:15:45Z or "
    "2024-08-27T02:15:45+02:00 (UTC when it names no offset)"
)


def timestamp(value: object, *, field: str) -> datetime:
    """An ISO 8601 date or time (`TIME_FORMS`); one without an offset is taken as UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValidationFailed(f"{field} must be {TIME_FORMS}", field=field) from None
    else:
        raise ValidationFailed(f"{field} must be a string: {TIME_FORMS}", field=field)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 is before the first datetime in UTC
        raise ValidationFailed(
            f"{field} is out of range once converted to UTC", field=field
        ) from None
