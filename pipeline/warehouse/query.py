"""SQL over the published tables with DuckDB: what ``callscore query`` and the summary run."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.schemas import TABLES
from pipeline.warehouse import storage


class QueryError(ValueError):
    """The SQL could not run: a typo, or a table this warehouse does not hold. The message says which."""


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
    present = []
    for table in TABLES:
        files = [storage.filesystem(f, storage_options)[1] if local else f
                 for f in (commit.committed_files(r, table) for r in records) if f]
        if not files:
            continue
        present.append(table)
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet([{listed}], hive_partitioning = true, "
                    "hive_types = {'date': DATE}, union_by_name = true)")
    try:
        return con.execute(sql).fetchdf()
    except duckdb.Error as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        tables = ", ".join(present) if present else "none (nothing published here yet?)"
        raise QueryError(f"query on warehouse {warehouse} failed (tables: {tables}): {message}") from exc
