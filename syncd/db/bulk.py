"""Bulk inserts for the engine's hot paths, in the form each database takes fastest.

A backfill writes every canonical row, fingerprint and seen-id once; through SQLAlchemy's
generic executemany the Python bookkeeping around each row costs more than the database's
own work. `insert_rows` keeps SQLAlchemy for the SQL (compiled once per table and column
set) and hands the rows to the driver in bulk:

* SQLite: one DB-API `executemany` of the compiled statement, each row turned into its
  parameter tuple (the columns' own bind processors applied) by a function generated for
  that statement.
* PostgreSQL: one `INSERT … SELECT * FROM unnest(<one array per column>)`, the arrays sent
  in binary (`%b`). psycopg's executemany is one statement per row, SQLAlchemy's multi-row
  VALUES form is a new text of tens of thousands of placeholders per batch (re-parsed by
  psycopg every time), and text-format arrays quote every JSON document in Python.

Rows that do not fit the fast form (different key sets, a column mixing Python types that
one PostgreSQL array cannot carry) go through SQLAlchemy's executemany unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import JSON, Connection, DateTime, Table
from sqlalchemy.dialects import postgresql, sqlite

_Plan = tuple[str, Callable[[dict[str, Any]], tuple[Any, ...]]]
_NOTHING = object()
_SQLITE_PLANS: dict[tuple[Any, ...], _Plan | None] = {}
_PG_STATEMENTS: dict[tuple[Any, ...], str] = {}


def dialect_insert(conn: Connection, table: Table) -> Any:
    """The dialect's INSERT construct (the one with ON CONFLICT)."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def insert_rows(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], conflict: Sequence[str],
    *, update: Sequence[str] = (), returning: Sequence[str] = (),
) -> list[tuple[Any, ...]] | None:
    """INSERT rows; on a clash of `conflict` columns set `update` columns, or do nothing.

    Returns the `returning` columns of the inserted rows where the database hands them back
    in the same round trip (PostgreSQL), else None.
    """
    if not rows:
        return []
    columns = tuple(rows[0])
    uniform = all(len(r) == len(columns) for r in rows)
    key = (table.name, columns, tuple(conflict), tuple(update), tuple(returning))
    if uniform and conn.dialect.name == "postgresql":
        result = _insert_unnest(conn, table, rows, key)
        if result is not None:
            return result
    stmt = _on_conflict(dialect_insert(conn, table), conflict, update)
    if uniform and conn.dialect.name == "sqlite":
        if key not in _SQLITE_PLANS:
            _SQLITE_PLANS[key] = _compile(conn, stmt, columns)
        plan = _SQLITE_PLANS[key]
        if plan is not None:
            _executemany(conn, plan, rows)
            return None
    if returning and conn.dialect.name == "postgresql":
        return [tuple(r) for r in conn.execute(stmt.returning(*(table.c[c] for c in returning)),
                                               list(rows))]
    conn.execute(stmt, list(rows))
    return None


def _on_conflict(stmt: Any, conflict: Sequence[str], update: Sequence[str]) -> Any:
    if update:
        return stmt.on_conflict_do_update(index_elements=list(conflict),
                                          set_={c: stmt.excluded[c] for c in update})
    return stmt.on_conflict_do_nothing(index_elements=list(conflict))


def _insert_unnest(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], key: tuple[Any, ...]
) -> list[tuple[Any, ...]] | None:
    """PostgreSQL: every row in one statement; None (nothing sent) for mixed-type columns."""
    _, columns, conflict, update, returning = key
    serialize = getattr(conn.dialect, "_json_serializer", None) or json.dumps
    arrays: list[list[Any]] = []
    for name in columns:
        values = [row[name] for row in rows]
        if isinstance(table.c[name].type, JSON):  # None is JSON null, as SQLAlchemy writes it
            values = [serialize(v) for v in values]
        elif len({type(v) for v in values if v is not None}) > 1:
            return None
        arrays.append(values)
    sql = _PG_STATEMENTS.get(key)
    if sql is None:
        sql = _PG_STATEMENTS[key] = _unnest_sql(conn, table, columns, conflict, update, returning)
    result = conn.exec_driver_sql(sql, tuple(arrays))
    return [tuple(r) for r in result] if returning else []


def _unnest_sql(
    conn: Connection, table: Table, columns: Sequence[str], conflict: Sequence[str],
    update: Sequence[str], returning: Sequence[str],
) -> str:
    dialect = conn.dialect
    quote = dialect.identifier_preparer.quote
    arrays = ", ".join(f"%b::{table.c[c].type.compile(dialect=dialect)}[]" for c in columns)
    action = ("DO UPDATE SET " + ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in update)
              if update else "DO NOTHING")
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
           f"SELECT * FROM unnest({arrays}) "
           f"ON CONFLICT ({', '.join(quote(c) for c in conflict)}) {action}")
    if returning:
        sql += " RETURNING " + ", ".join(quote(c) for c in returning)
    return sql


def _compile(conn: Connection, stmt: Any, columns: tuple[str, ...]) -> _Plan | None:
    compiled = stmt.compile(dialect=conn.dialect, column_keys=list(columns))
    names = tuple(compiled.positiontup or ())
    if not compiled.positional or len(names) < 2 or sorted(names) != sorted(columns):
        return None  # anything unusual (defaults, expressions) goes through SQLAlchemy
    dialect = conn.dialect
    processors = {}
    for name in names:
        impl = compiled.binds[name].type.dialect_impl(dialect)
        process = impl.bind_processor(dialect)
        if process is None:
            continue
        serializer = getattr(dialect, "_json_serializer", None)
        if isinstance(impl, JSON) and serializer is not None:
            processors[name] = _json_documents(serializer, process)
        elif isinstance(impl, DateTime):
            # a timestamp column mostly repeats one value (`synced_at` is the writer's now)
            processors[name] = _last_one(process)
        else:
            processors[name] = process
    return str(compiled), _tuple_builder(names, processors)


def _tuple_builder(names: Sequence[str], processors: dict[str, Callable[[Any], Any]]
                   ) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A function turning one row dict into the driver's parameter tuple, the columns in
    statement order, each through its bind processor.

    Generated once per statement (as `collections.namedtuple` generates its methods): one
    tuple expression per row instead of a Python loop over the columns, the largest
    Python cost of a bulk insert after the mapping itself.
    """
    scope: dict[str, Any] = {}
    parts = []
    for index, name in enumerate(names):
        if name in processors:
            scope[f"p{index}"] = processors[name]
            parts.append(f"p{index}(row[{name!r}])")
        else:
            parts.append(f"row[{name!r}]")
    source = f"def build(row):\n    return ({', '.join(parts)},)\n"
    exec(compile(source, f"<bulk insert of {', '.join(names)}>", "exec"), scope)
    return scope["build"]  # type: ignore[no-any-return]


def _last_one(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`process` remembering its last answer: the same (immutable) value in a run of rows
    is converted once.
    """
    last: list[Any] = [_NOTHING, None]

    def remembered(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, process(value)
        return last[1]

    return remembered


def _json_documents(serializer: Callable[[Any], str], process: Callable[[Any], Any]
                    ) -> Callable[[Any], Any]:
    """A JSON column's processor that hands a dict (every `raw` and `base`) straight to the
    engine's serializer, as SQLAlchemy's would after its checks for None and SQL NULL.
    """
    def serialize(value: Any) -> Any:
        return serializer(value) if type(value) is dict else process(value)

    return serialize


def _executemany(conn: Connection, plan: _Plan, rows: Sequence[dict[str, Any]]) -> None:
    sql, build = plan
    conn.exec_driver_sql(sql, list(map(build, rows)))
