"""The webhook form: what a person typed, kept as typed, and turned into service metadata.

Everything stays a string (or list of strings) until `to_metadata`, so a form that fails
validation is shown again exactly as it was filled in. Only what a browser form cannot say
(JSON, numbers, lists) is parsed here; every rule stays in the webhook service.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.datastructures import FormData

from hookcast.domain.catalog import ALL_EVENTS
from hookcast.domain.formats import DEFAULT_FORMAT, FORMATS
from hookcast.domain.models import ALL_SITES, Webhook
from hookcast.domain.retry import retry_policy_to_json
from hookcast.domain.signing import REDACTED

__all__ = ["FormErrors", "WebhookForm", "tag_condition"]

FormErrors = dict[str, str]  # field name -> what is wrong, in words ("form" for the whole)
RETRY_CHOICES = ("standard", "quick", "custom")


def tag_condition(tag: str) -> dict[str, Any]:
    """Flowplayer's "has tag with name" as a HookCast condition."""
    return {"data.tags": {"$contains": tag}}


@dataclass
class WebhookForm:
    name: str = ""
    description: str = ""
    webhook_url: str = ""
    site_ids: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    tag: str = ""
    conditions: str = ""  # the advanced JSON editor's text
    retry_policy: str = "standard"
    retry_delays: str = ""  # custom delays in seconds, comma-separated
    timeout_seconds: str = "10"
    ordering: str = "none"
    signing: str = ""  # empty: not on the form (only admins change it), left as it is
    coalesce: bool = False
    max_age_seconds: str = ""  # "channel_active=600, media_updated=3600"
    enabled: bool = True
    format: str = DEFAULT_FORMAT
    # Per-webhook controls. Headers: "Name: value" per line, a stored value as [redacted]
    # (sent back as is, it keeps the value). The certificate and key are only ever typed in,
    # never shown: empty keeps the one stored.
    headers: str = ""
    rate_limit_per_second: str = ""
    rate_limit_burst: str = ""
    client_certificate: str = ""
    client_key: str = ""
    remove_client_certificate: bool = False

    @classmethod
    def for_format(cls, name: object) -> WebhookForm:
        """An empty form for a new webhook of the format (unknown: the default), with the
        format's retry policy and timeout filled in."""
        wire = FORMATS.get(name if isinstance(name, str) else "", FORMATS[DEFAULT_FORMAT])
        retry = retry_policy_to_json(wire.retry_policy)
        return cls(
            format=wire.name,
            retry_policy=retry if isinstance(retry, str) else "custom",
            retry_delays="" if isinstance(retry, str) else ", ".join(_number(d) for d in retry),
            timeout_seconds=str(wire.timeout_seconds),
        )

    @classmethod
    def from_form(cls, form: FormData) -> WebhookForm:
        def text(name: str) -> str:
            value = form.get(name, "")
            return value.strip() if isinstance(value, str) else ""

        return cls(
            name=text("name"),
            description=text("description"),
            webhook_url=text("webhook_url"),
            site_ids=[s for s in form.getlist("site_ids") if isinstance(s, str)],
            events=[e for e in form.getlist("events") if isinstance(e, str)],
            tag=text("tag"),
            conditions=text("conditions"),
            retry_policy=text("retry_policy") or "standard",
            retry_delays=text("retry_delays"),
            timeout_seconds=text("timeout_seconds") or "10",
            ordering=text("ordering") or "none",
            signing=text("signing"),
            coalesce=form.get("coalesce") == "on",
            max_age_seconds=text("max_age_seconds"),
            enabled=form.get("enabled") == "on",
            # Only a crafted form sends an unknown format: it gets the default's form back.
            format=text("format") if text("format") in FORMATS else DEFAULT_FORMAT,
            headers=text("headers"),
            rate_limit_per_second=text("rate_limit_per_second"),
            rate_limit_burst=text("rate_limit_burst"),
            client_certificate=text("client_certificate"),
            client_key=text("client_key"),
            remove_client_certificate=form.get("remove_client_certificate") == "on",
        )

    @classmethod
    def from_webhook(cls, webhook: Webhook) -> WebhookForm:
        retry = retry_policy_to_json(webhook.retry_policy)
        tag = _tag_of(webhook.conditions)
        limit = webhook.rate_limit
        return cls(
            name=webhook.name,
            description=webhook.description,
            webhook_url=webhook.webhook_url,
            site_ids=[ALL_SITES] if webhook.all_sites else list(webhook.site_ids),
            events=list(FORMATS[webhook.format].to_own(webhook.events)),
            tag=tag or "",
            conditions=""
            if tag is not None or webhook.conditions is None
            else json.dumps(webhook.conditions, indent=2),
            retry_policy=retry if isinstance(retry, str) else "custom",
            retry_delays="" if isinstance(retry, str) else ", ".join(_number(d) for d in retry),
            timeout_seconds=str(webhook.timeout_seconds),
            ordering=webhook.ordering.value,
            signing=webhook.signing,
            coalesce=webhook.coalesce,
            max_age_seconds=", ".join(
                f"{event}={seconds}" for event, seconds in webhook.max_age_seconds.items()
            ),
            enabled=webhook.enabled,
            format=webhook.format,
            headers="\n".join(f"{name}: {REDACTED}" for name in webhook.headers),
            rate_limit_per_second=_number(limit.per_second) if limit else "",
            rate_limit_burst=str(limit.burst) if limit else "",
        )

    def to_metadata(self) -> tuple[dict[str, Any], FormErrors]:
        """The metadata for WebhookService, and the errors a form alone can detect."""
        # Every blank required field at once, in the order the form shows them: the service
        # reports one error at a time, so an empty form took three submissions to name all four.
        errors: FormErrors = {}
        if not self.name.strip():
            errors["name"] = "Enter a name, e.g. what the receiving system is."
        if not self.webhook_url.strip():
            errors["webhook_url"] = (
                "Enter the URL to send events to, e.g. https://example.com/webhooks."
            )
        if not self.site_ids:
            errors["site_ids"] = "Choose at least one property, or All properties."
        if not self.events:
            errors["events"] = "Choose at least one event, or All events."
        metadata: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "webhook_url": self.webhook_url,
            "site_ids": self._sites(),
            "events": self._events(),
            "format": self.format,
            "enabled": self.enabled,
            "conditions": self._conditions(errors),
            "retry_policy": self._retry_policy(errors),
            "timeout_seconds": _integer(self.timeout_seconds, "timeout_seconds", errors),
            "ordering": self.ordering,
            "coalesce": self.coalesce,
            "max_age_seconds": self._max_age(errors),
            "headers": self._headers(errors),
            "rate_limit_per_second": _optional_number(self.rate_limit_per_second, errors),
            "rate_limit_burst": _optional_integer(self.rate_limit_burst, errors),
        }
        if self.signing:
            metadata["signing"] = self.signing
        metadata.update(self._client_certificate(errors))
        return metadata, errors

    def _headers(self, errors: FormErrors) -> dict[str, str] | None:
        """One "Name: value" per line; the service checks names and values."""
        headers: dict[str, str] = {}
        for line in filter(None, (line.strip() for line in self.headers.splitlines())):
            name, colon, value = line.partition(":")
            if not colon or not name.strip():
                errors["headers"] = f"Write each header as Name: value (not {line!r})."
                return None
            headers[name.strip()] = value.strip()
        return headers or None

    def _client_certificate(self, errors: FormErrors) -> dict[str, Any]:
        """The certificate change, if any: removed, replaced by the one pasted, or (nothing
        pasted) kept as it is."""
        if self.remove_client_certificate:
            return {"client_certificate": None}
        if not self.client_certificate and not self.client_key:
            return {}
        if not (self.client_certificate and self.client_key):
            errors["client_certificate"] = "Paste both the certificate and its private key."
            return {}
        pem = {"certificate": self.client_certificate, "private_key": self.client_key}
        return {"client_certificate": pem}

    def _events(self) -> list[str]:
        every = FORMATS[self.format].all_events
        if every in self.events or ALL_EVENTS in self.events:
            return [every]  # "All events" wins over single events also ticked
        return self.events

    def _sites(self) -> list[str]:
        if ALL_SITES in self.site_ids:
            return [ALL_SITES]  # "All properties" wins over single properties also ticked
        return self.site_ids

    def _max_age(self, errors: FormErrors) -> dict[str, int] | None:
        """ "event=seconds" pairs separated by commas; the service checks names and bounds."""
        limits: dict[str, int] = {}
        for part in filter(None, (p.strip() for p in self.max_age_seconds.split(","))):
            event, _, seconds = part.partition("=")
            if not event.strip() or not _whole_number(seconds.strip()):
                errors["max_age_seconds"] = (
                    f"Write each limit as event=seconds, e.g. channel_active=600 (not {part!r})."
                )
                return None
            limits[event.strip()] = int(seconds)
        return limits or None

    def _conditions(self, errors: FormErrors) -> Mapping[str, Any] | None:
        advanced: Any = None
        if self.conditions:
            try:
                # orjson, as the API: it refuses lone surrogates (which cannot be stored) and
                # stops at a depth where Python's json module would exhaust the stack.
                advanced = orjson.loads(self.conditions)
            except ValueError as exc:
                errors["conditions"] = f"The conditions are not valid JSON: {exc}."
                return None
        if self.tag and advanced is not None:
            return {"$and": [advanced, tag_condition(self.tag)]}
        if self.tag:
            return tag_condition(self.tag)
        return advanced  # type: ignore[no-any-return]

    def _retry_policy(self, errors: FormErrors) -> str | list[float]:
        if self.retry_policy != "custom":
            return self.retry_policy
        try:
            delays = [float(part) for part in self.retry_delays.replace(" ", "").split(",")]
        except ValueError:
            errors["retry_policy"] = (
                "Write the custom retry delays as seconds separated by commas, e.g. 10, 60, 300."
            )
            return []
        return [int(d) if d.is_integer() else d for d in delays]


def _whole_number(raw: str) -> bool:
    """Digits int() takes: ASCII (str.isdigit() is also true of "²", which int() refuses: a
    500, attack 10), and well short of its 4,300-digit limit (the service checks bounds)."""
    return raw.isascii() and raw.isdigit() and len(raw) <= 18


def _integer(raw: str, name: str, errors: FormErrors) -> int | None:
    try:
        return int(raw)
    except ValueError:
        errors[name] = "Enter a whole number of seconds."
        return None


def _optional_number(raw: str, errors: FormErrors) -> float | None:
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        errors["rate_limit_per_second"] = "Enter a number of requests per second, e.g. 5."
        return None


def _optional_integer(raw: str, errors: FormErrors) -> int | None:
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        errors["rate_limit_burst"] = "Enter a whole number of requests."
        return None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _tag_of(conditions: Mapping[str, Any] | None) -> str | None:
    """The tag, if the conditions are exactly a "has tag" rule (so the simple field shows)."""
    if not conditions or list(conditions) != ["data.tags"]:
        return None
    rule = conditions["data.tags"]
    if isinstance(rule, Mapping) and list(rule) == ["$contains"]:
        value = rule["$contains"]
        return value if isinstance(value, str) else None
    return None
