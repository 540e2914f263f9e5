"""The usual Python alternative: a Celery 5 task on a Redis broker that POSTs the signed
event with `requests` (a pooled Session per worker process), retries on failure with
back-off, and records the attempt as the task's result in Redis (the result backend).

Workers: celery -A benchmarks.celery_app worker (started by contestants/celery.py with
BENCH_REDIS_URL).
"""

from __future__ import annotations

import os

import requests
from celery import Celery  # type: ignore[import-not-found,import-untyped,unused-ignore]

from benchmarks.payloads import signed_headers

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

app = Celery("hookcast_bench", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    task_acks_late=True,  # acknowledged after the attempt: a crashed worker's task is redone
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=4,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=3600,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)

_session = requests.Session()


class DeliveryFailed(Exception):
    pass


# Celery has no type information: its decorator leaves the task untyped.
@app.task(  # type: ignore[untyped-decorator,misc,unused-ignore]
    bind=True,
    autoretry_for=(requests.RequestException, DeliveryFailed),
    max_retries=8,
    retry_backoff=5,
    retry_jitter=True,
)
def deliver(self: object, url: str, body: str, secret: str, event_id: str) -> int:
    payload = body.encode()
    response = _session.post(
        url, data=payload, headers=signed_headers(secret, payload, event_id), timeout=10
    )
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"HTTP {response.status_code}")
    return response.status_code
