"""callscore: label every sales-rep turn and publish per-rep scorecards.

The package runs with or without Airflow: ``pipeline.run`` holds the day-level
functions that the ``callscore`` command and the DAG tasks both call. The stages live
in sub-packages (``transcripts``, ``model``, ``scoring``, ``warehouse``); see
``docs/architecture.md`` for what each owns and which may import which.
"""

__version__ = "0.1.0"

LABELS: tuple[str, ...] = ("knowledge_probing", "rapport", "trust_commitment", "other")
"""The four utterance labels, in the order of the model's output logits."""

PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16", "int8")
"""Inference precisions: ``bf16``/``fp16`` run under autocast (or cast weights on a GPU), ``int8`` is
dynamic quantization (CPU only). Defined here, not beside torch, so settings and the CLI can check a
value without importing torch."""


AUTO = "auto"
"""The default precision setting: chosen per machine at start-up from the model's measured quality and
the CPU's bf16 units (``pipeline.model.classify.choose_precision``)."""

SOURCES: tuple[str, ...] = ("gong", "zoom")
"""APIs the pipeline can pull calls from (``pipeline.sources``); the ``sources`` setting names those a
deployment pulls. Files another system lands need none (README: Inputs)."""

MANIFEST_NAME = "_manifest.json"
"""A pull's record of what it fetched (``<landing>/<day>/<source>/_manifest.json``): a control file that
ingestion skips and ``plan`` reads (``pipeline.pull``), never a transcript."""

PRECEDENCE: tuple[str, ...] = ("trust_commitment", "knowledge_probing", "rapport", "other")
"""The labeling guide's rule for a turn that does several things: the first of these it does wins."""


def relpath_problem(rel: str) -> str | None:
    """Why ``rel`` cannot be trusted as a path below some folder, or None when it can.

    One rule for every name that comes from outside (landing keys, quarantine records, a model
    folder's file list): joined onto a base, a name that is absolute or empty, or holds empty,
    ``.`` or ``..`` segments, backslashes or control characters could point anywhere.
    """
    if not rel or rel.startswith("/"):
        return "an absolute or empty path"
    if "\\" in rel:
        return "a backslash"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in rel):
        return "a control character"
    if any(part in ("", ".", "..") for part in rel.split("/")):
        return "an empty, '.' or '..' path segment"
    return None


class ConfigError(ValueError):
    """A setting or DAG param is wrong: retrying cannot help, so DAG tasks fail at once without retries.

    The message names the setting (and its environment variable) and the value at fault.
    """


class DayBusyError(RuntimeError):
    """Another run holds the day's lease (``pipeline.warehouse.commit``); the message names it and when
    the lease expires. Not a ``ConfigError``: a DAG task retries it, so a second run waits a while."""
