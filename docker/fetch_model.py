"""Copy a promoted model folder from the warehouse (any fsspec URL) onto local disk.

    python docker/fetch_model.py s3://bucket/models/current /opt/callscore/models/fetched

Copies every file of the source folder into ``<dest>/<version>/`` (the version comes from the
folder's ``callscore.json``), then points ``<dest>/current`` at it with an atomic symlink swap,
so a worker never sees half a model. Run by the compose file's init job when
``CALLSCORE_MODEL_URL`` is set; S3 options come from ``CALLSCORE_STORAGE_OPTIONS`` or the AWS
environment. Publishing a model is the reverse copy, e.g.
``aws s3 cp --recursive models/artifacts/current/ s3://bucket/models/current/``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import fsspec

META_FILE = "callscore.json"


def fetch(url: str, dest: str | Path, storage_options: dict | None = None) -> Path:
    fs, root = fsspec.core.url_to_fs(url, **(storage_options or {}))
    root = root.rstrip("/")
    meta = json.loads(fs.cat_file(f"{root}/{META_FILE}"))
    dest = Path(dest)
    target = dest / meta["version"]
    if not (target / META_FILE).is_file():
        staging = dest / f".{meta['version']}.partial-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        for path in fs.find(root):
            rel = path[len(root) + 1:]
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(path, str(staging / rel))
        if not (staging / META_FILE).is_file():
            raise RuntimeError(f"{url} lost {META_FILE} while copying")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    link = dest / "current"
    tmp = dest / f".current.tmp-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target.name)
    os.replace(tmp, link)
    return link


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)  # noqa: T201
        return 2
    options = json.loads(os.environ.get("CALLSCORE_STORAGE_OPTIONS") or "{}")
    link = fetch(argv[0], argv[1], options)
    print(f"model {link.resolve().name} at {link}")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
