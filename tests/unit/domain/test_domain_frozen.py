"""quick_init: a frozen dataclass built by its quicker __init__ behaves exactly as one built by
the generated __init__ (the carriers of a delivery use it, domain/frozen.py)."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from dataclasses import dataclass, field
from typing import Any

import pytest

from hookcast.domain.frozen import quick_init
from hookcast.domain.models import Delivery
from hookcast.ports import DeliveryResult, SendOutcome


@dataclass(frozen=True, slots=True)
class _Generated:
    name: str
    count: int = 1
    tags: list[str] = field(default_factory=list)
    fixed: int = field(default=7, init=False)
    later: str = field(default="", kw_only=True)


@quick_init
@dataclass(frozen=True, slots=True)
class _Quick:
    name: str
    count: int = 1
    tags: list[str] = field(default_factory=list)
    fixed: int = field(default=7, init=False)
    later: str = field(default="", kw_only=True)


def _fields(value: Any) -> dict[str, Any]:
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("a",), {}),
        (("a", 3), {}),
        (("a", 3, ["x"]), {"later": "z"}),
        ((), {"name": "a", "tags": ["y"], "count": 0}),
    ],
)
def test_the_same_arguments_make_the_same_fields(args: tuple[Any, ...], kwargs: Any) -> None:
    assert _fields(_Quick(*args, **kwargs)) == _fields(_Generated(*args, **kwargs))


def test_the_signature_is_the_generated_one() -> None:
    quick = inspect.signature(_Quick.__init__).parameters
    generated = inspect.signature(_Generated.__init__).parameters
    assert [(p.name, p.kind) for p in quick.values()] == [
        (p.name, p.kind) for p in generated.values()
    ]
    with pytest.raises(TypeError):
        _Quick()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        _Quick("a", 1, [], "positional")  # type: ignore[call-arg]


def test_a_factory_gives_each_instance_its_own_value() -> None:
    first, second = _Quick("a"), _Quick("b")
    assert first.tags == []
    assert first.tags is not second.tags


def test_it_stays_frozen_hashable_and_comparable() -> None:
    value = _Quick("a", 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.count = 3  # type: ignore[misc]
    assert value == _Quick("a", 2)
    assert value != _Quick("a", 3)
    assert hash(_Quick("a", 2, tags=None)) == hash(_Quick("a", 2, tags=None))  # type: ignore[arg-type]
    assert pickle.loads(pickle.dumps(value)) == value == copy.copy(value)
    assert dataclasses.replace(value, count=5).count == 5


def test_post_init_still_runs() -> None:
    @quick_init
    @dataclass(frozen=True, slots=True)
    class Hashed:
        text: str
        digest: int = field(init=False, repr=False, compare=False)

        def __post_init__(self) -> None:
            object.__setattr__(self, "digest", len(self.text))

    assert Hashed("four").digest == 4


def test_only_frozen_slotted_dataclasses_are_taken() -> None:
    @dataclass(slots=True)
    class Mutable:
        value: int

    with pytest.raises(TypeError, match="frozen dataclass with slots"):
        quick_init(Mutable)


@pytest.mark.parametrize("carrier", [Delivery, DeliveryResult, SendOutcome])
def test_the_delivery_carriers_use_it(carrier: type) -> None:
    # Its slot setters live in its closure; the generated one's has none of them.
    assert "_quick_s0" in carrier.__dict__["__init__"].__code__.co_freevars
    assert "_quick_s0" not in _Generated.__init__.__code__.co_freevars


# What a review of quick_init found missing, each failing before its fix.


def test_the_signature_keeps_its_annotations() -> None:
    # The module docstring: "its signature ... is the dataclass's own"; help(Delivery) and
    # inspect.signature show none of the field types.
    assert inspect.signature(_Quick) == inspect.signature(_Generated)


def test_a_quick_subclass_of_a_quick_class_is_made() -> None:
    # A frozen slotted dataclass like any other: its inherited fields' slots are its base's.
    @quick_init
    @dataclass(frozen=True, slots=True)
    class Child(_Quick):
        extra: int = field(default=0, kw_only=True)

    child = Child("a", extra=2)
    assert (child.name, child.count, child.extra) == ("a", 1, 2)


def test_a_field_named_like_the_generated_names_is_set_as_given() -> None:
    # Field names are a class's own choice; the generated source names its closure values
    # s<n>, d<n>, f<n> and takes the fields as parameters of the same function.
    @quick_init
    @dataclass(frozen=True, slots=True)
    class Shadowed:
        s1: int
        other: int = 5

    assert (Shadowed(7).s1, Shadowed(7).other) == (7, 5)


def test_a_field_that_would_shadow_its_generated_names_is_refused() -> None:
    with pytest.raises(TypeError, match="clash"):

        @quick_init
        @dataclass(frozen=True, slots=True)
        class Clashing:
            _quick_s0: int
