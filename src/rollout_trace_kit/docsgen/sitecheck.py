"""Check a built docs site: links and assets resolve, pages render in Chromium.

Serves the site on 127.0.0.1 with the standard library (under the path of
``site_url``, so absolute links resolve as they will once published), then

* crawls every HTML page and requests every internal link and asset it names
  (``a``/``link``/``script``/``img``): each must answer 200, and a ``#fragment``
  must name an element ``id`` of its page;
* checks that each published schema file is served at the path of its ``$id``;
* optionally opens pages in headless Chromium (``--dump-dom`` and ``--screenshot``),
  recording every request the browser makes: none may fail, and the page must have
  loaded its stylesheets and scripts.

Usage: ``python -m rollout_trace_kit.docsgen.sitecheck SITE_DIR [--browser] [--out DIR]``
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.request import urlopen
from urllib.error import HTTPError

from . import site_url_for_schemas

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
# The pages the browser check opens by default: a dialect page and the catalogue.
BROWSER_PAGES = ("reference/v2/", "reference/invariants/")


def base_path() -> str:
    """URL path the site is published under (``/rollout-trace-kit/``)."""
    return urlsplit(site_url_for_schemas()).path


class _Handler(http.server.SimpleHTTPRequestHandler):
    log: list[tuple[str, int]]  # (path, status) of every request, set per server

    def __init__(self, *args, prefix: str, **kwargs):
        self.prefix = prefix
        super().__init__(*args, **kwargs)

    def translate_path(self, path: str) -> str:
        if not path.startswith(self.prefix):
            return str(Path(self.directory) / "\0not-under-site-path")
        return super().translate_path("/" + path[len(self.prefix):])

    def send_response(self, code, message=None):
        self.server.log.append((self.path, code))  # type: ignore[attr-defined]
        super().send_response(code, message)

    def log_message(self, format, *args):  # quiet
        pass


class SiteServer:
    """The built site on http://127.0.0.1:<port><base_path>, in a background thread."""

    def __init__(self, site_dir: Path, prefix: str | None = None):
        self.prefix = prefix or base_path()
        handler = functools.partial(_Handler, directory=str(site_dir), prefix=self.prefix)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.log = []  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def root(self) -> str:
        host, port = self.httpd.server_address[:2]
        assert isinstance(host, str)  # a TCP server's address
        return f"http://{host}:{port}{self.prefix}"

    @property
    def requests(self) -> list[tuple[str, int]]:
        return self.httpd.log  # type: ignore[attr-defined]

    def __enter__(self) -> "SiteServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


class _Links(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []  # (tag, url)
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if a.get("name") and tag == "a":
            self.ids.add(a["name"])
        for attr in ("href", "src"):
            url = a.get(attr)
            if url and tag in ("a", "link", "script", "img", "source"):
                self.links.append((tag, url))


@dataclass
class CrawlResult:
    pages: list[str] = field(default_factory=list)  # URLs of HTML pages crawled
    assets: list[str] = field(default_factory=list)  # other internal URLs fetched
    broken: list[str] = field(default_factory=list)  # "page -> url: problem"
    external: set[str] = field(default_factory=set)


def _fetch(url: str) -> tuple[int, str, bytes]:
    try:
        with urlopen(url, timeout=10) as r:
            return r.status, r.headers.get_content_type(), r.read()
    except HTTPError as e:
        return e.code, "", b""


def crawl(root: str) -> CrawlResult:
    """Follow every internal link from ``root``; report what does not resolve."""
    res = CrawlResult()
    ids: dict[str, set[str]] = {}
    fragments: list[tuple[str, str, str]] = []  # (page, target, fragment)
    parts = urlsplit(root)
    origin = f"{parts.scheme}://{parts.netloc}"
    queue = [root]
    seen = {root}
    status: dict[str, int] = {}
    while queue:
        url = queue.pop(0)
        code, ctype, body = _fetch(url)
        status[url] = code
        if code != 200:
            continue
        if ctype != "text/html":
            res.assets.append(url)
            continue
        res.pages.append(url)
        parser = _Links()
        parser.feed(body.decode("utf-8", "replace"))
        ids[url] = parser.ids
        for tag, link in parser.links:
            absolute = urljoin(url, link)
            target, frag = urldefrag(absolute)
            if urlsplit(absolute).scheme not in ("http", "https"):
                continue  # mailto:, data: and the like
            if not target.startswith(origin + "/"):
                res.external.add(absolute)
                continue
            if not target.startswith(root):
                res.broken.append(f"{url} -> {link}: outside the site path")
                continue
            if frag and tag == "a":
                fragments.append((url, target, frag))
            if target not in seen:
                seen.add(target)
                queue.append(target)
    for url, code in status.items():
        if code != 200:
            res.broken.append(f"{url}: HTTP {code}")
    for page, target, frag in fragments:
        if status.get(target) == 200 and target in ids and frag not in ids[target]:
            res.broken.append(f"{page} -> {target}#{frag}: no element with that id")
    return res


def check_schemas(root: str, site_dir: Path) -> list[str]:
    """Each schema file of the site is served where its ``$id`` says (under ``root``)."""
    problems = []
    files = sorted((site_dir / "schema").rglob("*.schema.json"))
    if not files:
        problems.append("no schema files in the site")
    published = site_url_for_schemas()
    for path in files:
        rel = path.relative_to(site_dir).as_posix()
        schema_id = json.loads(path.read_text(encoding="utf-8")).get("$id", "")
        if schema_id != published + rel:
            problems.append(f"{rel}: $id {schema_id!r} is not {published + rel!r}")
            continue
        code, _, body = _fetch(root + rel)
        if code != 200 or json.loads(body).get("$id") != schema_id:
            problems.append(f"{rel}: not served at {root + rel} (HTTP {code})")
    return problems


def build_site(repo_root: Path, site_dir: Path, *, timeout: float = 120) -> subprocess.CompletedProcess:
    """``mkdocs build --strict`` of the site of the repository at ``repo_root`` into ``site_dir``.

    ``NO_MKDOCS_2_WARNING`` silences the end-of-life notice Material prints on import
    (a print, not a build warning)."""
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=repo_root, env=env, capture_output=True, text=True, timeout=timeout,
    )


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class BrowserPage:
    url: str
    dom: str
    screenshot: Path
    requests: list[tuple[str, int]]  # what the browser asked the server for, while loading this page

    @property
    def failed(self) -> list[tuple[str, int]]:
        return [(p, c) for p, c in self.requests if c >= 400]


def open_in_chromium(
    chromium: str, server: SiteServer, page: str, out_dir: Path, *, width: int = 1280, height: int = 2000
) -> BrowserPage:
    """Load ``page`` (relative to the site root) twice: dump its DOM, then screenshot it."""
    url = server.root + page
    shot = out_dir / ((re.sub(r"[^A-Za-z0-9]+", "_", page).strip("_") or "index") + ".png")
    start = len(server.requests)
    with tempfile.TemporaryDirectory(prefix="rtk-chromium-") as profile:
        common = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"]
        dom = subprocess.run(
            [*common, "--virtual-time-budget=5000", "--dump-dom", url],
            capture_output=True, text=True, timeout=120, check=True,
        ).stdout
        subprocess.run(
            [*common, "--virtual-time-budget=5000", f"--screenshot={shot}", url],
            capture_output=True, text=True, timeout=120, check=True,
        )
    return BrowserPage(url, dom, shot, list(server.requests[start:]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("site_dir", type=Path)
    ap.add_argument("--browser", action="store_true", help="also open pages in headless Chromium")
    ap.add_argument("--page", action="append", help=f"page to open in the browser (default: {' '.join(BROWSER_PAGES)})")
    ap.add_argument("--out", type=Path, default=Path("site-check"), help="where screenshots and DOM dumps go")
    ap.add_argument("--height", type=int, default=2000, help="browser window (and screenshot) height in pixels")
    args = ap.parse_args(argv)
    ok = True
    with SiteServer(args.site_dir) as server:
        res = crawl(server.root)
        print(f"crawled {len(res.pages)} pages and {len(res.assets)} assets at {server.root}")
        for b in res.broken + check_schemas(server.root, args.site_dir):
            ok = False
            print(f"BROKEN {b}")
        if args.browser:
            chromium = find_chromium()
            if chromium is None:
                print("no chromium on PATH", file=sys.stderr)
                return 2
            args.out.mkdir(parents=True, exist_ok=True)
            for page in args.page or BROWSER_PAGES:
                bp = open_in_chromium(chromium, server, page, args.out, height=args.height)
                (args.out / (bp.screenshot.stem + ".html")).write_text(bp.dom, encoding="utf-8")
                print(f"{page}: {len(bp.dom)} bytes of DOM, {len(bp.requests)} requests, screenshot {bp.screenshot}")
                for p, c in bp.failed:
                    ok = False
                    print(f"BROKEN {page}: browser request {p} -> HTTP {c}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
