"""The real Codex writer: run ``codex exec`` against the mock provider, collect its bundles.

Each :class:`CodexScenario` scripts the mock Responses API
(:mod:`.mock_responses`); :func:`run_codex_exec` runs one published Codex
binary on it with ``CODEX_ROLLOUT_TRACE_ROOT`` set, in a temporary
``CODEX_HOME`` and working directory, and returns the bundles it wrote. The
only provider traffic is to the mock on 127.0.0.1; features that would reach
the network at start-up (plugin sync, apps, update checks, analytics) are
switched off in the generated ``config.toml``.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..bundle import MANIFEST
from .mock_responses import MockResponses, Turn, function_call, message


@dataclass(frozen=True)
class CodexScenario:
    name: str
    doc: str
    turns: tuple[Turn, ...]
    prompt: str = "run the scenario"
    expect_success: bool = True  # codex exec exits 0


SCENARIOS: dict[str, CodexScenario] = {
    s.name: s
    for s in (
        CodexScenario("plain", "One inference; the model answers with a message.", (Turn([message("hi there")]),)),
        CodexScenario(
            "tools",
            "exec_command succeeds, then an unknown tool, then a message.",
            (
                Turn([function_call("exec_command", {"cmd": "echo hello-from-exec"}, call_id="call-1", id="fc-1")]),
                Turn([function_call("no_such_tool", {"x": 1}, call_id="call-2", id="fc-2")]),
                Turn([message("all done")]),
            ),
        ),
        CodexScenario(
            "tool_fail",
            "exec_command exits non-zero; the model then answers.",
            (
                Turn([function_call("exec_command", {"cmd": "echo failing >&2; exit 3"}, call_id="call-1", id="fc-1")]),
                Turn([message("the command failed")]),
            ),
        ),
        CodexScenario(
            "provider_error",
            "The provider answers HTTP 500 (no retries): the inference fails.",
            (Turn(http_status=500, error={"type": "server_error", "message": "mock overloaded"}),),
            expect_success=False,
        ),
        CodexScenario(
            "stream_failed",
            "The SSE stream ends with response.failed.",
            (Turn([], failed=True, error={"code": "server_error", "message": "mock stream failure"}),),
            expect_success=False,
        ),
    )
}

CONFIG = """\
model = "gpt-5.5"
model_provider = "mock"
approval_policy = "never"
sandbox_mode = "danger-full-access"

[model_providers.mock]
name = "mock"
base_url = "{base_url}"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
stream_idle_timeout_ms = 20000

[features]
plugins = false
remote_plugin = false
apps = false
in_app_updates = false

[analytics]
enabled = false
"""


@dataclass
class CodexRun:
    scenario: str
    returncode: int | None
    stdout: str
    stderr: str
    bundles: list[Path] = field(default_factory=list)
    requests: int = 0  # POST /v1/responses the mock answered
    other_requests: list[str] = field(default_factory=list)
    timed_out: bool = False


def write_config(codex_home: Path, base_url: str) -> Path:
    codex_home.mkdir(parents=True, exist_ok=True)
    path = codex_home / "config.toml"
    path.write_text(CONFIG.format(base_url=base_url), encoding="utf-8")
    return path


def exec_dirs(root: Path) -> tuple[Path, Path, Path]:
    """CODEX_HOME, the workdir and the trace root of a run under ``root`` (created)."""
    home, work, traces = root / "codex-home", root / "work", root / "traces"
    for d in (home, work, traces):
        d.mkdir(parents=True, exist_ok=True)
    return home, work, traces


def exec_env(home: Path, traces: Path) -> dict[str, str]:
    """The whole environment of a ``codex exec`` run: nothing of the caller's but PATH and TMPDIR."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CODEX_HOME": str(home),
        "CODEX_ROLLOUT_TRACE_ROOT": str(traces),
        "RUST_LOG": "error",
        "NO_COLOR": "1",
        "TMPDIR": os.environ.get("TMPDIR", tempfile.gettempdir()),
    }


def run_codex_exec(binary: Path, scenario: CodexScenario, root: Path, timeout: float = 120.0) -> CodexRun:
    """Run ``codex exec`` on ``scenario``; ``root`` holds CODEX_HOME, the workdir and the traces."""
    home, work, traces = exec_dirs(root)
    with MockResponses(list(scenario.turns)) as server:
        write_config(home, server.base_url)
        env = exec_env(home, traces)
        argv = [str(binary), "exec", "--skip-git-repo-check", "-C", str(work), scenario.prompt]
        try:
            proc = subprocess.run(
                argv,
                cwd=work,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                start_new_session=True,
            )
            rc, out, err, timed_out = proc.returncode, proc.stdout, proc.stderr, False
        except subprocess.TimeoutExpired as e:
            rc, out, err, timed_out = None, e.stdout or b"", e.stderr or b"", True
        run = CodexRun(
            scenario.name,
            rc,
            out.decode("utf-8", "replace"),
            err.decode("utf-8", "replace"),
            requests=len(server.response_requests),
            other_requests=[f"{r.method} {r.path}" for r in server.requests if r not in server.response_requests],
            timed_out=timed_out,
        )
    run.bundles = sorted(p.parent for p in traces.glob(f"*/{MANIFEST}"))
    return run
