"""A quicker `__init__` for frozen, slotted dataclasses made once per delivery.

A frozen dataclass's generated `__init__` sets each field through `object.__setattr__`
(looked up per field, then a general attribute assignment): ~140 ns a field, against ~35 ns
for a plain assignment. A delivery is carried by about ten such objects with ~70 fields in
all (Delivery, Event, ClaimedDelivery, OutboundRequest, SendOutcome, Attempt,
DeliveryResult, HealthSignal, AttemptReport): ~7% of an embedded drain's loop
(docs/benchmarks/embedded-delivery.md). `quick_init` gives such a class an `__init__` that stores
each field through its slot's own descriptor (`member.__set__`), kept in the function's closure:
about half the cost, and nothing else changes. The class stays frozen (assigning a field raises
FrozenInstanceError), compares, hashes, prints, pickles and `replace`s as before, and its
signature (names, order, defaults, keyword-only fields) is the dataclass's own.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
from typing import Any, TypeVar

__all__ = ["quick_init"]

_C = TypeVar("_C", bound=type)
# The generated source's own names (closure values and the factory function) start with
# this, so no field, which becomes a parameter of the same function, can shadow them; a
# field named so is refused.
_P = "_quick_"


def quick_init(cls: _C) -> _C:
    """Replaces the generated `__init__` of `cls`, a frozen dataclass with slots and without
    InitVar fields, by one that stores each field through its slot descriptor. Decorate
    above `@dataclass(frozen=True, slots=True)`."""
    params = _checked(cls)
    closure: dict[str, Any] = {}
    signature: list[str] = []
    body: list[str] = []
    keyword_only = False
    for number, param in enumerate(params):
        name = param.name
        if param.kind is inspect.Parameter.KEYWORD_ONLY and not keyword_only:
            signature.append("*")
            keyword_only = True
        entry = name
        if param.default is not inspect.Parameter.empty:
            closure[f"{_P}d{number}"] = param.default
            entry = f"{name}={_P}d{number}"
        signature.append(entry)
        closure[f"{_P}s{number}"] = _slot(cls, name).__set__
        body.append(f"{_P}s{number}(self, {_value(cls, name, number, closure)})")
    for number, field in enumerate(dataclasses.fields(cls), start=len(params)):
        if field.init:
            continue
        default = _init_false_default(field, number, closure)
        if default is not None:
            closure[f"{_P}s{number}"] = _slot(cls, field.name).__set__
            body.append(f"{_P}s{number}(self, {default})")
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    cls.__init__ = _compile(cls, signature, body or ["pass"], closure)  # type: ignore[misc]
    return cls


def _checked(cls: type) -> list[inspect.Parameter]:
    """The generated `__init__`'s parameters, once `cls` is shown fit for `quick_init`."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} is not a frozen dataclass with slots")
    generated = cls.__dict__["__init__"]
    found = list(inspect.signature(generated).parameters.values())[1:]
    fields = {field.name for field in dataclasses.fields(cls) if field.init}
    if [param.name for param in found if param.name not in fields]:
        raise TypeError(f"{cls.__name__} has InitVar fields, which quick_init does not pass on")
    clashing = [name for name in fields if name == "self" or name.startswith(_P)]
    if clashing:
        raise TypeError(f"{cls.__name__}'s fields {clashing} clash with quick_init's own names")
    return found


def _slot(cls: type, name: str) -> Any:
    """The slot descriptor of field `name`: the class's own, or a base class's for a field
    it inherits (a slotted dataclass makes slots only for the fields its bases lack)."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            found = klass.__dict__[name]
            if isinstance(found, types.MemberDescriptorType):
                return found
            break
    raise TypeError(f"{cls.__name__}.{name} is not stored in a slot")


def _value(cls: type, name: str, number: int, closure: dict[str, Any]) -> str:
    """What the field `name` is set to: the argument, or its factory's value when the
    argument was left out (dataclasses' own marker is the parameter's default then)."""
    field = cls.__dataclass_fields__[name]  # type: ignore[attr-defined]
    if field.default_factory is dataclasses.MISSING:
        return name
    closure[f"{_P}f{number}"] = field.default_factory
    return f"{_P}f{number}() if {name} is {_P}d{number} else {name}"


def _init_false_default(
    field: dataclasses.Field[Any], number: int, closure: dict[str, Any]
) -> str | None:
    """A field left out of `__init__` is set to its default (or its factory's value) if it
    has one, as dataclasses do; None if it has neither (`__post_init__` sets it)."""
    if field.default is not dataclasses.MISSING:
        closure[f"{_P}d{number}"] = field.default
        return f"{_P}d{number}"
    if field.default_factory is not dataclasses.MISSING:
        closure[f"{_P}f{number}"] = field.default_factory
        return f"{_P}f{number}()"
    return None


def _compile(cls: type, signature: list[str], body: list[str], closure: dict[str, Any]) -> Any:
    """The `__init__` built from its source, its names bound from `closure` (values never
    enter the source, only names and positions)."""
    names = ", ".join(closure)
    source = (
        f"def {_P}make({names}):\n"
        f"    def __init__(self, {', '.join(signature)}):\n"
        + "".join(f"        {line}\n" for line in body)
        + "    return __init__\n"
    )
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # noqa: S102 (only names and positions, see _compile's docstring)
    made = namespace[f"{_P}make"](**closure)
    made.__qualname__ = f"{cls.__qualname__}.__init__"
    made.__module__ = cls.__module__
    generated = cls.__dict__["__init__"]
    made.__doc__ = generated.__doc__
    made.__annotations__ = dict(generated.__annotations__)  # the signature's types, as before
    return made
