"""Text from outside (a receiver's response, an error naming it) made storable everywhere.

PostgreSQL refuses NUL in a text column and both databases refuse what is not UTF-8, and
one refused row fails the whole batch of outcomes it is written with: a receiver must not be
able to stop recording with what it answers.
"""

from __future__ import annotations

__all__ = ["REPLACEMENT", "storable_text"]

REPLACEMENT = "\ufffd"  # what Unicode itself puts in place of what cannot be shown


def storable_text(value: str | bytes) -> str:
    """`value` as text any database stores: bytes are decoded as UTF-8; NUL, invalid UTF-8
    and lone surrogates are replaced with U+FFFD; everything else is kept exactly."""
    if isinstance(value, str) and value.isascii() and "\x00" not in value:
        return value  # the common case (an empty or ASCII body): nothing to replace
    if isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
    else:
        # A lone surrogate cannot be encoded: it goes out as bytes that are not UTF-8 and
        # comes back as U+FFFD.
        text = value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text.replace("\x00", REPLACEMENT)
