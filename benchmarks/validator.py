"""Validator speed and memory, against orjson parsing and the Codex reducer, same run.

Builds its bundles itself (in a temp dir, made in --workdir if given, removed at the end). The
shapes on which the Codex reducer's time is linear, each with its goal (issue 21), run by default:

* ``payloads-linear``: about 100,000 events with 60,000 payload files (per turn a tool
  call with invocation and result payloads and a protocol event, small bodies), against
  Codex 0.169.0 (goal: <= 1.0x its wall time, <= 100 MB);
* ``turns-only``: 1,000,000 turn starts and ends, against 0.169.0 (<= 0.5x, <= 100 MB);
* ``v3-pairs``: schema 3, 1,000,000 events, per pair of turns 9 events and 3 records
  (a tool call's invocation and result, a protocol event), all records in one shard,
  against 0.171.0 (<= 0.5x, <= 150 MB).

Extras (``--extras`` or ``--only``), on which Codex's time grows faster than the bundle,
so their ratios flatter the kit and have no goal:

* ``lifecycle``: about 1,000,000 events (threads, turns, some MCP tool calls);
* ``payloads``: about 100,000 events, 60,000 payload files (inference calls, protocol
  events, tool calls in threads of 50 turns);
* ``tool-heavy``: two MCP tool calls in every turn (compare ``--events 40000`` with
  ``--events 80000``);
* ``v3-shards`` (also ``--v3``): schema 3, about 1,000,000 events, 300,000 records in
  shards rotated at 8 MiB (inference calls, prepared prompts).

For each it prints: validator wall time (whole process, interpreter start
included, median of --repeat runs), its CPU time (user + system, median; the second
process's included when it runs) and peak RSS (a fresh process per profile; per process),
the time of reading the same lines with orjson alone, and, when the Codex
0.169.0 binary is installed, ``codex debug trace-reduce`` time and RSS (same
median, CPU time too). The commands run in rounds, each once a round, one after another, and a
ratio to Codex is the median of the rounds' ratios: a shared machine's speed drifts by a sixth or
more within minutes, which a round's commands meet alike. Each figure comes with the machine's load;
the last lines set them against the goals. Run: ``python benchmarks/validator.py``. ``--decode-ahead on,off``
measures validate with its second process forced and without it (validate/ahead.py; by
default it runs only when a core is idle), side by side in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

SCHEMA_VERSION = 2
ROLLOUT = "01a2139c-0000-7000-8000-000000000001"
TRACE_ID = "51d8cba1-e56c-4d60-ac1d-63e577c6a2b1"


class Writer:
    """Writes a bundle the way Codex does: payload first, then the event."""

    def __init__(self, root: Path):
        self.root = root
        (root / "payloads").mkdir(parents=True)
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "trace_id": TRACE_ID,
            "rollout_id": ROLLOUT,
            "root_thread_id": ROLLOUT,
            "started_at_unix_ms": 1795625388865,
            "raw_event_log": "trace.jsonl",
            "payloads_dir": "payloads",
        }
        (root / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
        self.log = open(root / "trace.jsonl", "wb", buffering=1 << 20)
        self.seq = 0
        self.payloads = 0
        self.time = 1795625388865

    def payload(self, kind: str, body) -> dict:
        self.payloads += 1
        n = self.payloads
        (self.root / "payloads" / f"{n}.json").write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2))
        return {"raw_payload_id": f"raw_payload:{n}", "kind": {"type": kind}, "path": f"payloads/{n}.json"}

    def event(self, payload: dict, thread=None, turn=None) -> None:
        self.seq += 1
        self.time += 1
        self.log.write(
            orjson.dumps(
                {
                    "schema_version": SCHEMA_VERSION,
                    "seq": self.seq,
                    "wall_time_unix_ms": self.time,
                    "rollout_id": ROLLOUT,
                    "thread_id": thread,
                    "codex_turn_id": turn,
                    "payload": payload,
                }
            )
            + b"\n"
        )

    def start(self):
        self.event({"type": "rollout_started", "trace_id": TRACE_ID, "root_thread_id": ROLLOUT})
        self.event({"type": "thread_started", "thread_id": ROLLOUT, "agent_path": "/root", "metadata_payload": None})

    def finish(self):
        self.event({"type": "thread_ended", "thread_id": ROLLOUT, "status": "completed"})
        self.event({"type": "rollout_ended", "status": "completed"})
        self.event({"type": "recording_completed"})
        self.log.close()


def _tool_start(w, tid, turn, kind, invocation=None, thread=ROLLOUT, model_visible=True):
    w.event(
        {
            "type": "tool_call_started",
            "tool_call_id": tid,
            "model_visible_call_id": tid if model_visible else None,
            "code_mode_runtime_tool_id": None,
            "requester": {"type": "model"},
            "kind": kind,
            "summary": {"type": "generic", "label": kind.get("name", kind["type"]), "input_preview": "{}", "output_preview": None},
            "invocation_payload": invocation,
        },
        thread,
        turn,
    )


def _turns(w: Writer, events: int, per_thread: int, room: int):
    """Threads of ``per_thread`` turns until about ``events`` events: writes each thread's and
    turn's start and end, and yields ``(thread, n, turn)`` between a turn's start and end for
    the caller to fill. ``room``: events a turn may need, so the last one still fits."""
    t = th = 0
    while w.seq < events - 3:
        th += 1
        thread = ROLLOUT if th == 1 else f"01a2139c-0000-7000-8000-{th:012d}"
        if th > 1:
            w.event({"type": "thread_started", "thread_id": thread, "agent_path": f"/root/agent_{th}", "metadata_payload": None})
        for _ in range(per_thread):
            if w.seq >= events - room:
                break
            t += 1
            turn = f"turn-{t}"
            w.event({"type": "codex_turn_started", "codex_turn_id": turn, "thread_id": thread}, thread, turn)
            yield thread, t, turn
            w.event({"type": "codex_turn_ended", "codex_turn_id": turn, "status": "completed"}, thread, turn)
        if th > 1:
            w.event({"type": "thread_ended", "thread_id": thread, "status": "completed"})


def _mcp_call(w: Writer, thread: str, turn: str, tid: str, mcp_id: str) -> None:
    """An MCP tool call: started, correlated, ended (3 events)."""
    w.event(
        {"type": "tool_call_started", "tool_call_id": tid, "model_visible_call_id": tid,
         "code_mode_runtime_tool_id": None, "requester": {"type": "model"},
         "kind": {"type": "mcp", "server": "s", "tool": "t"},
         "summary": {"type": "generic", "label": "s.t", "input_preview": "{}", "output_preview": None},
         "invocation_payload": None},
        thread, turn,
    )
    w.event({"type": "mcp_tool_call_correlation_assigned", "tool_call_id": tid, "mcp_call_id": mcp_id})
    w.event({"type": "tool_call_ended", "tool_call_id": tid, "status": "completed", "result_payload": None}, thread, turn)


def build_lifecycle(root: Path, events: int) -> Path:
    """Threads of 100 turns each; every 25th turn runs an MCP tool call.

    Tool calls are kept to about 1% of events: the Codex reducer's time grows about with
    the square of the number of tool calls (the ``tool-heavy`` shape shows it), so a
    tool-heavy million-event bundle would time that, not a replay.
    """
    w = Writer(root)
    w.start()
    for thread, t, turn in _turns(w, events, per_thread=100, room=5):
        if t % 25 == 0:
            _mcp_call(w, thread, turn, f"call-{t}", f"mcp-{t}")
    w.finish()
    return root


def build_tool_heavy(root: Path, events: int) -> Path:
    """Two MCP tool calls in every turn (8 events a turn): the shape on which the Codex
    reducer's time grows about with the square of the tool calls. Compare sizes with
    ``python benchmarks/validator.py --only tool-heavy --profiles writer --events N``."""
    w = Writer(root)
    w.start()
    for thread, t, turn in _turns(w, events, per_thread=100, room=11):
        for k in range(2):
            _mcp_call(w, thread, turn, f"call-{t}-{k}", f"mcp-{t}-{k}")
    w.finish()
    return root


def build_turns_only(root: Path, events: int) -> Path:
    """Turn starts and ends only: a shape on which the Codex reducer's time stays linear."""
    w = Writer(root)
    w.start()
    t = 0
    while w.seq < events - 3:
        t += 1
        turn = f"turn-{t}"
        w.event({"type": "codex_turn_started", "codex_turn_id": turn, "thread_id": ROLLOUT}, ROLLOUT, turn)
        w.event({"type": "codex_turn_ended", "codex_turn_id": turn, "status": "completed"}, ROLLOUT, turn)
    w.finish()
    return root


# Linear shapes' tool calls have no model-visible call id: Codex (0.169.0, 0.171.0) matches
# those ids against the conversation in time growing about with the square of the calls
# (measured: 40k -> 80k events of one call per turn, 0.60 -> 2.10 s CPU; without the id
# 0.10 -> 0.22 s), which would time that match, not a replay.


def _pair_of_turns(w: Writer, t: int) -> None:
    """Two turns: one with a tool call (invocation and result payloads), one with a protocol
    event (one payload), each with a history item accepted: 9 events and 3 payloads."""
    turn, tid = f"turn-{t}-a", f"call-{t}"
    w.event({"type": "codex_turn_started", "codex_turn_id": turn, "thread_id": ROLLOUT}, ROLLOUT, turn)
    inv = w.payload("tool_invocation", {"cmd": f"echo {t}", "yield_time_ms": 100})
    _tool_start(w, tid, turn, {"type": "other", "name": "echo"}, invocation=inv, model_visible=False)
    res = w.payload("tool_result", {"output": f"{t}\n", "exit_code": 0})
    w.event({"type": "tool_call_ended", "tool_call_id": tid, "status": "completed", "result_payload": res}, ROLLOUT, turn)
    w.event({"type": "history_item_accepted", "item_id": f"fco-{t}"}, ROLLOUT, turn)
    w.event({"type": "codex_turn_ended", "codex_turn_id": turn, "status": "completed"}, ROLLOUT, turn)
    turn = f"turn-{t}-b"
    w.event({"type": "codex_turn_started", "codex_turn_id": turn, "thread_id": ROLLOUT}, ROLLOUT, turn)
    ev = w.payload("protocol_event", {"type": "token_count", "turn": turn, "input_tokens": t, "output_tokens": 7})
    w.event({"type": "protocol_event_observed", "event_type": "token_count", "event_payload": ev}, ROLLOUT, turn)
    w.event({"type": "history_item_accepted", "item_id": f"msg-{t}"}, ROLLOUT, turn)
    w.event({"type": "codex_turn_ended", "codex_turn_id": turn, "status": "completed"}, ROLLOUT, turn)


def build_payload_linear(root: Path, events: int) -> Path:
    """Per turn 5 events and 3 payload files (a tool call with invocation and result payloads,
    a protocol event), small bodies, one thread: 100k events -> 60k files. Linear for Codex
    (unlike ``payloads``, whose inference calls and short threads Codex 0.169.0 replays in
    time growing faster than the bundle)."""
    w = Writer(root)
    w.start()
    t = 0
    while w.seq < events - 8:
        t += 1
        turn, tid = f"turn-{t}", f"call-{t}"
        w.event({"type": "codex_turn_started", "codex_turn_id": turn, "thread_id": ROLLOUT}, ROLLOUT, turn)
        inv = w.payload("tool_invocation", {"cmd": f"echo {t}", "yield_time_ms": 100})
        _tool_start(w, tid, turn, {"type": "other", "name": "echo"}, invocation=inv, model_visible=False)
        res = w.payload("tool_result", {"output": f"{t}\n", "exit_code": 0})
        w.event({"type": "tool_call_ended", "tool_call_id": tid, "status": "completed", "result_payload": res},
                ROLLOUT, turn)
        ev = w.payload("protocol_event", {"type": "token_count", "turn": turn, "input_tokens": t, "output_tokens": 7})
        w.event({"type": "protocol_event_observed", "event_type": "token_count", "event_payload": ev}, ROLLOUT, turn)
        w.event({"type": "codex_turn_ended", "codex_turn_id": turn, "status": "completed"}, ROLLOUT, turn)
    w.finish()
    return root


def build_v3_pairs(root: Path, events: int) -> Path:
    """Schema 3, the shape of issue 21's rulings: per pair of turns 9 events and 3 records
    (a tool call's invocation and result, a protocol event), all records in one shard."""
    global SCHEMA_VERSION
    saved, SCHEMA_VERSION = SCHEMA_VERSION, 3
    try:
        w = _sharded_writer(root, rotate_bytes=1 << 40)
        w.start()
        t = 0
        while w.seq < events - 12:
            t += 1
            _pair_of_turns(w, t)
        w.finish()
    finally:
        SCHEMA_VERSION = saved
    return root


def _sharded_writer(root: Path, rotate_bytes: int | None = None) -> "Writer":
    """A Writer whose payloads are records in zstd shards, written as Codex writes them."""
    from rollout_trace_kit.store.shards import ROTATE_BYTES, StoreWriter

    class ShardedWriter(Writer):
        def __init__(self, root: Path):
            super().__init__(root)
            self.store = StoreWriter(root / "payloads", rotate_bytes=rotate_bytes or ROTATE_BYTES)

        def payload(self, kind: str, body) -> dict:
            self.payloads += 1
            rid = f"raw_payload:{self.payloads}"
            shard = self.store.append(rid.encode(), orjson.dumps(body))
            return {"raw_payload_id": rid, "kind": {"type": kind}, "shard": shard}

        def finish(self):
            super().finish()
            self.store.close()

    return ShardedWriter(root)


def _inference(w: Writer, thread: str, turn: str, cid: str, text: str, answer: str, rid: str, **refs) -> None:
    """An inference call, started and completed, its request and response in payloads."""
    req = w.payload("inference_request", {"model": "m", "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}]})
    extra = {name: make() for name, make in refs.items()}
    w.event(
        {"type": "inference_started", "inference_call_id": cid, "thread_id": thread, "codex_turn_id": turn,
         "model": "m", "provider_name": "mock", "request_payload": req, **extra},
        thread, turn,
    )
    resp = w.payload("inference_response", {"response_id": rid, "output_items": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": answer}]}]})
    w.event(
        {"type": "inference_completed", "inference_call_id": cid, "response_id": rid,
         "upstream_request_id": None, "response_payload": resp},
        thread, turn,
    )


def build_payload_heavy(root: Path, events: int) -> Path:
    """Per turn 10 events and 6 payload files (2 inference calls, 2 protocol events,
    one tool call): 100k events -> 60k files. Threads of 50 turns keep each
    conversation short."""
    w = Writer(root)
    w.start()
    text = "x" * 200
    for thread, t, turn in _turns(w, events, per_thread=50, room=13):
        for k in range(2):
            _inference(w, thread, turn, f"inf-{t}-{k}", f"{text} {t} {k}", f"answer {t} {k}", f"resp-{t}-{k}")
        for k in range(2):
            ev = w.payload("protocol_event", {"type": "token_count", "turn": turn, "n": k, "text": text})
            w.event({"type": "protocol_event_observed", "event_type": "token_count", "event_payload": ev})
        tid = f"call-{t}"
        _tool_start(w, tid, turn, {"type": "other", "name": "echo"}, thread=thread)
        w.event({"type": "tool_call_ended", "tool_call_id": tid, "status": "failed", "result_payload": None}, thread, turn)
    w.finish()
    return root


def build_v3_sharded(root: Path, events: int) -> Path:
    """Schema 3: per turn 10 events and 3 payload records (inference request, prepared prompt,
    response) in zstd shards written as Codex writes them; 1M events -> 300k records."""
    def prepared_prompt(w):
        prompt = w.payload("prepared_prompt", ['{"input":[],' + tail])
        prompt["parts"] = []
        return prompt

    global SCHEMA_VERSION
    saved, SCHEMA_VERSION = SCHEMA_VERSION, 3
    try:
        w = _sharded_writer(root)
        w.start()
        text = "x" * 200
        tail = ('"tools":[],"parallel_tool_calls":true,"base_instructions":{"text":"b"},"output_schema":null,'
                '"output_schema_strict":true,"prompt_cache_ttl":null,"cyber_access_program":null}')
        for thread, t, turn in _turns(w, events, per_thread=50, room=13):
            _inference(w, thread, turn, f"inf-{t}", f"{text} {t}", f"answer {t}", f"resp-{t}",
                       prepared_prompt_payload=lambda: prepared_prompt(w))
            for k in range(6):
                w.event({"type": "history_item_accepted", "item_id": f"msg-{t}-{k}"}, thread, turn)
        w.finish()
    finally:
        SCHEMA_VERSION = saved
    return root


def _measured(cmd: list[str], env: dict | None = None) -> tuple[float, float, int, str, str, float]:
    """Wall seconds, peak RSS (MB), exit code, stdout, stderr and CPU seconds (user + system)
    of a fresh process. CPU time is what the load disturbs least: on a shared machine a
    CPU-bound process's wall time stretches with the load, its CPU time far less."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", *cmd], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    wall = time.perf_counter() - start
    *err, last = proc.stderr.strip().splitlines() or ["0 0 0"]
    rss, user, system = last.split()
    return wall, int(rss) / 1024, proc.returncode, proc.stdout, "\n".join(err), float(user) + float(system)


# The command users type (`rollout-trace validate BUNDLE --profile P`), run in-process so the
# in-process seconds can leave the imports out. The command line, not validate_bundle: its
# progress ticker once kept the decode worker away, which timing the Python API hid.
_VALIDATE = """
import json, os, sys, tempfile, time
from rollout_trace_kit import cli
cli.build_parser("validate")  # the imports validate makes, outside the in-process seconds
out = os.path.join(tempfile.mkdtemp(), "report.json")
t = time.perf_counter()
code = cli.main(["validate", sys.argv[1], "--profile", sys.argv[2], "--format", "json", "-o", out])
seconds = time.perf_counter() - t
r = json.load(open(out))["bundles"][0]
os.remove(out)
print(len(r["findings"]), r["events"], seconds)
for f in r["findings"][:5]: print(f["invariant"], f["message"], file=sys.stderr)
sys.exit(0 if code in (0, 1) else code)
"""

_ORJSON = """
import sys, time, orjson
t = time.perf_counter()
n = 0
with open(sys.argv[1] + "/trace.jsonl", "rb") as f:
    for line in f:
        orjson.loads(line); n += 1
print(0, n, time.perf_counter() - t)
"""


REPEAT = 3  # runs of each command; the median is printed (--repeat)


def _median(values) -> float:
    values = sorted(values)
    return values[len(values) // 2]


def _summary(runs: list[tuple]) -> tuple[float, float, int, str, str, float]:
    """Runs of one command (``_measured``): median wall seconds, highest peak RSS, the last run's
    output, median CPU seconds."""
    return _median(r[0] for r in runs), max(r[1] for r in runs), *runs[-1][2:5], _median(r[5] for r in runs)


def _rounds(commands: dict[str, tuple[list[str], dict | None]]) -> dict[str, list[tuple]]:
    """Each command run once a round, REPEAT rounds, one command after another: a shared machine's
    speed drifts by a sixth or more within minutes, and a round's commands meet the same drift."""
    runs: dict[str, list[tuple]] = {name: [] for name in commands}
    for _ in range(REPEAT):
        for name, (cmd, env) in commands.items():
            runs[name].append(_measured(cmd, env))
    return runs


def _python_result(runs: list[tuple]) -> tuple[float, float, float, str, float]:
    """Whole-process wall seconds (interpreter start and imports included; median), in-process
    seconds of the last run (imports excluded), peak RSS, a note and whole-process CPU seconds
    (median; a worker process's included), from fresh interpreters."""
    wall, rss, rc, out, err, cpu = _summary(runs)
    if rc != 0:
        raise SystemExit(err)
    findings, events, seconds = out.splitlines()[-1].split()  # the command prints its summary line first
    return wall, float(seconds), rss, f"{findings} findings, {events} events", cpu


def _python_command(code: str, *args, env: dict | None = None) -> tuple[list[str], dict | None]:
    return [sys.executable, "-c", code, *args], env


def _codex_command(bundle: Path, out: Path, release: str = "0.169.0") -> tuple[list[str], None] | None:
    from rollout_trace_kit.codex.install import ensure_codex

    binary = ensure_codex(release, install=False)
    if binary is None:
        return None
    return [str(binary), "debug", "trace-reduce", str(bundle), "-o", str(out)], None


def measure(name: str, bundle: Path, profiles: list[str], release: str = "0.169.0") -> dict:
    print(f"\n== {name}: {bundle} ({load()})")
    size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
    files = sum(1 for _ in (bundle / "payloads").iterdir())
    print(f"   {size / 1e6:.0f} MB, {files} payload files{' (shards)' if release != '0.169.0' else ''}")
    # Warm the page cache so no run pays for a cold read (outside this process: its RSS stays small).
    subprocess.run(f"find {bundle} -type f -print0 | xargs -0 cat > /dev/null", shell=True, check=True)
    print(f"   whole process, median of {REPEAT} rounds (each command once a round, in turn): wall seconds, "
          "in-process seconds (imports excluded) in brackets, CPU seconds (user + system); ratios to Codex "
          "are the median of the rounds' ratios")
    commands = {"orjson": _python_command(_ORJSON, str(bundle))}
    codex = _codex_command(bundle, bundle.parent / f"{name}.state.json", release)
    if codex:
        commands["codex"] = codex
    validates = [(profile, mode) for profile in profiles for mode in DECODE_AHEAD]
    for profile, mode in validates:
        commands[f"{profile} ({mode})"] = _python_command(_VALIDATE, str(bundle), profile, env=MODES[mode])
    runs = _rounds(commands)
    o_wall, o_time, o_rss, o_note, o_cpu = _python_result(runs["orjson"])
    print(f"   orjson parse only:        {o_wall:6.2f} s [{o_time:5.2f}] {o_cpu:6.2f} cpu  {o_rss:6.0f} MB  ({o_note})")
    results = {"orjson_s": o_wall, "orjson_mb": o_rss, "orjson_cpu_s": o_cpu}
    if codex:
        c_time, c_rss, rc, _, err, c_cpu = _summary(runs["codex"])
        first = (err.splitlines() or [""])[0]
        print(f"   codex {release} reducer:    {c_time:6.2f} s         {c_cpu:6.2f} cpu  {c_rss:6.0f} MB  "
              f"(exit {rc}{'' if rc == 0 else ': ' + first})")
        results.update(codex_s=c_time, codex_mb=c_rss, codex_exit=rc, codex_cpu_s=c_cpu)
    for profile, mode in validates:
        own = runs[f"{profile} ({mode})"]
        v_wall, v_time, v_rss, v_note, v_cpu = _python_result(own)
        label = profile if len(DECODE_AHEAD) == 1 else f"{profile} ({mode})"
        line = (
            f"   validate --profile {label:8} {v_wall:6.2f} s [{v_time:5.2f}] {v_cpu:6.2f} cpu  {v_rss:6.0f} MB  "
            f"({v_note})  {v_wall / o_wall:4.2f}x orjson"
        )
        entry = {"s": v_wall, "in_process_s": v_time, "mb": v_rss, "cpu_s": v_cpu}
        if codex:
            # each round's ratio, then their median: the drift between rounds cancels
            entry["ratio"] = _median(v[0] / c[0] for v, c in zip(own, runs["codex"]))
            entry["cpu_ratio"] = _median(v[5] / c[5] for v, c in zip(own, runs["codex"]))
            line += f"  {entry['ratio']:4.2f}x codex ({entry['cpu_ratio']:4.2f}x its CPU)"
        print(line)
        results[profile if mode == DECODE_AHEAD[0] else label] = entry
    return results


# validate's second process (validate/ahead.py): "auto" runs it when a core was idle over the last
# minute; "on" forces it (ROLLOUT_TRACE_KIT_DECODE_AHEAD=1), "off" is one process (=0).
MODES: dict[str, dict] = {"auto": {}, "on": {"ROLLOUT_TRACE_KIT_DECODE_AHEAD": "1"},
                          "off": {"ROLLOUT_TRACE_KIT_DECODE_AHEAD": "0"}}
DECODE_AHEAD = ["auto"]  # --decode-ahead; the goals are judged on the first


# The shapes on which the Codex reducer's time is linear, each with its goal (issue 21):
# (name, builder, events option, Codex release, wall-time ratio at most, peak RSS MB at most).
LINEAR = [
    ("payloads-linear", build_payload_linear, "payload_events", "0.169.0", 1.0, 100),
    ("turns-only", build_turns_only, "events", "0.169.0", 0.5, 100),
    ("v3-pairs", build_v3_pairs, "events", "0.171.0", 0.5, 150),
]
# Extras: shapes on which Codex's time grows faster than the bundle (so ratios flatter the kit).
SUPERLINEAR = [
    ("lifecycle", build_lifecycle, "events", "0.169.0"),
    ("payloads", build_payload_heavy, "payload_events", "0.169.0"),
    ("tool-heavy", build_tool_heavy, "events", "0.169.0"),
    ("v3-shards", build_v3_sharded, "events", "0.171.0"),
]


def compile_kit() -> str:
    """Write the kit's bytecode, as installing it does (pip compiles a wheel's modules), so no run
    pays for compiling its modules from source: with PYTHONDONTWRITEBYTECODE set and no
    ``__pycache__`` (a fresh clone, an editable install) every validate process compiled them
    again (`PYTHONDONTWRITEBYTECODE=1 /usr/bin/time -f %U+%S python -c 'import rollout_trace_kit.validate.engine'`
    on a copy of src/ without __pycache__: 0.14 to 0.16 s, against 0.08 to 0.10 s once compiled; the whole
    command imports more). Python reads existing bytecode whatever that variable says."""
    import compileall
    import importlib

    # the package and the two setup.py maps from outside src/ (compile_dir walks each down)
    roots = {Path(p) for name in ("rollout_trace_kit", "rollout_trace_kit.generators", "rollout_trace_kit.conformance")
             for p in importlib.import_module(name).__path__}
    ok = all(compileall.compile_dir(str(r), quiet=1, workers=1) for r in sorted(roots))
    return "bytecode written" if ok else "bytecode NOT written for every module (a compile failed)"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f} (5 min {five:.1f}) on {os.cpu_count()} cores"


def print_goals(out: dict, profile: str = "writer") -> None:
    """The goals, side by side with this run's figures: met or missed."""
    print(f"\ngoals (validate --profile {profile} against the Codex reducer, whole process, ratios from this one run;")
    print(f"the machine is shared: compare ratios within a run, not seconds across runs; {load()} now):")
    for name, _, _, release, goal, rss_goal in LINEAR:
        r = out.get(name)
        if not r or "codex_s" not in r or profile not in r:
            print(f"   {name:15} not measured")
            continue
        ratio = r[profile]["ratio"]
        mb = r[profile]["mb"]
        verdict = "met" if ratio <= goal and mb <= rss_goal else "MISSED"
        cpu = r[profile]["cpu_ratio"]
        print(f"   {name:15} {ratio:5.2f}x Codex {release} (goal <= {goal}x; CPU time {cpu:4.2f}x)  {mb:5.0f} MB "
              f"(goal <= {rss_goal} MB)  {verdict}  [measured at {r['load']}]")
        for mode in DECODE_AHEAD[1:]:
            other = r.get(f"{profile} ({mode})")
            if other and "ratio" in other:
                print(f"   {'':15} {other['ratio']:5.2f}x with the second process {mode} "
                      f"(CPU time {other['cpu_ratio']:4.2f}x)  {other['mb']:5.0f} MB")
    for name, *_ in SUPERLINEAR:
        r = out.get(name)
        if r and "codex_s" in r and profile in r:
            print(f"   {name:15} {r[profile]['ratio']:5.2f}x (CPU time {r[profile]['cpu_ratio']:4.2f}x; "
                  "extra: Codex is superlinear here, no goal)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--payload-events", type=int, default=100_000)
    ap.add_argument("--workdir", help="where the bundles' temporary directory is made (default: the "
                    "system's temp dir); it is removed at the end either way")
    ap.add_argument("--profiles", default="writer,reducer,strict")
    ap.add_argument("--skip-linear", action="store_true", help="skip the turns-only bundle")
    ap.add_argument("--v3", action="store_true", help="only the schema-3 sharded bundle, against Codex 0.171.0")
    ap.add_argument("--extras", action="store_true", help="also the superlinear shapes (lifecycle, payloads, tool-heavy, v3-shards)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each command (the median is printed)")
    ap.add_argument("--decode-ahead", default="auto",
                    help="validate's second process, comma-separated modes to measure each in: auto (when a core "
                    "is idle), on, off; the goals are judged on the first (default: auto)")
    names = [n for n, *_ in LINEAR + SUPERLINEAR]
    ap.add_argument("--only", help=f"measure only these shapes (comma-separated: {','.join(names)})")
    args = ap.parse_args()
    global REPEAT
    REPEAT = max(1, args.repeat)
    DECODE_AHEAD[:] = args.decode_ahead.split(",")
    if not DECODE_AHEAD or any(m not in MODES for m in DECODE_AHEAD):
        ap.error(f"--decode-ahead: modes among {', '.join(MODES)}")
    if args.only:
        only = set(args.only.split(","))
    else:
        only = {n for n, *_ in LINEAR} | ({n for n, *_ in SUPERLINEAR} if args.extras else set())
    if args.skip_linear:
        only.discard("turns-only")
    profiles = args.profiles.split(",")
    compiled = compile_kit()
    if args.v3:
        return measure_v3(args.events, profiles, args.workdir)
    print(f"start: {load()}; the kit's {compiled}")
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        tmp = Path(tmp)
        out = {}
        for name, build, size_option, release, *_ in LINEAR + SUPERLINEAR:
            if name not in only:
                continue
            t = time.perf_counter()
            bundle = build(tmp / name, getattr(args, size_option))
            print(f"\nbuilt {name} bundle in {time.perf_counter() - t:.1f} s")
            out[name] = measure(name, bundle, profiles, release)
            out[name]["load"] = load()
            shutil.rmtree(bundle, ignore_errors=True)  # keep the disk (and the page cache) for the next shape
        print("\n" + json.dumps(out))
        print_goals(out)


def measure_v3(events: int, profiles: list[str], workdir: str | None) -> None:
    """The v3 shape: validate vs Codex 0.171.0's reducer, wall time ratio and peak RSS side by side."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        t = time.perf_counter()
        bundle = build_v3_sharded(Path(tmp) / "v3-shards", events)
        print(f"built v3 sharded bundle in {time.perf_counter() - t:.1f} s")
        out = measure("v3-shards", bundle, profiles, release="0.171.0")
        if "codex_s" in out:
            print("\n   side by side (goal: <= 0.5x the reducer's wall time, <= 150 MB):")
            for profile in profiles:
                r = out[profile]
                print(f"   {profile:8} {r['ratio']:5.2f}x codex 0.171.0 wall time, "
                      f"{r['mb']:5.0f} MB peak RSS (codex {out['codex_mb']:.0f} MB)")
        print("\n" + json.dumps({"v3-shards": out}))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
