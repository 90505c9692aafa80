#!/usr/bin/env node
// A tiny trace writer in JavaScript that speaks the writer driver protocol
// (docs/guides/writer-protocol.md): the proof that a writer in another
// language can be driven by `rollout-trace check-writer`. No dependencies.
//
//   rollout-trace check-writer --cmd 'node tests/writers/node/writer.js'
"use strict";

const fs = require("fs");
const path = require("path");
const readline = require("readline");

const PROTOCOL_VERSION = 1;
const SCHEMA_VERSION = { v1: 1, v2: 2 };

let bundle = null; // { dir, fd, manifest, schemaVersion, nextSeq, nextPayload }

// serde_json's to_writer_pretty layout for compact JSON text: two-space
// indent, "key": value, empty containers kept as {} and []. Works on the text
// so that numbers are copied exactly (JSON.parse would round integers > 2^53).
function reindent(s) {
  let out = "";
  let depth = 0;
  const pad = (d) => "\n" + "  ".repeat(d);
  for (let i = 0; i < s.length; ) {
    const c = s[i];
    if (c === '"') {
      let j = i + 1;
      while (s[j] !== '"') j += s[j] === "\\" ? 2 : 1;
      out += s.slice(i, j + 1);
      i = j + 1;
    } else if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]";
      if (s[i + 1] === close) {
        out += c + close;
        i += 2;
      } else {
        depth += 1;
        out += c + pad(depth);
        i += 1;
      }
    } else if (c === "}" || c === "]") {
      depth -= 1;
      out += pad(depth) + c;
      i += 1;
    } else if (c === ",") {
      out += "," + pad(depth);
      i += 1;
    } else if (c === ":") {
      out += ": ";
      i += 1;
    } else if (c === " " || c === "\n" || c === "\r" || c === "\t") {
      i += 1;
    } else {
      out += c;
      i += 1;
    }
  }
  return out;
}

function writeAll(fd, text) {
  const buf = Buffer.from(text, "utf8");
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
}

function fail(kind, message) {
  const e = new Error(message);
  e.kind = kind;
  throw e;
}

const handlers = {
  start(req) {
    if (req.version !== PROTOCOL_VERSION) fail("unsupported", `protocol ${PROTOCOL_VERSION} only`);
    return {
      version: PROTOCOL_VERSION,
      implementation: { name: "tiny node writer", language: "javascript", version: process.version },
      capabilities: { dialects: ["v1", "v2"] },
    };
  },
  create(req) {
    if (bundle) fail("invalid_request", "create was already sent");
    const schemaVersion = SCHEMA_VERSION[req.dialect];
    if (!schemaVersion) fail("unsupported", `unknown dialect ${req.dialect}`);
    fs.mkdirSync(path.join(req.dir, "payloads"), { recursive: true });
    const manifest = {
      schema_version: schemaVersion,
      trace_id: req.trace_id,
      rollout_id: req.rollout_id,
      root_thread_id: req.root_thread_id,
      started_at_unix_ms: Date.now(),
      raw_event_log: "trace.jsonl",
      payloads_dir: "payloads",
    };
    fs.writeFileSync(path.join(req.dir, "manifest.json"), JSON.stringify(manifest, null, 2), { flag: "wx" });
    const fd = fs.openSync(path.join(req.dir, "trace.jsonl"), "ax"); // O_APPEND | O_CREAT | O_EXCL
    bundle = { dir: req.dir, fd, manifest, schemaVersion, nextSeq: 1, nextPayload: 1 };
    return { manifest };
  },
  write_payload(req) {
    if (!bundle) fail("invalid_request", "no bundle");
    const n = bundle.nextPayload++;
    const rel = `payloads/${n}.json`;
    // the file is complete before the ref exists: any event carrying the ref comes later
    fs.writeFileSync(path.join(bundle.dir, rel), reindent(req.body_json), { flag: "wx" });
    return { ref: { raw_payload_id: `raw_payload:${n}`, kind: { type: req.kind }, path: rel } };
  },
  append_event(req) {
    if (!bundle) fail("invalid_request", "no bundle");
    const event = {
      schema_version: bundle.schemaVersion,
      seq: bundle.nextSeq,
      wall_time_unix_ms: Date.now(),
      rollout_id: bundle.manifest.rollout_id,
      thread_id: req.context.thread_id,
      codex_turn_id: req.context.codex_turn_id,
      payload: req.payload,
    };
    writeAll(bundle.fd, JSON.stringify(event) + "\n"); // one line, straight to the OS
    bundle.nextSeq += 1; // consumed once written
    return { event };
  },
  close() {
    if (bundle && bundle.fd !== null) {
      fs.closeSync(bundle.fd);
      bundle.fd = null;
    }
    return {};
  },
  stop() {
    return handlers.close();
  },
};

function answer(line) {
  let req;
  try {
    req = JSON.parse(line);
  } catch (e) {
    return { id: null, ok: false, error: { kind: "invalid_request", message: String(e) } };
  }
  const handler = handlers[req.cmd];
  if (!handler) return { id: req.id, ok: false, error: { kind: "unsupported", message: `unknown command ${req.cmd}` } };
  try {
    return { id: req.id, ok: true, ...handler(req) };
  } catch (e) {
    return { id: req.id, ok: false, error: { kind: e.kind || "io", message: e.message } };
  }
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on("line", (line) => {
  if (!line.trim()) return;
  const reply = answer(line);
  process.stdout.write(JSON.stringify(reply) + "\n");
  if (reply.ok && JSON.parse(line).cmd === "stop") {
    rl.close();
    process.exit(0);
  }
});
