"""Extending the model reaches every part of the kit with no other edit.

A test dialect is derived from v2 the way a maintainer would extend the model:
one more payload variant, one more field on an existing variant, one more tool
kind and one more payload kind. Nothing else is edited: the validator, the
generators, the reference writer, the schema compiler and the docs generator
must handle each from the model alone. The second half ties every table the
kit derives from the model back to it.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest
import msgspec
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from rollout_trace_kit.compilers.json_schema import event_schema, manifest_schema
from rollout_trace_kit.docsgen.examples import examples
from rollout_trace_kit.docsgen.model_pages import dialect_page
from rollout_trace_kit.generators import bundles, events
from rollout_trace_kit.model import DIALECTS, V2, facts
from rollout_trace_kit.model import bodies as B
from rollout_trace_kit.model.common import STR, U64, opt, opt_ref, req
from rollout_trace_kit.model.types import READ_AT_EVENT, Variant
from rollout_trace_kit.validate import Options, Profile, validate_bundle
from rollout_trace_kit.writer import TraceWriter
from rollout_trace_kit.writer.core import EventError

NEW_VARIANT = "notebook_cell_executed"
NEW_FIELD = "cell_index"  # on tool_call_started
NEW_TOOL_KIND = "run_notebook"
NEW_PAYLOAD_KIND = "notebook_output"
NEW_NULL_FIELD = "cell_note"  # on tool_call_ended, written as null when unset
NEW_REF = "notebook_payload"  # a ref field on an existing variant (tool_call_ended)
NEW_ENVELOPE_KEY = "writer_host"
NEW_MANIFEST_KEY = "trace_label"


def extended_dialect(*, terminal_tool: bool = True):
    """v2 plus a variant, a field, a tool kind and a payload kind: a copy, v2 untouched."""
    tool_kinds = V2.type("ToolCallKind")
    tool_kinds = replace(
        tool_kinds,
        variants=tool_kinds.variants
        + (Variant(NEW_TOOL_KIND, "Run a notebook cell.", terminal_operation=terminal_tool),),
    )
    payload_kinds = V2.type("RawPayloadKind")
    payload_kinds = replace(payload_kinds, values=payload_kinds.values + (NEW_PAYLOAD_KIND,))
    types = tuple({"ToolCallKind": tool_kinds, "RawPayloadKind": payload_kinds}.get(t.name, t) for t in V2.types)
    variants = []
    for v in V2.payload.variants:
        if v.tag == "tool_call_started":
            v = replace(v, fields=v.fields + (opt(NEW_FIELD, U64, "Index of the notebook cell.", skip_if_none=True),))
        if v.tag == "tool_call_ended":
            v = replace(v, fields=v.fields + (
                opt(NEW_NULL_FIELD, STR, "A note on the cell's run."),
                opt_ref(NEW_REF, "The notebook after the call.", (NEW_PAYLOAD_KIND,)),
            ))
        variants.append(v)
        if v.tag == "tool_call_ended":
            variants.append(
                Variant(
                    NEW_VARIANT,
                    "A notebook cell ran; its output is stored as a payload.",
                    (
                        req("tool_call_id", STR, "The tool call that ran the cell."),
                        opt_ref("output_payload", "The cell's output.", (NEW_PAYLOAD_KIND,), read=READ_AT_EVENT),
                    ),
                    since="9.0.0",
                )
            )
    envelope = V2.envelope.fields
    envelope = envelope[:-1] + (opt(NEW_ENVELOPE_KEY, STR, "Host the writer ran on."),) + envelope[-1:]  # before payload
    manifest = V2.manifest.fields + (opt(NEW_MANIFEST_KEY, STR, "A label for the trace."),)
    return replace(
        V2,
        name="v2x",
        title="Rollout trace, extended for a test",
        envelope=replace(V2.envelope, fields=envelope),
        manifest=replace(V2.manifest, fields=manifest),
        payload=replace(V2.payload, variants=tuple(variants)),
        types=types,
        extends=V2,
    )


X = extended_dialect()
ROOT, TURN = "thread-1", "turn-1"
CALL = "call-nb"


def _write(bundle: Path, dialect, *, second_runtime_start: bool = False) -> Path:
    """A small lifecycle that uses every addition, written by the reference writer."""
    w = TraceWriter.create(bundle, trace_id="trace-1", rollout_id=ROOT, root_thread_id=ROOT, dialect=dialect,
                           clock=iter(range(1000, 2000)).__next__)
    ctx = {"thread_id": ROOT, "codex_turn_id": TURN}
    w.append({"type": "rollout_started", "trace_id": "trace-1", "root_thread_id": ROOT})
    w.append({"type": "thread_started", "thread_id": ROOT, "agent_path": "/root", "metadata_payload": None})
    w.append_with_context({"type": "codex_turn_started", "codex_turn_id": TURN, "thread_id": ROOT}, **ctx)
    w.append_with_context(
        {
            "type": "tool_call_started", "tool_call_id": CALL, "model_visible_call_id": None,
            "code_mode_runtime_tool_id": None, "requester": {"type": "model"}, "kind": {"type": NEW_TOOL_KIND},
            "summary": {"type": "generic", "label": "notebook", "input_preview": None, "output_preview": None},
            "invocation_payload": w.write_json_payload("tool_invocation", {"tool_name": "notebook"}),
            NEW_FIELD: 3,
        },
        **ctx,
    )
    for _ in range(2 if second_runtime_start else 1):
        w.append_with_context(
            {"type": "tool_call_runtime_started", "tool_call_id": CALL, "kind": {"type": NEW_TOOL_KIND},
             "runtime_payload": w.write_json_payload("tool_runtime_event", {"cell": 3})},
            **ctx,
        )
    w.append_with_context(
        {"type": "tool_call_ended", "tool_call_id": CALL, "status": "completed",
         "result_payload": w.write_json_payload("tool_result", {"ok": True})},
        **ctx,
    )
    w.append_with_context(
        {"type": NEW_VARIANT, "tool_call_id": CALL, "output_payload": w.write_json_payload(NEW_PAYLOAD_KIND, {"out": 1})},
        **ctx,
    )
    w.append_with_context({"type": "codex_turn_ended", "codex_turn_id": TURN, "status": "completed"}, **ctx)
    w.append({"type": "thread_ended", "thread_id": ROOT, "status": "completed"})
    w.append({"type": "rollout_ended", "status": "completed"})
    w.append({"type": "recording_completed"})
    w.close()
    return bundle


def _ids(bundle: Path, dialect=X, profile=Profile.STRICT) -> list[str]:
    return [f.invariant for f in validate_bundle(bundle, Options(profile=profile, dialect=dialect)).findings]


# -- the additions, part by part ------------------------------------------------------------------


def test_the_base_dialect_is_untouched():
    assert NEW_VARIANT not in V2.tags and NEW_TOOL_KIND not in facts.tool_kinds(V2)
    assert NEW_PAYLOAD_KIND not in V2.type("RawPayloadKind").values
    assert X.lineage == ("v2x", "v2", "v1") and facts.registered_name(X) == "v2"


def test_reference_writer_writes_every_addition_and_the_validator_accepts_it(tmp_path):
    bundle = _write(tmp_path / "b", X)
    assert _ids(bundle) == []
    lines = [json.loads(line) for line in (bundle / "trace.jsonl").read_text().splitlines()]
    started = next(e["payload"] for e in lines if e["payload"]["type"] == "tool_call_started")
    assert started[NEW_FIELD] == 3 and list(started)[-1] == NEW_FIELD  # model order
    assert any(e["payload"]["type"] == NEW_VARIANT for e in lines)
    # the base dialect's writer refuses each addition
    with pytest.raises(EventError):
        _write(tmp_path / "base", V2)


def test_a_new_tool_kind_never_ends_in_an_internal_error(tmp_path):
    # before the model held tool kinds, one more kind made validate answer KIT.INTERNAL_ERROR: KeyError
    bundle = _write(tmp_path / "b", extended_dialect(terminal_tool=False), second_runtime_start=True)
    assert _ids(bundle, extended_dialect(terminal_tool=False)) == []


def test_the_tool_kind_attribute_reaches_the_lifecycle_rules(tmp_path):
    # terminal_operation=True: a second runtime start would be a second terminal operation
    bundle = _write(tmp_path / "b", X, second_runtime_start=True)
    assert _ids(bundle, profile=Profile.REDUCER) == ["TOOL.SECOND_TERMINAL_OPERATION"]


def test_a_broken_ref_of_the_new_variant_gets_its_finding(tmp_path):
    bundle = _write(tmp_path / "b", X)
    lines = (bundle / "trace.jsonl").read_text().splitlines()
    n, event = next((i, json.loads(line)) for i, line in enumerate(lines, 1) if NEW_VARIANT in line)
    (bundle / event["payload"]["output_payload"]["path"]).unlink()
    report = validate_bundle(bundle, Options(profile=Profile.REDUCER, dialect=X))
    assert [(f.invariant, f.line, f.pointer) for f in report.findings] == [
        ("REF.FILE_EXISTS", n, "/payload/output_payload/path")
    ]


def test_a_ref_of_the_new_variant_with_another_kind_gets_ref_kind(tmp_path):
    bundle = _write(tmp_path / "b", X)
    text = (bundle / "trace.jsonl").read_text()
    (bundle / "trace.jsonl").write_text(text.replace(f'"{NEW_PAYLOAD_KIND}"', '"tool_result"'))
    assert _ids(bundle) == ["REF.KIND"]


def test_a_mistyped_new_field_is_a_schema_finding_at_its_pointer(tmp_path):
    bundle = _write(tmp_path / "b", X)
    text = (bundle / "trace.jsonl").read_text()
    (bundle / "trace.jsonl").write_text(text.replace(f'"{NEW_FIELD}":3', f'"{NEW_FIELD}":"three"'))
    report = validate_bundle(bundle, Options(profile=Profile.REDUCER, dialect=X))
    assert [(f.invariant, f.pointer) for f in report.findings][:1] == [("EVENT.SCHEMA", f"/payload/{NEW_FIELD}")]


def test_the_base_dialect_rejects_what_only_the_extension_defines(tmp_path):
    bundle = _write(tmp_path / "b", X)
    ids = set(_ids(bundle, dialect=None, profile=Profile.REDUCER))  # read as plain v2
    assert {"EVENT.UNKNOWN_TYPE", "EVENT.SCHEMA"} <= ids and "KIT.INTERNAL_ERROR" not in ids


def test_schema_generation_has_each_addition():
    for strict in (False, True):
        schema = event_schema(X, strict)
        defs = schema["$defs"]
        assert NEW_VARIANT in defs and NEW_VARIANT in defs["RawTraceEventPayload"]["properties"]["type"]["enum"]
        assert defs[NEW_VARIANT]["properties"]["output_payload"]["x-payload-kinds"] == [NEW_PAYLOAD_KIND]
        assert NEW_FIELD in defs["tool_call_started"]["properties"]
        assert NEW_FIELD not in defs["tool_call_started"]["required"]
        assert "ToolCallKind.run_notebook" in defs
        assert NEW_PAYLOAD_KIND in defs["RawPayloadKind"]["properties"]["type"]["enum"]
        assert manifest_schema(X, strict)["properties"]["schema_version"]["const"] == 2
    assert "ToolCallKind.run_notebook" not in event_schema(V2)["$defs"]


def test_docs_generation_mentions_each_addition():
    page = dialect_page(X, examples(X))
    assert f"[`{NEW_VARIANT}`](#{NEW_VARIANT})" in page and f"## `{NEW_VARIANT}`" in page
    assert f"`{NEW_FIELD}`" in page and f"`{NEW_TOOL_KIND}`" in page and f"`{NEW_PAYLOAD_KIND}`" in page


@functools.cache
def _event_validator():
    """What jsonschema.validate(event, event_schema(X)) does, its schema checked and compiled once, not
    once per event (most of the property test's time)."""
    schema = event_schema(X)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(event=events(X, NEW_VARIANT))
def test_generated_events_of_the_new_variant_match_the_new_schema(event):
    _event_validator().validate(event)
    ref = event["payload"].get("output_payload")
    assert ref is None or ref["kind"]["type"] == NEW_PAYLOAD_KIND


# The question is whether the strategies draw it at all: the first example found answers it (shrinking
# it, which find() does by default, took most of these tests' 30 s).
FOUND_UNSHRUNK = settings(phases=[Phase.generate], database=None, max_examples=2000)


def test_generators_draw_the_new_tool_kind_and_field():
    from hypothesis import find

    started = find(events(X, "tool_call_started"),
                   lambda e: e["payload"]["kind"]["type"] == NEW_TOOL_KIND and e["payload"].get(NEW_FIELD) is not None,
                   settings=FOUND_UNSHRUNK)
    _event_validator().validate(started)


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(bundle=bundles(X, max_turns=2, max_threads=2))
def test_generated_bundles_of_the_extended_dialect_validate_clean(bundle, tmp_path_factory):
    d = bundle.write(tmp_path_factory.mktemp("gen"))
    assert _ids(d) == []


def test_corruption_operators_work_on_the_extended_dialect(tmp_path):
    from rollout_trace_kit.generators import CORRUPTIONS
    from rollout_trace_kit.generators._strategies import expand, feature_plan

    bundle = expand(feature_plan({"exec"}), X)
    c = CORRUPTIONS["TOOL.SECOND_TERMINAL_OPERATION"].apply(bundle, X, random.Random(0))
    assert c is not None
    ids = {f.invariant for f in validate_bundle(c.bundle.write(tmp_path / "c"), Options(profile=Profile.REDUCER, dialect=X)).findings}
    assert ids == c.expected_in(X, Profile.REDUCER)


# -- every derived table is the model's -----------------------------------------------------------


def test_lifecycle_tables_are_the_models():
    from rollout_trace_kit.validate.context import Context
    from rollout_trace_kit.validate.rules import lifecycle
    from rollout_trace_kit.validate.rules.refs import RefChecker

    for d in [*DIALECTS.values(), X]:
        ctx = Context(Path("."), Options(), dialect=d)
        checker = lifecycle.LifecycleChecker(ctx, RefChecker(ctx))
        assert checker.tool_kinds == d.type("ToolCallKind").tags
        assert checker.terminal_kinds == {v.tag for v in d.type("ToolCallKind").variants if v.terminal_operation}
        assert set(checker.handlers) <= set(d.tags)


def test_handler_tables_extend_their_parents():
    from rollout_trace_kit.validate.rules.lifecycle import HANDLERS, handlers_for

    for name, table in HANDLERS.items():
        d = DIALECTS[name]
        assert set(table) <= set(d.tags), f"{name}: handlers for variants the dialect does not have"
        if d.extends is not None:
            parent = handlers_for(d.extends)
            assert all(table[tag] is fn for tag, fn in parent.items()), f"{name} does not extend {d.extends.name}"
    for d in DIALECTS.values():
        assert handlers_for(d)  # every dialect has a table, its own or its parent's
    assert handlers_for(X) is HANDLERS["v2"]


def test_measured_reads_are_in_the_model():
    # measured on the 0.164.0 and 0.169.0 reducers (upstream-rules C.3): what each handler opens
    v1_reads = {
        "thread_started", "inference_started", "inference_completed", "inference_failed", "inference_cancelled",
        "tool_call_started", "tool_call_runtime_started", "tool_call_runtime_ended", "compaction_installed",
    }
    assert facts.handler_reads(DIALECTS["v1"]) == v1_reads
    assert facts.handler_reads(DIALECTS["v2"]) == v1_reads | {"history_item_accepted"}
    assert facts.conditional_reads(DIALECTS["v1"]) == (("tool_call_ended", "result_payload"),)
    assert facts.terminal_tool_kinds(DIALECTS["v1"]) == {"exec_command", "write_stdin"}
    assert [d.reducer_reads_every_ref for d in (DIALECTS["v1"], DIALECTS["v2"])] == [False, True]


def test_envelope_conventions_are_in_the_model():
    null = {"rollout_started", "rollout_ended", "thread_started", "thread_ended", "protocol_event_observed",
            "mcp_tool_call_correlation_assigned"}
    assert facts.null_context_variants(DIALECTS["v1"]) == null
    assert facts.null_context_variants(DIALECTS["v2"]) == null | {"thread_resumed", "recording_completed"}
    for d in DIALECTS.values():
        assert set(facts.payload_context(d)) == {"codex_turn_started", "inference_started", "compaction_request_started"}


def test_release_and_name_tables_are_the_models():
    from rollout_trace_kit import bundle
    from rollout_trace_kit.codex.install import REFERENCE_RELEASES
    from rollout_trace_kit.conformance.writer import protocol
    from rollout_trace_kit.validate.rules import layout
    from rollout_trace_kit.writer import core

    assert REFERENCE_RELEASES == {d.name: d.reference_release for d in DIALECTS.values()}
    for d in DIALECTS.values():
        assert (bundle.MANIFEST, bundle.TRACE, bundle.PAYLOADS) == d.layout.file_names
        assert (layout.MANIFEST, layout.TRACE, layout.PAYLOADS) == d.layout.file_names
        assert (core.MANIFEST, core.TRACE, core.PAYLOADS) == d.layout.file_names
        assert set(d.type("RawPayloadKind").values) <= set(protocol.PAYLOAD_REF["properties"]["kind"]["properties"]["type"]["enum"])
        assert d.schema_version in protocol.EVENT["properties"]["schema_version"]["enum"]
        assert [f.name for f in d.envelope.fields] == protocol.EVENT["required"]
        assert [f.name for f in d.manifest.fields] == protocol.MANIFEST["required"]


def test_cli_dialect_choices_are_the_models():
    from rollout_trace_kit import cli

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert next(a for a in sub.choices["validate"]._actions if a.dest == "dialect").choices == list(DIALECTS)


KIT = Path(__file__).resolve().parents[1]
# Everything outside the model that reads or writes the format: the kit, the generators, the suite's code.
SOURCE_ROOTS = (KIT / "src" / "rollout_trace_kit", KIT / "generators", KIT / "conformance")
MODEL_DIR = KIT / "src" / "rollout_trace_kit" / "model"


def _sources():
    """(path relative to the repository, code without comments, AST) of every module outside the model."""
    import ast
    import io
    import tokenize

    for root in SOURCE_ROOTS:
        for path in sorted(root.rglob("*.py")):
            if MODEL_DIR in path.parents:
                continue
            text = path.read_text(encoding="utf-8")
            lines = text.splitlines(keepends=True)
            for tok in tokenize.generate_tokens(io.StringIO(text).readline):
                if tok.type == tokenize.COMMENT:  # a comment may name a fact; code may not
                    row, col = tok.start
                    lines[row - 1] = lines[row - 1][:col] + "\n"
            yield str(path.relative_to(KIT)), "".join(lines), ast.parse(text)


def _restated_spellings() -> dict[str, str]:
    """Spellings of model facts that code outside the model must take from it, each with why."""
    import re

    from rollout_trace_kit.store.shards import HEADER

    out = {
        # restatements found before this scan was derived from the model (kept: cheap, and exact)
        '"raw_payload_id" in': "a ref sniffed by its id key (facts.ref_id_key, refs_by_shape)",
        '"0.164.0", "v2": "0.169.0"': "the reference releases (facts.reference_releases)",
        'startswith("on_")': "handler tables found by name (lifecycle.HANDLERS)",
        f'"{HEADER.format}"': "the shard record header (the layout's record fields)",
    }
    for d in DIALECTS.values():
        for form in ('= "{}"', 'DIALECTS["{}"]', '.name == "{}"', '.name != "{}"', 'dialect != "{}"'):
            out[form.format(d.name)] = "a dialect named in code (model.DEFAULT_DIALECT, the catalogue's levels)"
        layout = d.layout
        for name in (layout.manifest_file, layout.event_log):
            out[f'"{name}"'] = "a bundle file name (bundle.MANIFEST, TRACE)"
        out[f'/ "{layout.payloads_dir}"'] = "the payloads folder (bundle.PAYLOADS)"
        out[f'"{layout.payloads_dir}/{{'] = "a payload file pattern (Layout.file_for)"
        out[f'f"{layout.payloads_dir}/{{'] = "a payload file pattern (Layout.file_for)"
        out[f'endswith("{layout.payload_suffix}")'] = "a payload file told by a typed-in suffix (Layout.payload_suffix)"
        if "{shard" in layout.payload_file:
            width = re.search(r":(\d+)", layout.shard_name_pattern).group(1)
            out[f":{width}d}}{layout.payload_suffix}"] = "the shard name pattern (Layout.shard_name)"
    for key in (B.REQUEST_INPUT, B.REQUEST_PREVIOUS_RESPONSE, B.RESPONSE_ITEMS, *B.CHECKPOINT_HISTORIES,
                B.EXEC_COMMAND, B.EXEC_CWD, B.EXEC_PROCESS_ID, B.EXEC_EXIT_CODE):
        out[f'body.get("{key}")'] = "a payload body key (model/bodies.py)"
    return out


def test_no_format_fact_is_restated_outside_the_model():
    """Source scan for format facts spelled out instead of read from the model. The banned
    spellings are derived from the model, so a fact added to it is guarded too."""
    spellings = _restated_spellings()
    found = [f"{rel}: {needle!r}: {why}" for rel, code, _ in _sources() for needle, why in spellings.items() if needle in code]
    assert not found, "\n".join(found)


def test_no_envelope_manifest_or_dialect_list_is_built_by_hand():
    """A dict literal holding three keys of the envelope or the manifest is a hand-built record (the
    writer's fill from facts.record); a literal list of dialect names is a table the model has;
    a rule or an operator comparing with a tool kind's name restates a tool-kind attribute."""
    import ast

    envelope = {f.name for d in DIALECTS.values() for f in d.envelope.fields}
    manifest = {f.name for d in DIALECTS.values() for f in d.manifest.fields}
    kinds = {k for d in DIALECTS.values() for k in facts.tool_kinds(d)}
    found = []
    for rel, _, tree in _sources():
        judges = rel.startswith("src/rollout_trace_kit/validate/") or Path(rel).name.startswith("_ops_")
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
                if len(keys & envelope) >= 3 or len(keys & manifest) >= 3:
                    found.append(f"{rel}:{node.lineno}: a record built by hand: {sorted(keys & (envelope | manifest))}")
            elif isinstance(node, (ast.List, ast.Tuple, ast.Set)):
                names = {e.value for e in node.elts if isinstance(e, ast.Constant)} & set(DIALECTS)
                if len(names) >= 2:
                    found.append(f"{rel}:{node.lineno}: dialects listed by hand: {sorted(names)}")
            elif isinstance(node, ast.BoolOp) and any(
                    isinstance(v, ast.Constant) and v.value in DIALECTS for v in node.values):
                found.append(f"{rel}:{node.lineno}: a default dialect typed in (model: DEFAULT_DIALECT)")
            elif isinstance(node, (ast.keyword, ast.arguments)) and any(
                    isinstance(v, ast.Constant) and v.value in DIALECTS
                    for v in ([node.value] if isinstance(node, ast.keyword) else [*node.defaults, *node.kw_defaults])):
                found.append(f"{rel}:{getattr(node, 'lineno', '?')}: a default dialect typed in (model: DEFAULT_DIALECT)")
            elif judges and isinstance(node, ast.Compare):
                operands = [node.left, *node.comparators]
                consts = {c.value for c in operands if isinstance(c, ast.Constant)}
                consts |= {e.value for c in operands if isinstance(c, (ast.Set, ast.Tuple, ast.List))
                           for e in c.elts if isinstance(e, ast.Constant)}
                if consts & kinds:
                    found.append(f"{rel}:{node.lineno}: compares with tool kind(s) {sorted(consts & kinds)}")
    assert not found, "\n".join(found)


def test_the_guard_finds_what_it_bans(tmp_path):
    # the scans above must not pass by finding nothing: each banned spelling is one they catch
    spellings = _restated_spellings()
    assert '= "v2"' in spellings and '"manifest.json"' in spellings and 'endswith(".zst")' in spellings
    assert ':06d}.zst' in spellings and 'body.get("exit_code")' in spellings
    assert sum(1 for _ in _sources()) > 100  # the three roots were read


# -- a ref field added to an existing variant is checked with no other edit -----------------------

EXTRA_REF = "extra_payload"
CORPUS_RELEASE = {"v1": "0.164.0", "v2": "0.169.0", "v3": "0.171.0"}


def with_extra_ref(base):
    """``base`` with one more optional ref field on tool_call_started (read by no handler)."""
    variants = tuple(
        replace(v, fields=v.fields + (opt_ref(EXTRA_REF, "Another payload of the call.", ("tool_invocation",)),))
        if v.tag == "tool_call_started" else v
        for v in base.payload.variants
    )
    return replace(base, name=f"{base.name}r", payload=replace(base.payload, variants=variants), extends=base)


def _dangling(base_name: str) -> dict:
    ref = {"raw_payload_id": "raw_payload:990001", "kind": {"type": "tool_invocation"}}
    return dict(ref, shard=1) if base_name == "v3" else dict(ref, path="payloads/990001.json")


@pytest.mark.parametrize("base_name", sorted(CORPUS_RELEASE))
def test_a_ref_field_added_to_an_existing_variant_is_checked(tmp_path, base_name):
    import shutil

    from .conftest import CORPUS

    derived = with_extra_ref(DIALECTS[base_name])
    bundle = tmp_path / "b"
    shutil.copytree(CORPUS / f"codex-{CORPUS_RELEASE[base_name]}" / "basic", bundle)
    lines = (bundle / "trace.jsonl").read_text().splitlines()
    n = next(i for i, line in enumerate(lines) if '"type":"tool_call_started"' in line)
    event = json.loads(lines[n])
    event["payload"][EXTRA_REF] = _dangling(base_name)
    lines[n] = json.dumps(event, separators=(",", ":"))
    (bundle / "trace.jsonl").write_text("\n".join(lines) + "\n")
    want = "STORE.REF_RECORD" if base_name == "v3" else "REF.FILE_EXISTS"
    report = validate_bundle(bundle, Options(profile=Profile.WRITER, dialect=derived))
    assert [(f.invariant, f.line, f.pointer.split("/")[2]) for f in report.findings] == [(want, n + 1, EXTRA_REF)], [
        (f.invariant, f.message) for f in report.findings]


# -- a key in each writing style, an envelope key, a manifest key, a ref on an existing variant ------


def _events(bundle: Path) -> list[dict]:
    return [json.loads(line) for line in (bundle / "trace.jsonl").read_text().splitlines()]


def test_the_writer_writes_each_new_key_in_its_style(tmp_path):
    bundle = _write(tmp_path / "b", X)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert list(manifest) == [f.name for f in X.manifest.fields] and manifest[NEW_MANIFEST_KEY] is None
    for e in _events(bundle):
        assert list(e) == [f.name for f in X.envelope.fields] and e[NEW_ENVELOPE_KEY] is None  # null-written
    ended = next(e["payload"] for e in _events(bundle) if e["payload"]["type"] == "tool_call_ended")
    assert ended[NEW_NULL_FIELD] is None and ended[NEW_REF] is None  # null-written, not left out


def test_a_new_skip_if_none_field_is_left_out_when_unset(tmp_path):
    w = TraceWriter.create(tmp_path / "b", trace_id="t", rollout_id=ROOT, root_thread_id=ROOT, dialect=X)
    started = w.append_with_context(
        {"type": "tool_call_started", "tool_call_id": CALL, "model_visible_call_id": None,
         "code_mode_runtime_tool_id": None, "requester": {"type": "model"}, "kind": {"type": NEW_TOOL_KIND},
         "summary": {"type": "generic", "label": "nb", "input_preview": None, "output_preview": None},
         "invocation_payload": w.write_json_payload("tool_invocation", {})},
        thread_id=ROOT, codex_turn_id=TURN,
    )
    w.close()
    assert NEW_FIELD not in started["payload"] and started["payload"]["model_visible_call_id"] is None


def _set_in_line(bundle: Path, tag: str | None, edit) -> int:
    """Apply ``edit`` to the first event of variant ``tag`` (any event when None); its line number."""
    lines = (bundle / "trace.jsonl").read_text().splitlines()
    n = next(i for i, line in enumerate(lines) if tag is None or json.loads(line)["payload"]["type"] == tag)
    event = json.loads(lines[n])
    edit(event)
    lines[n] = json.dumps(event, separators=(",", ":"))
    (bundle / "trace.jsonl").write_text("\n".join(lines) + "\n")
    return n + 1


def test_the_new_envelope_and_manifest_keys_are_checked(tmp_path):
    bundle = _write(tmp_path / "b", X)
    n = _set_in_line(bundle, None, lambda e: e.update({NEW_ENVELOPE_KEY: "host-1"}))
    assert _ids(bundle) == []  # a value of the model's type
    _set_in_line(bundle, None, lambda e: e.update({NEW_ENVELOPE_KEY: 7}))
    report = validate_bundle(bundle, Options(profile=Profile.REDUCER, dialect=X))
    assert [(f.invariant, f.line, f.pointer) for f in report.findings] == [("EVENT.SCHEMA", n, f"/{NEW_ENVELOPE_KEY}")]
    other = _write(tmp_path / "m", X)
    manifest = json.loads((other / "manifest.json").read_text())
    (other / "manifest.json").write_text(json.dumps(dict(manifest, **{NEW_MANIFEST_KEY: "label"})))
    assert _ids(other) == []
    (other / "manifest.json").write_text(json.dumps(dict(manifest, **{NEW_MANIFEST_KEY: 7})))
    report = validate_bundle(other, Options(profile=Profile.REDUCER, dialect=X))
    assert [(f.invariant, f.pointer) for f in report.findings] == [("BUNDLE.MANIFEST_SCHEMA", f"/{NEW_MANIFEST_KEY}")]


def test_the_new_ref_on_an_existing_variant_is_checked(tmp_path):
    bundle = _write(tmp_path / "b", X)
    target = "payloads/1.json"  # a payload the bundle already has, of another kind
    ref = {"raw_payload_id": "raw_payload:1", "kind": {"type": NEW_PAYLOAD_KIND}, "path": target}
    n = _set_in_line(bundle, "tool_call_ended", lambda e: e["payload"].update({NEW_REF: ref}))
    assert "REF.KIND" not in _ids(bundle)  # the new field's kinds are the model's
    _set_in_line(bundle, "tool_call_ended", lambda e: e["payload"].update(
        {NEW_REF: dict(ref, raw_payload_id="raw_payload:990001", path="payloads/990001.json")}))
    report = validate_bundle(bundle, Options(profile=Profile.REDUCER, dialect=X))
    assert ("REF.FILE_EXISTS", n, f"/payload/{NEW_REF}/path") in [(f.invariant, f.line, f.pointer) for f in report.findings]
    _set_in_line(bundle, "tool_call_ended", lambda e: e["payload"].update(
        {NEW_REF: dict(ref, kind={"type": "tool_result"})}))
    assert "REF.KIND" in _ids(bundle)


def test_schema_and_docs_have_the_new_keys():
    for strict in (False, True):
        schema = event_schema(X, strict)
        assert NEW_ENVELOPE_KEY in schema["properties"] and NEW_ENVELOPE_KEY not in schema["required"]
        ended = schema["$defs"]["tool_call_ended"]["properties"]
        assert NEW_NULL_FIELD in ended and ended[NEW_REF]["x-payload-kinds"] == [NEW_PAYLOAD_KIND]
        assert NEW_MANIFEST_KEY in manifest_schema(X, strict)["properties"]
    page = dialect_page(X, examples(X))
    for name in (NEW_ENVELOPE_KEY, NEW_MANIFEST_KEY, NEW_NULL_FIELD, NEW_REF):
        assert f"`{name}`" in page, name


def test_generators_draw_the_new_keys():
    from hypothesis import find

    ended = find(events(X, "tool_call_ended"),
                 lambda e: e["payload"][NEW_REF] is not None and e["payload"][NEW_NULL_FIELD] is not None,
                 settings=FOUND_UNSHRUNK)
    _event_validator().validate(ended)
    assert ended["payload"][NEW_REF]["kind"]["type"] == NEW_PAYLOAD_KIND and NEW_ENVELOPE_KEY in ended


# -- every variant's canonical line stays on the validator's fast path ----------------------------


def _fast_path_only(monkeypatch):
    """Make the validator's slow path fail the test: a canonical line must never need it."""
    from rollout_trace_kit.validate.rules import schema

    def slow(ctx, raw, td, event):
        raise AssertionError(f"line {raw.data[:200]!r} left the fast path")

    monkeypatch.setattr(schema, "_slow", slow)
    return schema


def _canonical_line(dialect, event: dict) -> bytes:
    from rollout_trace_kit.compilers.canonical import canonical_payload, event_line
    from rollout_trace_kit.writer.core import event_record

    payload = canonical_payload(dialect, event["payload"])
    return event_line(event_record(dialect, event["seq"], event["wall_time_unix_ms"], event["rollout_id"],
                                   event["thread_id"], event["codex_turn_id"], payload))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None,
          phases=(Phase.generate,))  # a failure's example is plain enough; shrinking it took minutes
@given(data=st.data())
def test_every_variants_canonical_line_takes_the_fast_path(data, monkeypatch):
    from rollout_trace_kit.compilers.msgspec_types import typed
    from rollout_trace_kit.validate.context import Context
    from rollout_trace_kit.validate.lines import RawLine

    schema = _fast_path_only(monkeypatch)
    for d in (*DIALECTS.values(), X):
        tag = data.draw(st.sampled_from(d.tags))
        line = _canonical_line(d, data.draw(events(d, tag)))
        ctx = Context(Path("."), Options(), dialect=d)
        event, obj = schema.decode_event(ctx, RawLine(1, line, True, False, False, 0), typed(d))
        assert event is not None and obj is None  # decoded, and equal to its own re-encoding
        assert d.envelope.fields[-1].name == "payload" and type(event.payload).__struct_config__.tag == tag
        settled = [getattr(event.payload, f.name) for f in d.payload.variant(tag).fields]
        assert msgspec.UNSET not in settled  # every reader sees an absent option as None


def test_the_mixed_writing_styles_variant_takes_the_fast_path_set_and_unset(tmp_path, monkeypatch):
    # tool_call_started holds null-written options and the new skip-if-none one: both ways of
    # writing it must decode and re-encode to the same bytes (a 100k-event bundle took 6.5x longer)
    _fast_path_only(monkeypatch)
    bundle = _write(tmp_path / "b", X)
    assert _ids(bundle) == []  # NEW_FIELD set
    _set_in_line(bundle, "tool_call_started", lambda e: e["payload"].pop(NEW_FIELD))
    assert _ids(bundle) == []  # NEW_FIELD left out, as the writer does when unset


# -- a key added to a payload-body contract reaches every generated body ---------------------------

NEW_BODY_KEY = "trace_tag"


def _contracts_with_a_new_required_key(monkeypatch) -> list:
    """Every object contract of model/bodies.py with one more required key (and its example value)."""
    changed = []
    for c in B.BODIES:
        if c.shape == "object":
            c = replace(c, keys=c.keys + (B.BodyKey(NEW_BODY_KEY, "string", doc="A tag for the test."),),
                        example={**c.example, NEW_BODY_KEY: f"tag-{len(changed)}"})
        changed.append(c)
    monkeypatch.setattr(B, "BODIES", tuple(changed))
    return [c for c in changed if c.shape == "object"]


def _bodies_by_contract(bundle) -> dict[str, list]:
    """Contract (its first place) -> the bodies of a file-per-payload bundle the contract covers."""
    out: dict[str, list] = {}
    kinds: dict[str, str] = {}
    for e in bundle.events():
        p = e["payload"]
        if p["type"] == "tool_call_started":
            kinds[p["tool_call_id"]] = p["kind"]["type"]
        for name, ref in p.items():
            if not (isinstance(ref, dict) and "path" in ref):
                continue
            body = json.loads(bundle.payloads[ref["path"]])
            where = f"{p['type']}.{name}"
            if p["type"].startswith("tool_call_runtime"):  # one place, two contracts: the call's kind tells
                kind = kinds.get(p["tool_call_id"])
                if kind == "exec_command":
                    c = B.contract(where, "terminal_runtime_event")
                elif isinstance(body, dict) and B.ACTIVITY_MARKER in body:
                    c = B.contract(where, "tool_runtime_event")
                else:
                    continue
            else:
                try:
                    c = B.contract(where)
                except KeyError:
                    continue
            out.setdefault(c.where[0], []).append(body)
            if c.where[0] in (B.contract("inference_started.request_payload").where[0],
                              B.contract("inference_completed.response_payload").where[0],
                              B.contract("compaction_installed.checkpoint_payload").where[0]):
                items = [i for k in (B.REQUEST_INPUT, B.RESPONSE_ITEMS, *B.CHECKPOINT_HISTORIES)
                         for i in (body.get(k) or [])]
                out.setdefault("RawPayloadRef.parts", []).extend(i for i in items if i.get("type") in B.ITEM_TYPE)
    return out


def test_a_required_key_added_to_every_body_contract_reaches_the_generated_bodies(tmp_path, monkeypatch):
    from rollout_trace_kit.generators import FEATURES, expand, feature_plan

    changed = _contracts_with_a_new_required_key(monkeypatch)
    seen: set[str] = set()
    for name in DIALECTS:
        bundle = expand(feature_plan(FEATURES, seed=3), name)
        assert _ids(bundle.write(tmp_path / name), DIALECTS[name]) == [], name  # still valid
        if DIALECTS[name].layout.payload_file.startswith(DIALECTS[name].layout.payloads_dir + "/{"):
            for where, bodies in _bodies_by_contract(bundle).items():
                missing = [b for b in bodies if NEW_BODY_KEY not in b]
                assert bodies and not missing, (name, where, missing[:1])
                seen.add(where)
    # every contract the file-per-payload dialects hold was met (v3's own are in shards)
    assert seen >= {c.where[0] for c in changed if set(c.dialects) & {"v1", "v2"}} - {
        B.contract("history_item_accepted.tool_output_payload").where[0]}, seen


# -- the envelope is read by the model's names --------------------------------------------------------

# Reads of a key spelled like an envelope key that are not of an envelope: (file, key) -> what it is.
NOT_THE_ENVELOPE = {
    ("src/rollout_trace_kit/validate/report.py", "seq"): "a SARIF result property (the finding's seq)",
    ("conformance/reducer/report.py", "seq"): "a finding's seq in a fuzz report",
}


def _envelope_only_keys() -> set[str]:
    """Envelope keys no manifest or payload type has: any read of them by a literal is an envelope read."""
    envelope = {f.name for d in DIALECTS.values() for f in d.envelope.fields}
    others = {f.name for d in DIALECTS.values() for f in d.manifest.fields}
    for d in DIALECTS.values():
        for t in (*d.types, *d.payload.variants):
            others |= {f.name for f in getattr(t, "fields", ())}
            others |= {f.name for v in getattr(t, "variants", ()) for f in getattr(v, "fields", ())}
    return envelope - others


def _literal_key_reads(tree):
    """(node, what is read, key, how) for every read by a constant key: ``x["k"]`` ("subscript"),
    ``x.get("k")`` / ``.pop`` / ``.setdefault`` ("get"), ``"k" in x`` ("in")."""
    import ast

    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            yield node, node.value, node.slice.value, "subscript"
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("get", "pop", "setdefault") and node.args and isinstance(node.args[0], ast.Constant)):
            yield node, node.func.value, node.args[0].value, "get"
        elif (isinstance(node, ast.Compare) and isinstance(node.left, ast.Constant) and len(node.ops) == 1
              and isinstance(node.ops[0], (ast.In, ast.NotIn))):
            yield node, node.comparators[0], node.left.value, "in"


def _envelope_literal_reads(rel: str, tree) -> list[str]:
    """``e["payload"]``, ``e.get("seq")``, ``ed.event(i)["thread_id"]``: the envelope by typed-in keys."""
    import ast

    only = _envelope_only_keys()
    envelope = {f.name for d in DIALECTS.values() for f in d.envelope.fields}
    found = []
    for node, of, key, how in _literal_key_reads(tree):
        of_event = (how == "subscript" and isinstance(of, ast.Call) and isinstance(of.func, ast.Attribute)
                    and of.func.attr in ("event", "touch"))
        if how != "in" and (key in only or (of_event and key in envelope)) and (rel, key) not in NOT_THE_ENVELOPE:
            found.append(f"{rel}:{node.lineno}: envelope key {key!r} typed in (model.common.EnvelopeKey)")
    return found


def test_no_envelope_key_is_read_by_a_typed_in_name():
    found = [hit for rel, _, tree in _sources() for hit in _envelope_literal_reads(rel, tree)]
    assert not found, "\n".join(found)


def test_the_envelope_guard_finds_what_it_bans():
    import ast

    assert _envelope_only_keys() == {"payload", "seq", "wall_time_unix_ms"}
    code = 'a = e["payload"]["type"]\nb = e.get("seq")\nc = ed.event(i)["thread_id"]\nd = p["thread_id"]\n'
    hits = _envelope_literal_reads("x.py", ast.parse(code))
    assert sorted(h.split(":")[1] for h in hits) == ["1", "2", "3"]  # a payload's own thread_id is not the envelope's


def _names_the_manifest(node) -> bool:
    """``manifest``, ``ctx.manifest``, ``b.manifest_dict()``: an expression that is the manifest."""
    import ast

    if isinstance(node, ast.Call):
        node = node.func
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return "manifest" in name.lower()


def _manifest_literal_reads(rel: str, tree) -> list[str]:
    """``manifest["rollout_id"]``, ``ctx.manifest.get("schema_version")``, ``"trace_id" in manifest``:
    the manifest by typed-in keys (model.common.ManifestKey)."""
    from rollout_trace_kit.model.common import ManifestKey

    keys = {v for k, v in vars(ManifestKey).items() if k.isupper()}
    return [f"{rel}:{node.lineno}: manifest key {key!r} typed in (model.common.ManifestKey)"
            for node, of, key, _ in _literal_key_reads(tree) if key in keys and _names_the_manifest(of)]


def test_no_manifest_key_is_read_by_a_typed_in_name():
    found = [hit for rel, _, tree in _sources() for hit in _manifest_literal_reads(rel, tree)]
    assert not found, "\n".join(found)


def test_the_manifest_guard_finds_what_it_bans():
    import ast

    code = ('a = manifest["rollout_id"]\nb = ctx.manifest.get("schema_version")\nc = "trace_id" in manifest\n'
            'd = b.manifest_dict().get("schema_version")\ne = record.get("schema_version")\nf = manifest.get("x")\n')
    hits = _manifest_literal_reads("x.py", ast.parse(code))
    assert sorted(h.split(":")[1] for h in hits) == ["1", "2", "3", "4"]


# -- the bundle's file names in messages and generated prose are the layout's -------------------------


def _file_names_typed_in(rel: str, tree) -> list[str]:
    """String literals (messages, invariant and check statements, help texts, paths) that spell a
    bundle file name the model's layout defines; docstrings and comments may name them."""
    import ast
    import re

    names = {n for d in DIALECTS.values() for n in (d.layout.manifest_file, d.layout.event_log)}
    folders = {d.layout.payloads_dir for d in DIALECTS.values()}
    spelled = re.compile("|".join([*(re.escape(n) for n in sorted(names)),
                                   *(rf"(?<![\w/.]){re.escape(f)}/" for f in sorted(folders))]))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [f"{rel}:{node.lineno}: {node.value[:60]!r} names a bundle file (bundle.MANIFEST, TRACE, PAYLOADS)"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
            and spelled.search(node.value)]


def test_no_bundle_file_name_is_typed_in_a_message():
    found = [hit for rel, _, tree in _sources() for hit in _file_names_typed_in(rel, tree)]
    assert not found, "\n".join(found)


def test_the_file_name_guard_finds_what_it_bans():
    import ast

    code = ('"""Reads trace.jsonl."""\nA = f"{x} is not in payloads/"\nB = "manifest.json is missing"\n'
            'C = "/raw_payloads/*/path"\nD = f"{PAYLOADS}/{n}.json"\n')
    assert sorted(h.split(":")[1] for h in _file_names_typed_in("x.py", ast.parse(code))) == ["2", "3"]
