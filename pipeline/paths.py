"""Where callscore's files live: the resources it ships, and the working folders it defaults to.

Two kinds of location, kept apart so that an installed wheel never reads or writes its source tree:

- Resources shipped with the package (the GX suites, the training corpus): ``expectations/`` and
  ``models/corpus/`` are mapped into the package as ``pipeline._suites`` and ``pipeline._corpus``
  (pyproject.toml) and read with :mod:`importlib.resources`. The same call resolves to the checkout in
  an editable install and to ``site-packages`` from a wheel, so there is no second code path to rot.
- Working folders (landing zone, warehouse, model artifacts, the asset cache): relative to
  :func:`home`, i.e. ``$CALLSCORE_HOME`` or else the current working directory, resolved each time
  they are asked for (never at import), so a long-lived process that changes its environment, and
  every test that sets it, sees the folders it asked for.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

HOME_ENV = "CALLSCORE_HOME"
"""The environment variable naming the folder that holds ``var/`` and ``models/artifacts/``."""

SUITES_PACKAGE = "pipeline._suites"
"""The package the Great Expectations suites (``expectations/`` in the checkout) install as."""

CORPUS_PACKAGE = "pipeline._corpus"
"""The package the labelled corpus (``models/corpus/`` in the checkout) installs as."""


def home(env: Mapping[str, str] | None = None) -> Path:
    """The folder the default working folders live under: ``$CALLSCORE_HOME``, else the current directory.

    The checkout is never a fallback: from a wheel it would be ``site-packages``, which is neither
    writable nor the user's data. ``make`` runs from the checkout, so there the two coincide.

    Args:
        env: the environment to read (``os.environ`` when None), so ``Settings.load(env=...)`` and
            its tests see one consistent environment.
    """
    env = os.environ if env is None else env
    raw = env.get(HOME_ENV, "").strip()
    return Path(raw).expanduser().resolve() if raw else Path.cwd()


def var_dir(env: Mapping[str, str] | None = None) -> Path:
    """``<home>/var``: the default landing zone, warehouse and asset cache live below it."""
    return home(env) / "var"


def artifacts_dir(env: Mapping[str, str] | None = None) -> Path:
    """``<home>/models/artifacts``: trained model folders, one per version, and the ``current`` pointer."""
    return home(env) / "models" / "artifacts"


def suites() -> Traversable:
    """The folder of Great Expectations suites, one ``<table>.json`` per table, as shipped with the package."""
    return resources.files(SUITES_PACKAGE)


def corpus_dir() -> Path:
    """The labelled corpus and the held-out sets, as shipped with the package, as a real folder.

    Training globs, hashes and re-reads these files, and the external set's ``extract.py`` writes
    beside them, so callers need a :class:`~pathlib.Path`, which an unpacked install (editable or
    wheel) always gives. A zipped install cannot, and is refused with a message saying so rather
    than extracted to a temporary folder whose lifetime nobody owns.

    Raises:
        RuntimeError: the package is installed in a form that has no folder on disk (e.g. a zip).
    """
    root = resources.files(CORPUS_PACKAGE)
    if not isinstance(root, Path):
        raise RuntimeError(f"the corpus ({CORPUS_PACKAGE}) is not a folder on disk ({root!r}): install callscore "
                           "unpacked (pip install <wheel>), not as a zip")
    return root
