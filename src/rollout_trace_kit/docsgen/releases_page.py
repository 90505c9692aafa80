"""The Codex release pages: the release table and one page per epoch.

Everything comes from the measured release records (:mod:`rollout_trace_kit.model.releases`):
which releases were probed, which inferred from equal neighbours, what changed from
one epoch to the next, and which epochs' readers take what an epoch's writer writes.
"""

from __future__ import annotations

from ..model import releases as rel
from ..model import dialect_for_schema_version
from ..validate.rules.release import BundleSummary, reader_accepts
from .model_pages import cell

DIR = "reference/releases"
MATRIX = "matrix.md"  # the compatibility matrix (release_matrix), beside the table


def epoch_slug(e: rel.Epoch) -> str:
    return f"{e.first}" if e.first == e.last else f"{e.first}-{e.last}"


def _span(e: rel.Epoch) -> str:
    return e.first if e.first == e.last else f"{e.first} – {e.last}"


def written_summary(r: rel.Release) -> BundleSummary:
    """What the release's writer was seen writing, as a bundle summary (full key sets)."""
    s = BundleSummary()
    s.manifest_schema = r.schema_version
    if r.schema_version is not None:
        s.schema_versions[r.schema_version] = 1
    for tag, keys in (r.get("writer", "fields") or {}).items():
        s.keysets.setdefault(tag, {})[frozenset(keys)] = 1
    for k in r.get("writer", "tool_kinds") or []:
        s.tool_kinds[k] = 1
    for k in r.get("writer", "payload_kinds") or []:
        s.payload_kinds[k] = 1
    dialect = dialect_for_schema_version(r.schema_version)
    if dialect is not None and s.payload_kinds:  # its refs, as its dialect's layout writes them
        s.ref_keysets[frozenset(dialect.layout.ref(1, "x"))] = 1
    return s


def _names(values) -> str:
    return ", ".join(f"`{v}`" for v in values) if values else "—"


def _set_diff(label: str, old, new) -> list[str]:
    old, new = set(old or []), set(new or [])
    out = []
    if new - old:
        out.append(f"- {label}: added {_names(sorted(new - old))}")
    if old - new:
        out.append(f"- {label}: removed {_names(sorted(old - new))}")
    return out


def changes(prev: rel.Release | None, cur: rel.Release) -> list[str]:
    """What differs between two releases' measured facts, as Markdown bullets."""
    if prev is None or prev.record is None:
        return ["- The first release with a trace writer."] if cur.version == rel.FIRST_RELEASE else []
    # compare what epochs compare (racy scenarios' order left out), not the raw records
    prev = rel.Release(prev.version, prev.status, rel.facts_of(prev.record))
    assert cur.record is not None  # a release compared with the one before it was measured
    cur = rel.Release(cur.version, cur.status, rel.facts_of(cur.record))
    fuzzed = bool(prev.get("reducer", "fuzz", "enforced") is not None and cur.get("reducer", "fuzz", "enforced") is not None)
    out = []
    if prev.schema_version != cur.schema_version:
        out.append(f"- Writes `schema_version` {cur.schema_version} (was {prev.schema_version}).")
    if prev.get("layout") != cur.get("layout"):
        out.append(f"- Payload layout: {cur.get('layout')} (was {prev.get('layout')}).")
    if bool(prev.get("has_reducer")) != bool(cur.get("has_reducer")):
        out.append("- Ships a reducer (`codex debug trace-reduce`)." if cur.get("has_reducer") else "- No reducer.")
    out += _set_diff("Reducer accepts schema_version", prev.get("reducer", "schema_versions_accepted"),
                     cur.get("reducer", "schema_versions_accepted"))
    for label, path in (("Variants written", ("writer", "variants")), ("Variants read", ("reducer", "variants")),
                        ("Tool kinds read", ("reducer", "tool_kinds")), ("Payload kinds read", ("reducer", "payload_kinds")),
                        ("Terminal events", ("writer", "terminal_events")),
                        ("Events after rollout_ended", ("writer", "after_rollout_ended")),
                        ("Rules enforced (fuzz)", ("reducer", "fuzz", "enforced")),
                        ("Known hangs (fuzz)", ("reducer", "fuzz", "hangs")),
                        ("Rejected although outside the kit's reducer profile (fuzz)",
                         ("reducer", "fuzz", "rejects_outside_profile"))):
        if path[-2:-1] == ("fuzz",) and not fuzzed:
            continue  # a release the kit cannot fuzz (no dialect for its schema) is not "enforcing nothing"
        out += _set_diff(label, prev.get(*path), cur.get(*path))
    old_req, new_req = prev.get("reducer", "required_fields") or {}, cur.get("reducer", "required_fields") or {}
    for tag in sorted(set(old_req) & set(new_req)):
        out += _set_diff(f"Fields `{tag}` requires", old_req[tag], new_req[tag])
    old_w, new_w = prev.get("writer", "fields") or {}, cur.get("writer", "fields") or {}
    for tag in sorted(set(old_w) & set(new_w)):
        out += _set_diff(f"Fields written in `{tag}`", old_w[tag], new_w[tag])
    if not out:
        out.append("- Other measured facts differ (scenario details); see the record.")
    return out


def release_pages() -> dict[str, str]:
    table = list(rel.table())
    eps = rel.epochs(table)
    known = [e for e in eps if e.status != "unknown"]
    from .release_matrix import matrix_page

    pages = {f"{DIR}/index.md": index_page(table, eps), f"{DIR}/{MATRIX}": matrix_page(eps)}
    prev: rel.Release | None = None
    for e in eps:
        if e.status == "unknown":
            continue
        pages[f"{DIR}/{epoch_slug(e)}.md"] = epoch_page(e, prev, known)
        prev = e.representative
    return pages


def index_page(table: list[rel.Release], eps: list[rel.Epoch]) -> str:
    probed = sum(r.status == "probed" for r in table)
    inferred = sum(r.status == "inferred" for r in table)
    unknown = sum(r.status == "unknown" for r in table)
    out = ["# Codex releases\n",
           f"Every published Codex release from {rel.FIRST_RELEASE} (the first with a trace writer) to "
           f"{table[-1].version}: {probed} probed, {inferred} inferred from equal probed neighbours, "
           f"{unknown} unknown. A probe (`rollout-trace codex probe VERSION`) installs the release, runs its "
           "writer against the kit's mock Responses API across scenario classes, asks its reducer what it "
           "knows and fuzzes it; `rollout-trace codex releases` prints this table, `rollout-trace compat` and "
           "`rollout-trace validate --release` use it. `rollout-trace codex releases --missing` lists the releases "
           "npm publishes that this table lacks (the Codex test tier fails on one published more than 7 days ago).\n",
           "An epoch is a run of releases whose measured facts are equal. The "
           f"[compatibility matrix]({MATRIX}) shows which epoch's reducer reads which epoch's bundles.\n",
           "| Epoch | Releases | Status | schema_version | Reducer | Reads schema_version | Variants written / read |",
           "|---|---|---|---|---|---|---|"]
    for e in eps:
        r = e.representative
        link = f"[{_span(e)}]({epoch_slug(e)}.md)" if e.status != "unknown" else _span(e)
        written = len(r.get("writer", "variants") or []) if r.record else "?"
        read = len(r.get("reducer", "variants") or []) if r.record and r.get("reducer") else "—"
        accepts = _names(r.get("reducer", "schema_versions_accepted")) if r.record and r.get("reducer") else "—"
        status = {"probed": "probed", "inferred": "inferred", "unknown": "unknown (not probed yet)"}[e.status]
        probed_here = [x.version for x in e.releases if x.status == "probed"]
        if e.status != "unknown" and len(e.releases) > 1:
            status = f"probed {', '.join(probed_here)}; the rest inferred"
        out.append(f"| {link} | {len(e.releases)} | {status} | {r.schema_version if r.record else '?'} | "
                   f"{('yes' if r.get('has_reducer') else 'no') if r.record else '?'} | {accepts} | {written} / {read} |")
    out.append("")
    return "\n".join(out)


def epoch_page(e: rel.Epoch, prev: rel.Release | None, known: list[rel.Epoch]) -> str:
    r = e.representative
    out = [f"# Codex {_span(e)}\n"]
    statuses = ", ".join(f"{x.version} ({x.status})" for x in e.releases)
    out.append(f"Releases: {statuses}.\n")
    out.append(f"- `schema_version` written: {r.schema_version}; payload layout: {r.get('layout')}")
    out.append(f"- Reducer: {'yes' if r.get('has_reducer') else 'no'}"
               + (f"; accepts schema_version {_names(r.get('reducer', 'schema_versions_accepted'))}"
                  if r.get("reducer") else ""))
    out.append(f"- Terminal event(s) written: {_names(r.get('writer', 'terminal_events'))}; "
               f"after `rollout_ended`: {_names(r.get('writer', 'after_rollout_ended'))}")
    not_driven = r.get("scenarios_not_driven") or []
    if not_driven:
        out.append(f"- Scenario classes that wrote no bundle: {_names(not_driven)}")
    out.append("\n## What changed\n")
    out += changes(prev, r)
    out.append("\n## Who reads what\n")
    mine = written_summary(r)
    readers = [x for x in known if reader_accepts(mine, x.representative)]
    out.append("What this epoch's writer was seen writing is accepted (by the release rules) by the readers of: "
               + (", ".join(f"[{_span(x)}]({epoch_slug(x)}.md)" for x in readers) or "no probed reader") + ".\n")
    if r.get("reducer"):
        readable = [x for x in known if x.representative.record and reader_accepts(written_summary(x.representative), r)]
        out.append("This epoch's reducer accepts what the writers of these epochs were seen writing: "
                   + (", ".join(f"[{_span(x)}]({epoch_slug(x)}.md)" for x in readable) or "none") + ".\n")
        out.append("\n## Reducer vocabulary\n")
        out.append("| Fact | Values |\n|---|---|")
        for label, key in (("Variants", "variants"), ("Payload kinds", "payload_kinds"), ("Tool kinds", "tool_kinds"),
                           ("Execution statuses", "execution_statuses"), ("Rollout statuses", "rollout_statuses")):
            out.append(f"| {label} | {cell(_names(r.get('reducer', key)))} |")
        req = r.get("reducer", "required_fields") or {}
        for tag in sorted(req):
            out.append(f"| `{tag}` requires | {cell(_names(req[tag]))} |")
        fuzz = r.get("reducer", "fuzz")
        if fuzz and "enforced" in fuzz:
            out.append(f"\nFuzz ({fuzz['examples']} cases, seed {fuzz['seed']}, dialect {fuzz['dialect']}): "
                       f"{len(fuzz['enforced'])} rules enforced; ignored: {_names(fuzz['ignored'])}; "
                       f"hangs: {_names(fuzz['hangs'])}; rejects valid kit bundles: "
                       f"{'yes' if fuzz['rejects_valid'] else 'no'}.")
    out.append("")
    return "\n".join(out)
