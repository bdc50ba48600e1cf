"""Issue #15, item 5: customer PII never reaches the published tables (setting ``customer_text``).

``data/pii_eval.jsonl`` is our own labelled set (335 turns, 246 PII spans, 105 turns without any;
written for this project, mostly edge cases). The floors below are what the redactor scored when it
was chosen (README: Privacy, where Presidio's figures on the same set are too); a change that loses
recall or adds false positives fails here.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from pipeline.transcripts import redact
from pipeline.transcripts.redact import deny_list, luhn_ok, redact_frame, redact_text

EVAL = Path(__file__).parent / "data" / "pii_eval.jsonl"
RECALL_FLOOR = {"EMAIL": 0.85, "PHONE": 0.97, "CARD": 1.0, "NUMBER": 0.9, "NAME": 0.8}  # measured: .875 1 1 .917 .82
MAX_FALSE_POSITIVE_TURNS = 8  # of 105


def _survives(span: str, redacted: str) -> bool:
    """Any word of the span (2+ characters) still standing in the output."""
    return any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", redacted, re.IGNORECASE)
               for w in re.findall(r"\w{2,}", span))


def test_recall_and_false_positives_hold_their_floors():
    rows = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines() if line.strip()]
    caught, total, false_positive_turns = Counter(), Counter(), 0
    for row in rows:
        out = redact_text(row["text"], deny_list(row["participants"]))
        if not row["spans"]:
            false_positive_turns += out != redact.unicodedata.normalize("NFC", row["text"])
        for span in row["spans"]:
            total[span["type"]] += 1
            caught[span["type"]] += not _survives(redact.unicodedata.normalize("NFC", span["text"]), out)
    recall = {t: caught[t] / total[t] for t in total}
    assert all(recall[t] >= floor for t, floor in RECALL_FLOOR.items()), recall
    assert false_positive_turns <= MAX_FALSE_POSITIVE_TURNS


@pytest.mark.parametrize(("text", "expected"), [
    ("Mail priya.raman@acme.co.uk or call (415) 555-0134.", "Mail [EMAIL] or call [PHONE]."),
    ("Card 4111 1111 1111 1111, order 4111 1111 1111 1112.", "Card [CARD], order [NUMBER]."),
    ("Thanks Priya, and José Pérez's team too.", "Thanks [CUSTOMER_NAME], and [CUSTOMER_NAME]'s team too."),
    ("We will grant access; Will Grant signs.", "We will grant access; [CUSTOMER_NAME] signs."),
    ("$250,000 in Q3, 20-30% uplift, 1,200 seats, 3-4 weeks, 2026-05-12 10:30, 12/05.",
     "$250,000 in Q3, 20-30% uplift, 1,200 seats, 3-4 weeks, 2026-05-12 10:30, 12/05."),
    ("Account 55-100-2231-7 and id CUST884213.", "Account [PHONE] and id [NUMBER]."),  # a number either way
])
def test_placeholders_are_typed_and_ordinary_numbers_stay(text, expected):
    assert redact_text(text, deny_list(["Priya Raman", "José Pérez", "Will Grant"])) == expected


def test_luhn():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")


def _turns() -> pd.DataFrame:
    return pd.DataFrame({
        "call_id": ["a", "a", "a", "a"], "speaker_role": ["rep", "customer", "unknown", "internal"],
        "speaker": ["Dana Whitfield", "Priya Raman", "Speaker 3", "Sam Ortiz"],
        "text": ["Hi Priya, I'll send it to priya@acme.com", "I am Priya, 415-555-0134", "ok", "Priya, hi"],
        "redact_names": [redact.pack_names(["Priya Raman", "Speaker 3"])] * 4})


def test_modes_keep_redact_and_drop():
    kept = redact_frame(_turns(), "keep")
    assert "redact_names" not in kept and kept["text"].tolist() == _turns()["text"].tolist()
    red = redact_frame(_turns(), "redact")
    assert red["text"].tolist() == ["Hi [CUSTOMER_NAME], I'll send it to [EMAIL]", "I am [CUSTOMER_NAME], [PHONE]",
                                    "ok", "[CUSTOMER_NAME], hi"]
    assert red["speaker"].tolist() == ["Dana Whitfield", "customer 1", "unknown 1", "Sam Ortiz"]
    dropped = redact_frame(_turns(), "drop")
    assert dropped["text"].tolist() == ["Hi [CUSTOMER_NAME], I'll send it to [EMAIL]", "", "", "[CUSTOMER_NAME], hi"]
    with pytest.raises(ValueError, match="customer_text must be one of"):
        redact_frame(_turns(), "mask")


def test_an_unknown_mode_is_a_setting_error():
    from pipeline.settings import Settings

    with pytest.raises(ValueError, match="customer_text"):
        Settings(customer_text="hide")


# ------------------------------------------------------------------------------------------------
# end to end: the sample day, published, scanned for its own PII
# ------------------------------------------------------------------------------------------------

_SAMPLE_PHONE = re.compile(r"\(\d{3}\) 555-01\d\d|\d{3}-555-01\d\d|\+1 \d{3} 555 01\d\d")
_SAMPLE_ACCOUNT = re.compile(r"account number with you is (\d{8})")
_ANY_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def _customers(node, out: set[str]) -> None:
    if isinstance(node, dict):
        if isinstance(node.get("name"), str) and (node.get("role") == "customer"
                                                  or node.get("affiliation") == "External"):
            out.add(node["name"])
        for value in node.values():
            _customers(value, out)
    elif isinstance(node, list):
        for value in node:
            _customers(value, out)


def _known_pii(day_dir: Path, rep_names: set[str]) -> dict[str, set[str]]:
    """What the landing files say: customer names (whole and in parts), every email, the sample's phones,
    test card numbers and account numbers."""
    from pipeline.devtools.sample import SAMPLE_CARDS

    names: set[str] = set()
    raw = ""
    for path in day_dir.rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        raw += text + "\n"
        if path.suffix == ".json":
            with contextlib.suppress(json.JSONDecodeError):  # the deliberately malformed files, quarantined
                _customers(json.loads(text), names)
    rep_parts = {p for n in rep_names for p in n.split()}
    names = {n for n in names if n not in rep_names}  # a namesake customer shares a rep's published name
    parts = {p for n in names for p in n.split() if len(p) > 2 and p not in rep_parts}
    cards = {c for c in SAMPLE_CARDS if c in raw}
    return {"names": names | parts, "emails": set(_ANY_EMAIL.findall(raw)),
            "phones": set(_SAMPLE_PHONE.findall(raw)), "numbers": cards | set(_SAMPLE_ACCOUNT.findall(raw))}


def _strings(warehouse: str, day: str) -> dict[str, list[str]]:
    from pipeline.warehouse import layout

    out = {}
    for table in ("utterances", "calls", "scorecards"):
        frame = layout.read_partition(warehouse, table, day)
        for col in frame.columns:
            if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
                out[f"{table}.{col}"] = [v for v in frame[col].dropna() if isinstance(v, str)]
    return out


@pytest.fixture(scope="module")
def published(sample_landing, model_dir, tmp_path_factory):
    """The sample day run with each ``customer_text`` mode."""
    from pipeline.run import run_day
    from pipeline.settings import Settings
    from tests.conftest import DAY

    out = {}
    for mode in ("keep", "redact", "drop"):
        root = tmp_path_factory.mktemp(f"privacy-{mode}")
        s = Settings(landing=str(sample_landing), warehouse=str(root / "wh"), model=str(model_dir),
                     roster=str(sample_landing / "roster.csv"), shard_size=3, data_docs=str(root / "docs"),
                     customer_text=mode)
        run_day(s, DAY)
        out[mode] = s.warehouse
    return out


def test_no_published_string_holds_the_samples_customer_pii(published, sample_landing):
    from tests.conftest import DAY

    strings = _strings(published["redact"], DAY)
    rep_names = set(strings["calls.rep_name"])
    pii = _known_pii(sample_landing / DAY, rep_names)
    assert all(pii.values()), {k: len(v) for k, v in pii.items()}  # the sample really carries each kind
    kept = " ".join(v for vals in _strings(published["keep"], DAY).values() for v in vals)
    assert all(x in kept for x in pii["phones"] | pii["numbers"])  # keep publishes what was said
    leaks = []
    for column, values in strings.items():
        blob = "\n".join(values)
        leaks += [(column, e) for e in pii["emails"] | pii["phones"] | pii["numbers"] if e in blob]
        leaks += [(column, n) for n in pii["names"] if re.search(rf"(?<!\w){re.escape(n)}(?!\w)", blob)]
    assert leaks == []


def test_redaction_leaves_scorecards_and_metrics_unchanged(published):
    from pipeline.warehouse import layout
    from tests.conftest import DAY

    volatile = ["run_id", "generated_at"]
    frames = {m: layout.read_partition(wh, "scorecards", DAY).drop(columns=volatile) for m, wh in published.items()}
    pd.testing.assert_frame_equal(frames["keep"], frames["redact"])
    pd.testing.assert_frame_equal(frames["keep"], frames["drop"])
    calls = {m: layout.read_partition(wh, "calls", DAY).drop(columns=[*volatile, "title"], errors="ignore")
             for m, wh in published.items()}
    pd.testing.assert_frame_equal(calls["keep"], calls["redact"])
    utter = {m: layout.read_partition(wh, "utterances", DAY) for m, wh in published.items()}
    assert utter["keep"]["label"].equals(utter["redact"]["label"])  # the model read the words as said
    customer = utter["drop"]["speaker_role"] == "customer"
    assert (utter["drop"].loc[customer, "text"] == "").all() and (utter["drop"].loc[~customer, "text"] != "").any()


def test_logs_hold_no_names_emails_or_transcript_text(settings, sample_landing, caplog, tmp_path):
    """Item 8: a day's logs (bad files, quarantined calls, warnings included) carry kinds, counts and hashes.

    Besides the sample's bad files, one call is made unpublishable (its rep never speaks): that
    refusal's message names the rep's email, which the logs used to repeat."""
    import logging
    import shutil

    from pipeline.run import run_day
    from pipeline.warehouse import layout
    from tests.conftest import DAY

    landing = Path(shutil.copytree(sample_landing, tmp_path / "landing"))
    silent = sorted((landing / DAY).rglob("c-*.json"))[0]
    doc = json.loads(silent.read_text())
    customer = next(p["name"] for p in doc["participants"] if p["role"] == "customer")
    for u in doc["utterances"]:
        u["speaker"] = customer
        u.pop("speaker_email", None)
    silent.write_text(json.dumps(doc))
    caplog.set_level(logging.DEBUG, logger="pipeline")
    run_day(settings.with_(landing=str(landing), customer_text="keep"), DAY)
    logs = "\n".join(r.getMessage() for r in caplog.records)
    assert "quarantined" in logs and "rep_silent" in logs  # refusals are logged, by kind
    pii = _known_pii(landing / DAY, set())
    assert doc["rep"]["email"] in pii["emails"]
    utter = layout.read_partition(settings.warehouse, "utterances", DAY)
    rep_names = set(layout.read_partition(settings.warehouse, "calls", DAY)["rep_name"])
    texts = [t for t in utter["text"] if len(t.split()) >= 4]
    leaks = [e for e in pii["emails"] | pii["phones"] | pii["numbers"] if e in logs]
    leaks += [n for n in pii["names"] | rep_names if " " in n and n in logs]
    leaks += [t for t in texts if t in logs]
    assert leaks == []
