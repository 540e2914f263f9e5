"""The e-mail sent to an account's contact address for an operational event: a warning
before a webhook is disabled, the disable, the recovery (domain/operational.py MAILED)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from hookcast.domain.operational import DISABLE_WARNING, DISABLED, RECOVERED

__all__ = [
    "MAILS_PER_HOUR",
    "MAIL_RETRY_DELAYS",
    "MAIL_TRIES",
    "Mail",
    "compose",
    "retry_at",
    "valid_address",
]

# Mails an account is sent in any hour at most: a tenant that flips its endpoint between
# failing and working cannot turn HookCast into a mail cannon, nor queue hours of mail ahead
# of other accounts' warnings. The events themselves are all published and delivered.
MAILS_PER_HOUR: Final = 12
MAX_ADDRESS = 254  # RFC 5321's longest forward path, less its angle brackets
# Waits after each failed try (seconds): a mail server down for a day still gets the mail,
# as a warning is sent a day before the disable; after the last one the mail is given up.
MAIL_RETRY_DELAYS: Final = (30, 120, 600, 1800, 3600, *(10800,) * 8)
# Tries a mail gets in all. Each is counted when the mail is claimed, so one whose mailer
# never reports back (killed while sending it, every time) is given up too.
MAIL_TRIES: Final = len(MAIL_RETRY_DELAYS) + 1


def retry_at(*, attempts: int, now: datetime) -> datetime | None:
    """When a mail that failed its `attempts`-th try goes again; None: it is given up."""
    if attempts >= MAIL_TRIES:
        return None
    return now + timedelta(seconds=MAIL_RETRY_DELAYS[attempts - 1])


@dataclass(frozen=True, slots=True)
class Mail:
    """One plain-text e-mail, ready to send."""

    recipient: str
    subject: str
    body: str


def valid_address(address: str) -> bool:
    """A plausible single address: one "@" with text either side, no spaces, no header
    breaks (it becomes a To: header), no list separators."""
    local, at, domain = address.partition("@")
    forbidden = set(" \t\r\n,;<>\"'")
    return (
        bool(at and local and domain)
        and "." in domain
        and "@" not in domain
        and len(address) <= MAX_ADDRESS
        and not forbidden & set(address)
    )


def compose(event_type: str, data: dict[str, Any], *, recipient: str) -> Mail:
    """The e-mail telling `recipient` about an operational event with `data`."""
    name = data.get("webhook_name") or data.get("webhook_id")
    subjects = {
        DISABLE_WARNING: f'Webhook "{name}" will be disabled at {data.get("disable_at")}',
        DISABLED: f'Webhook "{name}" was disabled',
        RECOVERED: f'Webhook "{name}" recovered',
    }
    subject = subjects.get(event_type)
    if subject is None:
        raise ValueError(f"{event_type} is not sent by e-mail")
    return Mail(recipient=recipient, subject=_one_line(f"[HookCast] {subject}"), body=_body(data))


def _one_line(text: str) -> str:
    """`text` with every control character (CR, LF, tab...) and every other line break of
    Unicode's (U+0085, U+2028, U+2029) a space: a webhook's name is the user's, and a header
    with a line break in it is refused (Python's email refuses any `str.splitlines` breaks
    at: the mail then failed on every try) or would be two."""
    return "".join(" " if _breaks(char) else char for char in text)


def _breaks(char: str) -> bool:
    return ord(char) < 32 or 127 <= ord(char) <= 159 or char in "\u2028\u2029"


def _body(data: dict[str, Any]) -> str:
    lines = [
        ("Webhook", f"{data.get('webhook_name')} ({data.get('webhook_id')})"),
        ("URL", data.get("webhook_url")),
        ("Reason", data.get("reason")),
        ("To be disabled at", data.get("disable_at")),
        ("Failing since", data.get("failing_since")),
        ("Recovered at", data.get("recovered_at")),
        ("Last response", _last_response(data)),
        ("Deliveries waiting", data.get("deliveries_waiting")),
    ]
    shown = [f"{label}: {value}" for label, value in lines if value not in (None, "")]
    return "\n".join([*shown, "", _advice(data)]) + "\n"


def _last_response(data: dict[str, Any]) -> str | None:
    error = data.get("last_error")
    if error is None:
        return None
    excerpt = data.get("last_response_body") or ""
    return f"{error} {excerpt[:200]!r}" if excerpt else str(error)


def _advice(data: dict[str, Any]) -> str:
    if "recovered_at" in data:
        return "Deliveries to it succeed again; nothing needs doing."
    if "disable_at" in data:
        return (
            "Unless one delivery to it succeeds before then, HookCast disables it and holds "
            "its deliveries. Fix the receiver, or disable the webhook yourself."
        )
    return (
        "Nothing is sent to it until it is enabled again; its deliveries are kept. Fix the "
        "receiver, enable the webhook, then deliver or discard what was held."
    )
