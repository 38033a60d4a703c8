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
exactly what the session sees.  Only SELECTs, and none with expanding
(``IN``) parameters: writes stay with SQLAlchemy, which applies column
defaults and wraps driver errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, Select
from sqlalchemy.engine import Dialect

Processor = Callable[[Any], Any] | None


class _Form:
    """The statement compiled for one dialect, with its value converters."""

    __slots__ = ("binds", "compiled", "names", "results", "sql")

    def __init__(self, statement: Select[*tuple[Any, ...]], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if compiled.post_compile_params or compiled.literal_execute_params:
            raise ValueError("expanding or literal-execute parameters are not supported")
        self.compiled = compiled
        self.sql = compiled.string
        #: Parameter order for positional paramstyles (qmark: SQLite), else None.
        self.names: tuple[str, ...] | None = (
            tuple(compiled.positiontup or ()) if dialect.positional else None
        )
        self.binds: dict[str, Callable[[Any], Any]] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.binds[compiled.escaped_bind_names.get(name, name)] = processor
        self.results: list[Processor] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        ]

    def parameters(self, params: Mapping[str, Any] | None) -> Any:
        values = self.compiled.construct_params(params or {})
        for name, processor in self.binds.items():
            if name in values:
                values[name] = processor(values[name])
        if self.names is not None:
            return tuple(values[name] for name in self.names)
        return values

    def row(self, raw: Any) -> tuple[Any, ...]:
        return tuple(
            value if processor is None or value is None else processor(value)
            for value, processor in zip(raw, self.results, strict=True)
        )


class Prepared:
    """A SELECT built once at import, run on the driver's cursor."""

    __slots__ = ("_forms", "statement")

    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        self.statement = statement
        self._forms: dict[str, _Form] = {}

    def _form(self, connection: Connection) -> _Form:
        dialect = connection.dialect
        form = self._forms.get(dialect.name)
        if form is None:
            form = self._forms[dialect.name] = _Form(self.statement, dialect)
        return form

    def rows(
        self, connection: Connection, params: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Every row, as plain tuples in the statement's column order."""
        form = self._form(connection)
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(form.sql, form.parameters(params))
            fetched = cursor.fetchall()
        finally:
            cursor.close()
        if not any(form.results):
            return [tuple(raw) for raw in fetched]
        return [form.row(raw) for raw in fetched]

    def first(
        self, connection: Connection, params: Mapping[str, Any] | None = None
    ) -> tuple[Any, ...] | None:
        found = self.rows(connection, params)
        return found[0] if found else None

    def scalar(self, connection: Connection, params: Mapping[str, Any] | None = None) -> Any:
        found = self.first(connection, params)
        return None if found is None else found[0]
