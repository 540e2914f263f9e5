"""A store error logged with its traceback, as the worker and the API log what they did not
expect, names the statement but never its parameters: they hold event data and response
bodies."""

from __future__ import annotations

import logging

import pytest

from hookcast.domain.errors import Conflict
from hookcast.store import SqlStore
from support import factories as make

PRIVATE = "customer-private-value-7f3a"


async def test_a_logged_store_error_carries_no_sql_parameters(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    account = make.account()
    await store.create_account(account)
    await store.create_site(make.site(account.id, id="ChosenId"))
    with pytest.raises(Conflict) as raised:
        await store.create_site(make.site(account.id, id="ChosenId", name=PRIVATE))

    logging.getLogger("hookcast.test").error("the write failed", exc_info=raised.value)

    assert "IntegrityError" in caplog.text  # the cause is logged, with its statement
    assert "INSERT INTO sites" in caplog.text
    assert PRIVATE not in caplog.text
