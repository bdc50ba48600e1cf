"""The day's merge of classified shards into one sorted utterances file (pipeline.warehouse.layout.merge_sorted)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.schemas import PROB_COLUMNS, SORT_KEYS, UTTERANCES
from pipeline.warehouse import layout


def _shard(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rep = rng.random(n) < 0.5
    return pd.DataFrame({
        "call_id": [f"s{seed}-c{i // 7}" for i in range(n)], "utterance_index": np.arange(n) % 7,
        "speaker": "someone", "speaker_role": np.where(rep, "rep", "customer"),
        "rep_id": rng.choice(["rep_b", "rep_a", "rep_c"], n), "start_s": rng.random(n), "end_s": rng.random(n) + 1,
        "text": [f"turn {seed}-{i}" for i in range(n)], "word_count": rng.integers(1, 50, n),
        "is_question": rng.random(n) < 0.3, "label": np.where(rep, "other", None),
        **{c: np.where(rep, 0.25, np.nan).astype("float32") for c in PROB_COLUMNS},
        "model_version": "m1", "spoken_s": rng.random(n), "precision": "fp32", "run_id": "r1",
        "title": "not a column of utterances",  # shards carry extra columns; the merge keeps the schema's
    })


def test_merge_sorts_every_shard_row_once_into_the_exact_schema(tmp_path, monkeypatch):
    monkeypatch.setattr(layout, "MERGE_BATCH_ROWS", 500)  # several batches, so several row groups
    shards = [_shard(seed, n) for seed, n in ((1, 900), (2, 1300), (3, 7))]
    urls = []
    for i, frame in enumerate(shards):
        urls.append(str(tmp_path / f"shard-{i}.parquet"))
        layout.write_parquet(frame, urls[-1])
    out = str(tmp_path / "staged" / "part-0.parquet")

    assert layout.merge_sorted("utterances", urls, out) == 2207
    table = pq.read_table(out)
    assert table.schema == UTTERANCES  # types and nullability as the schema says, not as DuckDB infers
    merged = table.to_pandas()
    keys = SORT_KEYS["utterances"]
    expected = pd.concat(shards, ignore_index=True).sort_values(keys, kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(merged[keys], expected[keys].astype(merged[keys].dtypes.to_dict()))
    assert merged["label"].isna().sum() == expected["label"].isna().sum()  # null labels stay null
    assert sorted(merged["text"]) == sorted(expected["text"])
    assert pq.ParquetFile(out).metadata.num_row_groups >= 4
    assert [p.name for p in (tmp_path / "staged").iterdir()] == ["part-0.parquet"]  # no temp file left


def test_merge_fails_on_a_missing_shard_and_leaves_no_target(tmp_path):
    url = str(tmp_path / "shard-0.parquet")
    layout.write_parquet(_shard(1, 10), url)
    out = tmp_path / "staged" / "part-0.parquet"
    with pytest.raises(Exception, match="missing"):
        layout.merge_sorted("utterances", [url, str(tmp_path / "missing.parquet")], str(out))
    assert not out.exists()
