"""One log line per delivery attempt: ids, status, latency, outcome. Never a secret, a
signature, a header or a URL (a webhook URL may carry credentials in its userinfo)."""

from __future__ import annotations

import logging
import re

from hookcast.ports import AttemptReport

__all__ = ["log_attempt", "scrub"]

_log = logging.getLogger("hookcast.delivery")
# "scheme://user:password@host": the part between // and @ is credentials.
_USERINFO = re.compile(r"//[^/@\s]*@")


def scrub(text: str) -> str:
    """Removes URL credentials from a message (errors may quote the URL they failed on)."""
    return _USERINFO.sub("//***@", text)


def log_attempt(report: AttemptReport) -> None:
    if not _log.isEnabledFor(logging.INFO):
        return
    fields = {
        "delivery_id": report.delivery_id,
        "event_id": report.event_id,
        "webhook_id": report.webhook_id,
        "attempt": report.attempt,
        "status_code": report.status_code,
        "latency_ms": round(report.latency_ms, 1),
        "outcome": report.outcome_name,
        "error": scrub(report.error) if report.error else None,
    }
    _log.info(
        "delivery attempt %s #%d (event %s, webhook %s): %s in %.0f ms, %s%s",
        report.delivery_id,
        report.attempt,
        report.event_id,
        report.webhook_id,
        report.status_code if report.status_code is not None else "no response",
        report.latency_ms,
        fields["outcome"],
        f" ({fields['error']})" if fields["error"] else "",
        extra={"fields": fields},
    )
