"""A loopback mock of the OpenAI Responses API, scripted per scenario.

Real Codex releases write trace bundles only while they talk to a model
provider. This server plays the provider: a stdlib ``http.server`` bound to
``127.0.0.1`` on an ephemeral port that answers ``POST /v1/responses`` with
the next scripted :class:`Turn` as a server-sent-event stream
(``response.created``, one ``response.output_item.done`` per output item,
then ``response.completed`` or ``response.failed``), or with an HTTP error.

Nothing here reaches the network: the server only listens on loopback, and
every request it receives is recorded (``server.requests``) so tests can
assert what Codex sent.

    with MockResponses([Turn([function_call("exec_command", {"cmd": "true"})]),
                        Turn([message("done")])]) as server:
        ...  # point a model provider at server.base_url
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Sequence

__all__ = [
    "MockResponses",
    "Turn",
    "function_call",
    "message",
    "reasoning",
]


# --- output items --------------------------------------------------------------------


def message(text: str, *, id: str | None = None) -> dict:
    """An assistant ``message`` output item."""
    return {
        "type": "message",
        "role": "assistant",
        "id": id or "msg-mock",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def function_call(name: str, arguments: dict | str, *, call_id: str | None = None, id: str | None = None) -> dict:
    """A ``function_call`` output item (``arguments`` is sent as a JSON string, as the API does)."""
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {
        "type": "function_call",
        "status": "completed",
        "id": id or f"fc-{name}",
        "name": name,
        "arguments": args,
        "call_id": call_id or f"call-{name}",
    }


def reasoning(summary: str, *, id: str | None = None) -> dict:
    """A ``reasoning`` output item with one summary part."""
    return {
        "type": "reasoning",
        "id": id or "rs-mock",
        "summary": [{"type": "summary_text", "text": summary}],
    }


# --- one scripted answer -----------------------------------------------------------------


@dataclass
class Turn:
    """The answer to one ``POST /v1/responses``.

    * ``items``: output items, each sent as ``response.output_item.done``.
    * ``http_status``: anything but 200 answers with that status and ``error`` as a JSON body.
    * ``failed``: end the stream with ``response.failed`` carrying ``error`` instead of
      ``response.completed``.
    """

    items: Sequence[dict] = ()
    http_status: int = 200
    failed: bool = False
    error: dict = field(
        default_factory=lambda: {"code": "server_error", "message": "mock provider error"}
    )
    total_tokens: int = 2  # reported usage; a large value makes Codex compact before its next request
    # seconds the stream stays open after ``response.created`` before the rest is sent (an
    # inference still running when the probe interrupts the run); the connection then closes
    stall: float = 0.0


@dataclass
class Request:
    """One request the server received."""

    method: str
    path: str
    headers: dict
    body: dict | None


def _sse(event: dict) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def _usage(total_tokens: int = 2) -> dict:
    return {
        "input_tokens": max(total_tokens - 1, 1),
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 1,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": total_tokens,
    }


class MockResponses:
    """The server. Use as a context manager; ``base_url`` is ``http://127.0.0.1:PORT/v1``.

    ``turns`` is a list answered in order (once it runs out, every further request
    gets ``fallback``: by default a plain assistant message, so a misbehaving
    scenario ends instead of looping), or a function ``(n, body) -> Turn``.
    """

    def __init__(
        self,
        turns: Sequence[Turn] | Callable[[int, dict | None], Turn],
        *,
        fallback: Turn | None = None,
        compact_status: int = 200,
    ):
        self._turns = turns
        # POST .../responses/compact (remote compaction) answers one compaction item, or this error status
        self.compact_status = compact_status
        self._fallback = fallback or Turn([message("done")])
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> "MockResponses":
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def _body(self) -> dict | None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if self.headers.get("Content-Encoding", "").lower() == "zstd":
                    return None  # the kit has no zstd decoder; Codex only compresses for OpenAI auth
                try:
                    return json.loads(raw) if raw else None
                except ValueError:
                    return None

            def do_POST(self):
                body = self._body()
                n = mock._record("POST", self.path, dict(self.headers), body)
                if self.path.rstrip("/").endswith("/responses/compact"):
                    mock._compact(self)
                elif self.path.rstrip("/").endswith("/responses"):
                    mock._answer(self, n, body)
                else:
                    self._plain(404, {"error": {"message": f"mock has no {self.path}"}})

            def do_GET(self):
                mock._record("GET", self.path, dict(self.headers), None)
                if self.path.rstrip("/").endswith("/models"):
                    self._plain(200, {"object": "list", "data": [], "models": []})
                else:
                    self._plain(404, {"error": {"message": f"mock has no {self.path}"}})

            def _plain(self, status: int, obj: dict, extra: dict | None = None):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="mock-responses", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "MockResponses":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def response_requests(self) -> list[Request]:
        return [r for r in self.requests if r.method == "POST" and r.path.rstrip("/").endswith("/responses")]

    # -- answering ---------------------------------------------------------------------------
    def _record(self, method: str, path: str, headers: dict, body) -> int:
        with self._lock:
            self.requests.append(Request(method, path, headers, body))
            return sum(1 for r in self.requests if r.method == "POST" and r.path.rstrip("/").endswith("/responses"))

    def turn_for(self, n: int, body) -> Turn:
        """The scripted answer to the ``n``-th (1-based) responses request."""
        if callable(self._turns):
            return self._turns(n, body)
        if n <= len(self._turns):
            return self._turns[n - 1]
        return self._fallback

    @property
    def compact_requests(self) -> list[Request]:
        return [r for r in self.requests if r.method == "POST" and r.path.rstrip("/").endswith("/responses/compact")]

    def _compact(self, h: BaseHTTPRequestHandler) -> None:
        n = len(self.compact_requests)
        if self.compact_status != 200:
            obj: dict = {"error": {"type": "server_error", "message": "mock compaction failure"}}
        else:
            obj = {"output": [{"type": "compaction", "id": f"cmp-{n}", "encrypted_content": f"MOCK-COMPACTED-{n}"}]}
        data = json.dumps(obj).encode()
        h.send_response(self.compact_status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.send_header("x-request-id", f"mock-compact-{n}")
        h.end_headers()
        h.wfile.write(data)

    def _answer(self, h: BaseHTTPRequestHandler, n: int, body) -> None:
        turn = self.turn_for(n, body)
        request_id = f"mock-req-{n}"
        if turn.http_status != 200:
            data = json.dumps({"error": turn.error}).encode()
            h.send_response(turn.http_status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.send_header("x-request-id", request_id)
            h.end_headers()
            h.wfile.write(data)
            return
        response_id = f"resp-{n}"
        events: list[dict[str, Any]] = [{"type": "response.created", "response": {"id": response_id}}]
        for i, item in enumerate(turn.items):
            events.append({"type": "response.output_item.done", "output_index": i, "item": item})
        if turn.failed:
            events.append(
                {"type": "response.failed", "response": {"id": response_id, "error": turn.error}}
            )
        else:
            events.append(
                {"type": "response.completed", "response": {"id": response_id, "usage": _usage(turn.total_tokens)}}
            )
        if turn.stall:
            self._stalled(h, request_id, events, turn.stall)
            return
        data = b"".join(_sse(e) for e in events)
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("x-request-id", request_id)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _stalled(self, h: BaseHTTPRequestHandler, request_id: str, events: list[dict[str, Any]], stall: float) -> None:
        """Send ``response.created``, hold the stream open for ``stall`` seconds, then the rest
        (no Content-Length: the end of the stream is the connection closing)."""
        h.close_connection = True
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("x-request-id", request_id)
        h.send_header("Connection", "close")
        h.end_headers()
        try:
            h.wfile.write(_sse(events[0]))
            h.wfile.flush()
            deadline = time.monotonic() + stall
            while time.monotonic() < deadline:
                time.sleep(0.5)
                h.wfile.write(b": still thinking\n\n")  # an SSE comment: fails once the client has gone
                h.wfile.flush()
            h.wfile.write(b"".join(_sse(e) for e in events[1:]))
            h.wfile.flush()
        except OSError:
            pass  # the client went away (interrupted): nothing left to answer
