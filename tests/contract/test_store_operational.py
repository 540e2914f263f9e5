"""Operational events: recording outcomes that change a webhook's health publishes
webhook_failing, webhook_disable_warning, webhook_disabled and webhook_recovered in the same
transaction, once per change, to the account's webhooks that subscribe to them."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hookcast.delivery.attempt import conclude, prepare
from hookcast.domain.health import HealthSignal, summarize
from hookcast.domain.mail import MAIL_TRIES, MAILS_PER_HOUR
from hookcast.domain.models import Account, DeliveryStatus, Event, LastError, Webhook
from hookcast.ports import (
    ClaimedDelivery,
    DeliveryQuery,
    EventQuery,
    Fanout,
    PageRequest,
    SendOutcome,
    WebhookHealth,
)
from hookcast.store import SqlStore, open_store, to_async_url
from hookcast.store import operational as operational_sql
from support import factories as make
from support.waiting import DEADLINE

DAY = 86400  # seconds
OPERATIONAL = (
    "webhook_failing",
    "webhook_disable_warning",
    "webhook_disabled",
    "webhook_recovered",
)


async def _setup(store: SqlStore) -> tuple[Account, Webhook, Webhook]:
    """An account with a webhook that will fail (subscribed to its own operational events
    too) and a watcher subscribed to them, each with one pending delivery of an event."""
    acme = make.account()
    await store.create_account(acme)
    failing = make.webhook(acme.id, name="Indexer", events=("media_available", *OPERATIONAL))
    watcher = make.webhook(acme.id, name="On call", events=OPERATIONAL)
    await store.create_webhook(failing)
    await store.create_webhook(watcher)
    event = make.event(acme.id)
    await store.append_events(events=[event], fanout=make.fanout_to(failing.id))
    return acme, failing, watcher


def _failure(webhook_id: str, at: float, **extra: Any) -> WebhookHealth:
    error = LastError(make.later(at), 503, "HTTP 503", "upstream down")
    return WebhookHealth(webhook_id, None, make.later(at), last_error=error, **extra)


def _success(webhook_id: str, at: float) -> WebhookHealth:
    return WebhookHealth(webhook_id, make.later(at), None)


async def _told(store: SqlStore, account: Account, watcher: Webhook) -> list[dict[str, Any]]:
    """What the watcher was sent: each delivery's event type and data, oldest first."""
    page = await store.list_deliveries(
        DeliveryQuery(account.id, watcher.id, page=PageRequest(page_length=100))
    )
    # Events of one moment (a 410 starts the failing period and disables) in causal order.
    order = [*OPERATIONAL, "webhook_held"]
    records = sorted(
        page.items, key=lambda record: (record.event.created, order.index(record.event.type))
    )
    return [{"type": r.event.type, **(r.event.data or {})} for r in records]


async def _types(store: SqlStore, account: Account, watcher: Webhook) -> list[str]:
    return [told["type"] for told in await _told(store, account, watcher)]


async def test_the_first_failure_of_a_period_is_told_once_with_what_on_call_needs(
    store: SqlStore,
) -> None:
    acme, failing, watcher = await _setup(store)

    await store.record_results([], [_failure(failing.id, 10)])
    await store.record_results([], [_failure(failing.id, 20)])

    (told,) = await _told(store, acme, watcher)
    assert told == {
        "type": "webhook_failing",
        "webhook_id": failing.id,
        "webhook_name": "Indexer",
        "webhook_url": failing.webhook_url,
        "failing_since": make.later(10).isoformat(),
        "last_status_code": 503,
        "last_error": "HTTP 503",
        "last_response_body": "upstream down",
        "deliveries_waiting": 1,
    }


async def test_a_webhook_is_not_told_about_itself(store: SqlStore) -> None:
    acme, failing, _watcher = await _setup(store)

    await store.record_results([], [_failure(failing.id, 10)])

    # Subscribed to webhook_failing, it still has only the event it was failing on.
    page = await store.list_deliveries(DeliveryQuery(acme.id, failing.id))
    assert [record.event.type for record in page.items] == ["media_available"]


async def test_recovery_ends_the_period_and_the_next_failure_starts_another(
    store: SqlStore,
) -> None:
    acme, failing, watcher = await _setup(store)

    await store.record_results([], [_failure(failing.id, 10)])
    await store.record_results([], [_success(failing.id, 30)])
    await store.record_results([], [_success(failing.id, 40)])  # healthy already: nothing
    await store.record_results([], [_failure(failing.id, 50)])

    told = await _told(store, acme, watcher)
    assert [t["type"] for t in told] == ["webhook_failing", "webhook_recovered", "webhook_failing"]
    recovered = told[1]
    assert (recovered["failing_since"], recovered["recovered_at"]) == (
        make.later(10).isoformat(),
        make.later(30).isoformat(),
    )
    assert told[2]["failing_since"] == make.later(50).isoformat()


async def test_the_warning_is_told_once_and_the_disable_with_its_reason(store: SqlStore) -> None:
    acme, failing, watcher = await _setup(store)
    disable_at = make.later(5 * 86400 + 10)

    await store.record_results([], [_failure(failing.id, 10)])
    await store.record_results([], [_failure(failing.id, 4 * 86400, disable_at=disable_at)])
    await store.record_results([], [_failure(failing.id, 4.5 * 86400, disable_at=disable_at)])
    gone = _failure(failing.id, 5 * 86400, disable_reason="no successful delivery for 5 days")
    await store.record_results([], [gone])
    await store.record_results([], [gone])  # disabled already: nothing more

    told = await _told(store, acme, watcher)
    assert [t["type"] for t in told] == [
        "webhook_failing",
        "webhook_disable_warning",
        "webhook_disabled",
    ]
    assert told[1]["disable_at"] == disable_at.isoformat()
    assert told[2]["reason"] == "no successful delivery for 5 days"
    assert told[2]["deliveries_waiting"] == 1  # its delivery, paused


async def test_operational_events_are_in_the_event_log_and_reach_only_subscribers(
    store: SqlStore,
) -> None:
    acme, failing, watcher = await _setup(store)
    everything = make.webhook(acme.id, events=("*",))
    await store.create_webhook(everything)

    await store.record_results([], [_failure(failing.id, 10)])

    logged = await store.list_events(EventQuery(acme.id, type="webhook_failing"))
    assert [
        summary.event.data and summary.event.data["webhook_id"] for summary in logged.items
    ] == [failing.id]
    counts = logged.items[0].deliveries
    assert (sum(counts.values()), counts[DeliveryStatus.PENDING]) == (1, 1)  # the watcher's
    assert await _types(store, acme, watcher) == ["webhook_failing"]


async def test_many_failures_recorded_at_once_tell_one_failing(
    database_url: str, secret_key: bytes
) -> None:
    """Two workers (two stores, their own connections) record failures of one webhook at the
    same moment: one webhook_failing, whoever commits first."""
    stores = [await open_store(database_url, secret_key=secret_key) for _ in range(2)]
    try:
        acme, failing, watcher = await _setup(stores[0])
        for round_ in range(5):
            at = 100.0 * round_
            await asyncio.gather(
                *(
                    store.record_results([], [_failure(failing.id, at + n)])
                    for n, store in enumerate(stores * 4)
                )
            )
            await stores[0].record_results([], [_success(failing.id, at + 50)])
        told = await _types(stores[0], acme, watcher)
        assert told == ["webhook_failing", "webhook_recovered"] * 5
    finally:
        for store in stores:
            await store.close()


# A condition of a notice's body that visits three elements (two path segments, one
# comparison): with the budget of a publish lowered to three, a notice's evaluation for one
# watcher uses all of it.
_COSTLY = {"data.last_status_code": 503}
# One that visits 160 elements of a notice whose response excerpt is 300 characters long
# (31 substring searches of it that find nothing, then the one that matches), within the
# limits a condition is saved under (100 parts, 16 KiB).
_COSTLIER = {
    "$or": [
        *({"data.last_response_body": {"$contains": f"absent {n}"}} for n in range(31)),
        {"data.last_status_code": 503},
    ]
}


@pytest.mark.suite_only  # 100 notices of HookCast's own budget: the suite's, not test-lowest's
async def test_each_notice_of_a_recording_has_a_publish_budget_of_its_own(
    store: SqlStore,
) -> None:
    # The recording's notices shared one publish's budget (1,000,000 visits): 80 of an
    # account's 100 webhooks failing at once, each told to the 99 others through that
    # condition, cost 80 x 99 x 160 = 1.27 million visits, and the plan stopped at the 64th
    # notice: the 16 after it reached no webhook of the account.
    acme = make.account()
    await store.create_account(acme)
    hooks = [
        make.webhook(acme.id, name=f"Indexer {n}", events=OPERATIONAL, conditions=_COSTLIER)
        for n in range(100)
    ]
    for hook in hooks:
        await store.create_webhook(hook)
    error = LastError(make.later(10), 503, "HTTP 503", "x" * 300)
    failures = [WebhookHealth(h.id, None, make.later(10), last_error=error) for h in hooks[:80]]

    await store.record_results([], failures)

    page = PageRequest(page_length=100)
    told = await store.list_events(EventQuery(acme.id, type="webhook_failing", page=page))
    assert len(told.items) == 80
    assert [sum(summary.deliveries.values()) for summary in told.items] == [99] * 80


async def test_a_notice_past_its_budget_is_said_in_the_log(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Past 100 webhooks with costly conditions one notice can run out of its own budget:
    # the webhooks past that point are not told, and the log says which notice it was.
    monkeypatch.setattr("hookcast.store.operational.MAX_PUBLISH_VISITS", 3)
    acme, failing, _watcher = await _setup(store)
    for n in range(2):
        watcher = make.webhook(acme.id, name=f"On call {n}", events=OPERATIONAL, conditions=_COSTLY)
        await store.create_webhook(watcher)

    with caplog.at_level("WARNING", logger="hookcast.publish"):
        await store.record_results([], [_failure(failing.id, 10)])

    (notice,) = (await store.list_events(EventQuery(acme.id, type="webhook_failing"))).items
    said = [r.getMessage() for r in caplog.records if r.name == "hookcast.publish"]
    (line,) = said
    assert notice.event.id in line
    assert acme.id in line


@pytest.mark.postgres
async def test_a_recording_foreseen_to_tell_a_notice_locks_once(
    pg_store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its lock pass covered only the notices it was told to: the first recording of a
    # failure (healthy when claimed) told webhook_failing, rolled back and was recorded
    # again. It is foreseen from the standing the claim read, and the next one (failing by
    # the first recording) foresees nothing and takes the usual narrow pass.
    passes: list[frozenset[str]] = []
    lock_standing = operational_sql.lock_standing

    async def counted(*args: Any, **kwargs: Any) -> Any:
        passes.append(frozenset(kwargs.get("telling", ())))
        return await lock_standing(*args, **kwargs)

    monkeypatch.setattr(operational_sql, "lock_standing", counted)
    acme, failing, watcher = await _setup(pg_store)
    (claimed,) = await pg_store.claim_due_deliveries(now=make.later(1), limit=1, lease_seconds=30)

    retry = make.retry_later(claimed, make.later(60), at=make.later(10))
    await pg_store.record_results([retry], [_failure(failing.id, 10)])
    await pg_store.record_results([], [_failure(failing.id, 20)])

    assert passes == [frozenset({failing.id}), frozenset()]
    assert await _types(pg_store, acme, watcher) == ["webhook_failing"]


# --- e-mail ---------------------------------------------------------------------------------


async def _fail_until_disabled(store: SqlStore, failing: Webhook) -> None:
    disable_at = make.later(5 * 86400 + 10)
    await store.record_results([], [_failure(failing.id, 10)])
    await store.record_results([], [_failure(failing.id, 4 * 86400, disable_at=disable_at)])
    gone = _failure(failing.id, 5 * 86400, disable_reason="410 Gone")
    await store.record_results([], [gone])


async def test_the_warning_and_the_disable_are_queued_as_mails_once(store: SqlStore) -> None:
    acme, failing, _watcher = await _setup(store)
    assert await store.set_contact_email(acme.id, "oncall@acme.example")
    assert await store.get_contact_email(acme.id) == "oncall@acme.example"

    await _fail_until_disabled(store, failing)
    await _fail_until_disabled(store, failing)  # told already: nothing more

    mails = await store.claim_due_mails(now=make.later(6 * 86400), limit=10, lease_seconds=60)
    assert [(m.mail.recipient, m.mail.subject, m.attempts) for m in mails] == [
        (
            "oncall@acme.example",
            '[HookCast] Webhook "Indexer" will be disabled at '
            + make.later(5 * 86400 + 10).isoformat(),
            1,
        ),
        ("oncall@acme.example", '[HookCast] Webhook "Indexer" was disabled', 1),
    ]
    assert "Reason: 410 Gone" in mails[1].mail.body
    assert failing.webhook_url in mails[1].mail.body


async def test_an_account_is_mailed_at_most_a_dozen_times_an_hour(store: SqlStore) -> None:
    noisy, quiet = make.account(), make.account()
    hooks = [make.webhook(noisy.id, name=f"Hook {n}") for n in range(MAILS_PER_HOUR + 3)]
    hooks.append(make.webhook(quiet.id, name="Quiet"))
    for account in (noisy, quiet):
        await store.create_account(account)
        await store.set_contact_email(account.id, f"oncall@{account.id.lower()}.example")
    for hook in hooks:
        await store.create_webhook(hook)

    # Every webhook of both accounts disabled in one batch.
    gone = [_failure(hook.id, 10, disable_reason="410 Gone") for hook in hooks]
    await store.record_results([], gone)
    mails = await store.claim_due_mails(now=make.later(20), limit=100, lease_seconds=60)

    to = [m.mail.recipient for m in mails]
    assert to.count(f"oncall@{noisy.id.lower()}.example") == MAILS_PER_HOUR
    assert to.count(f"oncall@{quiet.id.lower()}.example") == 1


async def test_no_contact_address_no_mail(store: SqlStore) -> None:
    _acme, failing, _watcher = await _setup(store)

    await _fail_until_disabled(store, failing)

    assert await store.claim_due_mails(now=make.later(9e6), limit=10, lease_seconds=60) == []


async def test_a_sent_mail_is_never_claimed_again_and_a_failed_one_when_due(
    store: SqlStore,
) -> None:
    acme, failing, _watcher = await _setup(store)
    await store.set_contact_email(acme.id, "oncall@acme.example")
    await _fail_until_disabled(store, failing)
    now = make.later(6 * 86400)
    warning, disabled = await store.claim_due_mails(now=now, limit=10, lease_seconds=60)
    # Leased: no one else takes them meanwhile.
    assert await store.claim_due_mails(now=now, limit=10, lease_seconds=60) == []

    await store.mail_sent(mail_id=warning.id, lease_token=warning.lease_token, now=now)
    retry = make.later(6 * 86400 + 30)
    await store.mail_failed(
        mail_id=disabled.id, lease_token=disabled.lease_token, error="refused", retry_at=retry
    )

    assert (
        await store.claim_due_mails(now=make.later(6 * 86400 + 29), limit=10, lease_seconds=1) == []
    )
    (again,) = await store.claim_due_mails(now=retry, limit=10, lease_seconds=60)
    assert (again.id, again.attempts) == (disabled.id, 2)
    # A stale lease's outcome changes nothing.
    await store.mail_sent(mail_id=warning.id, lease_token=disabled.lease_token, now=retry)
    await store.mail_failed(
        mail_id=again.id, lease_token=again.lease_token, error="x", retry_at=None
    )
    assert await store.claim_due_mails(now=make.later(9e6), limit=10, lease_seconds=60) == []


async def test_a_mail_whose_mailer_never_comes_back_is_given_up_after_its_tries(
    store: SqlStore,
) -> None:
    # A mail that kills its mailer (or one killed mid-send every time) never reports back:
    # each claim counts as a try, and once they are used up the mail is given up.
    acme, failing, _watcher = await _setup(store)
    await store.set_contact_email(acme.id, "oncall@acme.example")
    await store.record_results([], [_failure(failing.id, 10, disable_reason="410 Gone")])
    claims = []
    moment = 100.0
    for _ in range(MAIL_TRIES):  # each lease left to expire, as by a mailer that died
        (leased,) = await store.claim_due_mails(now=make.later(moment), limit=10, lease_seconds=60)
        claims.append(leased.attempts)
        moment += 61

    assert claims == list(range(1, MAIL_TRIES + 1))
    assert await store.claim_due_mails(now=make.later(moment), limit=10, lease_seconds=60) == []
    assert await store.claim_due_mails(now=make.later(9e6), limit=10, lease_seconds=60) == []


async def test_two_mailers_never_take_the_same_mail(database_url: str, secret_key: bytes) -> None:
    stores = [await open_store(database_url, secret_key=secret_key) for _ in range(2)]
    try:
        acme, failing, _watcher = await _setup(stores[0])
        await stores[0].set_contact_email(acme.id, "oncall@acme.example")
        await _fail_until_disabled(stores[0], failing)
        now = make.later(6 * 86400)
        claims = await asyncio.gather(
            *(store.claim_due_mails(now=now, limit=1, lease_seconds=60) for store in stores * 2)
        )
        ids = [mail.id for claim in claims for mail in claim]
        assert len(ids) == 2 == len(set(ids))
    finally:
        for store in stores:
            await store.close()


def _held_for(webhook: Webhook) -> Fanout:
    """The fan-out a publish makes for a disabled webhook: its delivery is held."""
    return lambda events: [
        make.delivery(event, webhook.id, status=DeliveryStatus.HELD) for event in events
    ]


async def test_events_held_for_a_disabled_webhook_are_told_once_per_run(store: SqlStore) -> None:
    acme, failing, watcher = await _setup(store)
    watcher = replace(watcher, events=(*OPERATIONAL, "webhook_held"))
    await store.update_webhook(watcher, make.NOW)
    gone = _failure(failing.id, 10, disable_reason="410 Gone")
    await store.record_results([], [gone])

    for n in range(3):  # three publishes held for it: one run
        held = make.event(acme.id, created=make.later(20 + n))
        await store.append_events(events=[held], fanout=_held_for(failing))

    told = await _told(store, acme, watcher)
    assert [t["type"] for t in told] == ["webhook_failing", "webhook_disabled", "webhook_held"]
    assert (told[2]["reason"], told[2]["webhook_id"]) == ("410 Gone", failing.id)
    assert told[2]["deliveries_waiting"] == 2  # the paused one and the first held

    # Released, then held again: a new run, told again.
    assert await store.discard_held(account_id=acme.id, webhook_id=failing.id, now=make.later(30))
    again = make.event(acme.id, created=make.later(40))
    await store.append_events(events=[again], fanout=_held_for(failing))
    assert await _types(store, acme, watcher) == [
        "webhook_failing",
        "webhook_disabled",
        "webhook_held",
        "webhook_held",
    ]


async def _held_run_begins(store: SqlStore) -> tuple[Account, Webhook, Webhook]:
    """A webhook disabled (410) and a watcher of its webhook_held, nothing held yet."""
    acme, failing, watcher = await _setup(store)
    watcher = replace(watcher, events=(*OPERATIONAL, "webhook_held"))
    await store.update_webhook(watcher, make.NOW)
    await store.record_results([], [_failure(failing.id, 10, disable_reason="410 Gone")])
    return acme, failing, watcher


def _about(account: Account, media_id: str, at: float) -> Event:
    # Each about a resource of its own: publishes about one resource take their sequence
    # numbers one after the other, which would order the two publishes by itself.
    return make.event(account.id, created=make.later(at), resource_ids={"media_id": media_id})


async def test_a_run_is_told_once_whichever_of_its_first_publishes_commits_first(
    store: SqlStore,
) -> None:
    # A publish stamped earlier may commit later (stamped, then waiting for the database):
    # its held delivery is then the run's oldest, but the run was told already.
    acme, failing, watcher = await _held_run_begins(store)

    await store.append_events(events=[_about(acme, "MediaTwo", 22)], fanout=_held_for(failing))
    await store.append_events(events=[_about(acme, "MediaOne", 21)], fanout=_held_for(failing))

    assert await _types(store, acme, watcher) == [
        "webhook_failing",
        "webhook_disabled",
        "webhook_held",
    ]


@pytest.mark.postgres
async def test_two_publishes_beginning_a_run_at_once_tell_it_once(
    pg_store: SqlStore, postgres_database: str
) -> None:
    acme, failing, watcher = await _held_run_begins(pg_store)
    engine = create_async_engine(to_async_url(postgres_database))
    try:
        async with engine.connect() as first, engine.connect() as second:
            # Both publishes hold a delivery before either commits: neither sees the other's.
            one = await first.begin()
            await pg_store.using(first).append_events(
                events=[_about(acme, "MediaOne", 21)], fanout=_held_for(failing)
            )
            two = await second.begin()
            racing = asyncio.create_task(
                pg_store.using(second).append_events(
                    events=[_about(acme, "MediaTwo", 22)], fanout=_held_for(failing)
                )
            )
            await _until_waiting_for_a_lock_or_done(engine, racing)
            await one.commit()
            await racing
            await two.commit()
    finally:
        await engine.dispose()

    assert await _types(pg_store, acme, watcher) == [
        "webhook_failing",
        "webhook_disabled",
        "webhook_held",
    ]


@pytest.mark.postgres
async def test_a_run_begun_while_a_person_discards_the_last_one_is_told_at_the_next_hold(
    pg_store: SqlStore, postgres_database: str
) -> None:
    acme, failing, watcher = await _held_run_begins(pg_store)
    await pg_store.append_events(events=[_about(acme, "MediaOne", 21)], fanout=_held_for(failing))
    engine = create_async_engine(to_async_url(postgres_database))
    try:
        # A publish holds a delivery while the run it joins is discarded: it saw the run
        # under way (told), the discard did not see its delivery.
        async with engine.connect() as publishing, publishing.begin():
            await pg_store.using(publishing).append_events(
                events=[_about(acme, "MediaTwo", 22)], fanout=_held_for(failing)
            )
            discarded = await pg_store.discard_held(
                account_id=acme.id, webhook_id=failing.id, now=make.later(23)
            )
            assert discarded == 1
    finally:
        await engine.dispose()
    # Its delivery is a new run, untold: the next publish held for the webhook tells it.
    await pg_store.append_events(events=[_about(acme, "MediaThree", 24)], fanout=_held_for(failing))

    assert await _types(pg_store, acme, watcher) == [
        "webhook_failing",
        "webhook_disabled",
        "webhook_held",
        "webhook_held",
    ]


@pytest.mark.postgres
async def test_publishes_joining_a_run_under_way_do_not_wait_for_each_other(
    pg_store: SqlStore, postgres_database: str
) -> None:
    # A publish that may tell a run locks the webhook's row for that (store/operational.py
    # `may_tell`); one joining a run told already only share-locks it, so publishes held
    # for a paused webhook go on side by side, as before that lock.
    acme, failing, watcher = await _held_run_begins(pg_store)
    await pg_store.append_events(events=[_about(acme, "MediaOne", 21)], fanout=_held_for(failing))
    engine = create_async_engine(to_async_url(postgres_database))
    try:
        async with engine.connect() as publishing, publishing.begin():
            await pg_store.using(publishing).append_events(
                events=[_about(acme, "MediaTwo", 22)], fanout=_held_for(failing)
            )
            # Another publish, with the first's transaction still open: it commits.
            stored = await asyncio.wait_for(
                pg_store.append_events(
                    events=[_about(acme, "MediaThree", 23)], fanout=_held_for(failing)
                ),
                timeout=DEADLINE,
            )
            assert len(stored) == 1
    finally:
        await engine.dispose()

    assert await _types(pg_store, acme, watcher) == [
        "webhook_failing",
        "webhook_disabled",
        "webhook_held",
    ]


async def _until_waiting_for_a_lock_or_done(engine: AsyncEngine, task: asyncio.Task[Any]) -> None:
    """Returns once `task` is done or a session of the database waits for a lock (bounded)."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    async with engine.connect() as watching:
        for _ in range(2000):
            done, _pending = await asyncio.wait({task}, timeout=0.005)
            if done or (await watching.execute(waiting)).scalar_one():
                return
            await watching.rollback()  # a fresh snapshot of pg_stat_activity next time
    raise AssertionError("the second publish neither finished nor waited for a lock")


async def test_a_recovered_webhook_is_not_disabled_or_warned_for_the_streak_it_ended(
    store: SqlStore,
) -> None:
    # A publish in serve hands deliveries over with the webhook its cache kept, "failing
    # since" included: after a recovery it may still carry the old streak's start, and a
    # single failure days later must not disable the webhook for that streak.
    acme, failing, watcher = await _setup(store)
    await store.record_results([], [_failure(failing.id, 10)])
    await store.record_results([], [_success(failing.id, 30)])
    old_streak = make.later(10)
    warned = _failure(
        failing.id, 4 * 86400, disable_at=make.later(5 * 86400 + 10), streak_since=old_streak
    )
    stale = _failure(
        failing.id,
        6 * 86400,
        disable_reason="no successful delivery for 5 days",
        streak_since=old_streak,
    )

    await store.record_results([], [warned])
    await store.record_results([], [stale])

    hook = await store.get_webhook(acme.id, failing.id)
    assert hook is not None
    assert (hook.enabled, hook.failing_since) == (True, make.later(4 * 86400))
    types = await _types(store, acme, watcher)
    assert types == ["webhook_failing", "webhook_recovered", "webhook_failing"]


async def test_a_disable_reckoned_from_the_stored_streak_still_disables(store: SqlStore) -> None:
    acme, failing, watcher = await _setup(store)
    await store.record_results([], [_failure(failing.id, 10)])
    gone = _failure(
        failing.id,
        5 * 86400,
        disable_reason="no successful delivery for 5 days",
        streak_since=make.later(10),
    )

    await store.record_results([], [gone])

    hook = await store.get_webhook(acme.id, failing.id)
    assert hook is not None
    assert not hook.enabled
    assert await _types(store, acme, watcher) == ["webhook_failing", "webhook_disabled"]


def _failed_attempt(hook: Webhook, now_seconds: float) -> HealthSignal:
    """The health signal of a 503 answered `now_seconds` on, as the worker concludes it for a
    delivery that carried `hook` (its copy of the webhook: claimed, or handed over)."""
    event = make.event(hook.account_id)
    claimed = ClaimedDelivery.of(make.delivery(event, hook.id), "lease", event, hook)
    now = make.later(now_seconds)
    return conclude(
        claimed,
        request=prepare(claimed, now),
        outcome=SendOutcome(status_code=503, latency_ms=1.0),
        started_at=now,
        now=now,
        jitter_sample=0.5,
        disable_after=timedelta(days=5),
    ).health


@pytest.mark.parametrize(
    ("now_days", "disabled", "told"),
    [
        # The current streak is over 5 days long: disabled, whatever the older copy said.
        (7, True, "webhook_disabled"),
        # The current streak is within a day of the disable: warned, not disabled (the
        # older copy's streak alone would disable it).
        (4.5, False, "webhook_disable_warning"),
    ],
)
async def test_the_current_streak_decides_beside_an_attempt_holding_an_ended_one(
    store: SqlStore, now_days: float, disabled: bool, told: str
) -> None:
    # In serve a publish hands its deliveries over with the webhook its cache kept: after
    # an outage that ended with no configuration change, and a second outage, that copy
    # still says "failing since" the first one. A retry claimed beside it carries the
    # stored streak, and both fail in one batch of outcomes.
    acme, failing, watcher = await _setup(store)
    await store.record_results([], [_failure(failing.id, 10)])
    await store.record_results([], [_success(failing.id, 30)])
    await store.record_results([], [_failure(failing.id, DAY)])
    cached = replace(failing, failing_since=make.later(10))
    claimed = replace(failing, failing_since=make.later(DAY))
    now = DAY + now_days * DAY

    batch = summarize([_failed_attempt(cached, now), _failed_attempt(claimed, now)])
    await store.record_results([], batch)

    hook = await store.get_webhook(acme.id, failing.id)
    assert hook is not None
    assert hook.enabled is not disabled
    types = await _types(store, acme, watcher)
    assert types == ["webhook_failing", "webhook_recovered", "webhook_failing", told]
