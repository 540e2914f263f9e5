"""Accounts and their API keys. Keys are shown once, stored hashed, revocable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hookcast.domain.errors import LimitExceeded, NotFound, ValidationFailed
from hookcast.domain.ids import new_api_key_secret, new_resource_id, random_chars
from hookcast.domain.mail import valid_address
from hookcast.domain.models import Account, ApiKey, Permission, Role
from hookcast.ports import AccountFull, Clock, Store
from hookcast.services import validation as v
from hookcast.services.auth import Caller, hash_secret

MIN_ORGANIZATION_SECRET = 16
# Keys an account's admins may hold (the API and the dashboard; the operator's `keys create`
# is not bound). Each key is a rate-limit bucket of its own (api/ratelimit.py), so the keys
# an admin minted multiplied the account's rate, and each dashboard request reads every key
# of its account (auth.resume). The store counts them under a lock of the account's row, so
# creates racing at the bound cannot both pass (store/accounts.py, added_to_account).
MAX_API_KEYS_PER_ACCOUNT = 100


def new_organization_secret() -> str:
    """A random Flowplayer organization secret: 32 letters and digits (~190 bits)."""
    return random_chars(32)


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A key just created: the only moment its secret exists outside the caller's hands."""

    key: ApiKey
    secret: str


class AccountService:
    def __init__(self, store: Store, *, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def create_account(self, name: object) -> Account:
        """Operator action (CLI): no caller, since accounts are the top of the hierarchy."""
        account = Account(
            id=new_resource_id(),
            name=v.text(name, field="name", max_length=256),
            created=self._clock(),
        )
        await self._store.create_account(account)
        return account

    async def default_account(self) -> Account:
        accounts = await self._store.list_accounts()
        if not accounts:
            raise NotFound("no account exists: run `hookcast migrate`")
        return min(accounts, key=lambda account: account.created)

    async def list_accounts(self) -> Sequence[Account]:
        """Every account (the operator's view: no caller, as `create_account`)."""
        return await self._store.list_accounts()

    async def issue_key(self, account_id: str, *, role: Role, name: str = "") -> NewApiKey:
        """Operator action (CLI and first start): creates a key without a caller, and
        without the bound an account's admins have."""
        return await self._issue(account_id, role=role, name=name, most=None)

    async def _issue(
        self, account_id: str, *, role: Role, name: str, most: int | None
    ) -> NewApiKey:
        if await self._store.get_account(account_id) is None:
            raise NotFound(f"account {account_id!r} was not found")
        new = self._new_key(account_id, role=role, name=name)
        try:
            await self._store.create_api_key(new.key, most=most)
        except AccountFull as full:
            raise LimitExceeded(
                f"an account may hold at most {most} API keys and this one holds "
                f"{full.held}: revoke one you no longer use"
            ) from None
        return new

    async def bootstrap_admin_key(self) -> NewApiKey | None:
        """On an empty database, the first admin key (printed once by `serve`); None if any
        key exists, including one that a process starting beside this one just made."""
        if await self._store.count_api_keys() > 0:
            return None
        account = await self.default_account()
        new = self._new_key(account.id, role=Role.ADMIN, name="first admin key")
        return new if await self._store.create_first_api_key(new.key) else None

    def _new_key(self, account_id: str, *, role: Role, name: str) -> NewApiKey:
        key_id = new_resource_id()
        secret = new_api_key_secret(key_id)
        key = ApiKey(
            id=key_id,
            account_id=account_id,
            name=v.text(name, field="name", max_length=256, required=False),
            role=role,
            secret_hash=hash_secret(secret),
            created=self._clock(),
        )
        return NewApiKey(key=key, secret=secret)

    async def create_key(self, caller: Caller, *, role: object, name: object = "") -> NewApiKey:
        caller.require(Permission.ADMIN)
        chosen = Role(v.one_of(role, [r.value for r in Role], field="role"))
        return await self._issue(
            caller.account_id,
            role=chosen,
            name=v.text(name or "", field="name", max_length=256, required=False),
            most=MAX_API_KEYS_PER_ACCOUNT,
        )

    async def list_keys(self, caller: Caller) -> Sequence[ApiKey]:
        caller.require(Permission.ADMIN)
        return await self._store.list_api_keys(caller.account_id)

    async def revoke_key(self, caller: Caller, key_id: str) -> None:
        caller.require(Permission.ADMIN)
        if not await self._store.delete_api_key(caller.account_id, key_id):
            raise NotFound(f"API key {key_id!r} was not found")

    # The contact address: HookCast e-mails it a webhook's disable warning, disable and
    # recovery (domain/mail.py), when an SMTP server is configured.

    async def contact_email(self, caller: Caller) -> str | None:
        caller.require(Permission.READ)
        return await self._store.get_contact_email(caller.account_id)

    async def set_contact_email(self, caller: Caller, email: object) -> str | None:
        """Sets (None or "": clears) the account's contact address."""
        caller.require(Permission.ADMIN)
        chosen = None if email in (None, "") else v.text(email, field="email", max_length=254)
        if chosen is not None and not valid_address(chosen):
            raise ValidationFailed("email must be one e-mail address", field="email")
        await self._store.set_contact_email(caller.account_id, chosen)
        return chosen

    # The Flowplayer organization secret: one per account, signing every Flowplayer-format
    # webhook of it (Flowplayer's "Webhooks Secret Key"); none set, their deliveries are held.

    async def flowplayer_secret_is_set(self, caller: Caller) -> bool:
        caller.require(Permission.READ)
        return await self._store.get_flowplayer_secret(caller.account_id) is not None

    async def reveal_flowplayer_secret(self, caller: Caller) -> str | None:
        caller.require(Permission.ADMIN)
        return await self._store.get_flowplayer_secret(caller.account_id)

    async def set_flowplayer_secret(self, caller: Caller, secret: object = None) -> str:
        """Sets the secret the customer chose (`secret`), or a new random one (None): it
        signs from the next attempt on, alone (Flowplayer's header carries one signature).
        An account setting (PLATFORM): it signs every Flowplayer-format webhook of the
        account, so a portal session, which sees it on no page, may not set it either (a
        portal customer would have learnt the secret other customers' receivers check, and
        a rotation would have made them refuse every delivery)."""
        caller.require(Permission.PLATFORM)
        chosen = (
            new_organization_secret()
            if secret is None
            else v.text(secret, field="secret", max_length=256)
        )
        if len(chosen) < MIN_ORGANIZATION_SECRET or chosen != chosen.strip():
            raise ValidationFailed(
                f"the Flowplayer secret must be at least {MIN_ORGANIZATION_SECRET} characters, "
                "with no space at either end",
                field="secret",
            )
        await self._store.set_flowplayer_secret(caller.account_id, chosen)
        return chosen
