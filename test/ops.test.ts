/**
 * The systemd units of contrib/systemd against the built fwc and docs/operations.md, so that they cannot drift
 * apart: every option a unit gives fwc is one that command's --help lists, the paths the units use are the
 * ones the document tells the operator to make, the stop timeout is above the service's drain, and (where
 * systemd-analyze is installed) `systemd-analyze verify` accepts both units.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const bin = join(root, "dist", "fwc.cjs");
const UNITS = join(root, "contrib", "systemd");
const doc = readFileSync(join(root, "docs", "operations.md"), "utf8");
/** Where the units expect fwc (docs/operations.md, "Install"). */
const FWC_PATH = "/usr/local/bin/fwc";

/** A unit file: section -> key -> values (a key may be given more than once). */
type Unit = Map<string, Map<string, string[]>>;

function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.replace(/\\\n/g, " ").split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const head = /^\[([A-Za-z]+)\]$/.exec(line);
    if (head !== null) {
      section = new Map();
      unit.set(head[1]!, section);
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (kv === null || section === undefined) throw new Error(`not a unit file line: ${line}`);
    section.set(kv[1]!, [...(section.get(kv[1]!) ?? []), kv[2]!]);
  }
  return unit;
}

const units = Object.fromEntries(
  ["fwc.service", "fwc-reconcile.service", "fwc-agent.service"].map((f) => [
    f,
    parseUnit(readFileSync(join(UNITS, f), "utf8")),
  ]),
) as Record<"fwc.service" | "fwc-reconcile.service" | "fwc-agent.service", Unit>;

const get = (u: Unit, section: string, key: string): string[] => u.get(section)?.get(key) ?? [];
const one = (u: Unit, section: string, key: string): string => {
  const v = get(u, section, key);
  if (v.length !== 1) throw new Error(`${section}.${key}: expected one value, found ${v.length}`);
  return v[0]!;
};
const words = (u: Unit, section: string, key: string) => get(u, section, key).flatMap((v) => v.split(/\s+/));

/** The fwc command lines of a unit (ExecStart and friends), as argument lists. */
function fwcCommands(u: Unit): string[][] {
  const out: string[][] = [];
  for (const [key, values] of u.get("Service") ?? [])
    if (/^Exec/.test(key))
      for (const v of values) {
        // No quoting in these units: a quote would need systemd's rules, which this test does not implement.
        expect(v, `${key}=${v}`).not.toMatch(/["']/);
        const argv = v.replace(/^[-@:+!]+/, "").split(/\s+/);
        if (argv[0] === FWC_PATH) out.push(argv);
      }
  return out;
}

/** The options `fwc <command> --help` lists. */
function helpOptions(command: string): Set<string> {
  const r = spawnSync(bin, [command, "--help"], { encoding: "utf8", timeout: 30_000 });
  expect(r.status, r.stderr).toBe(0);
  return new Set([...r.stdout.matchAll(/(?:^|[\s,])(--[a-z][a-z0-9-]*)/g)].map((m) => m[1]!));
}

/** A duration of systemd (90s, 5min, 1min 30s, 120) in seconds. */
function seconds(v: string): number {
  let total = 0;
  for (const m of v.matchAll(/(\d+)\s*(min|m|s|sec|h)?/g))
    total += Number(m[1]) * (m[2] === "min" || m[2] === "m" ? 60 : m[2] === "h" ? 3600 : 1);
  return total;
}

describe("contrib/systemd", () => {
  it("dist/fwc.cjs is built", () => {
    expect(existsSync(bin), "run `npm run build` (npm test does it) first").toBe(true);
  });

  it("gives fwc only options that its --help lists", () => {
    const seen: string[] = [];
    for (const [name, unit] of Object.entries(units)) {
      const commands = fwcCommands(unit);
      expect(commands.length, `${name} runs ${FWC_PATH}`).toBeGreaterThan(0);
      for (const argv of commands) {
        const command = argv[1]!;
        const known = helpOptions(command);
        for (const arg of argv.slice(2).filter((a) => a.startsWith("--"))) {
          expect(known, `${name}: fwc ${command} has no option ${arg}`).toContain(arg.split("=")[0]);
          seen.push(`${command} ${arg}`);
        }
      }
    }
    // The service's own options are given, not left to defaults that could change.
    expect(seen).toEqual(expect.arrayContaining(["serve --listen", "serve --users", "agent --gateway"]));
  });

  it("runs serve in fwc.service, reconcile in fwc-reconcile.service and agent in fwc-agent.service", () => {
    expect(fwcCommands(units["fwc.service"]).map((a) => a[1])).toEqual(["serve"]);
    expect(fwcCommands(units["fwc-reconcile.service"]).map((a) => a[1])).toEqual(["reconcile"]);
    expect(fwcCommands(units["fwc-agent.service"]).map((a) => a[1])).toEqual(["agent"]);
    // docs/etcd.md shows the unit's command line as it is.
    expect(readFileSync(join(root, "docs", "etcd.md"), "utf8")).toContain(
      fwcCommands(units["fwc-agent.service"])[0]!.join(" "),
    );
  });

  it("agrees with docs/operations.md on every path and on the address", () => {
    const state = one(units["fwc.service"], "Service", "Environment").replace(/^FWC_STATE=/, "");
    expect(state).toMatch(/^\//);
    for (const unit of Object.values(units)) {
      expect(get(unit, "Service", "Environment")).toEqual([`FWC_STATE=${state}`]);
      // The state directory is the only one fwc may write.
      expect(words(unit, "Service", "ReadWritePaths")).toEqual([state]);
    }
    expect(doc).toContain(`FWC_STATE=${state}`);
    // The state directory is made by fwc init (mode 0700), at the path the units use.
    expect(doc).toContain(`fwc init --state ${state} `);
    expect(doc).toContain(`ReadWritePaths=${state}`);
    expect(doc).toContain(`ln -sf /opt/fwc/dist/fwc.cjs ${FWC_PATH}`);

    // The reconcile unit's conditions are files of the state directory that fwc makes.
    const conditions = get(units["fwc-reconcile.service"], "Unit", "ConditionPathExists").map((c) =>
      c.replace(/^\|/, ""),
    );
    expect(conditions.sort()).toEqual([`${state}/fwc.db`, `${state}/pending.db`]);
    for (const c of get(units["fwc-reconcile.service"], "Unit", "ConditionPathExists")) expect(doc).toContain(c);

    const serve = fwcCommands(units["fwc.service"])[0]!;
    const listen = serve[serve.indexOf("--listen") + 1]!;
    const users = serve[serve.indexOf("--users") + 1]!;
    expect(listen).toMatch(/^127\.0\.0\.1:\d+$/); // plain HTTP on loopback only
    expect(doc).toContain(serve.join(" "));
    expect(doc).toContain(`proxy_pass http://${listen};`);
    expect(doc).toContain(`--to ${listen}`);
    expect(doc).toContain(`reverse_proxy ${listen}`);
    expect(doc).toContain(`chmod 0600 ${users}`);
    expect(doc).toContain(`install -d -m 0755 ${users.slice(0, users.lastIndexOf("/"))}`);
  });

  it("lets the proxy take what fwc takes", () => {
    const r = spawnSync(bin, ["serve", "--help"], { encoding: "utf8", timeout: 30_000 });
    const limit = Number(/largest request body taken \(default: (\d+)\)/.exec(r.stdout.replace(/\s+/g, " "))?.[1]);
    expect(limit).toBeGreaterThan(0);
    const nginx = /client_max_body_size (\d+)k;/.exec(doc);
    const caddy = /max_size (\d+)KB/.exec(doc);
    expect(Number(nginx?.[1]) * 1024).toBeGreaterThanOrEqual(limit);
    expect(Number(caddy?.[1]) * 1000).toBeGreaterThanOrEqual(limit);
  });

  it("stops fwc.service as the service expects", () => {
    const u = units["fwc.service"];
    expect(one(u, "Service", "ExecReload")).toBe("/bin/kill -HUP $MAINPID");
    expect(one(u, "Service", "KillSignal")).toBe("SIGTERM");
    expect(one(u, "Service", "KillMode")).toBe("mixed");
    expect(one(u, "Service", "Restart")).toBe("on-failure");
    // Above the service's drain: connections still open are cut after this long (src/service/server.ts).
    const server = readFileSync(join(root, "src", "service", "server.ts"), "utf8");
    const drain = /closeAllConnections\(\), ([\d_]+)\)/.exec(server);
    expect(drain, "the drain timer in src/service/server.ts").not.toBeNull();
    const drainSeconds = Number(drain![1]!.replace(/_/g, "")) / 1000;
    expect(seconds(one(u, "Service", "TimeoutStopSec"))).toBeGreaterThan(drainSeconds);
    expect(doc).toContain(`Connections still open after ${drainSeconds} s are cut`);
  });

  it("orders the reconcile before the network and the service", () => {
    const s = units["fwc.service"];
    const r = units["fwc-reconcile.service"];
    expect(words(s, "Unit", "After")).toEqual(
      expect.arrayContaining(["network-online.target", "fwc-reconcile.service"]),
    );
    expect(words(s, "Unit", "Wants")).toContain("fwc-reconcile.service");
    expect(words(r, "Unit", "Before")).toEqual(expect.arrayContaining(["network-pre.target", "fwc.service"]));
    expect(words(r, "Unit", "Wants")).toContain("network-pre.target");
    expect(one(r, "Unit", "DefaultDependencies")).toBe("no");
    expect(one(r, "Service", "Type")).toBe("oneshot");
    expect(one(r, "Service", "RemainAfterExit")).toBe("yes");
  });

  it("keeps the hardening that would break nft out", () => {
    for (const unit of Object.values(units)) {
      const service = unit.get("Service")!;
      for (const key of ["PrivateNetwork", "PrivateUsers", "RestrictNamespaces", "MemoryDenyWriteExecute"])
        expect(service.has(key), key).toBe(false);
      expect(words(unit, "Service", "RestrictAddressFamilies")).toContain("AF_NETLINK");
      expect(words(unit, "Service", "CapabilityBoundingSet")).toEqual(["CAP_NET_ADMIN", "CAP_SYS_ADMIN"]);
    }
  });

  const analyze = spawnSync("systemd-analyze", ["--version"], { encoding: "utf8" });
  it.skipIf(analyze.status !== 0)("passes systemd-analyze verify", () => {
    // The units with fwc where this checkout built it: verify checks that the executable exists.
    const dir = mkdtempSync(join(tmpdir(), "fwc-units-"));
    try {
      const files = Object.keys(units).map((name) => {
        const text = readFileSync(join(UNITS, name), "utf8").replaceAll(FWC_PATH, bin);
        writeFileSync(join(dir, name), text);
        return join(dir, name);
      });
      const r = spawnSync("systemd-analyze", ["verify", ...files], { encoding: "utf8", timeout: 60_000 });
      expect(`${r.stdout}${r.stderr}`.trim()).toBe("");
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
