"""SQL over the published tables with DuckDB: what ``callscore query`` and the summary run."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.schemas import TABLES
from pipeline.warehouse import storage


class QueryError(ValueError):
    """The SQL could not run: a typo, or a table this warehouse does not hold. The message says which."""


def query(warehouse: str, sql: str, storage_options: Any = None) -> pd.DataFrame:
    """Run SQL with DuckDB over all partitions; ``utterances``, ``calls``, ``scorecards`` are views.

    Raises:
        QueryError: one line naming the warehouse read, the tables it holds and DuckDB's message.
    """
    import duckdb

    con = duckdb.connect()
    fs, root = storage.filesystem(warehouse, storage_options)
    prefix = root
    if not storage.is_local(fs):
        con.register_filesystem(fs)
        prefix = f"{fs.protocol[0] if isinstance(fs.protocol, tuple) else fs.protocol}://{root}"
    present = [table for table in TABLES if fs.exists(f"{root}/{table}")]
    for table in present:
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{prefix}/{table}/*/*.parquet', "
                    "hive_partitioning = true, hive_types = {'date': DATE}, union_by_name = true)")
    try:
        return con.execute(sql).fetchdf()
    except duckdb.Error as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        tables = ", ".join(present) if present else "none (nothing published here yet?)"
        raise QueryError(f"query on warehouse {warehouse} failed (tables: {tables}): {message}") from exc
