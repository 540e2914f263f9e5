"""Use-cases shared by the API, the dashboard and the CLI: the one place for each rule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network

from hookcast.domain.retry import MIN_CUSTOM_DELAY
from hookcast.ports import Clock, PublishObserver, Resolver, Store, Tracer
from hookcast.services.accounts import AccountService, NewApiKey
from hookcast.services.auth import AuthService, Caller
from hookcast.services.deliveries import DeliveryFilter, DeliveryService, TestSent
from hookcast.services.events import MAX_EVENT_CONTAINERS, MAX_PUBLISH_CONTAINERS, EventService
from hookcast.services.portal import PortalService
from hookcast.services.sites import SiteService
from hookcast.services.urls import UrlGuard
from hookcast.services.webhooks import WebhookService

__all__ = [
    "AccountService",
    "AuthService",
    "Caller",
    "DeliveryFilter",
    "DeliveryService",
    "EventService",
    "NewApiKey",
    "Policy",
    "PortalService",
    "Services",
    "SiteService",
    "TestSent",
    "WebhookService",
    "build_services",
]


@dataclass(frozen=True, slots=True)
class Policy:
    """The settings the use-cases need (a slice of config.Settings)."""

    allowed_networks: Sequence[IPv4Network | IPv6Network] = ()
    rotation_grace: timedelta = timedelta(hours=24)
    max_batch_events: int = 1000
    max_webhooks_per_account: int = 100
    max_deliveries_per_publish: int = 10_000
    max_containers_per_publish: int = MAX_PUBLISH_CONTAINERS
    max_containers_per_event: int = MAX_EVENT_CONTAINERS
    min_retry_delay: float = MIN_CUSTOM_DELAY  # of a custom retry_policy, in seconds


@dataclass(frozen=True, slots=True)
class Services:
    store: Store
    auth: AuthService
    accounts: AccountService
    sites: SiteService
    webhooks: WebhookService
    events: EventService
    deliveries: DeliveryService
    portal: PortalService


def build_services(
    store: Store,
    *,
    clock: Clock,
    resolver: Resolver,
    policy: Policy,
    publish_observer: PublishObserver | None = None,
    tracer: Tracer | None = None,
) -> Services:
    webhooks = WebhookService(
        store,
        clock=clock,
        url_guard=UrlGuard(resolver, policy.allowed_networks),
        rotation_grace=policy.rotation_grace,
        max_per_account=policy.max_webhooks_per_account,
        min_retry_delay=policy.min_retry_delay,
    )
    return Services(
        store=store,
        auth=AuthService(store),
        accounts=AccountService(store, clock=clock),
        sites=SiteService(store, clock=clock),
        webhooks=webhooks,
        events=EventService(
            store,
            clock=clock,
            max_batch=policy.max_batch_events,
            max_deliveries=policy.max_deliveries_per_publish,
            max_containers_per_publish=policy.max_containers_per_publish,
            max_containers_per_event=policy.max_containers_per_event,
            observer=publish_observer,
            tracer=tracer,
        ),
        deliveries=DeliveryService(store, clock=clock, webhooks=webhooks),
        portal=PortalService(store, clock=clock),
    )
