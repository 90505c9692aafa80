// Runs the conformance suite's bundle cases against a command, as INTERPRETING.md says. No dependencies.
// node run.mjs SUITE_DIR (--profile P | --release V) [--dialect D] [--only TEXT] -- COMMAND ({bundle} {out} {dialect} replaced)
import { readFileSync, mkdtempSync, cpSync, rmSync, mkdirSync, writeFileSync, symlinkSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join, dirname } from "node:path";
import { tmpdir } from "node:os";

const argv = process.argv.slice(2), cut = argv.indexOf("--"), opt = (k) => { const i = argv.indexOf(k); return i >= 0 && i < cut ? argv[i + 1] : undefined; };
const [root, profile, release, dialect, only, command] = [argv[0], opt("--profile"), opt("--release"), opt("--dialect"), opt("--only"), argv.slice(cut + 1).join(" ")];
if (cut < 1 || !command || !profile === !release) { console.error("usage: node run.mjs SUITE_DIR (--profile P | --release V) [--dialect D] [--only TEXT] -- COMMAND"); process.exit(2); }
const index = JSON.parse(readFileSync(join(root, "cases", "index.json"), "utf8"));
const key = (v) => v.split(/[.-]/).slice(0, 3).map((n) => n.padStart(6, "0")).join(".");
const quote = (s) => `'${s.replaceAll("'", `'\\''`)}'`;
const make = { dir: (p) => mkdirSync(p, { recursive: true }), symlink: (p, s) => symlinkSync(s.target, p),
  fifo: (p) => spawnSync("mkfifo", [p]), big_file: (p, s) => writeFileSync(p, Buffer.concat([Buffer.from(s.head), Buffer.alloc(s.count, s.fill), Buffer.from(s.tail)])) };
let n = 0, failed = 0;
for (const row of index.cases) {
  if (row.kind === "writer" || (dialect && row.dialect !== dialect) || (only && !row.id.includes(only))) continue;
  const exp = JSON.parse(readFileSync(join(root, row.expected), "utf8"));
  const epoch = release && exp.reducers.find((e) => key(e.first) <= key(release) && key(release) <= key(e.last));
  const [mustAccept, errorClass] = profile ? [exp.profiles[profile].verdict === "valid", null] : [epoch?.accepts ?? null, epoch?.error_class];
  n += 1;
  if (mustAccept === null) { console.log(`ok ${n} ${row.id} # SKIP no expected verdict`); continue; }
  const tmp = mkdtempSync(join(tmpdir(), "rtk-case-")), bundle = join(tmp, "bundle");
  cpSync(join(root, exp.bundle), bundle, { recursive: true, verbatimSymlinks: true });
  for (const step of exp.recipe ?? []) { mkdirSync(dirname(join(bundle, step.path)), { recursive: true }); make[step.make](join(bundle, step.path), step); }
  const cmd = command.replaceAll("{bundle}", quote(bundle)).replaceAll("{out}", quote(join(tmp, "out"))).replaceAll("{dialect}", exp.dialect);
  const run = spawnSync(cmd, { shell: true, encoding: "utf8", timeout: 60000, maxBuffer: 1 << 26 });
  rmSync(tmp, { recursive: true, force: true });
  const cls = (index.reducer_errors.find((e) => new RegExp(e.pattern).test(run.stderr)) ?? { name: "unclassified" }).name;
  const problem = ![0, 1].includes(run.status) ? `exit ${run.status ?? run.signal} (an error, not a verdict)`
    : (run.status === 0) !== mustAccept ? `${run.status === 0 ? "accepted" : "rejected"}, expected the opposite`
    : run.status === 1 && errorClass && cls !== errorClass ? `rejected with ${cls}, expected ${errorClass}` : "";
  if (problem) failed += 1;
  console.log(problem ? `not ok ${n} ${row.id} # ${problem}` : `ok ${n} ${row.id}`);
}
console.log(`# ${n} case(s), ${failed} fail`);
process.exit(n === 0 ? 2 : failed ? 1 : 0);
