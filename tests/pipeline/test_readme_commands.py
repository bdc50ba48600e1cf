"""Every command line quoted in the README's code blocks parses, so the README cannot drift from the code.

Each line is dry-run the way its tool allows: ``callscore`` lines through the real argument
parsers (every flag must exist and every value must parse, nothing runs), ``make`` lines
with ``make -n`` (the target exists), ``airflow`` lines against that subcommand's ``--help``
(every flag used is one it offers). Shell plumbing (``source``, ``export``, ``echo``,
``curl``, variable assignments) is skipped; any other command fails the test until a rule
for it is added here.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHELL_PLUMBING = {"source", "export", "echo", "curl", "cd", "python3", "cat", "ls"}
SEPARATORS = {"|", "||", "&&", ";", "&"}


def shell_blocks(text: str) -> list[str]:
    """The bodies of the fenced blocks marked ``bash``/``sh``/``shell`` (others are output, SQL, diagrams)."""
    blocks, body, lang = [], None, ""
    for line in text.splitlines():
        if line.startswith("```"):
            if body is None:
                body, lang = [], line[3:].strip()
            else:
                if lang in ("bash", "sh", "shell"):
                    blocks.append("\n".join(body))
                body = None
        elif body is not None:
            body.append(line)
    return blocks


def readme_commands(text: str) -> list[list[str]]:
    """The commands of the README's shell code blocks, one token list each, in order."""
    commands: list[list[str]] = []
    for block in shell_blocks(text):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            if not line.strip():
                continue
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            lexer.commenters = "#"
            try:
                tokens = list(lexer)
            except ValueError:  # not shell (a diagram or sample output)
                continue
            current: list[str] = []
            for token in [*tokens, ";"]:
                if token in SEPARATORS:
                    if current:
                        commands.append(current)
                    current = []
                else:
                    current.append(token)
    return commands


def dry_run(tokens: list[str]) -> str | None:
    """None when the command parses; otherwise what is wrong with it."""
    program = Path(tokens[0]).name
    if program in SHELL_PLUMBING or re.fullmatch(r"[A-Z_]+=.*", tokens[0]):
        return None
    if program == "callscore":
        return _callscore(tokens[1:])
    if program == "make":
        out = subprocess.run(["make", "-n", *tokens[1:]], cwd=REPO, capture_output=True, text=True)
        return None if out.returncode == 0 else f"make -n failed: {out.stderr.strip()[-300:]}"
    if program == "airflow":
        return _airflow(tokens[1:])
    if program == "python" and tokens[1:3] == ["-m", "pytest"]:
        return None if (REPO / tokens[3]).exists() else f"no test path {tokens[3]}"
    return f"no dry-run rule for {tokens[0]!r}: add one to {Path(__file__).name}"


def _callscore(argv: list[str]) -> str | None:
    from pipeline.cli import build_parser
    from pipeline.devtools.bench import build_parser as bench_parser

    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if args.command == "bench":
            bench_parser().parse_args([*extra, *args.rest])
        elif extra:
            return f"unknown arguments {extra}"
    except SystemExit:
        return "the parser refused it"
    return None


def _airflow(argv: list[str]) -> str | None:
    words = [a for a in argv if not a.startswith("-")][:2]
    flags = {a.split("=", 1)[0] for a in argv if a.startswith("--")}
    airflow = Path(sys.executable).with_name("airflow")
    out = subprocess.run([str(airflow), *words, "--help"], capture_output=True, text=True)
    if out.returncode != 0:
        return f"airflow {' '.join(words)} --help failed: {out.stderr.strip()[-300:]}"
    missing = sorted(f for f in flags if f not in out.stdout)
    return f"airflow {' '.join(words)} has no {missing}" if missing else None


COMMANDS = readme_commands((REPO / "README.md").read_text(encoding="utf-8"))


def test_the_readme_quotes_commands():
    programs = {Path(c[0]).name for c in COMMANDS}
    assert {"make", "callscore", "airflow"} <= programs, programs


@pytest.mark.parametrize("tokens", COMMANDS, ids=[" ".join(c)[:70] for c in COMMANDS])
def test_readme_command_parses(tokens):
    assert dry_run(tokens) is None, dry_run(tokens)


@pytest.mark.parametrize(("line", "problem"), [
    ("callscore train --no-such-flag", "unknown arguments"),
    ("callscore run --precision fp64 --date 2026-11-24", "refused"),
    ("callscore bench classifier --no-such-flag", "refused"),
    ("make no-such-target", "make -n failed"),
    ("airflow backfill create --no-such-flag x", "has no"),
    ("rsync a b", "no dry-run rule"),
])
def test_a_drifted_command_is_caught(line, problem):
    [tokens] = readme_commands(f"```bash\n{line}\n```\n")
    assert problem in (dry_run(tokens) or "")


@pytest.mark.parametrize("argv", [["bench", "--help"], ["bench", "e2e", "--help"], ["train", "--help"]])
def test_help_works_for_every_command(argv):
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", *argv], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("usage: callscore"), out.stderr


def test_every_bench_flag_says_what_it_does():
    from pipeline.devtools.bench import build_parser

    undocumented = [a.dest for a in build_parser()._actions if not a.help]
    assert undocumented == []
