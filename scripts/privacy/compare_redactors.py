"""Compare callscore's hand-made redactor with Presidio's pattern recognizers (no spaCy model).

    PYTHONPATH=. .venv-presidio/bin/python scripts/privacy/compare_redactors.py tests/pipeline/data/pii_eval.jsonl

(see requirements.txt beside this file; Presidio is not a dependency of the pipeline)

A labelled span counts as caught when every letter/digit of it is inside a redaction (the
hand-made redactor: replaced by a placeholder; Presidio: inside a returned entity); "right type"
also needs each of those characters covered by a redaction of the labelled type. A turn with
no labelled spans is a negative turn: any redaction in it is a false positive.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
import unicodedata
from collections import Counter, defaultdict

import tldextract
import tldextract.tldextract

# Presidio's EmailRecognizer validates domains with tldextract, whose default extractor fetches the
# public-suffix list over HTTP on first use. Offline, use the snapshot bundled with tldextract.
tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())

from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry  # noqa: E402
from presidio_analyzer.nlp_engine import NoOpNlpEngine  # noqa: E402
from presidio_analyzer.predefined_recognizers import CreditCardRecognizer, EmailRecognizer, PhoneRecognizer  # noqa: E402
from presidio_anonymizer import AnonymizerEngine  # noqa: E402
from presidio_anonymizer.entities import OperatorConfig  # noqa: E402

from pipeline.transcripts import redact as hm  # noqa: E402  (the hand-made redactor)

TYPES = ("EMAIL", "PHONE", "CARD", "NUMBER", "NAME")
HM_LABEL = {hm.EMAIL: "EMAIL", hm.PHONE: "PHONE", hm.CARD: "CARD", hm.NUMBER: "NUMBER",
            hm.CUSTOMER_NAME: "NAME"}
PR_LABEL = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "CREDIT_CARD": "CARD",
            "NUMBER": "NUMBER", "PERSON": "NAME"}


# ------------------------------------------------------------------ hand-made redactor
def hm_names(participants):
    return hm.deny_list(participants)


def hm_redact(text, names):
    return hm.redact_text(text, names)


def hm_coverage(text, names):
    """Original-character index -> {placeholder type}, by replaying redact_text's substitutions in order
    with an offset map. Checked against redact_text's own output, so it measures the real function."""
    steps = [(hm._EMAIL, hm.EMAIL), (hm._CARD, hm._card), (hm._PHONE, hm._phone), (hm._DIGITS, hm._digits)]
    steps += [(p, hm.CUSTOMER_NAME) for p in hm._names_patterns(names)]
    s, origin, cover = text, list(range(len(text))), {}
    for pattern, repl in steps:
        out, new_origin, pos = [], [], 0
        for m in pattern.finditer(s):
            out.append(s[pos:m.start()])
            new_origin.extend(origin[pos:m.start()])
            r = repl(m) if callable(repl) else repl
            if r == m.group():  # the rule looked and left it (not a phone, not an id)
                out.append(r)
                new_origin.extend(origin[m.start():m.end()])
                pos = m.end()
                continue
            for o in origin[m.start():m.end()]:
                if o >= 0:
                    cover[o] = {HM_LABEL[r]}
            out.append(r)
            new_origin.extend([-1] * len(r))
            pos = m.end()
        out.append(s[pos:])
        new_origin.extend(origin[pos:])
        s, origin = "".join(out), new_origin
    if s != hm.redact_text(text, names):
        raise RuntimeError(f"replay drifted from redact_text on {text!r}: update the steps above")
    return cover


# ------------------------------------------------------------------ Presidio
DIGITS_RECOGNIZER = PatternRecognizer(
    supported_entity="NUMBER", name="LongDigitRunRecognizer",
    patterns=[Pattern("six or more digits", r"\b\d{6,}\b", 0.5)])
PR_ENTITIES = ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "NUMBER", "PERSON"]


def presidio_engine():
    registry = RecognizerRegistry(supported_languages=["en"])
    for rec in (EmailRecognizer(), PhoneRecognizer(), CreditCardRecognizer(), DIGITS_RECOGNIZER):
        registry.add_recognizer(rec)
    nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])  # no spaCy model loaded
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])


def pr_names(participants):
    """Same names as the hand-made deny-list gets: each full name and each whitespace-separated part."""
    terms = set()
    for full in participants:
        full = " ".join(full.split())
        terms.add(full)
        terms.update(p for p in full.split() if len(p) >= 2)
    terms = sorted(terms, key=lambda n: (-len(n), n))
    return PatternRecognizer(supported_entity="PERSON", deny_list=terms, name="CallDenyList")


PR_OPERATORS = {e: OperatorConfig("replace", {"new_value": f"[{PR_LABEL[e]}]"}) for e in PR_ENTITIES}


def pr_analyze(engine, text, rec):
    return engine.analyze(text=text, language="en", entities=PR_ENTITIES, ad_hoc_recognizers=[rec])


def pr_redact(engine, anonymizer, text, rec):
    results = pr_analyze(engine, text, rec)
    return anonymizer.anonymize(text=text, analyzer_results=results, operators=PR_OPERATORS).text


def pr_coverage(engine, text, rec):
    """Original-character index -> {entity types of the results covering it}."""
    cover = defaultdict(set)
    for r in pr_analyze(engine, text, rec):
        for i in range(r.start, r.end):
            cover[i].add(PR_LABEL[r.entity_type])
    return dict(cover)


# ------------------------------------------------------------------ scoring
def locate(text, spans):
    """(span, start, end) for each labelled span; repeated span texts take successive occurrences."""
    seen, out = Counter(), []
    for sp in spans:
        start, k = -1, seen[sp["text"]]
        for _ in range(k + 1):
            start = text.find(sp["text"], start + 1)
        if start < 0:
            raise ValueError(f"span {sp} is not in {text!r}")
        seen[sp["text"]] += 1
        out.append((sp, start, start + len(sp["text"])))
    return out


def runs(text, cover):
    """Contiguous redacted stretches of the original text: [(string, type)]."""
    out, i = [], 0
    idx = sorted(cover)
    while i < len(idx):
        j = i
        while j + 1 < len(idx) and idx[j + 1] == idx[j] + 1 and cover[idx[j + 1]] == cover[idx[i]]:
            j += 1
        out.append((text[idx[i]:idx[j] + 1], "+".join(sorted(cover[idx[i]]))))
        i = j + 1
    return out


def score(rows, coverage_fn):
    caught, typed, total = Counter(), Counter(), Counter()
    misses, fps, extra, wrong = [], [], [], []
    fp_turns = 0
    for row in rows:
        text, cover = row["text"], coverage_fn(row)
        if not row["spans"]:
            r = runs(text, cover)
            if r:
                fp_turns += 1
                fps.append((text, r))
            continue
        labelled = set()
        for sp, a, b in locate(text, row["spans"]):
            t = sp["type"]
            total[t] += 1
            labelled.update(range(a, b))
            alnum = [i for i in range(a, b) if text[i].isalnum()]
            if all(i in cover for i in alnum):
                caught[t] += 1
                if all(t in cover[i] for i in alnum):
                    typed[t] += 1
                else:
                    got = "+".join(sorted(set().union(*(cover[i] for i in alnum))))
                    wrong.append((t, sp["text"], got, text))
            else:
                left = "".join(text[i] if i not in cover else "·" for i in range(a, b))
                misses.append((t, sp["text"], left, text))
        stray = {i: v for i, v in cover.items() if i not in labelled}
        for s, v in runs(text, stray):
            if s.strip(" .,;:'’()-"):
                extra.append((s, v, text))
    return {"caught": caught, "typed": typed, "total": total, "misses": misses, "fps": fps,
            "fp_turns": fp_turns, "extra": extra, "wrong": wrong}


def timed(fn, items):
    t0 = time.perf_counter()
    for it in items:
        fn(it)
    return len(items) / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("eval_file")
    ap.add_argument("--turns", type=int, default=20000, help="turns per speed run (set repeated)")
    ap.add_argument("--rounds", type=int, default=2, help="speed runs per redactor, interleaved")
    args = ap.parse_args()
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)

    with open(args.eval_file, encoding="utf-8") as fh:  # both redactors see NFC text (the pipeline's is)
        rows = [json.loads(unicodedata.normalize("NFC", line)) for line in fh if line.strip()]
    calls = {tuple(r["participants"]) for r in rows}
    hm_deny = {c: hm_names(c) for c in calls}            # per call, built once (as the pipeline does)
    engine, anonymizer = presidio_engine(), AnonymizerEngine()
    pr_deny = {c: pr_names(c) for c in calls}             # per call, built once

    res = {
        "hand-made": score(rows, lambda r: hm_coverage(r["text"], hm_deny[tuple(r["participants"])])),
        "Presidio": score(rows, lambda r: pr_coverage(engine, r["text"], pr_deny[tuple(r["participants"])])),
    }

    # speed: the whole set repeated to ~N turns, text in -> redacted text out, after a warm-up pass
    reps = math.ceil(args.turns / len(rows))
    hm_items = [(r["text"], hm_deny[tuple(r["participants"])]) for r in rows] * reps
    pr_items = [(r["text"], pr_deny[tuple(r["participants"])]) for r in rows] * reps
    hm_fn = lambda it: hm_redact(*it)  # noqa: E731
    pr_fn = lambda it: pr_redact(engine, anonymizer, *it)  # noqa: E731
    timed(hm_fn, hm_items[:len(rows)])
    timed(pr_fn, pr_items[:len(rows)])
    speed = {"hand-made": [], "Presidio": []}
    for _ in range(args.rounds):
        speed["hand-made"].append(timed(hm_fn, hm_items))
        speed["Presidio"].append(timed(pr_fn, pr_items))

    n_neg = sum(1 for r in rows if not r["spans"])
    print(f"Eval set: {len(rows)} turns ({len(rows) - n_neg} with PII, {n_neg} negative), "
          f"{sum(res['hand-made']['total'].values())} labelled spans.\n")
    print("| metric | hand-made | Presidio |")
    print("|---|---|---|")
    for t in TYPES:
        cells = []
        for name in ("hand-made", "Presidio"):
            r = res[name]
            n, c, ty = r["total"][t], r["caught"][t], r["typed"][t]
            cells.append(f"{c}/{n} = {c / n:.1%} (right type: {ty})")
        print(f"| recall {t} | {cells[0]} | {cells[1]} |")
    cells = []
    for name in ("hand-made", "Presidio"):
        r = res[name]
        c, n = sum(r["caught"].values()), sum(r["total"].values())
        cells.append(f"{c}/{n} = {c / n:.1%}")
    print(f"| recall, all spans | {cells[0]} | {cells[1]} |")
    print(f"| false-positive turns (of {n_neg} negative) | {res['hand-made']['fp_turns']} | "
          f"{res['Presidio']['fp_turns']} |")
    print(f"| false-positive strings in negative turns | {sum(len(x[1]) for x in res['hand-made']['fps'])} | "
          f"{sum(len(x[1]) for x in res['Presidio']['fps'])} |")
    print(f"| unlabelled redactions in PII turns | {len(res['hand-made']['extra'])} | "
          f"{len(res['Presidio']['extra'])} |")
    h, p = speed["hand-made"], speed["Presidio"]
    print(f"| turns/s ({len(hm_items)} turns x {args.rounds} runs) | "
          f"{' / '.join(f'{x:,.0f}' for x in h)} | {' / '.join(f'{x:,.0f}' for x in p)} |")
    print(f"| speed ratio hand-made / Presidio (best run each) | {max(h) / max(p):.1f}x | 1x |")

    for name in ("hand-made", "Presidio"):
        r = res[name]
        print(f"\n### {name}: misses ({len(r['misses'])})  [· = redacted character]\n")
        for t, s, left, text in sorted(r["misses"]):
            print(f"- {t}: `{s}` -> `{left}` in: {text}")
        print(f"\n### {name}: caught under another type ({len(r['wrong'])})\n")
        for t, s, got, text in sorted(r["wrong"]):
            print(f"- {t}: `{s}` redacted as {got} in: {text}")
        print(f"\n### {name}: false positives in negative turns ({r['fp_turns']} turns)\n")
        for text, rr in r["fps"]:
            print(f"- {', '.join(f'`{s}` as {v}' for s, v in rr)} in: {text}")
        print(f"\n### {name}: redactions outside labelled spans in PII turns ({len(r['extra'])})\n")
        for s, v, text in r["extra"]:
            print(f"- `{s}` as {v} in: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
