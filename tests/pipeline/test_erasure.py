"""Issue #15, item 6: ``callscore erase`` forgets a person everywhere, for good, and says so.

End to end on local disk and on a moto S3 server: two published sample days, one customer's
email erased; no file of the warehouse then holds their calls, the scorecards are recomputed, an
audit record exists without personal data, and re-running the day does not bring them back.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline import ConfigError, erasure, review
from pipeline.run import run_day
from pipeline.warehouse import commit, layout, storage
from tests.conftest import DAY
from tests.pipeline.test_s3 import s3_endpoint  # noqa: F401 - the moto S3 server fixture

OTHER_DAY = "2026-11-23"


def _a_customer(landing: Path) -> tuple[str, set[str]]:
    """A customer email of ``DAY`` from a canonical file, and the ids of every call of the day naming it."""
    by_email: dict[str, set[str]] = {}
    for path in sorted((landing / DAY).rglob("c-*.json")):
        if path.name.endswith(".meta.json"):
            continue
        doc = json.loads(path.read_text())
        for p in doc["participants"]:
            if p["role"] == "customer":
                by_email.setdefault(p["email"].lower(), set()).add(doc["call_id"])
    email = sorted(by_email)[0]
    return email, by_email[email]


def _all_bytes(fs, root: str) -> dict[str, bytes]:
    return {path: fs.cat_file(path) for path in fs.find(root)}


def _check_erased(settings, fs, root: str, email: str, ids: set[str], before: dict) -> dict:
    audit = erasure.erase(settings, email=email.upper(), actor="dpo@example.com")
    assert audit["partitions"] == [DAY] and audit["calls_removed"] == len(ids)
    for table in ("calls", "utterances"):
        assert not set(layout.read_partition(settings.warehouse, table, DAY, settings.storage_options)["call_id"]) & ids
    cards = layout.read_partition(settings.warehouse, "scorecards", DAY, settings.storage_options)
    assert cards["calls"].sum() == before["calls"] - len(ids)  # recomputed from the calls that remain
    other = layout.read_partition(settings.warehouse, "calls", OTHER_DAY, settings.storage_options)
    assert len(other) == before["other_calls"]  # an unaffected day is untouched
    files = _all_bytes(fs, root)
    leaks = [p for p, data in files.items() if email.encode() in data.lower()
             or any(i.encode() in data for i in ids)]
    assert leaks == [], leaks  # versions, reader copies, staging, quarantine, index: nothing holds them
    audits = [p for p in files if "/_audit/erasure/" in p]
    assert len(audits) == 1
    record = json.loads(files[audits[0]])
    assert record["by"] == "dpo@example.com" and record["subject_kind"] == "email"
    assert email not in files[audits[0]].decode() and len(record["subject_hash"]) == 64
    return record


def _before(settings) -> dict:
    return {"calls": len(layout.read_partition(settings.warehouse, "calls", DAY, settings.storage_options)),
            "other_calls": len(layout.read_partition(settings.warehouse, "calls", OTHER_DAY,
                                                     settings.storage_options))}


def test_erase_by_email_on_local_disk_and_a_rerun_does_not_bring_it_back(settings, sample_landing):
    email, ids = _a_customer(sample_landing)
    for day in (OTHER_DAY, DAY):
        run_day(settings, day)
    before = _before(settings)
    fs, root = storage.filesystem(settings.warehouse)
    _check_erased(settings, fs, root, email, ids, before)
    record = commit.read_record(settings.warehouse, DAY)
    assert record["complete"] and record["erasure"] == record["version"]

    run_day(settings, DAY)  # the landing still has the files: the suppression list must hold
    calls = layout.read_partition(settings.warehouse, "calls", DAY)
    assert not set(calls["call_id"]) & ids and len(calls) == before["calls"] - len(ids)
    q = storage.read_jsonl(storage.join(layout.quarantine_url(settings.warehouse, DAY), "records.jsonl"))
    erased = [r for r in q if r["kind"] == "erased"]
    assert {r["call_id"] for r in erased} == ids and all("copy" not in r for r in erased)  # nothing copied
    assert not any(email.encode() in data.lower() for data in _all_bytes(fs, root).values())


def test_erase_on_s3(s3_endpoint, settings, sample_landing):  # noqa: F811
    opts = json.dumps({"client_kwargs": {"endpoint_url": s3_endpoint}})
    s3 = settings.with_(warehouse="s3://callscore-test/erasure/warehouse", storage_options=opts)
    email, ids = _a_customer(sample_landing)
    for day in (OTHER_DAY, DAY):
        run_day(s3, day)
    fs, _ = storage.filesystem(s3.warehouse, opts)
    _check_erased(s3, fs, "callscore-test/erasure/warehouse", email, ids, _before(s3))


def test_erase_by_call_id_scrubs_quarantine_copies(settings, sample_landing, tmp_path):
    """A call quarantined as a duplicate keeps a raw copy; erasing its id deletes that copy too."""
    import shutil

    landing = Path(shutil.copytree(sample_landing, tmp_path / "landing"))
    src = sorted((landing / DAY).rglob("c-*.json"))[0]
    call_id = json.loads(src.read_text())["call_id"]
    shutil.copy(src, src.with_name("again-" + src.name))  # the same call twice: one is quarantined with a copy
    s = settings.with_(landing=str(landing))
    run_day(s, DAY)
    q_url = storage.join(layout.quarantine_url(s.warehouse, DAY), "records.jsonl")
    dup = [r for r in storage.read_jsonl(q_url) if r.get("call_id") == call_id]
    assert dup and dup[0]["copy"].startswith("files/")
    reviewed = storage.join(review.reviewed_url(s.warehouse), "20261125T000000000000Z-abc.jsonl")
    storage.write_jsonl(reviewed, [{"call_id": call_id, "utterance_index": 1, "text": "ours", "label": "other"},
                                   {"call_id": "c-another", "utterance_index": 2, "text": "theirs", "label": "other"}])
    audit = erasure.erase(s, call_id=call_id, actor="ops")
    assert audit["quarantine_copies_removed"] == 1 and audit["calls_removed"] == 1
    assert audit["reviewed_turns_removed"] == 1  # the review loop's labelled turns of the call go too
    assert [r["call_id"] for r in review.reviewed_examples(s.warehouse)] == ["c-another"]
    assert not storage.exists(storage.child(layout.quarantine_url(s.warehouse, DAY), dup[0]["copy"]))
    assert [r["copy"] for r in storage.read_jsonl(q_url) if r.get("call_id") == call_id] == [
        "removed by an erasure request"]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({}, "exactly one"), ({"email": "a@b.co", "call_id": "c"}, "exactly one"),
    ({"email": "not an email"}, "needs an email"), ({"call_id": "  "}, "empty"),
])
def test_bad_requests_are_refused_before_anything_changes(settings, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        erasure.erase(settings, **kwargs)
    assert not Path(settings.warehouse).exists()
