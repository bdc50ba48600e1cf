"""Write ``docker/.env`` from ``docker/env.example`` with every secret generated.

    python docker/make_env.py [--out docker/.env] [--force]

Fills the empty ``AIRFLOW_JWT_SECRET``, ``AIRFLOW_FERNET_KEY`` (a real Fernet key, so connections
and variables are encrypted in the metadata DB), ``POSTGRES_PASSWORD``, ``REDIS_PASSWORD``,
``_AIRFLOW_WWW_USER_PASSWORD`` (the UI's admin), MinIO's root credentials and, when empty, the
pipeline's S3 key pair (the ``local-s3`` profile creates that user; for another S3, put its keys in
first); keeps every other line as it is. The file is created with mode 0600 and an existing one is never
overwritten without ``--force`` (its secrets encrypt data already stored).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

HERE = Path(__file__).resolve().parent
GENERATED = {
    "AIRFLOW_JWT_SECRET": lambda: secrets.token_urlsafe(32),
    "AIRFLOW_FERNET_KEY": lambda: Fernet.generate_key().decode(),
    "POSTGRES_PASSWORD": lambda: secrets.token_hex(24),  # hex: safe inside the postgres:// URLs
    "REDIS_PASSWORD": lambda: secrets.token_hex(24),
    "_AIRFLOW_WWW_USER_PASSWORD": lambda: secrets.token_urlsafe(24),
    "MINIO_ROOT_USER": lambda: "root-" + secrets.token_hex(8),
    "MINIO_ROOT_PASSWORD": lambda: secrets.token_hex(24),
    "AWS_ACCESS_KEY_ID": lambda: "callscore-" + secrets.token_hex(8),
    "AWS_SECRET_ACCESS_KEY": lambda: secrets.token_hex(24),
}


def render(example: str) -> str:
    out = []
    for line in example.splitlines():
        key, sep, value = line.partition("=")
        if sep and key in GENERATED and not value.strip():
            line = f"{key}={GENERATED[key]()}"
        out.append(line)
    return "\n".join(out) + "\n"


def write_env(out: Path, example: Path = HERE / "env.example", force: bool = False) -> Path:
    """Raises FileExistsError when ``out`` exists and ``force`` is not set."""
    if out.exists() and not force:
        raise FileExistsError(f"{out} exists; its secrets may already encrypt data (use --force to replace it)")
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(render(example.read_text()))
    os.replace(tmp, out)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / ".env")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    try:
        path = write_env(args.out, force=args.force)
    except FileExistsError as exc:
        print(exc, file=sys.stderr)  # noqa: T201
        return 1
    print(f"wrote {path} (mode 0600): fill in the S3 endpoint and keys, then `docker compose up -d`")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
