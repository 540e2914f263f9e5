"""The per-webhook controls through the API: set, shown (secrets redacted), changed in a
PATCH, and every wrong value a clear 400 naming the rule."""

from __future__ import annotations

from typing import Any

import pytest
from harness import SITE_ID, Api, assert_error, webhook_metadata

from hookcast.domain.models import Role
from support.certificates import ClientPem, Pki, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


async def _patch(api: Api, hook: dict[str, Any], **changes: Any) -> Any:
    return await api.call("PATCH", f"/v2/webhooks/{hook['id']}/", json={"metadata": changes})


async def test_controls_are_off_by_default(api: Api) -> None:
    await api.site(SITE_ID)
    metadata = (await api.webhook([SITE_ID]))["metadata"]

    assert metadata["headers"] == {}
    assert metadata["rate_limit_per_second"] is None
    assert metadata["rate_limit_burst"] is None
    assert metadata["client_certificate"] is None


async def test_set_shown_redacted_and_changed(api: Api, pki: Pki) -> None:
    await api.site(SITE_ID)
    hook = await api.webhook(
        [SITE_ID],
        headers={"X-Api-Key": "k-123", "X-Route": "blue"},
        rate_limit_per_second=2.5,
        client_certificate=pki.client("edge").as_metadata(),
    )
    metadata = hook["metadata"]
    assert metadata["headers"] == {"X-Api-Key": "[redacted]", "X-Route": "[redacted]"}
    assert (metadata["rate_limit_per_second"], metadata["rate_limit_burst"]) == (2.5, 3)
    assert metadata["client_certificate"]["subject"] == "CN=edge"
    assert "k-123" not in str(hook)

    # What GET showed goes back unchanged: the stored values are kept.
    kept = await _patch(api, hook, headers=metadata["headers"], rate_limit_burst=10)
    assert kept.status_code == 200, kept.text
    assert kept.json()["metadata"]["rate_limit_burst"] == 10
    assert kept.json()["metadata"]["client_certificate"]["subject"] == "CN=edge"

    cleared = await _patch(
        api, hook, headers=None, rate_limit_per_second=None, client_certificate=None
    )
    assert cleared.status_code == 200, cleared.text
    after = cleared.json()["metadata"]
    assert (after["headers"], after["rate_limit_per_second"], after["rate_limit_burst"]) == (
        {},
        None,
        None,
    )
    assert after["client_certificate"] is None


@pytest.mark.parametrize(
    ("controls", "says"),
    [
        ({"headers": {"Host": "evil.example"}}, "Host cannot be set"),
        ({"headers": {"webhook-signature": "v1,forged"}}, "cannot be set"),
        ({"headers": {"X-Hookcast-Signature": "00"}}, "cannot be set"),
        ({"headers": {"Content-Length": "0"}}, "cannot be set"),
        ({"headers": {"X-Key": "a\r\nX-Injected: 1"}}, "printable ASCII"),
        ({"headers": {"Bad Name": "v"}}, "not a header name"),
        ({"headers": {f"X-{n}": "v" for n in range(21)}}, "at most 20"),
        ({"headers": {"X-Key": "[redacted]"}}, "no such header"),
        ({"rate_limit_per_second": 0}, "rate_limit_per_second"),
        ({"rate_limit_per_second": 5000}, "rate_limit_per_second"),
        ({"rate_limit_per_second": 5, "rate_limit_burst": 0}, "rate_limit_burst"),
        ({"rate_limit_burst": 5}, "needs metadata.rate_limit_per_second"),
        ({"client_certificate": {"certificate": "x", "private_key": "y"}}, "PEM"),
    ],
)
async def test_a_wrong_control_is_a_clear_400(
    api: Api, controls: dict[str, Any], says: str
) -> None:
    await api.site(SITE_ID)
    body = {"metadata": {**webhook_metadata([SITE_ID]), **controls}}

    created = await api.call("POST", "/v2/webhooks/", json=body)

    assert says in assert_error(created, 400)
    hook = await api.webhook([SITE_ID])
    assert (await _patch(api, hook, **controls)).status_code == 400


async def test_certificate_checks_name_the_problem(api: Api, pki: Pki) -> None:
    await api.site(SITE_ID)
    hook = await api.webhook([SITE_ID])
    mine, theirs = pki.client("a"), pki.client("b")
    for certificate, says in (
        ({"certificate": mine.certificate, "private_key": theirs.private_key}, "does not belong"),
        (pki.client(expired=True).as_metadata(), "expired"),
    ):
        refused = await _patch(api, hook, client_certificate=certificate)
        assert says in assert_error(refused, 400)
    plain = await _patch(
        api,
        hook,
        webhook_url="http://receiver.example.com/hooks",
        client_certificate=mine.as_metadata(),
    )
    assert "https://" in assert_error(plain, 400)
    # The scheme in capitals is https all the same: taken, as the sender reads it.
    shouted = await _patch(
        api,
        hook,
        webhook_url="HTTPS://receiver.example.com/hooks",
        client_certificate=mine.as_metadata(),
    )
    assert shouted.status_code == 200, shouted.text


MAX_RSA_BITS = 4096  # services/client_certificates.py


@pytest.fixture(scope="module")
def rsa_clients(pki: Pki) -> tuple[ClientPem, ClientPem]:
    """Client certificates with RSA keys of MAX_RSA_BITS and just over (made once: seconds)."""
    return pki.client(rsa_bits=MAX_RSA_BITS), pki.client(rsa_bits=MAX_RSA_BITS + 8)


async def test_an_rsa_key_over_4096_bits_is_refused(
    api: Api, rsa_clients: tuple[ClientPem, ClientPem]
) -> None:
    """Its signature is made in every new connection's handshake on the worker's event loop
    (173 ms at 15,360 bits): a larger key stalled every account's deliveries (attack 10)."""
    await api.site(SITE_ID)
    hook = await api.webhook([SITE_ID])
    largest, over = rsa_clients

    refused = await _patch(api, hook, client_certificate=over.as_metadata())
    taken = await _patch(api, hook, client_certificate=largest.as_metadata())

    assert f"at most {MAX_RSA_BITS} bits" in assert_error(refused, 400)
    assert taken.status_code == 200, taken.text


async def test_a_viewer_sees_the_names_and_an_editor_sets_them(api: Api) -> None:
    await api.site(SITE_ID)
    editor = await api.key(Role.EDITOR)
    hook = await api.webhook([SITE_ID], headers={"X-Api-Key": "k-123"}, key=editor)
    viewer = await api.key(Role.VIEWER)

    shown = await api.call("GET", f"/v2/webhooks/{hook['id']}/", key=viewer)

    assert shown.json()["metadata"]["headers"] == {"X-Api-Key": "[redacted]"}
    assert "k-123" not in shown.text


async def test_a_url_moved_to_another_host_takes_the_stored_secrets_only_if_given_again(
    api: Api, pki: Pki
) -> None:
    await api.site(SITE_ID)
    hook = await api.webhook(
        [SITE_ID],
        headers={"X-Api-Key": "k-123"},
        client_certificate=pki.client("edge").as_metadata(),
    )
    shown = hook["metadata"]["headers"]
    elsewhere = "https://attacker.example.net/collect"

    bare = await _patch(api, hook, webhook_url=elsewhere)
    shown_back = await _patch(
        api, hook, webhook_url=elsewhere, headers=shown, client_certificate=None
    )
    no_certificate = await _patch(api, hook, webhook_url=elsewhere, headers={"X-Api-Key": "new"})
    # One host serves many owners' endpoints by path or query (hooks.zapier.com, Azure Logic
    # Apps, Discord): a new path there was given the stored secrets (attack 10).
    stored = hook["metadata"]["webhook_url"]
    other_path = await _patch(api, hook, webhook_url=stored + "/v2", headers=shown)
    other_query = await _patch(api, hook, webhook_url=stored + "?to=me", headers=shown)
    same_url = await _patch(api, hook, webhook_url=stored.replace("receiver.", "Receiver."))

    assert "headers again" in assert_error(bare, 400)
    assert "headers again" in assert_error(shown_back, 400)
    assert "client_certificate" in assert_error(no_certificate, 400)
    assert "headers again" in assert_error(other_path, 400)
    assert "headers again" in assert_error(other_query, 400)
    assert same_url.status_code == 200, same_url.text  # the same URL keeps them
    assert same_url.json()["metadata"]["client_certificate"]["subject"] == "CN=edge"
    moved = await _patch(
        api, hook, webhook_url=elsewhere, headers={"X-Api-Key": "new"}, client_certificate=None
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["metadata"]["headers"] == {"X-Api-Key": "[redacted]"}
