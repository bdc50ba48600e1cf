"""``make wheel-check``: one sample day from an installed callscore wheel, in an empty folder (issue #16).

An editable install hides packaging mistakes: the package finds whatever the checkout holds. So
``make wheel-check`` builds the wheel, installs it into a fresh virtual environment, and runs this
script with that environment's Python, from an empty working folder, with no ``CALLSCORE_*``
location set except the model (the repository's promoted one: training it again would take ten
minutes and test nothing about packaging). It checks that

1. the package and every resource it reads (GX suites, corpus, phrase banks, report templates)
   resolve inside that environment's ``site-packages``;
2. the default landing zone and warehouse resolve under the working folder;
3. ``callscore sample`` and ``callscore run`` succeed for one day, in this process, while an audit
   hook records every file opened under the checkout: only the model folder (and the wheel's own
   folder, where the environment and the working folder live) may be;
4. the day is published under ``./var/warehouse`` and the summary lists it.

It logs one line and exits 0, or logs what failed and exits 1; the day's own output goes to a log
file beside the working folder.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import sysconfig
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger("wheel-check")

LOCATION_ENV = ("CALLSCORE_HOME", "CALLSCORE_LANDING", "CALLSCORE_WAREHOUSE", "CALLSCORE_ROSTER",
                "CALLSCORE_ASSETS_DIR", "CALLSCORE_DATA_DOCS", "CALLSCORE_REPORT")
CORE_TABLES = ("utterances", "calls", "scorecards")


class WheelCheckError(RuntimeError):
    """A promise of the installed wheel does not hold; the message says which."""


class CheckoutReads:
    """An audit hook recording every file this process opens under the checkout, outside allowed folders.

    Paths are resolved, so a symlink into the checkout counts as the checkout. File descriptors
    are skipped: they were opened by path first, and that open was seen.
    """

    def __init__(self, checkout: Path, allowed: list[Path]) -> None:
        self.checkout = str(checkout.resolve())
        self.allowed = tuple(str(p.resolve()) for p in allowed)
        self.seen: set[str] = set()

    def __call__(self, event: str, args: tuple) -> None:
        if event != "open" or not args or isinstance(args[0], int):
            return
        try:
            path = os.path.realpath(os.fsdecode(os.fspath(args[0])))
        except (TypeError, ValueError):
            return
        if _under(path, self.checkout) and not any(_under(path, a) for a in self.allowed):
            self.seen.add(path)


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


@contextmanager
def output_to(log_file: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (file descriptors too, so native libraries' output) to ``log_file``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log_file.open("a", encoding="utf-8") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def check_locations(site: Path, cwd: Path, model: Path) -> None:
    """The package and its resources come from ``site``; the default locations lie under ``cwd``.

    Raises:
        WheelCheckError: something resolves elsewhere (the checkout, or another installation).
    """
    from importlib import resources

    import pipeline
    from pipeline import paths
    from pipeline.settings import Settings

    try:
        located = {
            "pipeline": Path(pipeline.__file__).parent,
            "suites": Path(str(paths.suites())),
            "corpus": paths.corpus_dir(),
            "phrases": Path(str(resources.files("pipeline.devtools").joinpath("phrases.json"))),
            "templates": Path(str(resources.files("pipeline.report").joinpath("templates"))),
        }
    except (ImportError, RuntimeError) as exc:  # a resource package missing, or not a folder on disk
        raise WheelCheckError(f"{pipeline.__file__}: {exc}") from exc
    outside = {name: str(p) for name, p in located.items() if not p.resolve().is_relative_to(site)}
    if outside:
        raise WheelCheckError(f"resolved outside {site}: {outside}")
    missing = [name for name, p in located.items() if not p.exists()]
    if missing:
        raise WheelCheckError(f"missing from the installed package: {missing}")
    settings = Settings.load()
    expected = {"landing": cwd / "var" / "landing", "warehouse": cwd / "var" / "warehouse", "model": model}
    wrong = {k: getattr(settings, k) for k, v in expected.items() if Path(getattr(settings, k)) != v}
    if wrong:
        raise WheelCheckError(f"default locations are not under {cwd} (or the model is not {model}): {wrong}")


def run_day(day: str, calls: int, cwd: Path, log_file: Path) -> str:
    """Write a sample day into ``./var/landing``, run it, and return the summary that lists it.

    Raises:
        WheelCheckError: a command failed, a table was not published under ``./var/warehouse``,
            or the summary does not list the day.
    """
    from pipeline import cli
    from pipeline.run import summarize
    from pipeline.settings import Settings

    steps = (["sample", "--out", "var/landing", "--dates", day, "--calls-per-day", str(calls), "--bad-files", "1"],
             ["run", "--date", day])
    for argv in steps:
        with output_to(log_file):
            code = cli.main(argv)
        if code != 0:
            raise WheelCheckError(f"callscore {' '.join(argv)} exited {code}; see {log_file}")
    warehouse = cwd / "var" / "warehouse"
    absent = [t for t in CORE_TABLES if not (warehouse / t / f"date={day}" / "part-0.parquet").is_file()]
    if absent:
        raise WheelCheckError(f"not published under {warehouse}: {absent}")
    summary = summarize(Settings.load())
    if day not in summary:
        raise WheelCheckError(f"the summary does not list {day}:\n{summary}")
    return summary


def main(argv: list[str] | None = None) -> int:
    """Check the installed wheel (see the module docstring); 0 when every promise holds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, required=True, help="the repository the wheel was built from")
    parser.add_argument("--day", required=True, help="the sample day, YYYY-MM-DD")
    parser.add_argument("--calls", type=int, default=4, help="sample calls on the day")
    parser.add_argument("--log", type=Path, required=True, help="where the day's own output goes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    started = time.perf_counter()
    checkout, cwd = args.checkout.resolve(), Path.cwd()
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    model = Path(os.environ.get("CALLSCORE_MODEL", ""))
    try:
        leaked = [name for name in LOCATION_ENV if os.environ.get(name)]
        if leaked:
            raise WheelCheckError(f"unset {leaked}: the defaults relative to the working folder are under test")
        if not (model.is_absolute() and model.is_dir()):
            raise WheelCheckError(f"CALLSCORE_MODEL must name a model folder by its absolute path, got {str(model)!r}")
        if any(cwd.iterdir()):
            raise WheelCheckError(f"the working folder {cwd} must start empty")
        # this script may be read back (warnings and tracebacks quote its lines); nothing else of the checkout
        reads = CheckoutReads(checkout, [site, cwd, model, args.log.parent, Path(__file__)])
        sys.addaudithook(reads)  # before the first import of pipeline: module files count as reads too
        check_locations(site, cwd, model)
        summary = run_day(args.day, args.calls, cwd, args.log.resolve())
        if reads.seen:
            raise WheelCheckError(f"{len(reads.seen)} file(s) read from the checkout, e.g. {sorted(reads.seen)[:5]}")
    except WheelCheckError as exc:
        log.error("wheel-check FAILED: %s", exc)
        return 1
    published = next((line.strip() for line in summary.splitlines() if args.day in line), args.day)
    log.info("wheel-check ok (%.0f s in the wheel's venv): %s; published under %s, resources from %s, "
             "nothing read from the checkout but the model", time.perf_counter() - started, published,
             cwd / "var" / "warehouse", site)
    return 0


if __name__ == "__main__":
    sys.exit(main())
