"""``python -m pipeline.devtools.assets fetch|check``: fill or check the pinned asset cache (``make assets``).

Setup only, and the one place the assets touch the network: the pins, the hash checks and the
copying live in ``pipeline.warehouse.assets``, which builds and tests use without a network.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from pipeline.warehouse.assets import PACKAGES, cache_dir, extract, missing

log = logging.getLogger(__name__)


def fetch(root: Path | None = None, timeout_s: float = 60.0) -> list[str]:
    """Download every package not yet complete in the cache from the npm registry; return those fetched.

    Setup-time only (``make assets``): tests and builds read the cache and never the network.
    """
    import httpx

    root = root or cache_dir()
    incomplete = set(missing(root))
    done = []
    for package in PACKAGES:
        if not any(f"{package.folder}/{rel}" in incomplete for rel, _ in package.files):
            continue
        log.info("fetching %s", package.tarball)
        response = httpx.get(package.tarball, timeout=timeout_s, follow_redirects=True)
        response.raise_for_status()
        extract(package, response.content, root)
        done.append(package.folder)
    return done


def main(argv: list[str] | None = None) -> int:
    """``python -m pipeline.devtools.assets fetch|check``: fill or check the cache (``make assets``)."""
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if args[:1] == ["fetch"]:
        fetched = fetch()
        left = missing()
        if left:
            log.error("assets still missing after fetch: %s", ", ".join(left))
            return 1
        log.info("assets complete in %s (%s)", cache_dir(), ", ".join(fetched) or "already cached")
        return 0
    if args[:1] == ["check"]:
        left = missing()
        for name in left:
            log.error("missing or changed: %s", name)
        return 1 if left else 0
    log.error("usage: python -m pipeline.devtools.assets fetch|check")
    return 2


if __name__ == "__main__":
    sys.exit(main())
