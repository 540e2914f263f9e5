"""OrjsonRoute will not serve a body that would take invalid JSON's placeholder."""
# No `from __future__ import annotations`: the endpoints' body types are local variables.

from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Body
from pydantic import BaseModel

from hookcast.api.json_route import OrjsonRoute


class Site(BaseModel):
    name: str


@pytest.mark.parametrize("body_type", [Any, object])
def test_a_body_that_takes_any_value_is_refused_when_the_route_is_built(body_type: Any) -> None:
    router = APIRouter(route_class=OrjsonRoute)

    async def create(body: Annotated[body_type, Body()]) -> None:
        del body

    with pytest.raises(TypeError, match="accepts any value"):
        router.add_api_route("/sites", create, methods=["POST"])


@pytest.mark.parametrize("body_type", [Site, dict[str, Any], list[Any], Site | None])
def test_a_typed_body_is_built(body_type: Any) -> None:
    router = APIRouter(route_class=OrjsonRoute)

    async def create(body: Annotated[body_type, Body()]) -> None:
        del body

    router.add_api_route("/sites", create, methods=["POST"])
    assert len(router.routes) == 1
