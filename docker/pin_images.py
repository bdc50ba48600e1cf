"""Pin every image the deployment pulls to its registry digest: ``make docker-pin``.

    python docker/pin_images.py [--env docker/.env] [--registry docker.io=https://mirror.example]

Compose names each third-party image through a variable with a release tag as its default
(``${CALLSCORE_POSTGRES_IMAGE:-postgres:16}``, the Airflow base image as a build arg). This asks
each image's registry (Registry HTTP API v2: an anonymous ``Bearer`` token when the registry asks
for one, then ``HEAD /v2/<name>/manifests/<tag>``) for the digest the tag points at now, and writes
``NAME=<image>:<tag>@sha256:<digest>`` into the env file, so every later ``docker compose pull`` or
build gets exactly those bytes even if the tag moves. Run it when you choose to take updates;
commit or keep the env file with the deployment.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ACCEPT = ", ".join(("application/vnd.oci.image.index.v1+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json",
                    "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.docker.distribution.manifest.v2+json"))
_VARIABLE = re.compile(r"\$\{(CALLSCORE_[A-Z_]+_IMAGE):-([^}]+)\}")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def images(compose_text: str) -> dict[str, str]:
    """Variable -> default image reference, for every pinnable image in the compose file.

    Our own images (built from docker/Dockerfile) are not pulled, so they are not here.
    """
    return {var: ref for var, ref in _VARIABLE.findall(compose_text) if not ref.startswith("callscore-")}


def split(ref: str) -> tuple[str, str, str]:
    """``postgres:16`` -> (``registry-1.docker.io``, ``library/postgres``, ``16``)."""
    ref = ref.split("@", 1)[0]
    name, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "docker.io", name
    if registry == "docker.io":
        registry = "registry-1.docker.io"
        if "/" not in path:
            path = f"library/{path}"
    return registry, path, tag


def _request(url: str, method: str = "GET", headers: dict | None = None):
    req = urllib.request.Request(url, method=method, headers=headers or {})
    return urllib.request.urlopen(req, timeout=30)


def _token(challenge: str, path: str) -> str:
    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    if "realm" not in params:
        raise RuntimeError(f"registry asked for a token without a realm: {challenge!r}")
    query = {"service": params.get("service", ""), "scope": params.get("scope") or f"repository:{path}:pull"}
    with _request(f"{params['realm']}?{urllib.parse.urlencode(query)}") as resp:
        doc = json.loads(resp.read())
    return doc.get("token") or doc.get("access_token") or ""


def digest(ref: str, overrides: dict[str, str] | None = None) -> str:
    """The ``sha256:`` digest ``ref``'s tag points at now.

    Raises:
        RuntimeError: the registry gave no digest, or one that is not a sha256.
    """
    registry, path, tag = split(ref)
    base = (overrides or {}).get(registry) or (overrides or {}).get(
        "docker.io" if registry == "registry-1.docker.io" else registry) or f"https://{registry}"
    url = f"{base.rstrip('/')}/v2/{path}/manifests/{tag}"
    headers = {"Accept": ACCEPT}
    try:
        resp = _request(url, "HEAD", headers)
    except urllib.error.HTTPError as exc:
        if exc.code != 401 or "bearer" not in (exc.headers.get("WWW-Authenticate") or "").lower():
            raise RuntimeError(f"{ref}: {url} answered {exc.code}") from exc
        headers["Authorization"] = f"Bearer {_token(exc.headers['WWW-Authenticate'], path)}"
        try:
            resp = _request(url, "HEAD", headers)
        except urllib.error.HTTPError as again:
            raise RuntimeError(f"{ref}: {url} answered {again.code}") from again
    with resp:
        found = resp.headers.get("Docker-Content-Digest") or ""
    if not _DIGEST.match(found):
        raise RuntimeError(f"{ref}: the registry gave no sha256 digest (got {found!r})")
    return found


def pin(env_file: Path, compose_text: str, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Write ``VAR=image:tag@sha256:...`` for every image into ``env_file`` (other lines kept); return them."""
    pins = {var: f"{ref.split('@', 1)[0]}@{digest(ref, overrides)}" for var, ref in images(compose_text).items()}
    lines = env_file.read_text().splitlines() if env_file.exists() else []
    kept = [line for line in lines if line.partition("=")[0] not in pins]
    text = "\n".join([*kept, *(f"{var}={value}" for var, value in sorted(pins.items()))]) + "\n"
    tmp = env_file.with_name(f".{env_file.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, env_file)
    return pins


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", type=Path, default=HERE / ".env")
    parser.add_argument("--compose", type=Path, default=HERE / "docker-compose.yaml")
    parser.add_argument("--registry", action="append", default=[], metavar="HOST=URL",
                        help="ask another URL for a registry's manifests (a mirror)")
    args = parser.parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.registry)
    for var, value in pin(args.env, args.compose.read_text(), overrides).items():
        print(f"{var}={value}")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
