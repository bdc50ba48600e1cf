"""Copy a promoted model folder from the warehouse (any fsspec URL) onto local disk, verified.

    python docker/fetch_model.py s3://bucket/models/current /opt/callscore/models/fetched

Copies the files the folder's ``callscore.json`` lists (its ``files`` record: the sha256 of every
file, written by training) into ``<dest>/<version>/``, checks every checksum, then points
``<dest>/current`` at it with an atomic symlink swap, so a worker never sees half a model or a
tampered one. A version or file name that would leave ``dest`` (``../x``, an absolute path), a
file the record does not list (a pickle dropped beside the weights), a missing file or a
checksum mismatch stops the fetch with the reason and leaves ``current`` as it was. Run by the
compose file's init job when ``CALLSCORE_MODEL_URL`` is set; S3 options come from
``CALLSCORE_STORAGE_OPTIONS`` or the AWS environment. Publishing a model is the reverse copy, e.g.
``aws s3 cp --recursive models/artifacts/current/ s3://bucket/models/current/``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import fsspec

from pipeline.model import META_FILE
from pipeline.model.integrity import ModelIntegrityError, check_version, safe_relpath, verify, verify_files


def fetch(url: str, dest: str | Path, storage_options: dict | None = None) -> Path:
    """Fetch, verify and promote locally; returns ``<dest>/current``.

    Raises:
        ModelIntegrityError: the remote folder is unsafe or does not match its record.
    """
    fs, root = fsspec.core.url_to_fs(url, **(storage_options or {}))
    root = root.rstrip("/")
    meta = json.loads(fs.cat_file(f"{root}/{META_FILE}"))
    version = check_version(meta.get("version"))
    remote = sorted(path[len(root) + 1:] for path in fs.find(root))
    present = [safe_relpath(rel) for rel in remote if rel != META_FILE]
    # Checks the listing before copying a byte (digests are checked on the local copy below).
    verify_files(meta, lambda rel: meta["files"][rel], present, url)
    dest = Path(dest)
    target = dest / version
    if target.resolve().parent != dest.resolve():
        raise ModelIntegrityError(f"model version {version!r} would leave {dest}")
    if not (target / META_FILE).is_file():
        staging = dest / f".{version}.partial-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            for rel in [*present, META_FILE]:
                (staging / rel).parent.mkdir(parents=True, exist_ok=True)
                fs.get_file(f"{root}/{rel}", str(staging / rel))
            verify(staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    else:
        verify(target)  # an earlier fetch of this version, checked again before it is served
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
    try:
        link = fetch(argv[0], argv[1], options)
    except ModelIntegrityError as exc:
        print(f"refused: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    print(f"model {link.resolve().name} at {link}")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
