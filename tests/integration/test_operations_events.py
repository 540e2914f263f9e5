"""Operational events and e-mail end to end: a real worker, real loopback receivers, a real
SMTP server (aiosmtpd). A webhook failing tells the on-call webhook once, its recovery once,
and the contact address is e-mailed the recovery through SMTP, once."""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from email.message import Message
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp import web
from delivery_harness import Deployment, require_postgres, settings_for, with_options
from mail_server import PASSWORD, USER, self_signed, smtp_server
from ops_support import scrape
from receivers import Behaviour, answer, closed_port, first_then

from hookcast.bootstrap import utc_now
from hookcast.cli.runtime import Runtime
from hookcast.delivery.mailer import Mailer
from hookcast.delivery.smtp import SmtpServer, SmtpTransport
from hookcast.domain.mail import MAIL_RETRY_DELAYS, Mail
from hookcast.ports import Clock, WebhookHealth
from hookcast.ports.mail import MailFailed, MailOutbox
from hookcast.store import SqlStore
from support import factories as make
from support.waiting import eventually

ONCALL = "oncall@acme.example"


@pytest.mark.timeout(60)
async def test_a_failing_webhook_tells_on_call_once_and_mails_its_recovery(
    hookcast: Deployment,
) -> None:
    broken = await hookcast.receiver(first_then(answer(503, body="down"), answer(), times=3))
    oncall = await hookcast.receiver()
    # The failing webhook subscribes to webhook_failing too: it is not told about itself.
    failing = await hookcast.hook_for(
        broken, events=["media_available", "webhook_failing"], retry_policy=[0.2, 0.2, 0.2]
    )
    await hookcast.hook_for(oncall, events=["webhook_failing", "webhook_recovered"])
    contact = await hookcast.api.put("/v2/account/contact/", json={"email": ONCALL})
    assert contact.json() == {"email": ONCALL}
    assert hookcast.runtime.mailer() is None  # no HOOKCAST_SMTP_URL: nothing sends mail
    hookcast.start_worker()

    await hookcast.publish_media(3)  # three deliveries failing together

    told = await oncall.wait_for(2)
    assert sorted(item.payload["event"] for item in told) == [
        "webhook_failing",
        "webhook_recovered",
    ]
    failing_body = next(item.payload for item in told if item.payload["event"] == "webhook_failing")
    assert failing_body["data"]["webhook_id"] == failing["id"]
    assert failing_body["data"]["last_status_code"] == 503
    assert failing_body["data"]["last_response_body"] == "down"
    oncall.assert_all_verified()
    await hookcast.wait_for_status(failing["id"], "succeeded", 3)
    assert {item.payload["event"] for item in broken.received} == {"media_available"}
    assert await oncall.stays_quiet(0.5, count=2)

    with smtp_server() as (inbox, port):
        mailer = _mailer(hookcast.runtime.store, f"smtp://127.0.0.1:{port}")
        assert await mailer.send_due() == 1  # the recovery (failing alone mails no one)
        assert await mailer.send_due() == 0  # sent: never again
    ((recipients, message),) = inbox.received
    assert recipients == [ONCALL]
    assert message["Subject"] == '[HookCast] Webhook "hook" recovered'
    assert failing["metadata"]["webhook_url"] in message.get_payload()


def _each_delivery_fails_once() -> Behaviour:
    """503 to a delivery's first attempt, 200 to its retry (by its `webhook-id`)."""
    tried: set[str] = set()

    async def behave(_number: int, request: web.Request) -> web.StreamResponse:
        delivery = request.headers["webhook-id"]
        if delivery in tried:
            return web.Response(text="ok")
        tried.add(delivery)
        return web.Response(status=503, text="flaky")

    return behave


@pytest.mark.timeout(60)
async def test_two_webhooks_watching_each_other_tell_no_notice_of_a_notices_delivery(
    hookcast: Deployment,
) -> None:
    # Each receiver fails every delivery once, then takes it. Were a notice's delivery to
    # count as its webhook's health, each notice would start and end a failing period of
    # the webhook it goes to, and so raise two notices more to the other one: without end.
    watched = await hookcast.receiver(_each_delivery_fails_once())
    watcher = await hookcast.receiver(_each_delivery_fails_once())
    notices = ["webhook_failing", "webhook_recovered"]
    retry = {"retry_policy": [0.1, 0.1]}
    a = await hookcast.hook_for(watched, events=["media_available", *notices], **retry)
    b = await hookcast.hook_for(watcher, events=notices, **retry)
    hookcast.start_worker()

    await hookcast.publish_media(1)

    told = await hookcast.wait_for_status(b["id"], "succeeded", 2)
    await hookcast.wait_for_status(a["id"], "succeeded", 1)
    assert sorted(delivery["event"] for delivery in told) == notices
    # Each notice to B failed once (its delivery log says so) and told nobody: no notice
    # about B exists, and A, which hears of B, got none.
    assert all(delivery["attempts"] == 2 for delivery in told)
    events = (await hookcast.api.get("/v2/events/", params={"page_length": 100})).json()
    assert sorted(event["event"] for event in events["events"]) == [
        "media_available",
        *notices,
    ]
    assert {item.payload["event"] for item in watched.received} == {"media_available"}
    assert (await hookcast.webhook(b["id"]))["metadata"]["failing_since"] is None


@pytest.mark.timeout(60)
async def test_a_webhook_hearing_only_notices_is_disabled_when_its_endpoint_answers_410(
    hookcast: Deployment,
) -> None:
    # 410 Gone asks for nothing more (docs/delivery.md): a disable ends a webhook's
    # deliveries, so it closes no loop between watchers, and a notice's delivery disables
    # its webhook as any other's does; the delivery's log says so (`why_given_up`).
    broken = await hookcast.receiver(first_then(answer(503, body="down"), answer()))
    gone = await hookcast.receiver(answer(410, body="gone"))
    watched = await hookcast.hook_for(broken, retry_policy=[0.1])
    watcher = await hookcast.hook_for(gone, events=["webhook_failing"])
    hookcast.start_worker()

    await hookcast.publish_media(1)

    await hookcast.wait_for_status(watched["id"], "succeeded", 1)
    (told,) = await hookcast.wait_for_status(watcher["id"], "failed", 1)
    assert told["event"] == "webhook_failing"
    shown = (await hookcast.webhook(watcher["id"]))["metadata"]
    assert (shown["enabled"], shown["state"], shown["disabled_reason"]) == (
        False,
        "disabled",
        "endpoint answered 410 Gone",
    )


@pytest.mark.timeout(60)
async def test_the_operators_log_says_once_that_a_webhook_is_failing_and_was_disabled(
    hookcast: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    # The attempt lines said "410 ... failed (HTTP 410)"; no line said the webhook was
    # disabled, nor that it had begun failing.
    gone = await hookcast.receiver(first_then(answer(503, body="down"), answer(410), times=3))
    hook = await hookcast.hook_for(gone, retry_policy=[0.1, 0.1])
    caplog.set_level(logging.INFO, logger="hookcast.webhooks")
    hookcast.start_worker()

    await hookcast.publish_media(3)  # three deliveries failing together, then a 410

    def said() -> list[tuple[str, str]]:
        return [
            (record.levelname, record.getMessage())
            for record in caplog.records
            if record.name == "hookcast.webhooks"
        ]

    await eventually(lambda: any(level == "WARNING" for level, _ in said()))
    (failing, disabled) = said()  # one line each, however many deliveries failed
    about = rf"webhook {hook['id']} \(account \w+\)"
    assert failing[0] == "INFO"
    assert re.fullmatch(rf"{about} is failing: HTTP 503", failing[1]), failing
    assert disabled[0] == "WARNING"
    assert re.fullmatch(
        rf"{about} was disabled: endpoint answered 410 Gone; its \d+ deliveries waiting go "
        r"once it is enabled, events published meanwhile are held until a person delivers or "
        r"discards them",
        disabled[1],
    ), disabled
    assert not [record for record in caplog.records if record.exc_info]


@pytest.mark.timeout(60)
async def test_a_request_made_while_the_endpoint_hung_that_times_out_after_it_answers_tells_nothing(
    hookcast: Deployment,
) -> None:
    """Found on a scaled-out deployment (chaos2): a receiver that hung, then answered again.
    The requests made while it hung time out after its first success; each such failure
    started a failing period that the next success ended: three in one second, each told
    on call (webhook_failing, webhook_recovered) and mailed ("recovered"), using up the
    account's 12 mails an hour. The endpoint has answered since that request went out: its
    failure says nothing of it."""

    async def hang_first(number: int, _request: web.Request) -> web.StreamResponse:
        if number == 0:
            await asyncio.sleep(3)  # past the webhook's 1 s timeout: the request fails
        return web.Response(text="ok")

    receiver = await hookcast.receiver(hang_first)
    oncall = await hookcast.receiver()
    hook = await hookcast.hook_for(
        receiver, events=["media_available"], retry_policy=[1], timeout_seconds=1
    )
    await hookcast.hook_for(oncall, events=["webhook_failing", "webhook_recovered"])
    hookcast.start_worker()

    await hookcast.publish_media(1)
    await receiver.wait_for(1)  # the first request hangs
    await hookcast.publish({"event": "media_available", "media_id": "ANSWERED"})
    # The second is answered at once; the first times out after that success is recorded,
    # and its retry a second later is answered.
    await hookcast.wait_for_status(hook["id"], "succeeded", 2)

    assert len(receiver.received) == 3
    assert await oncall.stays_quiet(0.5, count=0), [item.payload for item in oncall.received]
    state = await hookcast.api.get(f"/v2/webhooks/{hook['id']}/")
    assert state.json()["metadata"]["state"] == "healthy"
    assert state.json()["metadata"]["last_error"]["error"] == "timed out after 1 s"


@pytest.mark.timeout(60)
async def test_two_workers_failing_one_webhook_at_once_tell_one_failing(database_url: str) -> None:
    """Two workers, each with its own connections (PostgreSQL: concurrent transactions),
    record 40 failures of one webhook at the same time: on call hears once that it is
    failing, and once that it recovered."""
    require_postgres(database_url)
    async with Deployment.open(database_url) as hookcast:
        other = await Runtime.open(settings_for(database_url))
        try:
            broken = await hookcast.receiver(first_then(answer(500), answer(), times=40))
            oncall = await hookcast.receiver()
            failing = await hookcast.hook_for(broken, retry_policy=[0.3, 0.3])
            await hookcast.hook_for(oncall, events=["webhook_failing", "webhook_recovered"])
            options = with_options(concurrency=16, prefetch=16, flush_batch=4)
            hookcast.start_worker(options)
            hookcast.start_worker(options, runtime=other)

            await hookcast.publish_media(40)

            await hookcast.wait_for_status(failing["id"], "succeeded", 40)
            told = await oncall.wait_for(2)
            assert await oncall.stays_quiet(0.5, count=2)
            assert sorted(item.payload["event"] for item in told) == [
                "webhook_failing",
                "webhook_recovered",
            ]
            assert all(worker.worker.delivered > 0 for worker in hookcast.workers)
        finally:
            for worker in hookcast.workers:  # before the store the second one uses closes
                await worker.close()
            hookcast.workers.clear()
            await other.store.close()


def _mailer(
    outbox: MailOutbox, url: str, *, clock: Clock = utc_now, tls: ssl.SSLContext | None = None
) -> Mailer:
    transport = SmtpTransport(
        SmtpServer.from_url(url), sender="HookCast <hookcast@example.com>", tls_context=tls
    )
    return Mailer(outbox, transport, clock=clock)


# --- the SMTP transport, against each kind of server -----------------------------------------

_MAIL = Mail(recipient=ONCALL, subject="[HookCast] test", body="Webhook: hook\n")


@pytest.mark.parametrize("kind", ["plain", "starttls", "tls"])
async def test_the_transport_sends_over_each_kind_of_connection_logging_in_over_tls(
    kind: str, tmp_path: Path
) -> None:
    server_tls, client_tls = self_signed(tmp_path)
    tls = None if kind == "plain" else server_tls
    scheme = {"plain": "smtp", "starttls": "smtp+starttls", "tls": "smtps"}[kind]
    login = kind != "plain"
    credentials = f"{USER}:{quote(PASSWORD)}@" if login else ""
    with smtp_server(tls=tls, starttls=kind == "starttls", login=login) as (inbox, port):
        server = SmtpServer.from_url(f"{scheme}://{credentials}127.0.0.1:{port}")
        transport = SmtpTransport(server, sender="hookcast@example.com", tls_context=client_tls)
        await transport.send(_MAIL, message_id="<m1@hookcast>")
    ((recipients, message),) = inbox.received
    assert (recipients, message["Subject"], message["Message-ID"]) == (
        [ONCALL],
        "[HookCast] test",
        "<m1@hookcast>",
    )


async def test_a_wrong_password_or_no_server_is_a_mail_failure(tmp_path: Path) -> None:
    server_tls, client_tls = self_signed(tmp_path)
    with smtp_server(tls=server_tls, login=True) as (inbox, port):
        wrong = SmtpTransport(
            SmtpServer.from_url(f"smtps://{USER}:wrong@127.0.0.1:{port}"),
            sender="h@example.com",
            tls_context=client_tls,
        )
        with pytest.raises(MailFailed):
            await wrong.send(_MAIL, message_id="<m2@hookcast>")
    nobody = SmtpTransport(
        SmtpServer.from_url(f"smtp://127.0.0.1:{closed_port()}"), sender="h@example.com"
    )
    with pytest.raises(MailFailed):
        await nobody.send(_MAIL, message_id="<m3@hookcast>")
    assert inbox.received == []


async def test_a_mail_the_server_did_not_take_goes_again_later_once(store: SqlStore) -> None:
    acme = make.account()
    await store.create_account(acme)
    await store.set_contact_email(acme.id, ONCALL)
    hook = make.webhook(acme.id)
    await store.create_webhook(hook)
    gone = WebhookHealth(hook.id, None, make.NOW, disable_reason="410 Gone")
    await store.record_results([], [gone])
    clock = _Clock(make.later(1))

    down = _mailer(store, f"smtp://127.0.0.1:{closed_port()}", clock=clock)
    assert await down.send_due() == 0
    with smtp_server() as (inbox, port):
        up = _mailer(store, f"smtp://127.0.0.1:{port}", clock=clock)
        assert await up.send_due() == 0  # not due again yet
        clock.now = make.later(1 + MAIL_RETRY_DELAYS[0])
        assert await up.send_due() == 1
        assert await up.send_due() == 0
    ((_, message),) = inbox.received
    assert message["Subject"] == '[HookCast] Webhook "Encoder hook" was disabled'


async def test_a_mail_server_down_shows_on_metrics(hookcast: Deployment) -> None:
    # It showed only in WARNING lines and the outbox's rows: no alert could see it.
    store = hookcast.runtime.store
    acme = make.account()
    await store.create_account(acme)
    await store.set_contact_email(acme.id, ONCALL)
    hook = make.webhook(acme.id)
    await store.create_webhook(hook)
    await store.record_results([], [WebhookHealth(hook.id, None, make.NOW, "410 Gone")])
    smtp_url = f"smtp://127.0.0.1:{closed_port()}"
    runtime = replace(
        hookcast.runtime,
        settings=hookcast.runtime.settings.model_copy(update={"smtp_url": smtp_url}),
    )
    mailer = runtime.mailer()
    assert mailer is not None

    assert await mailer.send_due() == 0

    scraped = await scrape(hookcast)
    assert scraped.value("hookcast_mails_total", result="retrying") == 1
    assert scraped.value("hookcast_mails_total", result="sent") == 0
    assert scraped.value("hookcast_mails_total", result="given_up") == 0


async def test_a_webhook_name_with_a_line_break_neither_breaks_its_mail_nor_others(
    store: SqlStore,
) -> None:
    names = ("Indexer\r\nBcc: someone@elsewhere.example", "Encoder")
    received = await _disabled_and_mailed(store, names)

    assert len(received) == 2
    assert _subjects(received) == [
        '[HookCast] Webhook "Encoder" was disabled',
        '[HookCast] Webhook "Indexer Bcc: someone@elsewhere.example" was disabled',
    ]
    assert all(message["Bcc"] is None for _, message in received)
    assert all(recipients == [ONCALL] for recipients, _ in received)


async def test_a_webhook_name_with_a_unicode_line_break_is_mailed_too(store: SqlStore) -> None:
    # Python's email headers refuse what str.splitlines breaks at, not CR and LF alone: the
    # mail about such a name was never sent (ValueError, retried, then given up).
    names = ("Indexer\u2028Bcc: a@elsewhere.example", "Packager\x85X", "Encoder\u2029Y")
    received = await _disabled_and_mailed(store, names)

    assert len(received) == len(names)
    assert _subjects(received) == [
        '[HookCast] Webhook "Encoder Y" was disabled',
        '[HookCast] Webhook "Indexer Bcc: a@elsewhere.example" was disabled',
        '[HookCast] Webhook "Packager X" was disabled',
    ]
    assert all(message["Bcc"] is None for _, message in received)


async def _disabled_and_mailed(
    store: SqlStore, names: Sequence[str]
) -> list[tuple[list[str], Message]]:
    """A webhook named each of `names`, each in an account of its own with a contact address,
    disabled by a 410; the mails one send pass delivers to a loopback SMTP server, as
    (recipients, message) pairs. The pass must have sent one per webhook."""
    for name in names:
        account = make.account()
        await store.create_account(account)
        await store.set_contact_email(account.id, ONCALL)
        hook = replace(make.webhook(account.id), name=name)
        await store.create_webhook(hook)
        await store.record_results([], [WebhookHealth(hook.id, None, make.NOW, "410 Gone")])

    with smtp_server() as (inbox, port):
        sent = await _mailer(
            store, f"smtp://127.0.0.1:{port}", clock=_Clock(make.later(1))
        ).send_due()
    assert sent == len(names)
    return list(inbox.received)


def _subjects(received: Sequence[tuple[list[str], Message]]) -> list[str]:
    # (a long Subject is folded onto continuation lines: read it as one line)
    return sorted(" ".join(str(message["Subject"]).split()) for _, message in received)


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now
