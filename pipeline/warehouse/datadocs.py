"""Great Expectations Data Docs: the HTML site that shows the latest validation results.

Kept apart from the gate (``quality``): the verdict must never depend on whether the
site could be built, and the site is where presentation concerns (where it lives,
which assets it loads) belong.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def site_config(docs_dir: Path) -> dict[str, dict]:
    """The ``data_docs_sites`` entry of a context config: one local site in ``docs_dir``."""
    return {"local_site": {
        "class_name": "SiteBuilder", "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }}


def build(context: Any, docs_dir: Path) -> str | None:
    """Rebuild the Data Docs site; a docs problem is logged, it does not fail the gate."""
    try:
        context.build_data_docs()
    except Exception:  # the site is a convenience; the verdict must not depend on it
        log.warning("Data Docs not built in %s", docs_dir, exc_info=True)
        return None
    index = docs_dir / "index.html"
    if not index.is_file():
        log.warning("Data Docs built but %s is missing", index)
        return None
    localize(docs_dir)
    return str(index)


def localize(docs_dir: Path) -> None:
    """Serve the site's Bootstrap, jQuery, Vega... from pinned local copies (``pipeline.warehouse.assets``).

    GX's pages link public CDNs: offline they render unstyled with empty tables, online each view
    tells third parties someone reads a page about customer data. A missing asset cache is logged
    (``make assets``) and leaves the CDN links; it never fails the gate.
    """
    from pipeline.warehouse import assets

    try:
        changed = assets.localize_data_docs(Path(docs_dir))
    except (OSError, ValueError) as exc:
        log.warning("Data Docs in %s keep their CDN links: %s", docs_dir, exc)
        return
    log.debug("Data Docs in %s: %d page(s) pointed at local assets", docs_dir, changed)
