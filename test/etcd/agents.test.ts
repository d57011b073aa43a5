/**
 * Many gateways through etcd, with real parts: an etcd started by the test (loopback, temporary data), three
 * gateway labs in network namespaces, one `fwc agent` on each, and the real `fwc` commands writing to etcd. Real
 * packets prove each step on every gateway: swapin, open, close, swapout; an agent killed while grants change
 * and etcd compacted past its revision; etcd restarted; an established flow across its own agent's restart; a
 * gateway cut off from etcd.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FWC, nsText, TESTBED_YAML } from "../kernel/deploy-helpers.js";
import { canRunKernelTests, Lab } from "../kernel/lab.js";
import { type Server, sha, startServer, TOKENS } from "../service/serve-helpers.js";
import { canRunEtcd, cuttableProxy, type Etcd, startEtcd } from "./etcd-helpers.js";

const NS = nsText(["web", "db"], 'tb-allow-external $web shared rdr "web/80"');

const testbedYaml = (endpoint: string) => `${TESTBED_YAML}store:
  etcd:
    endpoints: ["${endpoint}"]
    prefix: /fwc-agents/
`;

interface Endpoints {
  inbound: { node: string; port: number; external: { port: number } }[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!canRunKernelTests() || !canRunEtcd())("three gateways following etcd", () => {
  const dir = mkdtempSync(join(tmpdir(), "fwc-agents-"));
  const labs = [new Lab("ag1"), new Lab("ag2"), new Lab("ag3")];
  const names = ["gw1", "gw2", "gw3"];
  const agents: (ChildProcess | null)[] = [null, null, null];
  const logs = ["", "", ""];
  let etcd: Etcd;
  let proxy: Awaited<ReturnType<typeof cuttableProxy>>;
  let server: Server;
  /** A grant asked of `fwc serve` (on the same etcd) by alice, a member of proj. */
  const grant = async (rdr: string, method = "POST") => {
    const r = await fetch(`${server.url}/api/v1/experiments/proj/e1/grants`, {
      method,
      headers: { authorization: `Bearer ${TOKENS.alice}`, "content-type": "application/json" },
      body: JSON.stringify({ rdr }),
    });
    // biome-ignore lint/suspicious/noExplicitAny: the listing, with `gateways`
    return { status: r.status, body: (await r.json()) as any };
  };

  /** Agent i, on its lab's gateway; gw2 reaches etcd through the proxy that can be cut. */
  const startAgent = async (i: number) => {
    // A killed agent's status file says what it last knew: the new agent writes its own.
    rmSync(join(dir, `${names[i]}.status`), { force: true });
    const testbed = join(dir, i === 1 ? "testbed-proxy.yaml" : "testbed.yaml");
    const child = spawn(
      FWC,
      [
        "agent",
        "--gateway",
        names[i]!,
        "--testbed",
        testbed,
        "--netns",
        labs[i]!.name("gw"),
        "--resync",
        "1s",
        "--lease",
        // gw2's report outlives a cut by 4 s at least (the test of 202 needs it live while it lags).
        i === 1 ? "6s" : "3s",
        "--status-file",
        join(dir, `${names[i]}.status`),
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    child.stderr!.on("data", (d: Buffer) => {
      logs[i] += String(d);
    });
    agents[i] = child;
    await until(() => status(i)?.stale === false, 15_000, `agent ${names[i]} following etcd`);
  };
  const stopAgent = async (i: number, signal: NodeJS.Signals) => {
    const child = agents[i]!;
    const exit = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    child.kill(signal);
    agents[i] = null;
    return exit;
  };
  const status = (i: number): { revision: string; stale: boolean } | null => {
    try {
      return JSON.parse(readFileSync(join(dir, `${names[i]}.status`), "utf8"));
    } catch {
      return null;
    }
  };
  const until = async (f: () => boolean, ms: number, what: string) => {
    const end = Date.now() + ms;
    while (!f()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${logs.join("\n---\n")}`);
      await sleep(50);
    }
  };
  const fwc = (args: string[], wait = 10) => {
    const r = spawnSync(FWC, [...args, "--testbed", join(dir, "testbed.yaml"), "--wait", String(wait)], {
      encoding: "utf8",
      cwd: dir,
      timeout: 60_000,
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const ok = (args: string[]): Endpoints => {
    const r = fwc([...args, "--json"]);
    expect([r.code, r.err]).toEqual([0, ""]);
    return JSON.parse(r.out) as Endpoints;
  };
  const port = (e: Endpoints, node: string, internal: number) =>
    e.inbound.find((x) => x.node === node && x.port === internal)!.external.port;
  /** What the Internet host of each lab gets from the gateway's port: a node's answer, or "-" for nothing. */
  const everywhere = (p: number) =>
    labs.map((l) => {
      const r = l.send("inet", "tcp", "198.51.100.1", p);
      return r === "TIMEOUT" || r === "REFUSED" ? "-" : r;
    });
  const NOWHERE = ["-", "-", "-"];

  beforeAll(async () => {
    etcd = await startEtcd();
    proxy = await cuttableProxy(etcd.url);
    writeFileSync(join(dir, "testbed.yaml"), testbedYaml(etcd.url));
    writeFileSync(join(dir, "testbed-proxy.yaml"), testbedYaml(proxy.url));
    writeFileSync(join(dir, "e1.ns"), NS);
    writeFileSync(join(dir, "e1.json"), JSON.stringify({ web: { ipv4: "10.1.1.3" }, db: { ipv4: "10.1.1.4" } }));
    for (const lab of labs) {
      lab.standard({ web: "10.1.1.3", db: "10.1.1.4" });
      await lab.listen("web", "tcp", "10.1.1.3", 80, "web:80");
      await lab.listen("db", "tcp", "10.1.1.4", 5432, "db:5432");
      await lab.echo("db", "10.1.1.4", 22, "db:22");
    }
    for (let i = 0; i < 3; i++) await startAgent(i);
    writeFileSync(
      join(dir, "users.yaml"),
      `users:\n  - name: alice\n    token_sha256: "${sha(TOKENS.alice)}"\n    projects: [proj]\n`,
      { mode: 0o600 },
    );
    // The service scans etcd for grants whose time is up every half second.
    server = await startServer(
      [
        "--users",
        join(dir, "users.yaml"),
        "--testbed",
        join(dir, "testbed.yaml"),
        "--state",
        join(dir, "unused-state"),
        "--wait",
        "2",
      ],
      { FWC_EXPIRY_SCAN_MS: "500" },
    );
  }, 90_000);

  afterAll(async () => {
    server?.child.kill("SIGKILL");
    for (let i = 0; i < 3; i++) if (agents[i] !== null) await stopAgent(i, "SIGKILL");
    proxy?.close();
    await etcd?.stop();
    for (const lab of labs) lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  let web80: number;
  let db5432 = 0;

  it("swapin, open, close and swapout reach the packets on every gateway, and the command waits for them", async () => {
    const e = ok(["swapin", join(dir, "e1.ns"), "--exp", "proj/e1", "--nodes", join(dir, "e1.json")]);
    web80 = port(e, "web", 80);
    // The command returned after every live gateway reported the change: no waiting here.
    expect(everywhere(web80)).toEqual(Array(3).fill("web:80 198.51.100.2"));
    db5432 = port(ok(["open", "--exp", "proj/e1", "--rdr", "db/5432"]), "db", 5432);
    expect(everywhere(db5432)).toEqual(Array(3).fill("db:5432 198.51.100.2"));
    ok(["close", "--exp", "proj/e1", "--rdr", "db/5432"]);
    expect(everywhere(db5432)).toEqual(NOWHERE);
    expect(everywhere(web80)).toEqual(Array(3).fill("web:80 198.51.100.2"));
    const out = fwc(["swapout", "--exp", "proj/e1"]);
    expect([out.code, out.err]).toEqual([0, ""]);
    expect(everywhere(web80)).toEqual(NOWHERE);
    web80 = port(ok(["swapin", join(dir, "e1.ns"), "--exp", "proj/e1", "--nodes", join(dir, "e1.json")]), "web", 80);
    expect(everywhere(web80)).toEqual(Array(3).fill("web:80 198.51.100.2"));
    // The service on the same etcd: 200 once every gateway applied the grant, with where they are.
    const viaApi = await grant("web/8080");
    expect(viaApi.status).toBe(200);
    expect(viaApi.body.gateways).toMatchObject({ done: ["gw1", "gw2", "gw3"], pending: [] });
    const p8080 = viaApi.body.inbound.find((x: { port: number }) => x.port === 8080).external.port as number;
    expect(everywhere(p8080)).toEqual(NOWHERE); // nothing listens on web:8080: the gateway passes, the node refuses
    expect((await grant("web/8080", "DELETE")).status).toBe(200);
    // status: each gateway at the store's revision, live.
    const s = fwc(["status", "--json"]);
    expect(s.code).toBe(0);
    const gws = (JSON.parse(s.out) as { gateways: { gateway: string; lag: number; live: boolean }[] }).gateways;
    expect(gws.map((g) => [g.gateway, g.lag, g.live])).toEqual([
      ["gw1", 0, true],
      ["gw2", 0, true],
      ["gw3", 0, true],
    ]);
  }, 60_000);

  it("an agent killed while grants change, with etcd compacted past its revision, converges on restart", async () => {
    const opened = port(ok(["open", "--exp", "proj/e1", "--rdr", "db/5432"]), "db", 5432);
    expect(everywhere(opened)).toEqual(Array(3).fill("db:5432 198.51.100.2"));
    await stopAgent(2, "SIGKILL");
    // While gw3 is down: one grant removed, one added. The commands are done on the live gateways; gw3 is named
    // as pending while its report lives (its lease), and never a failure.
    const closed = fwc(["close", "--exp", "proj/e1", "--rdr", "db/5432"], 1);
    expect(closed.code).toBe(0);
    expect(closed.err).toMatch(/FWC832.*pending on gw3/s);
    const again = port(ok(["open", "--exp", "proj/e1", "--rdr", "db/5432"]), "db", 5432);
    // gw3 still has the old grant, the others the new one.
    expect(labs[2]!.send("inet", "tcp", "198.51.100.1", opened)).toBe("db:5432 198.51.100.2");
    const rev = JSON.parse(etcd.ctl(["get", "/fwc-agents/generation", "-w", "json"])).header.revision as number;
    etcd.ctl(["compact", String(rev)]);
    await startAgent(2);
    const gw3 = labs[2]!;
    if (opened !== again) expect(everywhere(opened)).toEqual(NOWHERE);
    expect(gw3.send("inet", "tcp", "198.51.100.1", again)).toBe("db:5432 198.51.100.2");
    expect(everywhere(web80)).toEqual(Array(3).fill("web:80 198.51.100.2"));
  }, 60_000);

  it("an established flow keeps flowing across its own agent's restart; the agent changes nothing", async () => {
    const ssh = port(ok(["open", "--exp", "proj/e1", "--rdr", "db/22"]), "db", 22);
    const session = await labs[0]!.session("inet", "198.51.100.1", ssh);
    expect(await session.ask("before")).toBe("db:22 before");
    expect(await stopAgent(0, "SIGTERM")).toBe(0);
    expect(logs[0]).toContain("stopped at revision");
    logs[0] = "";
    await startAgent(0);
    expect(logs[0]).not.toContain("differed");
    expect(await session.ask("after")).toBe("db:22 after");
    session.end();
    ok(["close", "--exp", "proj/e1", "--rdr", "db/22"]);
  }, 60_000);

  /** The external port of db:5432 now, as `fwc status` lists it. */
  const db5432Now = (): number => {
    const s = JSON.parse(fwc(["status", "--exp", "proj/e1", "--json"]).out) as { experiments: Endpoints[] };
    return port(s.experiments[0]!, "db", 5432);
  };

  it("etcd restarted: the agents keep their rules, report themselves stale, reconnect, and follow again", async () => {
    const restarted = etcd.restart(4000);
    await until(() => [0, 1, 2].every((i) => status(i)?.stale === true), 10_000, "every agent stale");
    // Rules kept while etcd is away.
    expect(everywhere(web80)).toEqual(Array(3).fill("web:80 198.51.100.2"));
    await restarted;
    await until(() => [0, 1, 2].every((i) => status(i)?.stale === false), 20_000, "every agent following again");
    const was = db5432Now();
    ok(["close", "--exp", "proj/e1", "--rdr", "db/5432"]);
    expect(everywhere(was)).toEqual(NOWHERE);
  }, 60_000);

  it("a gateway cut off from etcd keeps its last rules and reports itself stale; the others go on", async () => {
    proxy.cut();
    // At once, while gw2's report still lives (its lease): the service answers 202, naming gw2 as pending.
    const pending = await grant("web/8080");
    expect(pending.status).toBe(202);
    expect(pending.body.gateways.done).toEqual(["gw1", "gw3"]);
    expect(pending.body.gateways.pending.map((g: { gateway: string }) => g.gateway)).toEqual(["gw2"]);
    await until(() => status(1)?.stale === true, 15_000, "gw2 stale");
    const opened = fwc(["open", "--exp", "proj/e1", "--rdr", "db/5432", "--json"], 2);
    expect(opened.code).toBe(0);
    const p = port(JSON.parse(opened.out) as Endpoints, "db", 5432);
    // gw2 is pending (its report still lives) or gone from the reports (its lease ended): the others have it.
    expect(labs[0]!.send("inet", "tcp", "198.51.100.1", p)).toBe("db:5432 198.51.100.2");
    expect(labs[2]!.send("inet", "tcp", "198.51.100.1", p)).toBe("db:5432 198.51.100.2");
    expect(everywhere(p)[1]).toBe("-");
    expect(labs[1]!.send("inet", "tcp", "198.51.100.1", web80)).toBe("web:80 198.51.100.2");
    await until(
      () => {
        const s = JSON.parse(fwc(["status", "--json"]).out) as { gateways: { gateway: string }[] };
        return !s.gateways.some((g) => g.gateway === "gw2");
      },
      15_000,
      "gw2's report to end with its lease",
    );
    proxy.restore();
    await until(() => status(1)?.stale === false, 20_000, "gw2 following again");
    expect(labs[1]!.send("inet", "tcp", "198.51.100.1", p)).toBe("db:5432 198.51.100.2");
  }, 60_000);

  it("a grant with a lifetime, opened by the CLI, is removed on time by the service on every gateway", async () => {
    // db:5432 answers a new connection with its name; db:22 echoes on an open connection.
    const was = db5432Now();
    ok(["close", "--exp", "proj/e1", "--rdr", "db/5432"]);
    expect(everywhere(was)).toEqual(NOWHERE);
    const e = ok(["open", "--exp", "proj/e1", "--rdr", "db/5432 db/22", "--for", "3s"]);
    const p = port(e, "db", 5432);
    expect(everywhere(p)).toEqual(Array(3).fill("db:5432 198.51.100.2"));
    const session = await labs[2]!.session("inet", "198.51.100.1", port(e, "db", 22));
    expect(await session.ask("hi")).toBe("db:22 hi");
    await until(() => everywhere(p).every((r) => r === "-"), 15_000, "the grant removed on every gateway");
    // The expiry is a change in etcd's audit log; once gw3 reports its revision (it cuts flows before it
    // reports), the open connection through gw3 is cut too.
    const audit = JSON.parse(etcd.ctl(["get", "--prefix", "/fwc-agents/audit/", "-w", "json"])) as {
      kvs: { value: string; mod_revision: number }[];
    };
    const expired = audit.kvs.find((kv) =>
      Buffer.from(kv.value, "base64").toString().includes('"who":"service:expiry"'),
    );
    expect(expired).toBeDefined();
    await until(() => BigInt(status(2)!.revision) >= BigInt(expired!.mod_revision), 5000, "gw3 past the expiry");
    expect(await session.ask("still?", 1500)).not.toBe("db:22 still?");
  }, 60_000);
});
