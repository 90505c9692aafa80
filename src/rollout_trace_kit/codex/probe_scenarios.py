"""Scenario classes a release probe drives through ``codex exec`` (writer side).

Each :class:`ProbeScenario` scripts the loopback mock (:mod:`.mock_responses`), may
switch on features (``--enable``), add config (an MCP server, an auto-compaction
limit), interrupt the run, or resume it. :func:`run_scenario` runs one release on
one scenario in a scratch directory and returns the bundles it wrote.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from ..bundle import MANIFEST
from .exec_writer import CONFIG, SCENARIOS, exec_dirs, exec_env
from .mock_responses import MockResponses, Turn, function_call, message

Script = Callable[[], "Sequence[Turn] | Callable[[int, dict | None], Turn]"]


@dataclass(frozen=True)
class ProbeScenario:
    name: str
    doc: str
    script: Script  # a fresh script per run (some keep state)
    enable: tuple[str, ...] = ()
    top_config: str = ""  # top-level config.toml keys
    table_config: str = ""  # config.toml tables, appended
    provider_name: str = "mock"  # "OpenAI" makes Codex compact remotely
    interrupt: int | None = None  # signal sent once the run's first tool is running
    resume: bool = False  # then run ``codex exec resume --last`` in the same home
    compact_status: int = 200
    timeout: float = 90.0
    # runs of the scenario, each in a fresh home: a race (a child ending after the root, a signal
    # landing mid-write) shows in some runs only
    repeat: int = 1


def exec_call(cmd: str, n: int, **extra) -> dict:
    return function_call("exec_command", {"cmd": cmd, "yield_time_ms": 2000, **extra}, call_id=f"call-{n}", id=f"fc-{n}")


def custom_exec(js: str, n: int) -> dict:
    return {"type": "custom_tool_call", "status": "completed", "id": f"ctc-{n}", "call_id": f"call-exec-{n}",
            "name": "exec", "input": js}


def _namespaced(name: str, namespace: str, args: dict, n: int) -> dict:
    item = function_call(name, args, call_id=f"call-{n}", id=f"fc-{n}")
    item["namespace"] = namespace
    return item


def _stdin_script():
    def turn(n: int, body: dict | None) -> Turn:
        if n == 1:
            return Turn([exec_call("cat", 1, tty=True, yield_time_ms=500)])
        found = re.search(r"session ID (\d+)|session_id\W+(\d+)", json.dumps(body or {}))
        sid = int(next(g for g in found.groups() if g)) if found else 1
        if n == 2:
            return Turn([function_call("write_stdin", {"session_id": sid, "chars": "hello\n", "yield_time_ms": 500},
                                       call_id="call-2", id="fc-2")])
        if n == 3:
            return Turn([function_call("write_stdin", {"session_id": sid, "chars": "\u0004", "yield_time_ms": 500},
                                       call_id="call-3", id="fc-3")])
        return Turn([message("stdin done")])
    return turn


def _multi_agent_script(namespace: str | None, wait: str):
    state = {"parent": 0, "child": 0}

    def call(name: str, args: dict, n: int) -> dict:
        return _namespaced(name, namespace, args, n) if namespace else function_call(name, args, call_id=f"call-{n}", id=f"fc-{n}")

    def turn(n: int, body: dict | None) -> Turn:
        items = (body or {}).get("input") or []
        text = json.dumps(items)
        spawned = any(isinstance(i, dict) and i.get("type") == "function_call" and i.get("name") == "spawn_agent" for i in items)
        role = "child" if "CHILD-TASK" in text and not spawned else "parent"
        state[role] += 1
        step = state[role]
        if role == "child":
            return Turn([exec_call("echo child-working", 100 + n)]) if step == 1 else Turn([message("child result: 42")])
        if step == 1:
            return Turn([call("spawn_agent", {"message": "CHILD-TASK: compute the answer", "task_name": "child_task",
                                              "fork_turns": "none"}, n)])
        if step == 2:
            return Turn([call(wait, {"timeout_ms": 30000}, n)])
        return Turn([message("parent done")])
    return turn


_AUTO_COMPACT = "model_auto_compact_token_limit = 1000\n"


def _compaction_script(fail: bool = False):
    """Over the limit after the first tool; a request ending in ``compaction_trigger`` (remote
    compaction through /responses) gets one ``compaction`` item, or HTTP 500 when ``fail``."""
    state = {"step": 0}

    def turn(n: int, body: dict | None) -> Turn:
        items = (body or {}).get("input") or []
        if items and isinstance(items[-1], dict) and items[-1].get("type") == "compaction_trigger":
            if fail:
                return Turn(http_status=500, error={"type": "server_error", "message": "mock compaction failure"})
            return Turn([{"type": "compaction", "id": f"cmp-{n}", "encrypted_content": f"MOCK-COMPACTED-{n}"}])
        state["step"] += 1
        if state["step"] == 1:
            return Turn([exec_call("echo before-compaction", 1)], total_tokens=50_000)
        if state["step"] == 2 and "summar" in json.dumps(items[-1:]).lower():
            return Turn([message("summary of the conversation")])  # local compaction asks for a summary
        return Turn([message("after compaction")])
    return turn

_MCP = (
    "\n[mcp_servers.mockmcp]\n"
    f"command = {json.dumps(sys.executable)}\n"
    'args = ["-m", "rollout_trace_kit.codex.mock_mcp"]\n'
    "startup_timeout_sec = 20\n"
)

PROBE_SCENARIOS: dict[str, ProbeScenario] = {s.name: s for s in (
    ProbeScenario("single_turn", SCENARIOS["plain"].doc, lambda: list(SCENARIOS["plain"].turns)),
    ProbeScenario("tools", SCENARIOS["tools"].doc, lambda: list(SCENARIOS["tools"].turns)),
    ProbeScenario("failing_tools", SCENARIOS["tool_fail"].doc, lambda: list(SCENARIOS["tool_fail"].turns)),
    ProbeScenario("http_500", SCENARIOS["provider_error"].doc, lambda: list(SCENARIOS["provider_error"].turns)),
    ProbeScenario("stream_failure", SCENARIOS["stream_failed"].doc, lambda: list(SCENARIOS["stream_failed"].turns)),
    ProbeScenario("interrupt", "SIGINT while a command runs (Ctrl-C: the turn is cancelled).",
                  lambda: [Turn([exec_call("sleep 30", 1, yield_time_ms=25000)])], interrupt=signal.SIGINT, repeat=3),
    ProbeScenario("interrupt_inference", "SIGINT while the model is still answering (the stream is held open).",
                  lambda: [Turn([message("too late")], stall=30.0)], interrupt=signal.SIGINT, repeat=3),
    ProbeScenario("killed", "SIGKILL while a command runs: the writer gets no chance to end anything.",
                  lambda: [Turn([exec_call("sleep 30", 1, yield_time_ms=25000)])], interrupt=signal.SIGKILL),
    ProbeScenario("resume", "One turn, then `codex exec resume --last` with a second prompt (two bundles).",
                  lambda: [Turn([message("first")]), Turn([message("second")])], resume=True),
    ProbeScenario("compaction_remote", "Usage over the auto-compact limit; provider named OpenAI: remote compaction.",
                  _compaction_script, top_config=_AUTO_COMPACT, provider_name="OpenAI"),
    ProbeScenario("compaction_failed", "Remote compaction answered with HTTP 500.",
                  lambda: _compaction_script(fail=True), top_config=_AUTO_COMPACT, provider_name="OpenAI",
                  compact_status=500),
    ProbeScenario("compaction_local", "Usage over the auto-compact limit; other provider: local (inference) compaction.",
                  _compaction_script, top_config=_AUTO_COMPACT),
    ProbeScenario("code_mode", "`--enable code_mode`: a cell calling exec_command, then a cell that throws.",
                  lambda: [Turn([custom_exec('const r = await tools.exec_command({cmd: "echo from-code-mode", '
                                             'yield_time_ms: 2000});\ntext(JSON.stringify(r).slice(0, 200));\n', 1)]),
                           Turn([custom_exec('throw new Error("mock failure inside code cell");\n', 2)]),
                           Turn([message("code mode done")])], enable=("code_mode",)),
    ProbeScenario("mcp", "A stdio MCP server: one tool succeeds, one fails.",
                  lambda: [Turn([_namespaced("echo", "mcp__mockmcp", {"text": "ping"}, 1)]),
                           Turn([_namespaced("fail", "mcp__mockmcp", {}, 2)]),
                           Turn([message("mcp done")])], table_config=_MCP),
    ProbeScenario("stdin", "exec_command with a TTY, then write_stdin twice.", _stdin_script),
    ProbeScenario("multi_agent_v2", "`--enable multi_agent_v2`: spawn a child, wait, answer.",
                  lambda: _multi_agent_script("collaboration", "wait_agent"), enable=("multi_agent_v2",), repeat=3),
    ProbeScenario("multi_agent_resume", "`--enable multi_agent_v2`: spawn, wait, answer; then `codex exec resume --last`.",
                  lambda: _multi_agent_script("collaboration", "wait_agent"), enable=("multi_agent_v2",), resume=True,
                  repeat=2),
    ProbeScenario("multi_agent_v1", "`--enable multi_agent`: spawn a child (v1 tools), wait, answer.",
                  lambda: _multi_agent_script(None, "wait"), enable=("multi_agent",)),
)}


@dataclass
class ScenarioRun:
    scenario: str
    returncodes: list[int | None] = field(default_factory=list)
    timed_out: bool = False
    stderr_tail: str = ""
    requests: int = 0
    compact_requests: int = 0
    bundles: list[Path] = field(default_factory=list)


def _config(s: ProbeScenario, base_url: str) -> str:
    body = CONFIG.format(base_url=base_url).replace('name = "mock"', f"name = {json.dumps(s.provider_name)}")
    return s.top_config + body + s.table_config


def _run_once(argv: list[str], env: dict, cwd: Path, s: ProbeScenario, server: MockResponses) -> tuple[int | None, bool, str]:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                start_new_session=True)
        deadline = time.monotonic() + s.timeout
        if s.interrupt is not None:
            # wait for the first tool to be running: the mock has answered the request that calls it
            while time.monotonic() < deadline and proc.poll() is None and not server.response_requests:
                time.sleep(0.1)
            time.sleep(3.0)
            if proc.poll() is None:
                os.killpg(proc.pid, s.interrupt)
        timed_out = False
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 1.0))
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        err.seek(0)
        tail = err.read()[-2000:].decode("utf-8", "replace")
    return proc.returncode, timed_out, tail


def run_repeated(binary: Path, s: ProbeScenario, root: Path) -> ScenarioRun:
    """``s.repeat`` runs of ``s``, each under its own ``root/runN``: one ScenarioRun of them all."""
    if s.repeat <= 1:
        return run_scenario(binary, s, root)
    total = ScenarioRun(s.name)
    for i in range(1, s.repeat + 1):
        one = run_scenario(binary, s, root / f"run{i}")
        total.returncodes += one.returncodes
        total.timed_out |= one.timed_out
        total.stderr_tail = one.stderr_tail or total.stderr_tail
        total.requests += one.requests
        total.compact_requests += one.compact_requests
        total.bundles += one.bundles
    return total


def run_scenario(binary: Path, s: ProbeScenario, root: Path) -> ScenarioRun:
    """Run ``s`` with ``binary``; ``root`` holds CODEX_HOME, the workdir and the traces."""
    home, work, traces = exec_dirs(root)
    run = ScenarioRun(s.name)
    with MockResponses(s.script(), compact_status=s.compact_status) as server:
        (home / "config.toml").write_text(_config(s, server.base_url), encoding="utf-8")
        env = exec_env(home, traces)
        enable = [a for f in s.enable for a in ("--enable", f)]
        argvs = [[str(binary), "exec", *enable, "--skip-git-repo-check", "-C", str(work), "run the scenario"]]
        if s.resume:
            argvs.append([str(binary), "exec", *enable, "resume", "--last", "--skip-git-repo-check", "continue please"])
        for argv in argvs:
            rc, timed_out, tail = _run_once(argv, env, work, s, server)
            run.returncodes.append(rc)
            run.timed_out |= timed_out
            run.stderr_tail = tail
        run.requests = len(server.response_requests)
        run.compact_requests = len(server.compact_requests)
    run.bundles = sorted((p.parent for p in traces.glob(f"*/{MANIFEST}")),
                         key=lambda b: b.stat().st_mtime)
    return run
