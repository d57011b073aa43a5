/**
 * Ordinary faults are diagnostics, not bugs, and no message grows with hostile input: the real `fwc` binary
 * given a missing output directory, a huge file, a line of a megabyte, and state files that are links or
 * garbage holding a secret.
 */
import { spawnSync } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { capText } from "../src/diagnostics/diagnostic.js";
import { codeFrame, FRAME_WIDTH } from "../src/diagnostics/render.js";
import { SourceFile, span } from "../src/diagnostics/source.js";
import { TESTBED_YAML } from "./kernel/deploy-helpers.js";

const bin = join(import.meta.dirname, "..", "dist", "fwc.cjs");
let dir: string;

function fwc(args: string[]) {
  const r = spawnSync(bin, args, { encoding: "utf8", timeout: 30_000, cwd: dir, maxBuffer: 1 << 26 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const NS =
  'set ns [new Simulator]\nsource tb_compat.tcl\nset web [$ns node]\ntb-allow-external $web shared rdr "web/80"\n$ns run\n';
const SECRET = "SECRET-TOKEN-4f9a";

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "fwc-errors-"));
  writeFileSync(join(dir, "testbed.yaml"), TESTBED_YAML);
  writeFileSync(join(dir, "e.ns"), NS);
  writeFileSync(join(dir, "nodes.json"), '{"web": {"ipv4": "10.1.1.3"}}');
});

/** No line of the output is longer than a bounded message and code frame. */
const bounded = (text: string) => Math.max(0, ...text.split("\n").map((l) => l.length));

describe("operating-system errors", () => {
  it("an output file in a missing directory is FWC112 with the path, exit 1 (it was an internal error, exit 3)", () => {
    const out = join(dir, "missing", "dir", "x.nft");
    const r = fwc(["compile", "e.ns", "--exp", "p/e", "--testbed", "testbed.yaml", "--nodes", "nodes.json", "-o", out]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`error[FWC112]: cannot write ${out}: no such file or directory (ENOENT)`);
    expect(r.err).not.toContain("internal error");
  });

  it("an input far larger than any NS file is refused before it is read (a 600 MB file was an internal error)", () => {
    const big = join(dir, "big.ns");
    // Sparse: no disk is used, and fwc must not read it to refuse it.
    const fd = openSync(big, "w");
    closeSync(fd);
    spawnSync("truncate", ["-s", "600M", big]);
    const t = Date.now();
    const r = fwc(["check", "big.ns"]);
    expect(Date.now() - t).toBeLessThan(5000);
    expect(r.code).toBe(1);
    expect(r.out + r.err).toMatch(/error\[FWC100\]: cannot read big\.ns: it is 629145600 bytes, more than fwc reads/);
    expect(r.out + r.err).not.toContain("internal error");
  });
});

describe("bounded messages", () => {
  it("a target of a megabyte gives a message and a code frame of bounded size", () => {
    const huge = "x".repeat(1 << 20);
    writeFileSync(join(dir, "huge.ns"), NS.replace('rdr "web/80"', `nat "${huge}"`));
    const r = fwc(["check", "huge.ns"]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("error[FWC511]");
    expect(r.out).toMatch(/more characters cut/);
    expect(bounded(r.out)).toBeLessThan(1000);
  });

  it("capText keeps the head and says how much was cut; a code frame shows a window of a long line", () => {
    expect(capText("a".repeat(700))).toBe(`${"a".repeat(600)}... (100 more characters cut)`);
    expect(capText("short")).toBe("short");
    const line = `${"a".repeat(5000)}BAD${"b".repeat(5000)}`;
    const f = new SourceFile("f.ns", line);
    const frame = codeFrame(span(f, 5000, 5003), { color: false }).split("\n");
    expect(frame[1]!.length).toBeLessThan(FRAME_WIDTH + 20);
    // The carets stand under BAD in the window shown.
    const at = frame[1]!.indexOf("BAD");
    expect(frame[2]!.indexOf("^")).toBe(at);
    expect(frame[2]!.split("|")[1]!.trim()).toBe("^^^");
  });
});

describe("state files that fwc did not write", () => {
  const state = () => {
    const s = join(dir, `state-${Math.random().toString(36).slice(2)}`);
    mkdirSync(s);
    return s;
  };
  // The state is refused before the gateway is asked anything.
  const status = (s: string) => fwc(["status", "--state", s, "--testbed", "testbed.yaml"]);

  it("a state file that is a symbolic link is refused, and what it points at is not shown", () => {
    const s = state();
    writeFileSync(join(dir, "secret.txt"), `${SECRET}\n`);
    mkdirSync(join(s, "experiments", "p"), { recursive: true });
    symlinkSync(join(dir, "secret.txt"), join(s, "experiments", "p", "e.json"));
    const r = status(s);
    expect(r.code).toBe(1);
    expect(r.err).toContain("not a regular file (a symbolic link)");
    expect(r.err + r.out).not.toContain("SECRET");
    expect(r.err).not.toContain("internal error");
  });

  it("a garbled state file is named, not what it holds", () => {
    const s = state();
    mkdirSync(join(s, "experiments", "p"), { recursive: true });
    writeFileSync(join(s, "experiments", "p", "e.json"), `${SECRET} {}`);
    const r = status(s);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/e\.json: not JSON; restore it from a backup or run fwc reconcile/);
    expect(r.err + r.out).not.toContain("SECRET");
  });
});
