"""The pinned third-party JavaScript, CSS and fonts the report and the Data Docs serve from their own folders.

Both sites are opened from a laptop, often offline, and describe customer calls: a page that
loads Vega or Bootstrap from a public CDN renders empty offline and tells a third party
whenever someone reads it. So every asset comes from a pinned npm tarball, fetched once at
setup (``make assets``, i.e. ``python -m pipeline.devtools.assets fetch``) into a local cache,
checked against the tarball's registry integrity (sha512) and each file's sha256, and copied
into each built site. Nothing here touches the network at build time or in tests: a build
with no cache fails with a message naming ``make assets``.

Why a cache rather than files committed to git: the set is about 3.4 MB (Vega alone is
0.5 MB, Font Awesome's fonts 1 MB, the dark Bootstrap theme 0.9 MB), re-downloadable
byte-for-byte from the registry, and pinned by hash here, so the repository carries the
pins (a few lines) and not the blobs.

The Vega versions follow altair 6 (``altair.VEGA_VERSION`` 6, ``VEGALITE_VERSION`` 6.4.1,
``VEGAEMBED_VERSION`` 7); the Data Docs use them too, because GX 1.24 draws its charts with the
same altair (its templates' ``vega@5`` links predate altair 6's Vega-Lite 6 specs). The other
packages are the exact versions GX 1.24's templates link to.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import re
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

from pipeline import paths

log = logging.getLogger(__name__)

REGISTRY = "https://registry.npmjs.org"
MAKE_TARGET = "make assets"


@dataclass(frozen=True)
class Package:
    """One npm tarball and the files taken from it.

    Attributes:
        name: npm package name (scoped names keep their ``@scope/``).
        version: exact version.
        integrity: the registry's ``dist.integrity`` of the tarball (``sha512-<base64>``).
        licence: SPDX licence of the package, for the record.
        files: ``(path inside the package, sha256 of the file)``.
    """

    name: str
    version: str
    integrity: str
    licence: str
    files: tuple[tuple[str, str], ...]

    @property
    def folder(self) -> str:
        """The package's folder below a cache or a site's asset folder: ``name@version``."""
        return f"{self.name}@{self.version}"

    @property
    def tarball(self) -> str:
        return f"{REGISTRY}/{self.name}/-/{self.name.rsplit('/', 1)[-1]}-{self.version}.tgz"


PACKAGES: tuple[Package, ...] = (
    Package("vega", "6.2.0",
            "sha512-BIwalIcEGysJdQDjeVUmMWB3e50jPDNAMfLJscjEvpunU9bSt7X1OYnQxkg3uBwuRRI4nWfFZO9uIW910nLeGw==",
            "BSD-3-Clause", (
                ("build/vega.min.js", "ea6a5936381d06f912466354e2b6a20eb66c4d41f1ca9dff1e0236dfee6ee392"),
                ("LICENSE", "63727832aaf62004a2b249c933e327f3c90caf49e41a72f4bf436edf632cbda8"))),
    Package("vega-lite", "6.4.1",
            "sha512-KO3ybHNouRK4A0al/+2fN9UqgTEfxrd/ntGLY933Hg5UOYotDVQdshR3zn7OfXwQ7uj0W96Vfa5R+QxO8am3IQ==",
            "BSD-3-Clause", (
                ("build/vega-lite.min.js", "6d5035fdd429b4bc6f91f3754426c3f516f3dbd8e08b105cfc2496bed4ebd254"),
                ("LICENSE", "f618900fd0d64046963b29f40590cdd1e341a2f41449f99110d82fd81fea808c"))),
    Package("vega-embed", "7.1.0",
            "sha512-ZmEIn5XJrQt7fSh2lwtSdXG/9uf3yIqZnvXFEwBJRppiBgrEWZcZbj6VK3xn8sNTFQ+sQDXW5sl/6kmbAW3s5A==",
            "BSD-3-Clause", (
                ("build/vega-embed.min.js", "c36254270219eee58fb9b1d954decad954fb07bfc9ab780c5d4401bd445cd50c"),
                ("LICENSE", "32df67148f0fc3db0eb9e263a7b75d07f1eb14c61955005a4a39c6918d10d137"))),
    Package("bootstrap", "4.3.1",
            "sha512-rXqOmH1VilAt2DyPzluTi2blhk17bO7ef+zLLPlWvG494pDxcM234pJ8wTc/6R40UWizAIIMgxjvxZg5kmsbag==",
            "MIT", (
                ("dist/css/bootstrap.min.css", "60b19e5da6a9234ff9220668a5ec1125c157a268513256188ee80f2d2c8d8d36"),
                ("dist/js/bootstrap.min.js", "0a34a87842c539c1f4feec56bba982fd596b73500046a6e6fe38a22260c6577b"),
                ("LICENSE", "074d99b8c25d13649dac52080900ee8c8d2373d07ea3f4fb67bd2bf79aa8cc72"))),
    Package("jquery", "3.7.1",
            "sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
            "MIT", (
                ("dist/jquery.min.js", "fc9a93dd241f6b045cbff0481cf4e1901becd0e12fb45166a8f17f95823f0b1a"),
                ("LICENSE.txt", "d4db9ebe6f29f5168eac45ad713f055623ac5d0dcd5ba92da23d650ae012020d"))),
    Package("popper.js", "1.12.9",
            "sha512-s0EEi9xiSCdqz9lV4IiVH5yIZnDX/U1t0tCjB+0jXx9jW8lrR7kOpVupiUg175ogqVoudpDXHF1p6dKATCHMeg==",
            "MIT", (
                ("dist/umd/popper.min.js", "a52f7aa54d7bcaafa056ee0a050262dfc5694ae28dee8b4cac3429af37ff0d66"),)),
    Package("bootstrap-table", "1.19.1",
            "sha512-WvV+l1AI/C+zThaKmfHmi/IuayVNB0qdFyEhFx1jyZhO0oLtNJNANkCR3rvJf6Dkh72dsLElxpE/bzK9seEQLA==",
            "MIT", (
                ("dist/bootstrap-table.min.css", "643f536f6982af4d7287af23f89ad457dd7e4a82f9c695330a112b0881c30a4a"),
                ("dist/bootstrap-table.min.js", "06a571a9beb50bd5ddd60517159775dfec1f3e798fff38fb117ae2350dc9ba9d"),
                ("dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
                 "111f68d31d1bdd714f9503bf5f4e162e0739c363e4ff2feef950d39e78266ffc"),
                ("dist/extensions/filter-control/bootstrap-table-filter-control.css",
                 "b3ff051168696ec9ae3cf8616c59a6db8734fb282863b23edfd8c0f93eb5c4f0"),
                ("dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
                 "be4e0c0d11f9319f1ad191f7447a38f755728bbaa10903e469f367441ba79ae2"),
                ("LICENSE", "fb50e42cb539382385f8d66572fef8ec08a34dd7dc00ba7a5ce0668d225dc35b"))),
    Package("bootstrap-datepicker", "1.9.0",
            "sha512-9rYYbaVOheGYxjOr/+bJCmRPihfy+LkLSg4fIFMT9Od8WwWB/MB50w0JO1eBgKUMbb7PFHQD5uAfI3ArAxZRXA==",
            "Apache-2.0", (
                ("dist/js/bootstrap-datepicker.min.js",
                 "6ea55ea86749ee1fe560fabac6b3effd81b33046fa74dc657e24d41d28110a9f"),
                ("dist/css/bootstrap-datepicker.min.css",
                 "b22c8ea45fe905650f8087108b5ed32c1923bcd80d400adc9b0241f18be40208"),
                ("LICENSE", "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"))),
    Package("@fortawesome/fontawesome-free", "6.6.0",
            "sha512-60G28ke/sXdtS9KZCpZSHHkCbdsOGEhIUGlwq6yhY74UpTiToIh8np7A8yphhM4BWsvNFtIvLpi4co+h9Mr9Ow==",
            "CC-BY-4.0 AND OFL-1.1 AND MIT", (
                ("css/all.min.css", "e5e202e3c899507992952533f57b634722b69b34241d271963559d31aa33ef81"),
                ("LICENSE.txt", "9b914eae88817d63b576eab5aafde7068c7a1abae125d7cdfb034f1da43a9afc"),
                ("webfonts/fa-brands-400.woff2", "c411f11975d26eb04cd2aa3c071181d4b18e489f1fb97060d4176a3531dfb36e"),
                ("webfonts/fa-brands-400.ttf", "bc844b5b02d3f3adabb514de4e0c0208252d3123413bd03f6287fa446acee859"),
                ("webfonts/fa-regular-400.woff2", "c732f106e91bc618767fbac8e2c7b27e5c736d477b2bb4fb83f597a43198c33c"),
                ("webfonts/fa-regular-400.ttf", "64f9fb623681f112261e9a2f97826782439f3925dea8f44a57d1e4db95ba6cfd"),
                ("webfonts/fa-solid-900.woff2", "1f0189e087fcefbf654fad74a3a06668b782c01353a61d5c0b7f0bf23e33c020"),
                ("webfonts/fa-solid-900.ttf", "31f099c13f6e4ba05f1b471bf170cb5493249474222917372de3ca5cf29e6a1a"),
                ("webfonts/fa-v4compatibility.woff2",
                 "2aca24b35bd41474dcc5e7fb5f11ec43fa06e3ac1d0035ad41108fa6b30b0871"),
                ("webfonts/fa-v4compatibility.ttf",
                 "a6274a12fd3f5f1ea05fc9b4677959b31fd101fdac4f0d09c17159c414d36d23"))),
    Package("@forevolve/bootstrap-dark", "1.1.0",
            "sha512-A3ucpEpxPoTVO490lZZCfjPXxv832l7mm1IxX3bXyxvgwnPGXDLyh7dWrphXKO8YBAu3EswbBEu3VSW8NRMW3A==",
            "MIT", (
                ("dist/css/bootstrap-prefers-dark.css",
                 "b087541364cdc7e95cbf71be42da5259f3d11431cc84198c17b47cd44c87cd5b"),
                ("LICENSE", "43be5d79d2ec3d6d876e1874d27506cbe55024b18afc55f1fc830aaaedc0313d"))),
)
_BY_NAME = {p.name: p for p in PACKAGES}

VEGA_SCRIPTS: tuple[str, ...] = ("vega@6.2.0/build/vega.min.js", "vega-lite@6.4.1/build/vega-lite.min.js",
                                 "vega-embed@7.1.0/build/vega-embed.min.js")
"""The report's scripts, relative to a site's asset folder, in load order."""


class AssetsMissingError(FileNotFoundError):
    """The local asset cache lacks a pinned file (or holds a changed one); the message names ``make assets``."""


def cache_dir() -> Path:
    """Where ``fetch`` stores the assets: ``$CALLSCORE_ASSETS_DIR``, else ``<home>/var/assets``.

    ``<home>`` is ``$CALLSCORE_HOME`` or the working directory (:func:`pipeline.paths.home`), so
    ``make assets`` in a checkout fills ``var/assets`` there and an installed wheel never writes
    into ``site-packages``.
    """
    return Path(os.environ.get("CALLSCORE_ASSETS_DIR") or paths.var_dir() / "assets")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_integrity(package: Package, data: bytes) -> None:
    algo, _, expected = package.integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if actual != expected:
        raise ValueError(f"{package.tarball}: tarball {algo} {actual} does not match the pinned {expected}; "
                         "refusing it")


def extract(package: Package, tarball: bytes, into: Path) -> list[Path]:
    """Check a downloaded tarball against its pins and write its listed files below ``into/<name@version>/``.

    Raises:
        ValueError: the tarball's integrity or a file's sha256 differs from the pin, or a file is absent.
    """
    _check_integrity(package, tarball)
    written = []
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        for rel, digest in package.files:
            member = tar.extractfile(f"package/{rel}")
            if member is None:
                raise ValueError(f"{package.folder}: {rel} is not in the tarball")
            data = member.read()
            if _sha256(data) != digest:
                raise ValueError(f"{package.folder}/{rel}: sha256 {_sha256(data)} does not match the pin {digest}")
            target = into / package.folder / rel  # the pinned path, never one the tarball chooses
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)
            written.append(target)
    return written


def missing(root: Path | None = None) -> list[str]:
    """The pinned files absent from (or changed in) the cache, as ``name@version/path``; empty when complete."""
    root = root or cache_dir()
    out = []
    for package in PACKAGES:
        for rel, digest in package.files:
            path = root / package.folder / rel
            if not path.is_file() or _sha256(path.read_bytes()) != digest:
                out.append(f"{package.folder}/{rel}")
    return out


def copy_into(target: Path, names: tuple[str, ...] | None = None, root: Path | None = None) -> Path:
    """Copy the pinned files of ``names`` (all packages by default) from the cache into ``target``.

    Each file is checked against its pin on the way, so a site never serves an edited copy.

    Raises:
        AssetsMissingError: a file is absent from the cache or differs from its pin.
    """
    root = root or cache_dir()
    for package in (_BY_NAME[n] for n in names) if names else PACKAGES:
        for rel, digest in package.files:
            src = root / package.folder / rel
            if not src.is_file() or _sha256(src.read_bytes()) != digest:
                raise AssetsMissingError(f"pinned asset {package.folder}/{rel} is missing or changed in {root}; "
                                    f"run `{MAKE_TARGET}` (python -m pipeline.devtools.assets fetch) once, online")
            dst = target / package.folder / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
    return target


_GX_LOCAL: tuple[tuple[str, str], ...] = (
    # (regex over a URL GX 1.24's templates emit, the local file below the vendor folder)
    (r"https://unpkg\.com/bootstrap-table@1\.19\.[01]/dist/(bootstrap-table\.min\.(?:css|js)"
     r"|extensions/filter-control/bootstrap-table-filter-control(?:\.min)?\.(?:css|js))",
     r"bootstrap-table@1.19.1/dist/\1"),
    (r"https://maxcdn\.bootstrapcdn\.com/bootstrap/4\.3\.1/css/bootstrap\.min\.css",
     "bootstrap@4.3.1/dist/css/bootstrap.min.css"),
    (r"https://stackpath\.bootstrapcdn\.com/bootstrap/4\.3\.1/js/bootstrap\.min\.js",
     "bootstrap@4.3.1/dist/js/bootstrap.min.js"),
    (r"https://code\.jquery\.com/jquery-3\.7\.1\.min\.js", "jquery@3.7.1/dist/jquery.min.js"),
    (r"https://cdnjs\.cloudflare\.com/ajax/libs/popper\.js/1\.12\.9/umd/popper\.min\.js",
     "popper.js@1.12.9/dist/umd/popper.min.js"),
    (r"https://cdnjs\.cloudflare\.com/ajax/libs/font-awesome/6\.6\.0/css/all\.min\.css",
     "@fortawesome/fontawesome-free@6.6.0/css/all.min.css"),
    (r"https://cdnjs\.cloudflare\.com/ajax/libs/bootstrap-datepicker/1\.9\.0/(js|css)/(bootstrap-datepicker\.min\.\w+)",
     r"bootstrap-datepicker@1.9.0/dist/\1/\2"),
    (r"https://cdn\.jsdelivr\.net/npm/vega@5", "vega@6.2.0/build/vega.min.js"),
    (r"https://cdn\.jsdelivr\.net/npm/vega-lite@5", "vega-lite@6.4.1/build/vega-lite.min.js"),
    (r"https://cdn\.jsdelivr\.net/npm/vega-embed@6", "vega-embed@7.1.0/build/vega-embed.min.js"),
    (r"https://cdn\.jsdelivr\.net/npm/@forevolve/bootstrap-dark@1\.1\.0/dist/css/bootstrap-prefers-dark\.css",
     "@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css"),
)
_GX_IMAGES = re.compile(r"https://great-expectations-web-assets\.s3\.[a-z0-9-]+\.amazonaws\.com/"
                        r"(?:logo-long|full_logo_dark)\.png(?:\?[^\"')\s]*)?")
_HOSTS = re.compile(r"https://(?:unpkg\.com|[a-z]+\.bootstrapcdn\.com|code\.jquery\.com|cdnjs\.cloudflare\.com"
                    r"|cdn\.jsdelivr\.net|great-expectations-web-assets\.)")
_SRI = re.compile(r'\s+(?:integrity="[^"]*"|crossorigin="[^"]*")')
_LOADED_URL = re.compile(r"""(?:<(?:script|img|link)\b[^>]*?\s(?:src|href)\s*=\s*["']|url\(\s*['"]?)(https?://[^"')\s]+)""",
                         re.IGNORECASE)
VENDOR = "static/vendor"
"""Where the pinned assets go inside a Data Docs site."""


def external_loads(html: str) -> list[str]:
    """The http(s) URLs a page would load by itself (script, link, img, CSS ``url()``); links to click are not."""
    return _LOADED_URL.findall(html)


def localize_html(html: str, prefix: str) -> str:
    """Point a Data Docs page's CDN assets at the local copies ``prefix`` leads to (``../`` per folder level).

    ``integrity``/``crossorigin`` attributes are dropped: the files are checked against their pins
    when copied, and a ``crossorigin`` script is refused by browsers on a ``file://`` page.
    """
    def tag_without_sri(match: re.Match) -> str:
        return _SRI.sub("", match.group(0))

    out = re.sub(r"<script\b[^>]*>|<link\b[^>]*>", tag_without_sri, html)
    for pattern, local in _GX_LOCAL:
        out = re.sub(pattern, lambda m, local=local: prefix + VENDOR + "/" + m.expand(local), out)
    return _GX_IMAGES.sub(prefix + "static/images/logo-long.png", out)


def localize_data_docs(docs_dir: Path, root: Path | None = None) -> int:
    """Copy the pinned assets into a Data Docs site and rewrite its pages' CDN links to them; pages changed.

    Run after every GX build (GX writes its pages with CDN links again) and on a copy of an older
    site. Idempotent. Pages GX linked to an asset not in the pin list keep it and are logged.

    Raises:
        AssetsMissingError: the cache is incomplete (``make assets``); the pages are left as they were.
    """
    copy_into(docs_dir / VENDOR, root=root)
    changed = 0
    for page in sorted(docs_dir.rglob("*.html")):
        if VENDOR in page.relative_to(docs_dir).as_posix():
            continue
        html = page.read_text(encoding="utf-8")
        if not _HOSTS.search(html):  # already local (an earlier build's page): skip the rewrite
            continue
        depth = len(page.relative_to(docs_dir).parts) - 1
        new = localize_html(html, "../" * depth)
        left = external_loads(new)
        if left:
            log.warning("Data Docs page %s still loads %s", page, ", ".join(sorted(set(left))))
        if new != html:
            tmp = page.with_name(page.name + ".tmp")
            tmp.write_text(new, encoding="utf-8")
            os.replace(tmp, page)
            changed += 1
    return changed
