"""``rollout-trace codex probe VERSION``: measure one published Codex release, write its record.

The probe installs the release from npm, runs its writer (``codex exec`` against the
loopback mock) across :data:`.probe_scenarios.PROBE_SCENARIOS`, then asks its reducer
(``codex debug trace-reduce``) what it knows: serde's "expected one of ..." lists for
an unknown event type, payload kind, tool kind, status; which ``schema_version`` values
it accepts; which fields it requires (one field removed at a time); and what the kit's
fuzz cases show it enforces; the payload-body keys it requires (:mod:`.probe_bodies`) and how deep
it reads each runtime body (:mod:`.probe_depths`). The record is JSON in ``model/releases/data/VERSION.json``;
it holds no machine paths.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

from ..model.common import EnvelopeKey as E
from .. import __version__
from ..bundle import MANIFEST, PAYLOADS
from ..model.releases import PROBED_SCHEMA_VERSIONS, REDUCER_ENUM_SITES
from ..model.common import FILE_PER_PAYLOAD, ZSTD_SHARDS, ManifestKey, envelope
from .install import InstallError, ensure_codex, remove_install, trace_reduce
from .edited_copies import linked_copy, read_events, rewrite, rewrite_trace
from .probe_bodies import body_facts
from .probe_depths import envelope_rules, payloads_opened, runtime_depths
from .probe_scenarios import PROBE_SCENARIOS, ScenarioRun, run_repeated

RECORD_FORMAT = "rollout-trace-kit/codex-release/1"
KILLED_SCENARIOS = frozenset({"killed"})
KEEP = frozenset({"0.164.0", "0.165.0", "0.166.0", "0.169.0", "0.171.0"})
FUZZ = {"examples": 160, "seed": 0, "timeout": 10.0}
UNKNOWN = "rtk_probe_unknown"
_EXPECTED = re.compile(r"expected (?:one of )?((?:`[^`]*`(?:, | or )?)+)")


# --- reading bundles ------------------------------------------------------------------------


def _refs(value: Any) -> Iterator[dict]:
    from ..model.facts import refs_by_shape

    return refs_by_shape(value)


def layout(bundle: Path) -> str | None:
    payloads = bundle / PAYLOADS
    names = [p.name for p in payloads.iterdir()] if payloads.is_dir() else []
    if any(n.endswith(ZSTD_SHARDS.payload_suffix) for n in names):
        return "shards"
    if any(n.endswith(FILE_PER_PAYLOAD.payload_suffix) for n in names):
        return "files"
    return None


def bundle_facts(events: list[dict]) -> dict:
    """What one bundle shows of its writer (paths, ids and times left out)."""
    types = [e[E.PAYLOAD].get("type") for e in events]
    ended = max((i for i, t in enumerate(types) if t == "rollout_ended"), default=None)
    fields: dict[str, set[str]] = {}
    nulls: dict[str, set[str]] = {}
    omitted: dict[str, set[str]] = {}
    tool_kinds = set()
    for e in events:
        p = e[E.PAYLOAD]
        t = str(p.get("type"))
        keys = set(p) - {"type"}
        if t in fields and keys != fields[t]:
            omitted.setdefault(t, set()).update(fields[t] ^ keys)
        fields.setdefault(t, set()).update(keys)
        nulls.setdefault(t, set()).update(k for k, v in p.items() if v is None)
        kind = p.get("kind")
        if t == "tool_call_started" and isinstance(kind, dict):
            tool_kinds.add(str(kind.get("type")))
    return {
        "schema_versions": sorted({e.get(E.SCHEMA_VERSION) for e in events}, key=str),
        "variants": list(dict.fromkeys(str(t) for t in types)),
        "terminal": types[-1] if types else None,
        "after_rollout_ended": [str(t) for t in types[ended + 1:]] if ended is not None else None,
        "fields": {t: sorted(v) for t, v in fields.items()},
        "null_fields": {t: sorted(v) for t, v in nulls.items() if v},
        "omitted_fields": {t: sorted(v) for t, v in omitted.items() if v},
        "tool_kinds": sorted(tool_kinds),
        "payload_kinds": sorted({str((r.get("kind") or {}).get("type")) for e in events for r in _refs(e[E.PAYLOAD])}),
    }


# --- asking the reducer -------------------------------------------------------------------------


class Reducer:
    def __init__(self, binary: Path, scratch: Path):
        self.binary, self.scratch, self.runs = binary, scratch, 0

    def run_edited(self, bundle: Path, edit: Callable[[list[dict], dict | None], None]) -> tuple[int, str]:
        """Reduce a copy of ``bundle`` whose events (and manifest) ``edit`` changed."""
        self.runs += 1
        copy_dir = self.scratch / f"edit-{self.runs}"
        linked_copy(bundle, copy_dir)
        events = read_events(bundle)
        manifest_path = copy_dir / MANIFEST
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            manifest = None
        edit(events, manifest)
        rewrite_trace(copy_dir, events)
        if manifest is not None:
            rewrite(manifest_path, json.dumps(manifest))
        result = trace_reduce(self.binary, copy_dir, self.scratch / f"edit-{self.runs}.state.json", timeout=20)
        shutil.rmtree(copy_dir, ignore_errors=True)
        return (124 if result.timed_out else result.returncode), result.stderr

    def expected_list(self, bundle: Path, edit: Callable[[list[dict], dict | None], None]) -> list[str] | None:
        rc, err = self.run_edited(bundle, edit)
        found = _EXPECTED.search(err)
        return sorted(re.findall(r"`([^`]*)`", found.group(1))) if rc and found else None


def _first(events: list[dict], variant: str) -> dict | None:
    return next((e for e in events if e[E.PAYLOAD].get("type") == variant), None)


def _set_in_first(variant: str, path: tuple[str, ...]):
    def edit(events: list[dict], _manifest) -> None:
        e = _first(events, variant)
        if e is None:
            return
        target = e[E.PAYLOAD]
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = UNKNOWN
    return edit


def _first_ref(events: list[dict]) -> dict | None:
    return next((r for e in events for r in _refs(e[E.PAYLOAD])), None)


def _edit_ref_kind(events: list[dict], _manifest) -> None:
    ref = _first_ref(events)
    if ref is not None:
        ref["kind"] = {"type": UNKNOWN}


def _without_ref_key(key: str):
    def edit(events: list[dict], _manifest) -> None:
        ref = _first_ref(events)
        if ref is not None:
            ref.pop(key, None)
    return edit


def _edit_event_type(events: list[dict], _manifest) -> None:
    events[0][E.PAYLOAD]["type"] = UNKNOWN


def _with_schema(n: int):
    def edit(events: list[dict], manifest: dict | None) -> None:
        for e in events:
            e[E.SCHEMA_VERSION] = n
        if isinstance(manifest, dict) and ManifestKey.SCHEMA_VERSION in manifest:
            manifest[ManifestKey.SCHEMA_VERSION] = n
    return edit


def _without(variant: str, key: str, envelope: bool = False):
    def edit(events: list[dict], _manifest) -> None:
        e = _first(events, variant)
        if e is not None:
            (e if envelope else e[E.PAYLOAD]).pop(key, None)
    return edit


ENUMS = REDUCER_ENUM_SITES  # the reducer facts measured from serde's expected lists, and where


def reducer_facts(reducer: Reducer, bundles: list[Path]) -> dict:
    """The reducer's vocabulary and requirements, asked with edited copies of ``bundles``."""
    by_variant: dict[str, Path] = {}
    for b in bundles:
        for e in read_events(b):
            by_variant.setdefault(str(e[E.PAYLOAD].get("type")), b)
    base = by_variant.get("rollout_started") or bundles[0]
    facts: dict[str, Any] = {
        "variants": reducer.expected_list(base, _edit_event_type),
        "payload_kinds": reducer.expected_list(base, _edit_ref_kind),
    }
    for name, (variant, path) in ENUMS.items():
        facts[name] = reducer.expected_list(by_variant[variant], _set_in_first(variant, path)) if variant in by_variant else None
    # the release's own bundle relabelled 0..5: which numbers the reducer takes (for this layout)
    facts["schema_versions_accepted"] = [n for n in PROBED_SCHEMA_VERSIONS if reducer.run_edited(base, _with_schema(n))[0] == 0]
    required: dict[str, list[str]] = {}
    optional: dict[str, list[str]] = {}
    for variant, bundle in sorted(by_variant.items()):
        event = _first(read_events(bundle), variant)
        assert event is not None
        for key in sorted(set(event[E.PAYLOAD]) - {"type"}):
            rc, err = reducer.run_edited(bundle, _without(variant, key))
            if rc and f"missing field `{key}`" in err:
                required.setdefault(variant, []).append(key)
            elif rc == 0:
                optional.setdefault(variant, []).append(key)
    # the keys of a payload ref it requires (0.164.0 reads a ref by its `path`: a v3 ref has none)
    ref_bundle = next((b for b in bundles if _first_ref(read_events(b)) is not None), None)
    if ref_bundle is not None:
        ref = _first_ref(read_events(ref_bundle))
        assert ref is not None
        facts["ref_required"] = [key for key in sorted(ref)
                                 if (r := reducer.run_edited(ref_bundle, _without_ref_key(key)))[0]
                                 and f"missing field `{key}`" in r[1]]
    envelope_required = []
    for key in (f.name for f in envelope(1).fields if f.name != E.PAYLOAD):  # the model's envelope keys
        rc, err = reducer.run_edited(base, _without("rollout_started", key, envelope=True))
        if rc and f"missing field `{key}`" in err:
            envelope_required.append(key)
    facts["envelope_required"] = envelope_required
    facts["required_fields"] = required
    facts["optional_fields"] = optional
    return facts


def fuzz_facts(binary: Path, dialect: str, scratch: Path, release: str | None = None) -> dict:
    """Run the kit's fuzz cases through the reducer; what it enforces, ignores, hangs on. With ``release``
    (one whose record the kit has), the cases are written as it writes them and judged by
    ``validate --release`` (else a reader of an older variant set rejects every valid case: 0.165.0
    knows no recording_completed)."""
    out = scratch / "fuzz.json"
    cmd = f"{binary} debug trace-reduce {{bundle}} -o {{output}}"
    as_release = ["--release", release] if release is not None else []
    argv = [sys.executable, "-m", "rollout_trace_kit", "fuzz-reducer", "--dialect", dialect, *as_release, "--cmd", cmd,
            "--examples", str(FUZZ["examples"]), "--seed", str(FUZZ["seed"]), "--timeout", str(FUZZ["timeout"]),
            "--jobs", "1", "--no-shrink", "--repro-dir", str(scratch / "repro"), "--format", "json", "-o", str(out)]
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=3600)
    if not out.is_file():
        return {"dialect": dialect, **FUZZ, "error": proc.stderr.decode("utf-8", "replace")[-300:]}
    table = json.loads(out.read_text(encoding="utf-8"))["invariants"]
    return {
        "dialect": dialect,
        **({"release": release} if release is not None else {}),
        **FUZZ,
        "enforced": sorted(i for i, r in table.items() if r["must_reject"] and not r["failed"]),
        "ignored": sorted(i for i, r in table.items() if r["must_reject"] and r["failed"]),
        "rejects_outside_profile": sorted(i for i, r in table.items() if not r["must_reject"] and r["rejects"]),
        "rejects_valid": table.get("VALID", {}).get("rejects", 0) > 0,
        "hangs": sorted(i for i, r in table.items() if r["hangs"]),
        "crashes": sorted(i for i, r in table.items() if r["crashes"]),
    }


def _fuzzable_dialect(schema_version: int | None) -> str | None:
    """The kit's dialect for the release's schema_version, if the fuzz harness can write it."""
    from ..writer.core import written_dialects
    from ..model import dialect_for_schema_version

    d = dialect_for_schema_version(schema_version)
    return d.name if d is not None and d.name in written_dialects() else None


def _has_record(release: str) -> bool:
    """Whether the kit has facts of ``release`` already (a re-probe): its fuzz cases can then be written as it writes."""
    from ..model.releases import release as lookup

    found = lookup(release)
    return found is not None and found.record is not None


def _has_reducer(binary: Path) -> bool:
    proc = subprocess.run([str(binary), "debug", "trace-reduce", "--help"], stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=30)
    return proc.returncode == 0


# --- the probe ------------------------------------------------------------------------------------


def _scenario_entry(run: ScenarioRun, reducer: Reducer | None, binary: Path) -> tuple[dict, list[dict]]:
    facts_per_bundle = [bundle_facts(read_events(b)) for b in run.bundles]
    entry: dict[str, Any] = {
        "exit": run.returncodes,
        "timed_out": run.timed_out,
        "bundles": len(run.bundles),
        "variants": sorted({v for f in facts_per_bundle for v in f["variants"]}),
        "terminal": sorted({str(f["terminal"]) for f in facts_per_bundle}),
        "after_rollout_ended": sorted({t for f in facts_per_bundle for t in (f["after_rollout_ended"] or [])}),
    }
    if not run.bundles:
        entry["note"] = "no bundle written: " + _redact(run.stderr_tail.strip().splitlines()[-1] if run.stderr_tail.strip() else "")
    if reducer is not None and run.bundles:
        own = [trace_reduce(binary, b, b.parent / (b.name + ".state.json"), timeout=30) for b in run.bundles]
        entry["own_reducer_accepts"] = all(r.accepted for r in own)
        if not entry["own_reducer_accepts"]:
            entry["own_reducer_error"] = _redact(next(r.first_error for r in own if not r.accepted))
    return entry, facts_per_bundle


def _redact(text: str) -> str:
    return re.sub(r"(/[^\s\"'`:]+)+", "<path>", text)[:300]


def _merge(facts: list[dict]) -> dict:
    def union(key: str) -> list[str]:
        return sorted({v for f in facts for v in (f[key] or [])})

    def union_map(key: str) -> dict[str, list[str]]:
        out: dict[str, set[str]] = {}
        for f in facts:
            for k, v in f[key].items():
                out.setdefault(k, set()).update(v)
        return {k: sorted(v) for k, v in sorted(out.items())}

    return {
        "variants": union("variants"),
        "terminal_events": sorted({str(f["terminal"]) for f in facts}),
        "after_rollout_ended": union("after_rollout_ended"),
        "tool_kinds": union("tool_kinds"),
        "payload_kinds": union("payload_kinds"),
        "fields": union_map("fields"),
        "null_fields": union_map("null_fields"),
        "omitted_fields": union_map("omitted_fields"),
    }


def probe(release: str, *, keep: bool = False, bundles_dir: Path | None = None, fuzz: bool = True,
          scenarios: list[str] | None = None, log: Callable[[str], None] = lambda s: None) -> dict:
    try:
        binary = ensure_codex(release)
        if binary is None:
            raise InstallError(f"could not install Codex {release} (npm missing or no native binary in the package)")
        with tempfile.TemporaryDirectory(prefix=f"rtk-probe-{release}-") as tmp:
            return _probe(release, binary, Path(tmp), bundles_dir, fuzz, scenarios, log)
    finally:
        if not keep and release not in KEEP:
            remove_install(release)


def _probe(release: str, binary: Path, tmp: Path, bundles_dir: Path | None, fuzz: bool,
           scenarios: list[str] | None, log: Callable[[str], None]) -> dict:
    has_reducer = _has_reducer(binary)
    reducer = Reducer(binary, tmp / "reducer") if has_reducer else None
    if reducer:
        reducer.scratch.mkdir()
    runs: dict[str, dict] = {}
    facts: list[dict] = []
    ended_terminals: set[str] = set()
    bundles: list[Path] = []
    for name in scenarios or list(PROBE_SCENARIOS):
        run = run_repeated(binary, PROBE_SCENARIOS[name], tmp / "runs" / name)
        entry, per_bundle = _scenario_entry(run, reducer, binary)
        runs[name] = entry
        if name not in KILLED_SCENARIOS:
            ended_terminals.update(str(f["terminal"]) for f in per_bundle if f["after_rollout_ended"] is not None)
        facts += per_bundle
        bundles += run.bundles
        log(f"{release} {name}: exit {run.returncodes} bundles {len(run.bundles)}")
        if bundles_dir is not None:
            for i, b in enumerate(run.bundles):
                dest = bundles_dir / f"codex-{release}" / (name if len(run.bundles) == 1 else f"{name}__{i + 1}")
                shutil.rmtree(dest, ignore_errors=True)
                shutil.copytree(b, dest, ignore=shutil.ignore_patterns("*.state.json"))
    schemas = sorted({v for f in facts for v in f["schema_versions"] if isinstance(v, int)})
    if facts:
        # a run killed with SIGKILL ends wherever it was, and so does one whose process exited before the
        # writer ended the rollout (0.171.0 after a failed compaction, 1 run in 12): the last event of such
        # a run says nothing of the writer's terminal event
        merged_terminal = sorted(ended_terminals)
    record: dict[str, Any] = {
        "format": RECORD_FORMAT,
        "release": release,
        "probed": True,
        "probed_with": f"rollout-trace-kit {__version__}",
        "schema_version": schemas[0] if len(schemas) == 1 else (schemas or None),
        "layout": sorted({lay for b in bundles if (lay := layout(b))}) or None,
        "has_reducer": has_reducer,
        "scenarios_not_driven": sorted(n for n, r in runs.items() if not r["bundles"]),
        "writer": {**_merge(facts), "terminal_events": merged_terminal, "scenarios": runs} if facts else {"scenarios": runs},
        "reducer": None,
    }
    if isinstance(record["layout"], list) and len(record["layout"]) == 1:
        record["layout"] = record["layout"][0]
    if reducer is not None and bundles:
        log(f"{release}: asking the reducer")
        own = record["schema_version"] if isinstance(record["schema_version"], int) else None
        reducer_doc = reducer_facts(reducer, bundles)
        dialect = _fuzzable_dialect(own)
        if fuzz and dialect:
            log(f"{release}: fuzzing ({dialect})")
            reducer_doc["fuzz"] = fuzz_facts(binary, dialect, tmp, release if _has_record(release) else None)
        else:
            reducer_doc["fuzz"] = None
        reducer_doc["body_required"] = body_facts(binary, bundles + corpus_bundles_read(record), tmp / "bodies")
        known = reducer_doc.get("variants")
        known_set = frozenset(known) if known is not None else None
        reducer_doc["runtime_depths"] = runtime_depths(binary, bundles + corpus_bundles_read(record), known_set,
                                                       tmp / "depths")
        reducer_doc["payloads_opened"] = payloads_opened(binary, corpus_bundles_read(record), known_set, tmp / "reads")
        reducer_doc["envelope_rules"] = envelope_rules(binary, corpus_bundles_read(record), known_set, tmp / "envelope")
        record["reducer"] = reducer_doc
    return record


def corpus_bundles_read(record: dict) -> list[Path]:
    """The kit's real bundles of the schema_version the release's reducer reads as its own."""
    from ..conformance.suite import suite_root

    own = record.get("schema_version")
    out = []
    for bundle in sorted((suite_root() / "corpus").glob("codex-*/*")):
        try:
            manifest = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(manifest, dict) and manifest.get(ManifestKey.SCHEMA_VERSION) == own:
            out.append(bundle)
    return out


def measure_on_corpus(release: str, record: dict | None, name: str, measure) -> dict:
    """The release's existing record (or ``record``) with the reducer facts ``measure(binary, bundles,
    reducer, scratch)`` returns, measured on the kit's corpus (made readable for the release); a
    release without a reducer is returned as it is."""
    from ..model.releases import load_records

    record = record or load_records()[release]
    if not record.get("has_reducer") or record.get("reducer") is None:
        return record
    binary = ensure_codex(release)
    if binary is None:
        raise InstallError(f"could not install Codex {release}")
    with tempfile.TemporaryDirectory(prefix=f"rtk-{name}-{release}-") as tmp:
        record["reducer"].update(measure(binary, corpus_bundles_read(record), record["reducer"], Path(tmp)))
    return record


def measure_bodies(release: str, record: dict | None = None) -> dict:
    """The release's existing record (or ``record``) with ``reducer.body_required`` measured on the kit's corpus."""
    return measure_on_corpus(release, record, "bodies",
                             lambda binary, bundles, _, tmp: {"body_required": body_facts(binary, bundles, tmp)})


def data_dir() -> Path:
    from ..model.releases import data_dir as releases_data

    return releases_data()


def write_record(record: dict, out_dir: Path | None = None) -> Path:
    path = (out_dir or data_dir()) / f"{record['release']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    return path


def scrub(record: dict) -> dict:
    """The record with anything path-like redacted (a probe must not publish machine paths)."""
    return json.loads(re.sub(r"(?<![A-Za-z0-9_])/(?:tmp|root|home|Users|var|private)/[^\"\s]*", "<path>",
                             json.dumps(record)))

