"""Small validators shared by the use-cases. Each raises ValidationFailed naming the field."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from hookcast.domain.errors import ValidationFailed


def text(value: object, *, field: str, max_length: int, required: bool = True) -> str:
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be a string", field=field)
    if "\x00" in value:  # PostgreSQL cannot store it; refuse it on every backend alike
        raise ValidationFailed(f"{field} must not contain NUL characters", field=field)
    stripped = value.strip()
    if required and not stripped:
        raise ValidationFailed(f"{field} must not be empty", field=field)
    if len(stripped) > max_length:
        raise ValidationFailed(f"{field} is longer than {max_length} characters", field=field)
    return stripped


def string_list(value: object, *, field: str, max_items: int = 1000) -> list[str]:
    """A non-empty list of strings, duplicates dropped, order kept."""
    if not isinstance(value, list | tuple) or not value:
        raise ValidationFailed(f"{field} must be a non-empty list of strings", field=field)
    if len(value) > max_items:
        raise ValidationFailed(f"{field} has more than {max_items} items", field=field)
    if not all(isinstance(item, str) for item in value):
        raise ValidationFailed(f"{field} must contain only strings", field=field)
    if any("\x00" in item for item in value):
        raise ValidationFailed(f"{field} must not contain NUL characters", field=field)
    return list(dict.fromkeys(value))


def integer(value: object, *, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"{field} must be an integer", field=field)
    if not low <= value <= high:
        raise ValidationFailed(f"{field} must be between {low} and {high}", field=field)
    return value


def boolean(value: object, *, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationFailed(f"{field} must be true or false", field=field)
    return value


def timestamp(value: object, *, field: str) -> datetime:
    """An ISO 8601 time; one without an offset is taken as UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValidationFailed(
                f"{field} must be an ISO 8601 time such as 2024-08-27T00:15:45+00:00",
                field=field,
            ) from None
    else:
        raise ValidationFailed(f"{field} must be an ISO 8601 time string", field=field)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def one_of(value: object, choices: Sequence[str], *, field: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValidationFailed(f"{field} must be one of: {', '.join(choices)}", field=field)
    return value
