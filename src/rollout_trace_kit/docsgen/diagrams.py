"""Pictures generated from the model: Mermaid diagrams of entity lifecycles and bundle layouts.

Mermaid fences render on the docs site (mkdocs-material, ``pymdownx.superfences``) and
on the code host alike. The release compatibility matrix, a coloured table rather than a
diagram, is :mod:`.release_matrix`.
"""

from __future__ import annotations

from ..model.lifecycles import FINISHED, LIFECYCLES, START, Lifecycle, lifecycles
from ..model.types import STORE_ZSTD_SHARDS, Dialect
from .model_pages import cell

MERMAID = "mermaid"


def _state(name: str) -> str:
    return name if name == START else name.replace(" ", "_")


def state_diagram(lc: Lifecycle) -> str:
    lines = [f"```{MERMAID}", "stateDiagram-v2", "    direction LR"]
    for s in lc.steps:
        lines.append(f"    {_state(s.source)} --> {_state(s.target)}: {s.tag}")
    for f in lc.final:
        lines.append(f"    {_state(f)} --> {FINISHED}")
    lines.append("```")
    return "\n".join(lines)


def lifecycles_page(dialects: list[Dialect]) -> str:
    newest = dialects[-1]
    out = [
        "# Entity lifecycles\n",
        "Generated from the model (`rollout_trace_kit.model.lifecycles`). Each diagram shows how "
        f"the events of dialect {newest.name} move one entity from state to state, as the reference "
        "reducer replays them: `[*]` on the left is an entity not seen yet, on the right one that is "
        "done. The [invariant catalogue](invariants.md) has the rules that reject a bundle "
        "breaking a lifecycle (a second start, an end naming an entity never started, ...).\n",
    ]
    for lc in LIFECYCLES:
        here = lc.for_dialect(newest)
        if not here.steps:
            continue
        out.append(f"## {lc.title} {{#{lc.entity.replace('_', '-')}}}\n")
        out.append(f"{lc.doc} Named by `{lc.key}`.\n")
        out.append(state_diagram(here) + "\n")
        out.append("| from | event | to | note |\n|---|---|---|---|")
        for s in here.steps:
            src = "(new)" if s.source == START else s.source
            out.append(f"| {src} | [`{s.tag}`]({newest.name}.md#{s.tag}) | {s.target} | {cell(s.note)} |")
        out.append("")
        for d in dialects[:-1]:
            missing = [t for t in here.tags if t not in d.tags]
            if missing:
                out.append(f"Dialect {d.name} has no {', '.join(f'`{t}`' for t in missing)}.\n")
    return "\n".join(out) + "\n"


def _layout_facts(d: Dialect) -> dict[str, str]:
    """Where a dialect keeps its files (its layout)."""
    layout = d.layout
    return {
        "manifest": layout.manifest_file,
        "log": layout.event_log,
        "dir": layout.payloads_dir,
        "payload_file": layout.payload_file.split("/", 1)[-1],
        "ref_key": layout.ref_key,
        "store": layout.store,
    }


def layout_diagram(d: Dialect) -> str:
    f = _layout_facts(d)
    sharded = f["store"] == STORE_ZSTD_SHARDS
    unit = "a zstd shard of payload records" if sharded else "one payload per file"
    refs = sorted({(v.tag, fld.name) for v in d.payload.variants for fld in d.ref_fields(v.tag)})
    return "\n".join([
        f"```{MERMAID}",
        "flowchart LR",
        '    bundle["bundle directory"] --> manifest["' + f["manifest"] + f'<br/>schema_version {d.schema_version}"]',
        '    bundle --> log["' + f["log"] + '<br/>one event per line"]',
        '    bundle --> dir["' + f["dir"] + '/"]',
        '    dir --> payload["' + f["payload_file"] + "<br/>" + unit + '"]',
        '    manifest -- "raw_event_log" --> log',
        '    manifest -- "payloads_dir" --> dir',
        f'    log -- "{len(refs)} ref fields: RawPayloadRef.{f["ref_key"]}" --> payload',
        "```",
    ])


def layouts_page(dialects: list[Dialect]) -> str:
    out = [
        "# Bundle layouts\n",
        "Generated from the model. A bundle is a directory; the manifest names the event log and "
        "the payload directory, and events point at payloads with `RawPayloadRef`s.\n",
    ]
    for d in dialects:
        f = _layout_facts(d)
        out.append(f"## Dialect {d.name} {{#{d.name}}}\n")
        lo, hi = d.releases
        out.append(f"Codex {lo} to {hi}, `schema_version` {d.schema_version}; payload store: {f['store']}.\n")
        out.append(layout_diagram(d) + "\n")
        refs = [(v.tag, fld.name) for v in d.payload.variants for fld in d.ref_fields(v.tag)]
        out.append("Events that point at payloads: " + ", ".join(
            f"[`{tag}`]({d.name}.md#{tag}).`{name}`" for tag, name in refs) + ".\n")
    return "\n".join(out) + "\n"


__all__ = ["layout_diagram", "layouts_page", "lifecycles", "lifecycles_page", "state_diagram"]
