/**
 * Injected faults on a real gateway: an invalid ruleset, nft missing, fwc killed after writing its intent and
 * after changing the kernel, a full disk for the state directory, and a state directory held by another fwc.
 * After each, the gateway passes exactly the traffic it passed before (real packets), and the state is
 * consistent with the kernel (`fwc status`), at once or after the next command rolled the change back.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fwcOn, TESTBED_YAML } from "./deploy-helpers.js";
import { canRunKernelTests, Lab } from "./lab.js";

const E1 = `set ns [new Simulator]
source tb_compat.tcl
set web [$ns node]
set db [$ns node]
tb-allow-external $web shared rdr "web/80"
$ns run
`;

describe.skipIf(!canRunKernelTests())("faults leave the gateway as it was", () => {
  const lab = new Lab("faults");
  const dir = mkdtempSync(join(tmpdir(), "fwc-faults-"));
  const state = join(dir, "state");
  const fwc = fwcOn(lab, dir, state, ["--wait", "1"]);
  // What the gateway passes: the granted redirect, and the port the next grant would get (nothing there yet).
  const traffic = () => [
    lab.send("inet", "tcp", "198.51.100.1", 20000),
    lab.send("inet", "tcp", "198.51.100.1", 20001),
  ];
  const baseline = ["web:80 198.51.100.2", "REFUSED"];
  const inStep = () => {
    const r = fwc(["status"]);
    expect([r.code, r.err]).toEqual([0, ""]);
    expect(r.out).toContain("The gateway is in step with the state.");
    expect(fwc(["status", "--exp", "proj/e1", "--json"]).out).not.toContain('"node": "db"');
  };

  beforeAll(async () => {
    writeFileSync(join(dir, "testbed.yaml"), TESTBED_YAML);
    writeFileSync(join(dir, "e1.ns"), E1);
    writeFileSync(join(dir, "e1.json"), JSON.stringify({ web: { ipv4: "10.1.1.3" }, db: { ipv4: "10.1.1.4" } }));
    // The state directory lives on a small file system of its own, to be filled up later.
    mkdirSync(state);
    lab.sh(["mount", "-t", "tmpfs", "-o", "size=2m", "fwc-test", state]);
    for (const ns of ["inet", "gw", "web", "db"]) lab.addNamespace(ns);
    lab.link("inet", "inet0", ["198.51.100.2/24"], "gw", "eth0", ["198.51.100.1/24"]);
    lab.insideLan(
      ["10.1.1.1/24"],
      [
        ["web", ["10.1.1.3/24"]],
        ["db", ["10.1.1.4/24"]],
      ],
      "10.1.1.1",
    );
    lab.exec("gw", ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    await lab.listen("web", "tcp", "10.1.1.3", 80, "web:80");
    await lab.listen("db", "tcp", "10.1.1.4", 5432, "db:5432");
    const r = fwc(["swapin", join(dir, "e1.ns"), "--exp", "proj/e1", "--nodes", join(dir, "e1.json")]);
    expect([r.code, r.err]).toEqual([0, ""]);
    expect(traffic()).toEqual(baseline);
  }, 60_000);

  afterAll(() => {
    lab.destroy();
    spawnSync("umount", [state]);
    rmSync(dir, { recursive: true, force: true });
  });

  const open = ["open", "--exp", "proj/e1", "--rdr", "db/5432"];

  it("an invalid ruleset: nft refuses the whole transaction, nothing changes", () => {
    const r = fwc(open, { FWC_FAILPOINT: "invalid-ruleset" });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error\[FWC803\]: nft refused the change \(nothing was applied\)/);
    expect(traffic()).toEqual(baseline);
    inStep();
  });

  it("nft missing: a clear error, nothing changes", () => {
    const path = join(dir, "bin");
    mkdirSync(path, { recursive: true });
    for (const [name, target] of [
      ["ip", lab.sh(["which", "ip"]).trim()],
      ["node", process.execPath],
    ] as const)
      symlinkSync(target, join(path, name));
    const r = fwc(open, { PATH: path });
    expect(r.code).toBe(1);
    expect(r.err).toContain("error[FWC803]: nft is not installed on the gateway");
    expect(traffic()).toEqual(baseline);
    inStep();
  });

  it("killed after writing its intent: the kernel is untouched, the next command rolls the intent back", () => {
    const r = fwc(open, { FWC_FAILPOINT: "after-intent" });
    expect(r.signal).toBe("SIGKILL");
    expect(traffic()).toEqual(baseline);
    const s = fwc(["status"]);
    expect(s.code).toBe(1);
    expect(s.err).toContain("an unfinished `open` of proj/e1");
    // The dead process's lock is taken over; the change is undone.
    const rec = fwc(["reconcile"]);
    expect(rec.code).toBe(0);
    expect(rec.err).toContain("warning[FWC808]: rolled back the unfinished `open` of proj/e1");
    expect(traffic()).toEqual(baseline);
    inStep();
  });

  it("killed after changing the kernel: status finds it, the next command rolls it back", () => {
    const r = fwc(open, { FWC_FAILPOINT: "after-nft" });
    expect(r.signal).toBe("SIGKILL");
    // The kernel has the new grant, the state does not: that is drift, and status says so.
    expect(lab.send("inet", "tcp", "198.51.100.1", 20001)).toBe("db:5432 198.51.100.2");
    const s = fwc(["status"]);
    expect(s.code).toBe(1);
    expect(s.err).toContain("error[FWC810]");
    // The element is no experiment's in the state: it is a stray, whatever its comment says.
    expect(s.err).toMatch(/fwc's tables hold 1 element\(s\) the state does not, e\.g\. rdr4 .* "proj\/e1 open/);
    // Any next command first rolls back; here an unrelated status-changing one.
    const o = fwc(["open", "--exp", "proj/e1", "--nat", "192.0.2.1/53/udp"]);
    expect(o.code).toBe(0);
    expect(o.err).toContain("rolled back the unfinished `open` of proj/e1");
    expect(traffic()).toEqual(baseline);
    expect(fwc(["close", "--exp", "proj/e1", "--all"]).code).toBe(0);
    inStep();
  });

  it("a full disk for the state directory: nothing changes, and the error says why", () => {
    // Fill the state's file system to the last byte.
    spawnSync("dd", ["if=/dev/zero", `of=${join(state, "filler")}`, "bs=4k"], { encoding: "utf8" });
    const r = fwc(open);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error\[FWC802\]: cannot (write|use) the state( directory)?: ENOSPC/);
    expect(traffic()).toEqual(baseline);
    rmSync(join(state, "filler"));
    inStep();
  });

  it("a deleted index is rebuilt from the experiments, never taken as empty: a held port is not handed out", () => {
    // proj/e1 holds 20000 (web/80). Without its index, an empty one gave 20000 to another experiment's swapin.
    rmSync(join(state, "index.json"));
    writeFileSync(
      join(dir, "e2.ns"),
      'set ns [new Simulator]\nsource tb_compat.tcl\nset x [$ns node]\ntb-allow-external $x shared rdr "x/22"\n$ns run\n',
    );
    writeFileSync(join(dir, "e2.json"), JSON.stringify({ x: { ipv4: "10.1.1.9" } }));
    const r = fwc(["swapin", join(dir, "e2.ns"), "--exp", "proj/e2", "--nodes", join(dir, "e2.json"), "--json"]);
    expect(r.code).toBe(0);
    const ports = (JSON.parse(r.out) as { inbound: { external: { port: number } }[] }).inbound;
    expect(ports.map((e) => e.external.port)).toEqual([20001]);
    expect(lab.send("inet", "tcp", "198.51.100.1", 20000)).toBe("web:80 198.51.100.2");
    expect(fwc(["swapout", "--exp", "proj/e2"]).code).toBe(0);
    inStep();
  });

  it("a garbled index: commands refuse and name it, reconcile rebuilds it and says what was lost", () => {
    writeFileSync(join(state, "index.json"), '{"version": 1, "ports": [garbage');
    const refused = fwc(open);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/error\[FWC802\]: .*index\.json: not JSON/);
    expect(traffic()).toEqual(baseline);
    const r = fwc(["reconcile"]);
    expect(r.code).toBe(0);
    expect(r.err).toContain("warning[FWC815]");
    expect(r.err).toContain("rebuilt from the 1 experiment(s)' own records");
    inStep();
    // The rebuilt index still knows proj/e1's port.
    const o = fwc(["open", "--exp", "proj/e1", "--rdr", "db/5432", "--json"]);
    expect(o.code).toBe(0);
    expect(o.out).toContain('"port": 20001');
    expect(fwc(["close", "--exp", "proj/e1", "--all"]).code).toBe(0);
    inStep();
  });

  it("one fwc at a time: a busy state directory is waited for, then named", () => {
    // A live process holds the lock (this test's own pid stands for another fwc).
    writeFileSync(join(state, "lock"), `${process.pid} 2026-11-22T00:00:00Z\n`);
    const r = fwc(open);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`error[FWC804]: another fwc (pid ${process.pid}, since 2026-11-22T00:00:00Z) holds`);
    rmSync(join(state, "lock"));
    expect(traffic()).toEqual(baseline);
    inStep();
  });
});
