"""Secrets stay secret: API keys are stored hashed, webhook secrets encrypted, and no secret
or signature shows up in the logs, the delivery log or an error message, across a whole
create -> publish -> deliver -> rotate -> deliver cycle, on both databases."""

from __future__ import annotations

import hashlib
import logging

import pytest
from cryptography.fernet import Fernet
from delivery_harness import SECRET_KEY, Deployment
from ops_support import json_logs, observed_worker
from receivers import Receiver, closed_port
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from hookcast.config import fernet_key_from_passphrase
from hookcast.store import to_async_url
from hookcast.store.tables import api_keys, metadata, webhooks

MEDIA = {"event": "media_available", "media_id": "MNYaMSQl"}


def _variants(secret: str) -> set[str]:
    """A secret and the forms it could leak in (the bare base64 of a whsec_ secret)."""
    return {secret, secret.removeprefix("whsec_")}


def _signatures(receiver: Receiver) -> set[str]:
    found: set[str] = set()
    for received in receiver.received:
        headers = {name.lower(): value for name, value in received.headers.items()}
        found.add(headers["authorization"].removeprefix("Bearer "))  # the JWT
        found.update(part.split(",", 1)[1] for part in headers["webhook-signature"].split())
        found.add(headers["x-hookcast-signature"])
    return found


async def _raw_database(database_url: str) -> dict[str, list[dict[str, object]]]:
    engine = create_async_engine(to_async_url(database_url))
    try:
        async with engine.connect() as conn:
            return {
                table.name: [dict(row) for row in (await conn.execute(select(table))).mappings()]
                for table in metadata.sorted_tables
            }
    finally:
        await engine.dispose()


async def _full_cycle(hookcast: Deployment, receiver: Receiver) -> tuple[dict[str, str], str]:
    """Creates a key and a webhook, delivers, rotates, delivers again. Returns the secrets
    that exist by then (by name) and the webhook id."""
    created_key = await hookcast.api.post(
        "/v2/api_keys/", json={"metadata": {"name": "ci", "role": "editor"}}
    )
    assert created_key.status_code == 201, created_key.text
    hook = await hookcast.hook_for(receiver)
    observed_worker(hookcast)
    await hookcast.publish(MEDIA)
    await receiver.wait_for(1)
    rotated = await hookcast.api.post(f"/v2/webhooks/{hook['id']}/secret/rotate/")
    assert rotated.status_code == 200, rotated.text
    receiver.secrets = [rotated.json()["secret"]]
    await hookcast.publish(MEDIA)
    await receiver.wait_for(2)
    await hookcast.wait_for_status(hook["id"], "succeeded", 2)
    secrets = {
        "admin key": hookcast.admin_key,
        "editor key": created_key.json()["secret"],
        "webhook secret": hook["secret"],
        "rotated secret": rotated.json()["secret"],
    }
    return secrets, hook["id"]


async def test_no_secret_or_signature_leaks_into_logs_delivery_logs_or_errors(
    hookcast: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver = await hookcast.receiver()
    with json_logs() as lines:
        secrets, hook_id = await _full_cycle(hookcast, receiver)
        # A failing webhook too, so error lines are in the logs.
        failing = await hookcast.create_webhook(
            f"http://127.0.0.1:{closed_port()}/hook", retry_policy=[0.1], name="failing"
        )
        await hookcast.publish(MEDIA)
        # Both attempts made and logged before the worker stops (closing it at once would
        # race the worker's wake-up).
        await receiver.wait_for(3)
        await hookcast.wait_for_status(failing["id"], "failed", 1)
        wrong_key = await hookcast.api.get(
            "/v2/webhooks/", headers={"Authorization": secrets["webhook secret"]}
        )
        await hookcast.workers[0].close()
    forbidden = set().union(*(_variants(value) for value in secrets.values()))
    forbidden |= _signatures(receiver)
    assert len(receiver.received) == 3
    assert any("delivery_id" in line for line in lines), "no attempt was logged"

    delivery_log = (await hookcast.api.get(f"/v2/webhooks/{hook_id}/deliveries/")).text
    places = {
        "JSON log lines": "\n".join(map(str, lines)),
        "text log": caplog.text,
        "delivery log": delivery_log,
        "401 answer": wrong_key.text,
    }
    for where, text in places.items():
        leaked = sorted(secret[:12] + "..." for secret in forbidden if secret in text)
        assert not leaked, f"{where} contains {leaked}"
    assert wrong_key.status_code == 401
    assert "[redacted]" in delivery_log  # the signature headers are shown, redacted


async def test_keys_are_stored_hashed_and_webhook_secrets_encrypted(
    hookcast: Deployment, database_url: str
) -> None:
    receiver = await hookcast.receiver()
    secrets, hook_id = await _full_cycle(hookcast, receiver)
    raw = await _raw_database(database_url)

    hashes = {row["secret_hash"] for row in raw[api_keys.name]}
    for name in ("admin key", "editor key"):
        assert hashlib.sha256(secrets[name].encode()).hexdigest() in hashes, name
    (hook_row,) = [row for row in raw[webhooks.name] if row["id"] == hook_id]
    box = Fernet(fernet_key_from_passphrase(SECRET_KEY))
    assert (
        box.decrypt(str(hook_row["secret_encrypted"]).encode()).decode()
        == (secrets["rotated secret"])
    )
    assert (
        box.decrypt(str(hook_row["previous_secret_encrypted"]).encode()).decode()
        == (secrets["webhook secret"])
    )
    dump = repr(raw)
    for name, value in secrets.items():
        for form in _variants(value):
            assert form not in dump, f"the {name} is stored in plain text"
