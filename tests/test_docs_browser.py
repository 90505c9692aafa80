"""The built site in headless Chromium: the variant page and the catalogue render,
with every stylesheet and script loaded and nothing the browser asks for missing.

Opt-in (CI turns it on): ROLLOUT_TRACE_DOCS_BROWSER=1, with Debian's `chromium` on PATH
and the docs extra installed. Screenshots and DOM dumps go to
$ROLLOUT_TRACE_DOCS_SHOTS when it is set (to look at them), else to a temporary dir.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import pytest

from .conftest import ROOT  # noqa: E402
from rollout_trace_kit.model import DIALECTS
from rollout_trace_kit.validate import all_invariants

pytestmark = pytest.mark.skipif(
    os.environ.get("ROLLOUT_TRACE_DOCS_BROWSER") != "1",
    reason="opt-in browser tier: set ROLLOUT_TRACE_DOCS_BROWSER=1 (needs Debian `chromium` and the docs extra)",
)

WIDTH, HEIGHT = 1280, 1600
# Material's default primary colour (indigo), the header bar's background.
HEADER_RGB = (0x40, 0x51, 0xB5)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from rollout_trace_kit.docsgen.sitecheck import SiteServer, build_site, find_chromium

    chromium = find_chromium()
    assert chromium, "ROLLOUT_TRACE_DOCS_BROWSER=1 but no chromium on PATH (apt-get install chromium)"
    site = tmp_path_factory.mktemp("site")
    proc = build_site(ROOT, site)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shots = Path(os.environ.get("ROLLOUT_TRACE_DOCS_SHOTS") or tmp_path_factory.mktemp("shots"))
    shots.mkdir(parents=True, exist_ok=True)
    with SiteServer(site) as server:
        yield chromium, server, shots, site


def _open(browser, page):
    from rollout_trace_kit.docsgen.sitecheck import open_in_chromium

    chromium, server, shots, _ = browser
    result = open_in_chromium(chromium, server, page, shots, width=WIDTH, height=HEIGHT)
    (shots / (result.screenshot.stem + ".html")).write_text(result.dom, encoding="utf-8")
    return result


def _open_probed(browser, page, probe: str):
    """``_open`` with ``probe`` put into the built page's <head> for this one visit."""
    html = browser[3] / page / "index.html"
    original = html.read_text(encoding="utf-8")
    html.write_text(original.replace("</head>", probe + "</head>", 1), encoding="utf-8")
    try:
        return _open(browser, page), original
    finally:
        html.write_text(original, encoding="utf-8")


def _png_pixel_rows(path: Path, rows: int) -> tuple[int, int, list[bytes]]:
    """Width, height and the first ``rows`` unfiltered scanlines (RGB or RGBA, 8 bits)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour = header[:4]
    assert depth == 8 and colour in (2, 6)
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    out, prev = [], bytearray(stride)
    for r in range(rows):
        filt, line = raw[r * (stride + 1)], bytearray(raw[r * (stride + 1) + 1 : (r + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if filt == 1:
                line[i] = (line[i] + a) & 0xFF
            elif filt == 2:
                line[i] = (line[i] + b) & 0xFF
            elif filt == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif filt == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        out.append(bytes(line[j] for j in range(stride) if j % bpp < 3))
        prev = line
    return width, height, out


def _assert_rendered(result):
    dom = result.dom
    # Material's script ran: it replaces the no-js class and adds copy buttons to code blocks
    assert 'class="no-js"' not in dom and " js" in dom.split("<head>", 1)[0]
    # everything the browser requested was there, stylesheets and scripts included
    assert not result.failed, result.failed
    ok = [p for p, c in result.requests if c == 200]
    assert any(p.endswith(".css") for p in ok) and any(p.endswith(".js") for p in ok), result.requests
    assert any("/stylesheets/extra.css" in p for p in ok)
    # the stylesheet applied: the header bar is Material's indigo in the screenshot
    width, height, rows = _png_pixel_rows(result.screenshot, 20)
    assert (width, height) == (WIDTH, HEIGHT)
    header = rows[10][3 * 600 : 3 * 603]
    assert tuple(header[:3]) == HEADER_RGB, tuple(header[:3])


def test_variant_page_renders(browser):
    result = _open(browser, "reference/v2/")
    _assert_rendered(result)
    dom = result.dom
    assert "Rollout trace, schema_version 2" in dom
    for tag in DIALECTS["v2"].tags:
        assert f'id="{tag}"' in dom, tag
    assert 'class="md-code__button"' in dom  # script-added copy buttons on the examples
    assert 'class="rtk-inferred"' in dom
    assert '<details class="example" open="' in dom


def test_catalogue_page_renders(browser):
    from rollout_trace_kit.docsgen.catalogue_page import invariant_anchor

    result = _open(browser, "reference/invariants/")
    _assert_rendered(result)
    for inv in all_invariants():
        assert f'id="{invariant_anchor(inv.id)}"' in result.dom, inv.id


# Material draws each diagram into a closed shadow root, which a DOM dump does not show:
# this probe (put into the page's <head>, before Material's script runs) records the
# shadow roots and marks each host with the number of <svg> elements drawn into it.
SHADOW_PROBE = """<script>
(() => {
  const attach = Element.prototype.attachShadow, roots = [];
  Element.prototype.attachShadow = function (init) {
    const root = attach.call(this, init); roots.push([this, root]); return root;
  };
  setInterval(() => {
    for (const [host, root] of roots) host.setAttribute("data-rtk-svg", root.querySelectorAll("svg").length);
  }, 50);
})();
</script>"""


def _diagram_pages():
    from rollout_trace_kit.model.lifecycles import LIFECYCLES

    newest = list(DIALECTS.values())[-1]
    return [("reference/lifecycles/", len([lc for lc in LIFECYCLES if lc.for_dialect(newest).steps])),
            ("reference/layouts/", len(DIALECTS))]


@pytest.mark.parametrize("page, count", _diagram_pages())
def test_diagrams_render(browser, page, count):
    import re

    result, original = _open_probed(browser, page, SHADOW_PROBE)
    assert original.count('<pre class="mermaid">') == count
    _assert_rendered(result)
    # served from the site, not a CDN: the browser asked our server for Mermaid and got it
    assert any(p.endswith("/javascripts/mermaid.min.js") for p, c in result.requests if c == 200), result.requests
    assert '<pre class="mermaid">' not in result.dom  # every fence was replaced by a drawing
    drawn = re.findall(r'<div class="mermaid" data-rtk-svg="(\d+)"', result.dom)
    assert len(drawn) == count and all(int(n) >= 1 for n in drawn), drawn


# Records the computed background of each matrix cell holding a verdict (set once the
# stylesheets have applied; the DOM dump then shows it as an attribute).
BACKGROUND_PROBE = """<script>
window.addEventListener("load", () => {
  for (const span of document.querySelectorAll("td > span[class^='rtk-']"))
    span.parentElement.setAttribute("data-rtk-bg", span.className + " " + getComputedStyle(span.parentElement).backgroundColor);
});
</script>"""


def test_release_matrix_cells_are_coloured(browser):
    import re

    from rollout_trace_kit.docsgen.release_matrix import READS, REJECTS, matrix, readers
    from rollout_trace_kit.model import releases as rel

    result, _ = _open_probed(browser, "reference/releases/matrix/", BACKGROUND_PROBE)
    _assert_rendered(result)
    cells = re.findall(r'data-rtk-bg="(rtk-[a-z]+) rgba?\((\d+), (\d+), (\d+)(?:, ([\d.]+))?\)"', result.dom)
    eps = list(rel.table_epochs())
    verdicts = matrix(eps)
    assert len(cells) == len(eps) * len(readers(eps)) == len(verdicts)
    seen = {}
    for cls, r, g, b, alpha in cells:
        assert alpha in ("", "1"), (cls, alpha)  # painted, not transparent
        seen.setdefault(cls, set()).add((int(r), int(g), int(b)))
    assert set(seen) == {READS, REJECTS}
    assert len(seen[READS]) == len(seen[REJECTS]) == 1  # one colour per verdict
    (gr, gg, gb), (rr, rg, rb) = seen[READS].pop(), seen[REJECTS].pop()
    assert gg > gr and gg > gb, "reads is green"
    assert rr > rg and rr > rb, "rejects is red"
