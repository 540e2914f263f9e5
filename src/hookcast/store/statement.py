"""Statements written once with SQLAlchemy Core and compiled once per database.

A `Statement` is a named query whose builder takes the database's name ("sqlite" or
"postgresql") and returns a Core construct: where the two databases differ, the builder says
how, in the statement's definition. The construct is compiled the first time a connector
runs it on a database, into a `Compiled` the statement keeps: the SQL text in the driver's
parameter style, the order of its parameters with each one's bind processor, and a loader
for each result column whose stored value needs converting (store/types.py).

Through SQLAlchemy's async layer a statement cost ~250-450 µs of Python (an execution
context, bind and result processing, a greenlet) around the 10-50 µs SQLite spends on it,
and a publish runs three; running the compiled text on the driver costs what the driver
needs and no more. Queries whose shape depends on the call (list pages with filters, sorts
and pagination) are compiled per call through the same `Compiled`: they are off the hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.sql.base import Executable
from sqlalchemy.types import TypeEngine

__all__ = ["IN_ORDER", "Compiled", "Query", "Statement", "compile_query"]

Row = tuple[Any, ...]
Mapped = dict[str, Any]
_Binder = Callable[[Mapping[str, Any]], tuple[Any, ...]]


class Statement:
    """A query written once, compiled once per database and kept compiled.

    `build(database)` returns the Core construct for "sqlite" or "postgresql"; values are
    bound by name (`bindparam`) when the statement runs. `columns`, for an INSERT built
    without values: the columns every row gives (by default all of the table's), each bound
    by its own name.
    """

    __slots__ = ("_build", "_built", "_columns", "_compiled")

    def __init__(
        self, build: Callable[[str], Executable], *, columns: Sequence[str] | None = None
    ) -> None:
        self._build = build
        self._columns = None if columns is None else list(columns)
        self._built: dict[str, Executable] = {}
        self._compiled: dict[str, Compiled] = {}

    @classmethod
    def written(cls, database: str, sql: str) -> Statement:
        """A statement written for one database as its driver runs it, with no Core
        construct (its rows, if it returns any, come as stored, read as tuples): for SQL
        whose compiling through Core costs more than running it many times (hundreds of
        parameters in rows of VALUES: ~0.1 s for 256 rows). Its parameters are one sequence
        in the SQL's order, given as `{IN_ORDER: values}`: no name per parameter to make
        and look up."""
        statement = cls(_written_for(database))
        statement._compiled[database] = _Written(sql=sql, binds=(), fixed={}, keys=(), loads=())
        return statement

    def construct(self, database: str) -> Executable:
        """The Core construct for `database`, built on first use."""
        found = self._built.get(database)
        if found is None:
            found = self._built[database] = self._build(database)
        return found

    def compiled(self, dialect: Dialect) -> Compiled:
        """The statement compiled for `dialect`, on first use (then kept)."""
        found = self._compiled.get(dialect.name)
        if found is None:
            construct = self.construct(dialect.name)
            found = Compiled.of(construct, dialect, columns=self._columns)
            self._compiled[dialect.name] = found
        return found


Query = Statement | Executable  # a named statement, or a construct built for one call


def _written_for(database: str) -> Callable[[str], Executable]:
    def refuse(other: str) -> Executable:
        raise ValueError(f"a statement written for {database} does not run on {other}")

    return refuse


def compile_query(query: Query, dialect: Dialect) -> Compiled:
    """A named statement's kept compilation, or a one-off construct's fresh one."""
    if isinstance(query, Statement):
        return query.compiled(dialect)
    return Compiled.of(query, dialect)


@dataclass(frozen=True, slots=True)
class Compiled:
    """A construct compiled for one database: what a connector sends and how it converts
    the values going in and the rows coming out."""

    sql: str
    binds: tuple[tuple[str, Callable[[Any], Any] | None], ...]  # (name, bind processor)
    fixed: Mapping[str, Any]  # values fixed when the construct was built
    keys: tuple[str, ...]  # of the result columns
    # (position, loader) of each result column whose stored value needs converting
    loads: tuple[tuple[int, Callable[[Any], Any]], ...]
    # Made from the above (see _binder and _row_maker below).
    _bind: _Binder = field(init=False, repr=False, compare=False)
    _load: Callable[[list[Row]], list[Row]] = field(init=False, repr=False, compare=False)
    _map: Callable[[list[Row]], list[Mapped]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_bind", _binder(self.binds))
        object.__setattr__(self, "_load", _row_maker(self.keys, self.loads, as_dict=False))
        object.__setattr__(self, "_map", _row_maker(self.keys, self.loads, as_dict=True))

    @classmethod
    def of(
        cls, construct: Executable, dialect: Dialect, *, columns: list[str] | None = None
    ) -> Compiled:
        """Compiles `construct` for `dialect` (whose parameter style must be positional);
        `columns` as `Statement`'s."""
        compiled = construct.compile(  # type: ignore[attr-defined]
            dialect=dialect, column_keys=columns
        )
        names = compiled.positiontup or ()
        if "POSTCOMPILE" in compiled.string:
            raise ValueError("expanding IN lists compile per call: use store.sql.in_list")
        binds = tuple((name, compiled.binds[name].type.bind_processor(dialect)) for name in names)
        # Literal values in the construct (a filter's value, LIMIT and OFFSET): sent as built.
        fixed = {
            name: bind.value
            for name in names
            if not (bind := compiled.binds[name]).required and bind.callable is None
        }
        results = list(getattr(construct, "exported_columns", ()))
        loads = [
            (position, _loader(column.type, dialect)) for position, column in enumerate(results)
        ]
        return cls(
            sql=compiled.string,
            binds=binds,
            fixed=fixed,
            keys=tuple(column.key for column in results),
            loads=tuple((position, load) for position, load in loads if load is not None),
        )

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """The positional parameters for named `values`, each through its bind processor."""
        if self.fixed:
            values = {**self.fixed, **values}
        return self._bind(values)

    def rows(self, fetched: list[Row]) -> list[Row]:
        """Fetched rows with each stored value turned into Python's."""
        if not self.loads:
            return fetched
        return self._load(fetched)

    def mappings(self, fetched: list[Row]) -> list[dict[str, Any]]:
        """As `rows`, each row as a dict keyed by column name."""
        return self._map(fetched)


IN_ORDER = "in_order"  # the key of a written statement's parameters (Statement.written)


class _Written(Compiled):
    """A written statement's SQL: its parameters come in order, as they are sent."""

    __slots__ = ()

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(values[IN_ORDER])


# A statement runs many times (a claim's rows, a batch's parameters, per delivery), so what
# it does per value is made once into one expression per row: a loop over positions with a
# list and a tuple per row cost more than the conversions themselves (an event's row 5.2 us
# that way against ~2 us, on a loaded machine). Only positions and the processors' own
# names go into the source; values never do.


def _binder(
    binds: tuple[tuple[str, Callable[[Any], Any] | None], ...],
) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    processors = {f"p{i}": process for i, (_, process) in enumerate(binds) if process is not None}
    names = {f"n{i}": name for i, (name, _) in enumerate(binds)}
    items = [
        f"p{i}(values[n{i}])" if process is not None else f"values[n{i}]"
        for i, (_, process) in enumerate(binds)
    ]
    source = f"lambda values: ({''.join(item + ', ' for item in items)})"
    made: Callable[[Mapping[str, Any]], tuple[Any, ...]] = eval(  # noqa: S307 (see above)
        source, {**processors, **names}
    )
    return made


def _row_maker(
    keys: tuple[str, ...], loads: tuple[tuple[int, Callable[[Any], Any]], ...], *, as_dict: bool
) -> Callable[[list[Row]], Any]:
    """What turns fetched rows into loaded tuples, or into dicts keyed by `keys`."""
    loaders = {f"l{position}": load for position, load in loads}
    names = {f"k{i}": key for i, key in enumerate(keys)}
    values = [
        f"(None if r[{i}] is None else l{i}(r[{i}]))" if f"l{i}" in loaders else f"r[{i}]"
        for i in range(len(keys))
    ]
    if as_dict:
        row = "{" + "".join(f"k{i}: {value}, " for i, value in enumerate(values)) + "}"
    else:
        row = "(" + "".join(f"{value}, " for value in values) + ")"
    made: Callable[[list[Row]], Any] = eval(  # noqa: S307 (see above)
        f"lambda fetched: [{row} for r in fetched]", {**loaders, **names}
    )
    return made


def _loader(type_: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """What turns a stored value of `type_` into Python's: the type's own `load_value` (see
    store/types.py) or else its result processor, None when the value is used as it is."""
    load: Callable[[Any], Any] | None = getattr(type_, "load_value", None)
    return load or type_.result_processor(dialect, None)
