"""Recording a batch of delivery results so that one row the database refuses cannot keep
the others from being recorded.

A batch is one transaction. If the database refuses a value in it (a data or constraint
error, not an outage), the batch is split in halves and each half written on its own, down
to single results; a single result still refused is written once more with its response
body and error replaced by a short marker, so that its delivery is still concluded, and the
replacement is logged. An outage (`Unavailable`) fails the call as before: every row would
fail alike, and the worker keeps the results to try again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from hookcast.domain.errors import Conflict, ValidationFailed
from hookcast.ports import DeliveryResult, WebhookHealth

__all__ = ["Write", "record_splitting"]

_log = logging.getLogger("hookcast.store")

Write = Callable[[Sequence[DeliveryResult], Sequence[WebhookHealth]], Awaitable[None]]
_REFUSED = (ValidationFailed, Conflict)


async def record_splitting(
    write: Write, *, results: Sequence[DeliveryResult], health: Sequence[WebhookHealth]
) -> None:
    """Writes `results` and `health` with `write` (one transaction per call), splitting the
    batch around rows the database refuses. Health travels with the first half: it belongs
    to the batch, not to any one row."""
    try:
        await write(results, health)
        return
    except _REFUSED as exc:
        refused: Exception = exc
    if len(results) > 1:
        half = len(results) // 2
        await record_splitting(write, results=results[:half], health=health)
        await record_splitting(write, results=results[half:], health=[])
        return
    marked = [_marked(result, refused) for result in results]
    for result in results:
        _log.warning(
            "the database refused the result of delivery %s (%s); recorded without its response",
            result.delivery_id,
            _kind(refused),
            extra={"fields": {"delivery_id": result.delivery_id, "refused": _kind(refused)}},
        )
    try:
        await write(marked, health)
    except _REFUSED:
        # Not the response then (a header, the health): left unrecorded, the lease expires
        # and the delivery is tried again; the others are recorded.
        _log.exception("a delivery result could not be recorded even without its response")


def _marked(result: DeliveryResult, refused: Exception) -> DeliveryResult:
    marker = f"response could not be stored: {_kind(refused)}"
    attempt = replace(result.attempt, response_body=marker, error=marker)
    return replace(result, attempt=attempt)


def _kind(refused: Exception) -> str:
    """The PEP 249 class of what the database refused (store/errors.py chains it as the
    cause), never the message, which may quote the value."""
    cause = refused.__cause__
    return type(cause if cause is not None else refused).__name__
