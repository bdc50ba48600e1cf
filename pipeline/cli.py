"""The ``callscore`` command: every pipeline stage without Airflow.

Logs go to stderr; stdout carries only results (JSONL for ``predict``, JSON for
``evaluate``, tables for ``query`` and ``summary``) so commands compose in shells.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import date
from pathlib import Path

from pipeline import AUTO, PRECISIONS, SOURCES, DayBusyError
from pipeline.settings import Settings
from pipeline.sources import SourceError

log = logging.getLogger("callscore")


def _quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    for name in ("transformers", "great_expectations", "urllib3", "botocore", "s3fs", "fsspec", "filelock"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _settings(args: argparse.Namespace) -> Settings:
    keys = ("landing", "warehouse", "model", "roster", "shard_size", "threads", "batch_size", "precision")
    return Settings.load(**{k: getattr(args, k, None) for k in keys})


def _dates(text: str) -> list[str]:
    return [date.fromisoformat(d.strip()).isoformat() for d in text.split(",") if d.strip()]


def cmd_sample(args: argparse.Namespace) -> int:
    from pipeline.devtools import sample

    summary = sample.write_sample(args.out, [date.fromisoformat(d) for d in _dates(args.dates)], args.calls_per_day,
                                  seed=args.seed, bad_files_per_day=args.bad_files, calls_per_rep=args.calls_per_rep)
    if args.roster:
        sample.write_roster(args.roster, sample.rep_pool(args.calls_per_day, args.calls_per_rep))
    print(json.dumps(summary.__dict__ if hasattr(summary, "__dict__") else summary, default=str, indent=2))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from pipeline.model.train import TrainConfig, promote, train

    cfg = TrainConfig(use_context=args.context, epochs=args.epochs, seed=args.seed,
                      threads=args.threads or 0, limit=args.limit)
    reviewed = None
    if args.reviewed:  # turns people labelled from the review queue: extra training turns only
        from pipeline.review import reviewed_examples

        settings = Settings.load(warehouse=args.warehouse)
        reviewed = reviewed_examples(settings.warehouse, settings.storage_options)
    out = train(cfg, args.out, reviewed=reviewed)
    if args.promote:
        promote(out)
    metrics = json.loads((out / "metrics.json").read_text())
    print(json.dumps({"model": str(out), "version": metrics["version"], "dev_macro_f1": metrics["dev"]["macro_f1"],
                      "test_macro_f1": metrics.get("test", {}).get("macro_f1")}, indent=2))
    return 0


def cmd_review_export(args: argparse.Namespace) -> int:
    from pipeline.review import export

    rows = export(_settings(args), args.since, args.until, args.out)
    print(json.dumps({"exported": rows, "out": args.out}, indent=2))
    return 0


def cmd_review_import(args: argparse.Namespace) -> int:
    from pipeline.review import ReviewImportError, import_reviews

    try:
        result = import_reviews(_settings(args), args.file, args.reviewer, accept_suspect=args.accept_suspect)
    except ReviewImportError as exc:
        print(json.dumps({"accepted": 0, "suspicious": [], "rejected": [{"line": n, "reason": r}
                                                                          for n, r in exc.rejected]}, indent=2))
        log.error("%s", exc)
        return 2
    print(json.dumps(result.summary(), indent=2))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from pipeline.model import corpus, evaluate

    path = Path(args.data)
    if path.is_dir():  # the external set: committed gold labels + locally rebuilt texts
        data = corpus.load_external(path)
    else:
        with path.open() as fh:
            first = json.loads(fh.readline())
        data = corpus.load_conversations(path) if "turns" in first else corpus.load_turns([path])
    train = corpus.load_turns(corpus.train_files()) if not args.no_baselines else None
    result = evaluate.evaluate_model(args.model or Settings.load().model, data, train=train,
                                     precision=args.precision)
    print(json.dumps(result, indent=2))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from pipeline.model.classify import Classifier

    settings = _settings(args)
    rows = []
    for n, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SystemExit(f"stdin line {n}: not JSON ({exc.msg})") from exc
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise SystemExit(f"stdin line {n}: expected an object with a string 'text'")
        if not row["text"].strip():
            raise SystemExit(f"stdin line {n}: 'text' is empty: there is nothing to label")
        rows.append(row)
    clf = Classifier(settings.model, batch_size=settings.batch_size, threads=settings.threads,
                     precision=settings.precision)
    preds = clf.predict([r["text"] for r in rows], [r.get("context") for r in rows])
    for row, label, probs in zip(rows, preds.labels, preds.as_dicts(), strict=True):
        sys.stdout.write(json.dumps({**row, "label": label, "probs": probs}) + "\n")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from pipeline.run import run_day

    settings = _settings(args)
    summary = run_day(settings, args.date, allow_empty=args.allow_empty)
    print(json.dumps(summary, indent=2, default=str))
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    from pipeline.pull import pull_recent, rescore_late

    settings = _settings(args).with_(late_days=args.late_days)
    out = pull_recent(settings, args.source, args.date)  # credentials: CALLSCORE_<SOURCE>_* (README: Inputs)
    if args.rescore:
        out["rescored"] = rescore_late(settings.with_(sources=args.source), out["day"])
    print(json.dumps(out, indent=2))
    return 0


def cmd_unlock(args: argparse.Namespace) -> int:
    from pipeline.settings import parse_day
    from pipeline.warehouse.commit import release_lease

    settings = _settings(args)
    day = parse_day(args.date)
    freed = release_lease(settings.warehouse, day, None, settings.storage_options)
    print(f"lease on {day} {'removed' if freed else 'was not held'} in {settings.warehouse}")
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    from pipeline.erasure import erase

    audit = erase(_settings(args), email=args.email, call_id=args.call_id, actor=args.actor)
    print(json.dumps(audit, indent=2))
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    from pipeline.run import collect_garbage

    print(json.dumps(collect_garbage(_settings(args), older_than=args.older_than), indent=2))
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    from pipeline.warehouse.query import query

    settings = _settings(args)
    frame = query(settings.warehouse, args.sql, settings.storage_options)
    print(frame.to_string(index=False) if args.format == "table" else frame.to_csv(index=False), end="\n")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from pipeline.run import summarize

    print(summarize(_settings(args)))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from pipeline.report.build import build_report

    result = build_report(_settings(args), args.out)
    print(result.url)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from pipeline.devtools.bench import main as bench_main

    return bench_main(args.rest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callscore", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_storage(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--landing", help="landing zone URL (env CALLSCORE_LANDING)")
        p.add_argument("--warehouse", help="warehouse URL (env CALLSCORE_WAREHOUSE)")
        p.add_argument("--model", help="model folder (env CALLSCORE_MODEL)")
        p.add_argument("--roster", help="roster CSV URL (env CALLSCORE_ROSTER)")
        p.add_argument("--shard-size", dest="shard_size", type=int, help="calls per shard")
        p.add_argument("--threads", type=int, help="torch threads (0 = all cores)")
        p.add_argument("--batch-size", dest="batch_size", type=int, help="turns per forward pass")
        p.add_argument("--precision", choices=(AUTO, *PRECISIONS),
                       help="inference precision (env CALLSCORE_PRECISION; default auto: chosen per machine)")
        return p

    p = sub.add_parser("sample", help="write synthetic calls into a landing zone")
    p.add_argument("--out", required=True, help="landing zone URL")
    p.add_argument("--dates", required=True, help="comma-separated YYYY-MM-DD")
    p.add_argument("--calls-per-day", dest="calls_per_day", type=int, default=20)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--bad-files", dest="bad_files", type=int, default=0, help="malformed files per day (demo)")
    p.add_argument("--calls-per-rep", dest="calls_per_rep", type=int, default=None,
                   help="spread each day over enough reps for about this many calls each (default: the 8 sample reps)")
    p.add_argument("--roster", help="also write the sample reps' roster CSV here")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("train", help="fine-tune the classifier on models/corpus")
    p.add_argument("--out", help="model folder (default models/artifacts/<version>)")
    p.add_argument("--context", action=argparse.BooleanOptionalAction, default=False,
                   help="pair each turn with the customer turn before it (default: --no-context, the measured best)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--limit", type=int, default=0, help="train on at most N turns (smoke runs)")
    p.add_argument("--promote", action="store_true", help="make it the current model")
    p.add_argument("--reviewed", action=argparse.BooleanOptionalAction, default=True,
                   help="add the turns reviewed through `callscore review` to the training split (default: yes)")
    p.add_argument("--warehouse", help="warehouse URL holding the reviewed turns (env CALLSCORE_WAREHOUSE)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("review", help="the review loop: export the queue to label, import the labels")
    review = p.add_subparsers(dest="review_command", required=True)
    p = with_storage(review.add_parser("export", help="write the published review queue as JSONL to label"))
    p.add_argument("--since", required=True, help="first day YYYY-MM-DD")
    p.add_argument("--until", help="last day YYYY-MM-DD (default: the latest)")
    p.add_argument("--out", required=True, help="JSONL file to write")
    p.set_defaults(func=cmd_review_export)
    p = with_storage(review.add_parser("import", help="check and store labelled review rows for training"))
    p.add_argument("file", help="the exported JSONL with 'label' (and 'reviewer') filled in")
    p.add_argument("--reviewer", help="reviewer id for rows that do not name one")
    p.add_argument("--accept-suspect", dest="accept_suspect", action="store_true",
                   help="also store labels the label-issue check finds suspicious (after a second look)")
    p.set_defaults(func=cmd_review_import)

    p = sub.add_parser("evaluate", help="score a model on labelled JSONL, with baselines")
    p.add_argument("--model", help="model folder")
    p.add_argument("--data", required=True,
                   help="JSONL of turns or of conversations, or the external set's folder (models/corpus/external)")
    p.add_argument("--precision", choices=(AUTO, *PRECISIONS), default=AUTO,
                   help="default auto: the precision this machine serves nightly runs with")
    p.add_argument("--no-baselines", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = with_storage(sub.add_parser("predict", help="label JSONL turns from stdin"))
    p.set_defaults(func=cmd_predict)

    p = with_storage(sub.add_parser("run", help="process one day end to end"))
    p.add_argument("--date", required=True, help="partition day YYYY-MM-DD")
    p.add_argument("--allow-empty", action="store_true",
                   help="let a day with no readable calls replace a published day that had some")
    p.set_defaults(func=cmd_run)

    p = with_storage(sub.add_parser("pull", help="fetch a day's calls from Gong or Zoom into the landing zone"))
    p.add_argument("--source", required=True, choices=SOURCES)
    p.add_argument("--date", required=True, help="call day YYYY-MM-DD (UTC)")
    p.add_argument("--late-days", dest="late_days", type=int,
                   help="also re-check this many earlier days for late transcripts (env CALLSCORE_LATE_DAYS, 3)")
    p.add_argument("--rescore", action="store_true", help="re-score earlier days whose calls changed")
    p.set_defaults(func=cmd_pull)

    p = with_storage(sub.add_parser("unlock", help="free a day's lease left by a run known to be dead"))
    p.add_argument("date", help="partition day YYYY-MM-DD")
    p.set_defaults(func=cmd_unlock)

    p = with_storage(sub.add_parser("erase", help="forget a person (--email) or a call (--call-id) everywhere"))
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", help="a participant's email: every call they took part in")
    who.add_argument("--call-id", dest="call_id", help="one call")
    p.add_argument("--actor", help="who asked, for the audit record (default: the OS user)")
    p.set_defaults(func=cmd_erase)

    p = with_storage(sub.add_parser("gc", help="retention: remove quarantine copies, failed-validation snapshots, "
                                               "dead runs' staging and old Data Docs past their time"))
    p.add_argument("--older-than", dest="older_than", type=int,
                   help="days; overrides CALLSCORE_QUARANTINE_RETENTION_DAYS (30) and "
                        "CALLSCORE_DOCS_RETENTION_DAYS (90)")
    p.set_defaults(func=cmd_gc)

    p = with_storage(sub.add_parser("query", help="SQL over the warehouse (DuckDB)"))
    p.add_argument("sql")
    p.add_argument("--format", choices=["table", "csv"], default="table")
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("bench", help="benchmarks: `callscore bench --help`", add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_bench)

    p = with_storage(sub.add_parser("summary", help="print the published days and a per-rep table"))
    p.set_defaults(func=cmd_summary)

    p = with_storage(sub.add_parser("report", help="build the static HTML report (team, reps, data health); "
                                                   "prints its index as a file:// URL"))
    p.add_argument("--out", required=True, help="local folder for the site (new, empty, or an earlier report)")
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "bench":  # its own parser reads its flags, --help included
        args.rest = [*extra, *args.rest]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    _quiet_libraries()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as exc:
        log.error("%s", exc)
        return 2
    except DayBusyError as exc:
        log.error("%s", exc)
        return 3
    except SourceError as exc:  # the API failed or its budget is spent: try again later
        log.error("%s", exc)
        return 4


if __name__ == "__main__":
    sys.exit(main())
