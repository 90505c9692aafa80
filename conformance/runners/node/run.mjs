// Runs the conformance suite against a command, as INTERPRETING.md says. No dependencies.
// node run.mjs SUITE_DIR (--profile P | --release V | --writer) [--dialect D] [--only TEXT] -- COMMAND ({bundle} {out} {dialect} replaced)
import { openSync, readSync, fstatSync, closeSync, readdirSync, constants, mkdtempSync, cpSync, rmSync, mkdirSync, writeFileSync, symlinkSync, lstatSync } from "node:fs";
import { spawn, spawnSync } from "node:child_process"; import { createInterface } from "node:readline";
import { join, dirname, isAbsolute } from "node:path"; import { tmpdir } from "node:os";

const argv = process.argv.slice(2), cut = argv.indexOf("--"), opt = (k) => { const i = argv.indexOf(k); return i >= 0 && i < cut ? argv[i + 1] : undefined; };
const [root, profile, release, writer, dialect, only, command] = [argv[0], opt("--profile"), opt("--release"), argv.slice(0, cut).includes("--writer"), opt("--dialect"), opt("--only"), argv.slice(cut + 1).join(" ")];
if (cut < 1 || !command || [profile, release, writer].filter(Boolean).length !== 1) { console.error("usage: node run.mjs SUITE_DIR (--profile P | --release V | --writer) [--dialect D] [--only TEXT] -- COMMAND"); process.exit(2); }
// a suite may come from anyone: the Python runner's caps (16 MiB a JSON file or a written file, 256 MiB a case bundle, 1 GiB a big file), regular files only
const [MAX_FILE, MAX_BUNDLE, MAX_BIG] = [16 << 20, 256 << 20, 2 ** 30], fail = (m) => { throw new Error(m); }, show = (s) => String(s).replace(/[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\p{Co}\p{Cn}]/gu, (c) => `\\u{${c.codePointAt(0).toString(16)}}`).replaceAll("##[", "##\\x5b").replace(/(^|\s)::/gu, "$1\\x3a:");
const read = (p, cap = MAX_FILE) => { const fd = openSync(p, constants.O_RDONLY | constants.O_NONBLOCK), st = fstatSync(fd); try { if (!st.isFile()) fail(`${p} is not a regular file`); const buf = Buffer.alloc(Math.min(st.size, cap) + 1); let got = 0, n = 1;
  while (n > 0 && got < buf.length) got += n = readSync(fd, buf, got, buf.length - got, null); return got < buf.length ? buf.toString("utf8", 0, got) : fail(`${p} is larger than ${cap} bytes (or grew while read)`); } finally { closeSync(fd); } };
const tree = (p, left = [MAX_BUNDLE]) => { const st = lstatSync(p); if (st.isDirectory()) readdirSync(p).forEach((e) => tree(join(p, e), left)); else if (!st.isSymbolicLink() && (!st.isFile() || (left[0] -= st.size) < 0)) fail(`${p} ${st.isFile() ? `takes the case bundle past ${MAX_BUNDLE} bytes` : "is not a regular file"}`); };
process.on("uncaughtException", (e) => { console.log(`Bail out! ${show(e.message)}`); process.exit(2); }); // a suite that is not what INTERPRETING.md says
const index = JSON.parse(read(join(root, "cases", "index.json")));
const key = (v) => v.split(/[.-]/).slice(0, 3).map((n) => n.padStart(6, "0")).join(".");
const quote = (s) => `'${s.replaceAll("'", `'\\''`)}'`;
const make = { dir: (p) => mkdirSync(p, { recursive: true }), symlink: (p, s) => symlinkSync(s.target, p),
  fifo: (p) => spawnSync("mkfifo", [p]), big_file: (p, s) => s.head.length + s.count * s.fill.length + s.tail.length > MAX_BIG ? fail(`big_file ${s.path} is larger than ${MAX_BIG} bytes`) : writeFileSync(p, Buffer.concat([Buffer.from(s.head), Buffer.alloc(s.count, s.fill), Buffer.from(s.tail)]), { flag: "wx" }) };
const inside = (b, rel) => rel.split("/").reduce((at, part, i, all) => { const next = join(at, part); if (part === ".." || isAbsolute(rel) || (i < all.length - 1 && lstatSync(next, { throwIfNoEntry: false })?.isSymbolicLink())) fail(`path ${rel} leaves ${b}`); return next; }, b);
// JSON with sorted keys; a payload ref (where a writer stores a payload is its choice) as its order of first appearance
const canon = (v, refs) => v === null || typeof v !== "object" ? JSON.stringify(v) : Array.isArray(v) ? `[${v.map((x) => canon(x, refs))}]`
  : refs && "raw_payload_id" in v ? `#${refs.get(JSON.stringify(v)) ?? refs.set(JSON.stringify(v), refs.size + 1).size}` : `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canon(v[k], refs)}`)}}`;
const drop = (doc, pointers) => Object.fromEntries(Object.entries(doc).filter(([k]) => !pointers.includes(`/${k}`)));
async function writerCase(exp, dir) { // plays the script through the writer (protocol v1); returns what differs, or ""
  const child = spawn(command, { shell: true, stdio: ["pipe", "pipe", "inherit"] }), lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const timer = setTimeout(() => child.kill("SIGKILL"), 60000), refs = {}, ask = async (req, id) => { child.stdin.write(JSON.stringify({ ...req, id }) + "\n");
    const { value } = await lines.next(), answer = JSON.parse(value ?? "null"); if (answer?.ok !== true) throw new Error(`${req.cmd}: ${value ?? "no answer"}`); return answer; };
  const fill = (v) => v === null || typeof v !== "object" ? v : "$payload" in v ? refs[v.$payload] : Array.isArray(v) ? v.map(fill) : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)]));
  try { await ask({ cmd: "start", version: 1 }, 0); let id = 1, unchecked = 0;
    for (const { note, handle, ...op } of JSON.parse(read(inside(root, exp.script))).ops) {
      const answer = await ask(op.cmd === "create" ? { ...op, dir } : fill(op), id++);
      if (handle === undefined) continue; refs[handle] = answer.ref; // a shard's body (v3, zstd) is not read here
      if (!answer.ref.path) unchecked += 1; else if (canon(JSON.parse(read(inside(dir, answer.ref.path), MAX_BUNDLE))) !== canon(op.body)) return `payload ${handle}'s body differs`;
    }
    await ask({ cmd: "stop" }, id);
    const [m1, m2] = [dir, inside(root, exp.bundle)].map((b) => drop(JSON.parse(read(join(b, "manifest.json"))), exp.volatile.manifest));
    const [l1, l2] = [dir, inside(root, exp.bundle)].map((b) => read(join(b, "trace.jsonl"), MAX_BUNDLE).replace(/\n$/, "").split("\n")), [r1, r2] = [new Map(), new Map()];
    const line = l1.findIndex((l, i) => canon(drop(JSON.parse(l), exp.volatile.event), r1) !== canon(drop(JSON.parse(l2[i] ?? "null") ?? {}, exp.volatile.event), r2));
    return canon(m1) !== canon(m2) ? "manifest.json differs" : l1.length !== l2.length ? `trace.jsonl has ${l1.length} lines, expected ${l2.length}`
      : line >= 0 ? `trace.jsonl line ${line + 1} differs` : unchecked ? `# ${unchecked} shard bodies not compared` : "";
  } catch (e) { return `the writer failed: ${e.message}`; } finally { clearTimeout(timer); child.stdin.end(); }
}
let n = 0, failed = 0, tmp; process.on("exit", () => tmp && rmSync(tmp, { recursive: true, force: true }));
for (const row of index.cases) {
  if ((row.kind === "writer") !== writer || (dialect && row.dialect !== dialect) || (only && !row.id.includes(only))) continue;
  const exp = JSON.parse(read(inside(root, row.expected))), bundle = join(tmp = mkdtempSync(join(tmpdir(), "rtk-case-")), "bundle");
  const epoch = release && exp.reducers.find((e) => key(e.first) <= key(release) && key(release) <= key(e.last));
  const [mustAccept, errorClass] = writer ? [true, null] : profile ? [exp.profiles[profile].verdict === "valid", null] : [epoch?.accepts ?? null, epoch?.error_class];
  if ((n += 1) && mustAccept === null) { rmSync(tmp, { recursive: true }); console.log(`ok ${n} ${show(row.id)} # SKIP no expected verdict`); continue; }
  let problem = writer ? await writerCase(exp, bundle) : "";
  if (!writer) {
    tree(inside(root, exp.bundle)); cpSync(inside(root, exp.bundle), bundle, { recursive: true, verbatimSymlinks: true });
    for (const step of exp.recipe ?? []) { const p = inside(bundle, step.path); mkdirSync(dirname(p), { recursive: true }); make[step.make](p, step); }
    const cmd = command.replaceAll("{bundle}", quote(bundle)).replaceAll("{out}", quote(join(tmp, "out"))).replaceAll("{dialect}", exp.dialect);
    const run = spawnSync(cmd, { shell: true, encoding: "utf8", timeout: 60000, maxBuffer: 1 << 26 });
    const cls = (index.reducer_errors.find((e) => new RegExp(e.pattern).test(run.stderr)) ?? { name: "unclassified" }).name;
    problem = ![0, 1].includes(run.status) ? `exit ${run.status ?? run.signal} (an error, not a verdict)`
      : (run.status === 0) !== mustAccept ? `${run.status === 0 ? "accepted" : "rejected"}, expected the opposite`
      : run.status === 1 && errorClass && cls !== errorClass ? `rejected with ${cls}, expected ${errorClass}` : "";
  }
  rmSync(tmp, { recursive: true, force: true });
  if (problem && !problem.startsWith("#")) failed += 1;
  console.log(problem && !problem.startsWith("#") ? `not ok ${n} ${show(row.id)} # ${show(problem)}` : `ok ${n} ${show(row.id)}${problem ? " " + show(problem) : ""}`);
}
console.log(`# ${n} case(s), ${failed} fail`);
process.exit(n === 0 ? 2 : failed ? 1 : 0);
