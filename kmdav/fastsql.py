"""Hot read queries run straight on the driver's cursor.

A DAV request makes a handful of small indexed lookups (the login re-check,
the collection at a path, the item at an href, the changes since a token).
Through SQLAlchemy Core each costs about 175,000 CPU instructions even with
the compiled statement cached (execution context, events, result machinery);
on the driver's cursor the same lookup costs about 11,000 (callgrind, this
machine).  With five to nine of them per request, that was a third of a
sync poll.

:class:`Prepared` keeps the SQLAlchemy statement as the one definition of the
query: it is compiled once per dialect by SQLAlchemy, parameters pass through
the column types' bind processors, and values through their result
processors (so a DateTime or JSON column reads the same as through
SQLAlchemy).  It runs on the DBAPI connection behind a SQLAlchemy
``Connection``, inside the transaction SQLAlchemy began there, so it sees
exactly what the session sees.  No expanding (``IN``) parameters: a query
with an ``IN`` list is a :class:`PreparedIn`.

:class:`PreparedWrite` does the same for the writes of a card
or event PUT (the item, its change-log row, the revision bump, the
projection rows).  The statement is compiled for the parameter names of
the call, as SQLAlchemy does; a column SQLAlchemy would fill from its
Python-side default gets that default here too.  Driver errors surface as
the driver's exceptions, not SQLAlchemy's: these writes run under the
collection's lock after the checks that would fail, so nothing here
expects to catch one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import BindParameter, Connection, Delete, Insert, Select, Update, bindparam
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any] | None
#: Most values in one ``IN`` list of a :class:`PreparedIn`: far below
#: SQLite's and PostgreSQL's limits on parameters per statement.
IN_LIST_MAX = 512


def _bind_processors(compiled: SQLCompiler, dialect: Dialect) -> dict[str, Callable[[Any], Any]]:
    found: dict[str, Callable[[Any], Any]] = {}
    for name, bind in compiled.binds.items():
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            found[compiled.escaped_bind_names.get(name, name)] = processor
    return found


def _result_processors(columns: Any, dialect: Dialect) -> list[Processor]:
    return [column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns]


class _Form:
    """The statement compiled for one dialect, with its value converters."""

    __slots__ = (
        "binds",
        "compiled",
        "converted",
        "converts",
        "defaults",
        "names",
        "results",
        "sql",
    )

    def __init__(
        self, statement: Any, dialect: Dialect, keys: tuple[str, ...] | None = None
    ) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=keys)
        if compiled.post_compile_params or compiled.literal_execute_params:
            raise ValueError("expanding or literal-execute parameters are not supported")
        self.compiled = compiled
        self.sql = compiled.string
        #: Parameter order for positional paramstyles (qmark: SQLite), else None.
        self.names: tuple[str, ...] | None = (
            tuple(compiled.positiontup or ()) if dialect.positional else None
        )
        self.binds = _bind_processors(compiled, dialect)
        #: Columns SQLAlchemy would fill from their Python-side default (an
        #: INSERT's columns not given, an UPDATE's ``onupdate`` ones).
        self.defaults = [
            (column.key, column.default if column in compiled.insert_prefetch else column.onupdate)
            for column in (*compiled.insert_prefetch, *compiled.update_prefetch)
        ]
        returned = (
            statement.selected_columns
            if isinstance(statement, Select)
            else (statement.exported_columns if statement._returning else ())
        )
        self.results = _result_processors(returned, dialect)
        #: (position, processor) of the columns whose values are converted.
        self.converted = [(index, p) for index, p in enumerate(self.results) if p is not None]
        self.converts = bool(self.converted)

    def parameters(self, params: Mapping[str, Any] | None) -> Any:
        values = self.compiled.construct_params(params or {})
        for key, default in self.defaults:
            if default.is_scalar:
                values[key] = default.arg
            elif default.is_callable:
                values[key] = default.arg(None)  # SQLAlchemy's wrapper takes a context
            else:
                raise ValueError(f"column {key!r} has a default only SQLAlchemy can run")
        for name, processor in self.binds.items():
            if name in values:
                values[name] = processor(values[name])
        if self.names is not None:
            return tuple(values[name] for name in self.names)
        return values

    def row(self, raw: Any) -> tuple[Any, ...]:
        values = list(raw)
        for index, processor in self.converted:
            value = values[index]
            if value is not None:
                values[index] = processor(value)
        return tuple(values)

    def rows(self, fetched: list[Any]) -> list[tuple[Any, ...]]:
        if not self.converts:
            return [tuple(raw) for raw in fetched]
        return [self.row(raw) for raw in fetched]


def _cursor(connection: Connection) -> Any:
    return connection.connection.driver_connection.cursor()  # type: ignore[union-attr]


class _Statement:
    """A statement and its compiled forms, one per dialect (and, for a
    write, per set of parameter names, as SQLAlchemy compiles it)."""

    __slots__ = ("_forms", "statement")

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._forms: dict[tuple[str, tuple[str, ...] | None], _Form] = {}

    def _form(self, connection: Connection, keys: tuple[str, ...] | None = None) -> _Form:
        dialect = connection.dialect
        form = self._forms.get((dialect.name, keys))
        if form is None:
            form = self._forms[dialect.name, keys] = _Form(self.statement, dialect, keys)
        return form

    @staticmethod
    def _run(
        connection: Connection, form: _Form, params: Mapping[str, Any] | None
    ) -> list[tuple[Any, ...]]:
        cursor = _cursor(connection)
        try:
            cursor.execute(form.sql, form.parameters(params))
            fetched = cursor.fetchall() if form.results else []
        finally:
            cursor.close()
        return form.rows(fetched)


class Prepared(_Statement):
    """A SELECT built once at import, run on the driver's cursor."""

    __slots__ = ()

    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        super().__init__(statement)

    def rows(
        self, connection: Connection, params: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Every row, as plain tuples in the statement's column order."""
        return self._run(connection, self._form(connection), params)

    def first(
        self, connection: Connection, params: Mapping[str, Any] | None = None
    ) -> tuple[Any, ...] | None:
        found = self.rows(connection, params)
        return found[0] if found else None

    def scalar(self, connection: Connection, params: Mapping[str, Any] | None = None) -> Any:
        found = self.first(connection, params)
        return None if found is None else found[0]


class PreparedIn:
    """A SELECT with one ``IN`` list, run on the driver's cursor.

    SQLAlchemy's expanding parameters render new SQL for each length of the
    list.  Here ``build`` makes the statement for a list of bound parameters
    (``in0``, ``in1``, ...) of a power-of-two size up to ``IN_LIST_MAX``,
    once per size; a longer list runs in chunks, and a shorter one repeats
    its last value, which changes nothing in an ``IN``.
    """

    __slots__ = ("_build", "_sizes")

    def __init__(
        self, build: Callable[[list[BindParameter[Any]]], Select[*tuple[Any, ...]]]
    ) -> None:
        self._build = build
        self._sizes: dict[int, Prepared] = {}

    def _prepared(self, size: int) -> Prepared:
        prepared = self._sizes.get(size)
        if prepared is None:
            listed: list[BindParameter[Any]] = [bindparam(f"in{index}") for index in range(size)]
            prepared = self._sizes[size] = Prepared(self._build(listed))
        return prepared

    def rows(
        self, connection: Connection, params: Mapping[str, Any], values: Sequence[Any]
    ) -> list[tuple[Any, ...]]:
        """Every row for ``values`` (any number), with the other ``params``."""
        found: list[tuple[Any, ...]] = []
        for start in range(0, len(values), IN_LIST_MAX):
            chunk = list(values[start : start + IN_LIST_MAX])
            size = 1 << (len(chunk) - 1).bit_length()
            chunk += [chunk[-1]] * (size - len(chunk))
            listed = {f"in{index}": value for index, value in enumerate(chunk)}
            found.extend(self._prepared(size).rows(connection, {**params, **listed}))
        return found


class PreparedWrite(_Statement):
    """An INSERT, UPDATE or DELETE built once at import, run on the driver's cursor."""

    __slots__ = ()

    def __init__(self, statement: Insert | Update | Delete) -> None:
        super().__init__(statement)

    def execute(self, connection: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run once; the RETURNING rows, if the statement has any."""
        return self._run(connection, self._form(connection, tuple(params)), params)

    def execute_many(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        """Run once per row of parameters (all with the same names)."""
        if not rows:
            return
        form = self._form(connection, tuple(rows[0]))
        if form.results:
            raise ValueError("RETURNING with several parameter sets is not supported")
        cursor = _cursor(connection)
        try:
            cursor.executemany(form.sql, [form.parameters(row) for row in rows])
        finally:
            cursor.close()
