"""The review loop's I/O: export the queue to reviewers, import their labels, feed them to training.

```
review_queue (published nightly)  --export-->  JSONL for reviewers (label + reviewer blank)
reviewer's JSONL  --import (validate, label-issue check)-->  <warehouse>/_review/reviewed/<time>-<who>.jsonl
reviewed store  --reviewed_examples-->  extra TRAINING turns (never dev, test or validation)
```

A label a person typed is not trusted blindly: before it is stored, a confident-learning check
(Northcutt et al., "Confident Learning", 2021) compares it with the model's out-of-sample
probabilities that the export carried (the model produced them on a night's calls it never trained
on). A label the model confidently disagrees with is reported as suspicious and kept out of training
unless the reviewer confirms it (``accept_suspect``). The store is append-only, one file per import;
when a turn is reviewed twice, the later import wins.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from pipeline import LABELS
from pipeline.settings import Settings
from pipeline.warehouse import storage

log = logging.getLogger(__name__)

REVIEWED_DIR = ("_review", "reviewed")
"""Below the warehouse: the reviewed store, one JSONL per import (``_`` keeps it out of table discovery)."""
MIN_CLASS_ROWS = 5
"""A label needs this many reviewed rows before its confident-learning threshold means anything."""
MIN_GAP = 0.2
"""The label the model prefers must beat the reviewer's by this much: the queue is mostly low-margin turns,
where the model is unsure by design, and a label it ranks a close second is a plausible correction."""
OBVIOUS_GIVEN_BELOW = 0.05
OBVIOUS_OTHER_ABOVE = 0.9
"""The fallback rule: the model gave the reviewer's label under 5% and another label over 90%."""
EXCERPT_CHARS = 80


class ReviewImportError(ValueError):
    """Rows of a review file are invalid; nothing was stored. ``rejected`` holds ``(line, reason)`` pairs."""

    def __init__(self, path: str, rejected: list[tuple[int, str]]):
        self.rejected = rejected
        shown = "; ".join(f"line {n}: {reason}" for n, reason in rejected[:10])
        more = f" (and {len(rejected) - 10} more)" if len(rejected) > 10 else ""
        super().__init__(f"{path}: {len(rejected)} invalid rows, nothing imported: {shown}{more}")


@dataclass
class ImportResult:
    """What an import did. ``suspicious`` rows carry line, call, turn, text excerpt and both labels."""

    accepted: int = 0
    suspicious: list[dict] = field(default_factory=list)
    skipped: int = 0  # rows left unlabelled (label blank): not reviewed yet
    stored: str | None = None  # the reviewed-store file written, None when nothing was accepted
    suspicious_accepted: bool = False

    def summary(self) -> dict:
        return {"accepted": self.accepted, "suspicious": self.suspicious, "suspicious_accepted":
                self.suspicious_accepted, "skipped_unlabelled": self.skipped, "rejected": [], "stored": self.stored}


def reviewed_url(warehouse: str) -> str:
    return storage.join(warehouse, *REVIEWED_DIR)


def _day(text: str, name: str) -> str:
    try:
        return date.fromisoformat(str(text)).isoformat()
    except ValueError as exc:
        raise ValueError(f"{name} must be a YYYY-MM-DD date, got {text!r}") from exc


def _latest_reviews(warehouse: str, storage_options: Any = None) -> dict[tuple[str, int], dict]:
    """(call_id, utterance_index) -> its latest reviewed row. Files are named by time, so sorted = oldest first."""
    latest: dict[tuple[str, int], dict] = {}
    for url, rel in storage.iter_files(reviewed_url(warehouse), storage_options):
        if not rel.endswith(".jsonl") or "/" in rel:
            continue
        for row in storage.read_jsonl(url, storage_options):
            latest[(row["call_id"], int(row["utterance_index"]))] = row
    return latest


def export(settings: Settings, since: str, until: str | None, out_path: str) -> int:
    """Write the published queue of days ``since``..``until`` (inclusive) as JSONL for reviewers; return rows.

    Turns already in the reviewed store are left out, so exporting an overlapping range again does not
    ask anyone to label a turn twice. Each row holds what a reviewer needs (the turn, the customer turn
    before it, the model's label and probabilities) and a blank ``label`` and ``reviewer`` to fill in.

    Raises:
        FileNotFoundError: the warehouse has no published ``review_queue`` (wrong warehouse, or no night
            has published one yet).
        ValueError: a date is not YYYY-MM-DD, or ``until`` is before ``since``.
    """
    from pipeline.warehouse import commit
    from pipeline.warehouse.query import query

    first = _day(since, "since")
    last = _day(until, "until") if until else None
    if last and last < first:
        raise ValueError(f"until {last} is before since {first}")
    records = commit.committed_records(settings.warehouse, settings.storage_options)
    if not any(commit.committed_files(r, "review_queue") for r in records):
        raise FileNotFoundError(f"warehouse {settings.warehouse} has no published review_queue: nightly runs "
                                "publish it (check the warehouse setting, CALLSCORE_WAREHOUSE or --warehouse)")
    where = f"date >= DATE '{first}'" + (f" AND date <= DATE '{last}'" if last else "")
    frame = query(settings.warehouse, f"SELECT * FROM review_queue WHERE {where} ORDER BY date, rank",
                  settings.storage_options)
    done = _latest_reviews(settings.warehouse, settings.storage_options)
    rows = []
    for row in frame.to_dict("records"):
        key = (row["call_id"], int(row["utterance_index"]))
        if key in done:
            continue
        rows.append({
            "date": pd.Timestamp(row["date"]).date().isoformat(), "call_id": row["call_id"],
            "utterance_index": int(row["utterance_index"]), "rep_id": row["rep_id"], "text": row["text"],
            "previous_customer_text": row["previous_customer_text"] or "", "predicted_label": row["label"],
            "probs": {label: round(float(row[f"p_{label}"]), 6) for label in LABELS},
            "margin": round(float(row["margin"]), 6), "stratum": row["stratum"], "rank": int(row["rank"]),
            "model_version": row["model_version"], "label": "", "reviewer": ""})
    storage.write_jsonl(out_path, rows, settings.storage_options)
    log.info("exported %d review rows (%s..%s, %d already reviewed left out) to %s", len(rows), first,
             last or "latest", len(frame) - len(rows), out_path)
    return len(rows)


def _parse(path: str, storage_options: Any) -> list[tuple[int, Any, str | None]]:
    """(line number, parsed value, why it is not JSON or None) for every non-blank line."""
    text = storage.read_text(path, storage_options)
    out: list[tuple[int, Any, str | None]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((n, json.loads(line), None))
        except json.JSONDecodeError as exc:
            out.append((n, None, f"not JSON ({exc.msg})"))
    return out


def _validate(n: int, row: Any, reviewer: str | None) -> tuple[dict | None, str | None]:
    """(clean row, None), (None, reason) for an invalid row, or (None, None) for a row left unlabelled."""
    if not isinstance(row, dict):
        return None, "expected a JSON object"
    label = row.get("label")
    if label in ("", None):
        return None, None
    if label not in LABELS:
        return None, f"label {label!r} is not one of {', '.join(LABELS)} (the labeling guide's four)"
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        return None, "'text' must be a non-empty string"
    if not isinstance(row.get("call_id"), str) or not row["call_id"]:
        return None, "'call_id' must be a non-empty string"
    index = row.get("utterance_index")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        return None, "'utterance_index' must be a whole number >= 0"
    who = row.get("reviewer") or reviewer
    if not isinstance(who, str) or not who.strip():
        return None, "no reviewer: fill 'reviewer' in the row or pass --reviewer"
    probs = row.get("probs")
    if not isinstance(probs, dict) or any(isinstance(probs.get(k), bool) or not isinstance(probs.get(k), int | float)
                                          for k in LABELS):
        return None, f"'probs' must map each of {', '.join(LABELS)} to a number (import the file export wrote)"
    return {"date": row.get("date"), "call_id": row["call_id"], "utterance_index": index, "text": text.strip(),
            "context": (row.get("previous_customer_text") or "").strip(), "label": label, "reviewer": who.strip(),
            "predicted_label": row.get("predicted_label"), "probs": {k: float(probs[k]) for k in LABELS},
            "model_version": row.get("model_version"), "line": n}, None


def label_issues(given: list[str], probs: np.ndarray, min_class_rows: int = MIN_CLASS_ROWS,
                 min_gap: float = MIN_GAP) -> np.ndarray:
    """Which given labels look wrong against out-of-sample probabilities (confident learning).

    Each label's threshold is the model's mean probability for it over the rows given that label (its
    self-confidence). A row is suspicious when its given label is below that label's threshold while some
    other label reaches its own, by at least ``min_gap`` more probability than the given label: the model
    is confidently elsewhere (a near-uniform model accuses nobody). A label with fewer than
    ``min_class_rows`` rows has no trustworthy threshold; for those rows only the obvious case counts
    (given label under 5%, another over 90%), which is also flagged for every row whatever the thresholds.

    Args:
        given: the reviewers' labels, one per row (each in ``LABELS``).
        probs: rows x ``len(LABELS)`` calibrated probabilities, columns in ``LABELS`` order.
        min_class_rows: rows a label needs before its threshold is used.
        min_gap: how much more probability an accusing label needs than the given one.

    Returns:
        A boolean array, True for suspicious rows.
    """
    probs = np.asarray(probs, dtype=np.float64)
    if len(given) == 0:
        return np.zeros(0, dtype=bool)
    y = np.array([LABELS.index(g) for g in given])
    thresholds = np.full(len(LABELS), np.nan)
    for j in range(len(LABELS)):
        if (y == j).sum() >= min_class_rows:
            thresholds[j] = probs[y == j, j].mean()
    rows = np.arange(len(y))
    p_given = probs[rows, y]
    others = probs.copy()
    others[rows, y] = -1.0
    obvious = (p_given < OBVIOUS_GIVEN_BELOW) & (others.max(axis=1) > OBVIOUS_OTHER_ABOVE)
    with np.errstate(invalid="ignore"):
        # NaN thresholds compare False: a label without one never accuses
        above = (others >= thresholds[None, :]) & (others - p_given[:, None] >= min_gap)
        confident = (p_given < thresholds[y]) & above.any(axis=1)
    return obvious | confident


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def import_reviews(settings: Settings, path: str, reviewer: str | None, accept_suspect: bool = False
                   ) -> ImportResult:
    """Validate a reviewed JSONL file, check its labels, and store the clean ones for training.

    All or nothing for invalid rows: one bad label (a typo like ``rapor``) stops the import with every bad
    line named, so a half-imported file never has to be untangled. Rows with a blank label were not
    reviewed yet and are skipped. The label-issue check (:func:`label_issues`) runs on the valid rows;
    suspicious ones are logged with their text and both labels and left out unless ``accept_suspect``.
    A turn appearing twice in the file is an error (which label would be meant?).

    Args:
        settings: where the warehouse (and so the reviewed store) is.
        path: the JSONL file ``export`` wrote, with ``label`` (and ``reviewer``) filled in.
        reviewer: the reviewer id for rows that do not name one.
        accept_suspect: store suspicious rows too (the reviewer looked again and stands by them).

    Raises:
        ReviewImportError: invalid rows, each with its line number and reason; nothing is stored.
    """
    rows: list[dict] = []
    rejected: list[tuple[int, str]] = []
    skipped = 0
    seen: dict[tuple[str, int], int] = {}
    for n, raw, not_json in _parse(path, settings.storage_options):
        row, problem = (None, not_json) if not_json else _validate(n, raw, reviewer)
        if problem:
            rejected.append((n, problem))
        elif row is None:
            skipped += 1
        else:
            key = (row["call_id"], row["utterance_index"])
            if key in seen:
                rejected.append((n, f"turn {key[0]}#{key[1]} already given on line {seen[key]}"))
                continue
            seen[key] = n
            rows.append(row)
    if rejected:
        raise ReviewImportError(path, rejected)
    result = ImportResult(skipped=skipped, suspicious_accepted=accept_suspect)
    if rows:
        probs = np.array([[r["probs"][k] for k in LABELS] for r in rows])
        flags = label_issues([r["label"] for r in rows], probs)
        for row, flagged in zip(rows, flags, strict=True):
            if not flagged:
                continue
            model_label = LABELS[int(np.argmax([row["probs"][k] for k in LABELS]))]
            result.suspicious.append({"line": row["line"], "call_id": row["call_id"],
                                      "utterance_index": row["utterance_index"], "text": _excerpt(row["text"]),
                                      "label": row["label"], "model_label": model_label,
                                      "model_p_label": round(row["probs"][row["label"]], 4),
                                      "model_p_model_label": round(row["probs"][model_label], 4)})
            log.warning("line %d: %s#%d labelled %s, but the model says %s (p=%.2f vs %.2f): %r%s", row["line"],
                        row["call_id"], row["utterance_index"], row["label"], model_label,
                        row["probs"][model_label], row["probs"][row["label"]], _excerpt(row["text"]),
                        " (accepted)" if accept_suspect else " (not imported; --accept-suspect to keep it)")
        keep = rows if accept_suspect else [r for r, f in zip(rows, flags, strict=True) if not f]
        result.accepted = len(keep)
        if keep:
            result.stored = _store(settings, keep)
    log.info("review import %s: %d accepted, %d suspicious%s, %d unlabelled", path, result.accepted,
             len(result.suspicious), " (accepted too)" if accept_suspect else "", skipped)
    return result


def _store(settings: Settings, rows: list[dict]) -> str:
    """Append one file to the reviewed store, named so that sorting the names sorts by time."""
    now = datetime.now(UTC)
    who = hashlib.sha256("|".join(sorted({r["reviewer"] for r in rows})).encode()).hexdigest()[:10]
    url = storage.join(reviewed_url(settings.warehouse), f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{who}.jsonl")
    stamp = now.isoformat(timespec="seconds")
    storage.write_jsonl(url, [{**{k: v for k, v in r.items() if k != "line"}, "reviewed_at": stamp} for r in rows],
                        settings.storage_options)
    log.info("stored %d reviewed turns in %s", len(rows), url)
    return url


def reviewed_examples(warehouse: str, storage_options: Any = None) -> list[dict]:
    """The reviewed turns training may use: the latest label of each turn, in a stable order.

    Returns:
        Dicts with ``text``, ``context`` (the previous customer turn), ``label``, ``reviewer``, ``call_id``
        and ``utterance_index``, sorted by call and turn (so the same store gives the same training data).
    """
    latest = _latest_reviews(warehouse, storage_options)
    return [{"text": row["text"], "context": row.get("context") or "", "label": row["label"],
             "reviewer": row.get("reviewer"), "call_id": key[0], "utterance_index": key[1]}
            for key, row in sorted(latest.items()) if row.get("label") in LABELS]


def forget_calls(warehouse: str, call_ids: set[str], storage_options: Any = None) -> int:
    """Remove every reviewed turn of ``call_ids`` from the store (erasure: the store holds call text).

    Each file holding such a turn is rewritten without it (or removed when nothing is left), so no
    reviewed label can bring an erased call back into training. Returns the rows removed.
    """
    removed = 0
    for url, rel in storage.iter_files(reviewed_url(warehouse), storage_options):
        if not rel.endswith(".jsonl"):
            continue
        rows = storage.read_jsonl(url, storage_options)
        keep = [r for r in rows if r.get("call_id") not in call_ids]
        if len(keep) == len(rows):
            continue
        removed += len(rows) - len(keep)
        if keep:
            storage.write_jsonl(url, keep, storage_options)
        else:
            storage.remove_tree(url, storage_options)
    if removed:
        log.info("erased %d reviewed turns of %d calls from %s", removed, len(call_ids), reviewed_url(warehouse))
    return removed


__all__ = ["ImportResult", "ReviewImportError", "export", "forget_calls", "import_reviews", "label_issues",
           "reviewed_examples"]
