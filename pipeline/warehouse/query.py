"""SQL over the published tables with DuckDB: what ``callscore query`` and the summary run."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.schemas import TABLES
from pipeline.warehouse import storage

Z_95 = 1.959964
"""The 95% normal quantile of the Wilson macros: the same as ``pipeline.scoring.uncertainty.Z_95`` (a test checks
that macro and function agree), repeated here because the warehouse never imports a scoring stage."""


class QueryError(ValueError):
    """The SQL could not run: a typo, or a table this warehouse does not hold. The message says which."""


def _wilson_sql(sign: str, z: float) -> str:
    """The Wilson bound as a DuckDB expression of ``k`` and ``n``: the SQL twin of ``wilson_interval``."""
    p = "(CAST(k AS DOUBLE) / CAST(n AS DOUBLE))"
    nn = "CAST(n AS DOUBLE)"
    bound = (f"(({p} + {z * z!r} / (2 * {nn})) {sign} {z!r} * sqrt(greatest({p} * (1 - {p}) / {nn} "
             f"+ {z * z!r} / (4 * {nn} * {nn}), 0))) / (1 + {z * z!r} / {nn})")
    empty, exact = ("0.0", "k <= 0") if sign == "-" else ("1.0", "k >= n")
    return (f"CASE WHEN k IS NULL OR n IS NULL THEN NULL WHEN n <= 0 OR {exact} THEN {empty} "
            f"ELSE least(greatest({bound}, 0.0), 1.0) END")


def _register_macros(con: Any) -> None:
    """Give analysts ``wilson_lo(k, n)`` / ``wilson_hi(k, n)``: the 95% interval of a share over any window.

    A share over a week or a team is ``sum(<label>_turns) / sum(rep_utterances)``; its error bar
    needs the same Wilson formula the scorecards use, and an analyst should not have to retype it
    (``SELECT rep_id, wilson_lo(sum(knowledge_probing_turns), sum(rep_utterances)) FROM calls ...``).
    Registered before ``_lock_down`` since the locked configuration still lets them run.
    """
    con.execute(f"CREATE MACRO wilson_lo(k, n) AS {_wilson_sql('-', Z_95)}")
    con.execute(f"CREATE MACRO wilson_hi(k, n) AS {_wilson_sql('+', Z_95)}")


def _lock_down(con: Any, allowed: list[str]) -> None:
    """After the views exist, the connection may read the committed files and nothing else.

    The SQL is the analyst's (or an attacker's): no ``read_text('/etc/passwd')``, no
    ``COPY ... TO`` a local path, no extension installed or loaded on the fly, and the
    settings locked so the SQL cannot undo any of it.
    """
    con.execute("SET allowed_paths = $1", [allowed or ["/nonexistent"]])
    for setting in ("enable_external_access", "autoinstall_known_extensions", "autoload_known_extensions"):
        con.execute(f"SET {setting} = false")
    con.execute("SET lock_configuration = true")


def _only_selects(con: Any, sql: str) -> None:
    """Queries read: a statement that is not a SELECT (COPY, ATTACH, SET, INSTALL...) is refused."""
    import duckdb

    kinds = [statement.type for statement in con.extract_statements(sql)]
    if not kinds or any(kind != duckdb.StatementType.SELECT for kind in kinds):
        refused = ", ".join(sorted({k.name for k in kinds if k != duckdb.StatementType.SELECT})) or "none"
        raise duckdb.InvalidInputException(f"only SELECT statements may run here (got: {refused})")


def query(warehouse: str, sql: str, storage_options: Any = None) -> pd.DataFrame:
    """Run SQL with DuckDB over every committed day; ``utterances``, ``calls``, ``scorecards`` are views.

    The views read exactly the files the days' commit records name (``_runs/date=D.json``),
    so a query never sees a day mid-publish or two runs in one day. The cost is reading one
    small JSON per day before the query (measured in the README's Guarantees section).

    Raises:
        QueryError: one line naming the warehouse read, the tables it holds and DuckDB's message.
    """
    import duckdb

    from pipeline.warehouse import commit

    con = duckdb.connect()
    fs, _ = storage.filesystem(warehouse, storage_options)
    local = storage.is_local(fs)
    if not local:
        con.register_filesystem(fs)
    records = commit.committed_records(warehouse, storage_options)
    present: list[str] = []
    allowed: list[str] = []
    for table in TABLES:
        files = [storage.filesystem(f, storage_options)[1] if local else f
                 for f in (commit.committed_files(r, table) for r in records) if f]
        if not files:
            continue
        present.append(table)
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet([{listed}], hive_partitioning = true, "
                    "hive_types = {'date': DATE}, union_by_name = true)")
        allowed += [*files, *(fs.unstrip_protocol(fs._strip_protocol(f)) for f in files if not local)]
    _register_macros(con)
    _lock_down(con, allowed)
    try:
        _only_selects(con, sql)
        return con.execute(sql).fetchdf()
    except duckdb.Error as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        tables = ", ".join(present) if present else "none (nothing published here yet?)"
        raise QueryError(f"query on warehouse {warehouse} failed (tables: {tables}): {message}") from exc
