/**
 * fwc serve against a real gateway in network namespaces: the real binary listens on loopback (inside no
 * namespace: only its nft calls go into the lab's gateway), and the tests speak HTTP to it. Every status code
 * of the contract, a member, a non-member and an admin, bad input, an oversized body, 409 for a grant of the
 * NS file, 100 concurrent grants, packets after a grant made through the API, expiry, and SIGTERM.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditEntry } from "../../src/deploy/audit.js";
import { FWC, fwcOn, nsText, TESTBED6_YAML } from "../kernel/deploy-helpers.js";
import { canRunKernelTests, Lab } from "../kernel/lab.js";
import { serveArgs, startServer, TOKENS, USERS_YAML } from "./serve-helpers.js";

interface Listing {
  experiment: string;
  inbound: {
    node: string;
    port: number;
    proto: string;
    origin: string;
    expires?: string;
    external: { port: number };
  }[];
  outbound: { host: string }[];
}
interface Problems {
  diagnostics: { code: string; file: string; line: number; column: number; message: string }[];
}

describe.skipIf(!canRunKernelTests())("fwc serve on a real gateway", () => {
  const lab = new Lab("api");
  const dir = mkdtempSync(join(tmpdir(), "fwc-api-"));
  const state = join(dir, "state");
  const fwc = fwcOn(lab, dir, state);
  let server: Awaited<ReturnType<typeof startServer>>;
  const call = async (
    method: string,
    path: string,
    who: keyof typeof TOKENS | null,
    body?: unknown,
    raw?: string,
    // biome-ignore lint/suspicious/noExplicitAny: the answers are of many shapes; each test reads its own
  ): Promise<{ status: number; body: any; headers: Headers }> => {
    const headers: Record<string, string> = {};
    if (who !== null) headers.authorization = `Bearer ${TOKENS[who]}`;
    if (body !== undefined || raw !== undefined) headers["content-type"] = "application/json";
    const r = await fetch(`${server.url}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : raw !== undefined ? { body: raw } : {}),
    });
    const text = await r.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON (metrics, svg)
    }
    return { status: r.status, body: parsed, headers: r.headers };
  };
  const E1 = "/api/v1/experiments/proj1/e1";
  /** Grants POSTed at once by a process of their own; their status codes. */
  const burst = async (bodies: object[]): Promise<number[]> => {
    const script = `const [url, token, bodies] = JSON.parse(process.argv[1]);
Promise.all(bodies.map((b) => fetch(url, { method: "POST", headers: { authorization: "Bearer " + token, "content-type": "application/json" }, body: JSON.stringify(b) }).then((r) => r.status))).then((s) => console.log(JSON.stringify(s)));`;
    const child = spawn(
      process.execPath,
      ["-e", script, JSON.stringify([`${server.url}${E1}/grants`, TOKENS.alice, bodies])],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let out = "";
    child.stdout!.on("data", (d) => {
      out += String(d);
    });
    await new Promise((r) => child.on("exit", r));
    return JSON.parse(out) as number[];
  };
  /**
   * A CLI `open` of proj2/e2 paused while it holds the store's write lock (FWC_FAILPOINT=pause-after-pending);
   * `release` lets it finish and gives its exit code.
   */
  const holdingStore = async (rdr: string) => {
    const release = join(dir, `release-${rdr.replace(/\W/g, "-")}`);
    const cli = spawn(
      FWC,
      ["open", "--exp", "proj2/e2", "--rdr", rdr, "--state", state, "--testbed", join(dir, "testbed.yaml")].concat([
        "--netns",
        lab.name("gw"),
      ]),
      {
        env: { ...process.env, FWC_FAILPOINT: "pause-after-pending", FWC_FAILPOINT_RELEASE: release },
        stdio: "ignore",
      },
    );
    const done = new Promise<number | null>((r) => cli.once("exit", (code) => r(code)));
    for (let i = 0; i < 200 && !existsSync(`${release}.paused`); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(`${release}.paused`)).toBe(true);
    return {
      release: () => {
        writeFileSync(release, "");
        return done;
      },
    };
  };
  const connect = (port: number) => lab.send("inet", "tcp", "198.51.100.1", port).split(" ")[0];

  beforeAll(async () => {
    writeFileSync(join(dir, "testbed.yaml"), TESTBED6_YAML);
    writeFileSync(join(dir, "users.yaml"), USERS_YAML);
    writeFileSync(join(dir, "e1.ns"), nsText(["web", "db"], 'tb-allow-external $web shared rdr "web/80"'));
    writeFileSync(join(dir, "e2.ns"), nsText(["x"], 'tb-allow-external $x shared rdr "x/22"'));
    writeFileSync(
      join(dir, "e1.json"),
      JSON.stringify({ web: { ipv4: "10.1.1.3", ipv6: "2620:0:e01::3" }, db: { ipv4: "10.1.1.4" } }),
    );
    writeFileSync(join(dir, "e2.json"), JSON.stringify({ x: { ipv4: "10.1.1.9" } }));
    lab.standard({ web: "10.1.1.3", db: "10.1.1.4", x: "10.1.1.9" });
    await lab.listen("web", "tcp", "10.1.1.3", 80, "web:80");
    await lab.listen("web", "tcp", "10.1.1.3", 8080, "web:8080");
    for (const [exp, f] of [
      ["proj1/e1", "e1"],
      ["proj2/e2", "e2"],
    ] as const) {
      const r = fwc(["swapin", join(dir, `${f}.ns`), "--exp", exp, "--nodes", join(dir, `${f}.json`)]);
      expect([r.code, r.err]).toEqual([0, ""]);
    }
    server = await startServer([...serveArgs(dir, state, lab), "--body-limit", "16384"], {
      FWC_EXPIRY_SCAN_MS: "1000",
    });
  }, 90_000);

  afterAll(() => {
    server?.child.kill("SIGKILL");
    lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("401 without a token or with an unknown one, and says how to authenticate", async () => {
    for (const r of [
      await call("GET", E1, null),
      await fetch(`${server.url}${E1}`, { headers: { authorization: "Bearer not-a-token" } }).then(async (x) => ({
        status: x.status,
        body: await x.json(),
        headers: x.headers,
      })),
      await fetch(`${server.url}${E1}`, { headers: { authorization: `Basic ${TOKENS.alice}` } }).then(async (x) => ({
        status: x.status,
        body: await x.json(),
        headers: x.headers,
      })),
    ]) {
      expect(r.status).toBe(401);
      expect(r.headers.get("www-authenticate")).toContain("Bearer");
      expect((r.body as Problems).diagnostics[0]!.code).toBe("FWC822");
    }
  });

  it("a member sees the experiment; a non-member gets 403 (even for one that does not exist); an admin sees all", async () => {
    const a = await call("GET", E1, "alice");
    expect(a.status).toBe(200);
    expect((a.body as Listing).experiment).toBe("proj1/e1");
    expect((a.body as Listing).inbound.map((e) => [e.node, e.port, e.origin])).toEqual([["web", 80, "nsfile"]]);
    expect((await call("GET", E1, "bob")).status).toBe(403);
    expect((await call("GET", "/api/v1/experiments/proj1/nosuch", "bob")).status).toBe(403);
    const missing = await call("GET", "/api/v1/experiments/proj1/nosuch", "alice");
    expect(missing.status).toBe(404);
    expect((missing.body as Problems).diagnostics[0]!.code).toBe("FWC800");
    expect((await call("GET", "/api/v1/experiments/proj2/e2", "ops")).status).toBe(200);
    const mine = await call("GET", "/api/v1/experiments", "alice");
    expect(mine.body.experiments.map((e: { experiment: string }) => e.experiment)).toEqual(["proj1/e1"]);
    const all = await call("GET", "/api/v1/experiments", "ops");
    expect(all.body.experiments.map((e: { experiment: string }) => e.experiment)).toEqual(["proj1/e1", "proj2/e2"]);
    expect((await call("GET", "/api/v1/me", "alice")).body).toEqual({
      name: "alice",
      admin: false,
      projects: ["proj1"],
    });
  });

  it("a grant through the API passes packets; removing it stops them; 409 for the NS file's grant", async () => {
    const r = await call("POST", `${E1}/grants`, "alice", { rdr: "web/8080" });
    expect(r.status).toBe(200);
    const g = (r.body as Listing).inbound.find((e) => e.port === 8080)!;
    expect(g.origin).toBe("dynamic");
    expect(connect(g.external.port)).toBe("web:8080");
    // The CLI sees the same store.
    const st = fwc(["status", "--exp", "proj1/e1", "--json"]);
    expect(st.code).toBe(0);
    expect(st.out).toContain(`"port": ${g.external.port}`);
    const ns = await call("DELETE", `${E1}/grants`, "alice", { rdr: "web/80" });
    expect(ns.status).toBe(409);
    expect((ns.body as Problems).diagnostics[0]).toMatchObject({ code: "FWC807", file: "rdr", column: 1 });
    const d = await call("DELETE", `${E1}/grants`, "alice", { rdr: "web/8080" });
    expect(d.status).toBe(200);
    expect((d.body as Listing).inbound.map((e) => e.port)).toEqual([80]);
    expect(connect(g.external.port)).not.toBe("web:8080");
    // Every change is in the audit log under the service user's name.
    const audit = readFileSync(join(state, "audit.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as AuditEntry);
    expect(audit.slice(-2).map((a) => [a.who, a.command, a.experiment])).toEqual([
      ["alice", "open", "proj1/e1"],
      ["alice", "close", "proj1/e1"],
    ]);
  });

  it("bad input is 400 with diagnostics at their position, never a half-made change", async () => {
    const before = fwc(["status", "--exp", "proj1/e1", "--json"]).out;
    const bad = await call("POST", `${E1}/grants`, "alice", { rdr: "web/8080 web/99999" });
    expect(bad.status).toBe(400);
    const d = (bad.body as Problems).diagnostics[0]!;
    expect(d.file).toBe("rdr");
    expect(d.column).toBe(14);
    expect(d.code).toMatch(/^FWC5/);
    const notOurs = await call("POST", `${E1}/grants`, "alice", { rdr: "x/22" });
    expect(notOurs.status).toBe(400);
    for (const [body, field] of [
      [{ rdr: "web/22", extra: 1 }, "body"],
      [{ rdr: 22 }, "body.rdr"],
      [{}, "body"],
      [{ rdr: "web/22", expires: "tomorrow" }, "expires"],
      [{ rdr: "web/22", expires: "2020-01-01T00:00:00Z" }, "expires"],
    ] as const) {
      const r = await call("POST", `${E1}/grants`, "alice", body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect((r.body as Problems).diagnostics[0]!.code).toBe("FWC821");
      expect((r.body as Problems).diagnostics[0]!.file).toBe(field);
    }
    const garbled = await call("POST", `${E1}/grants`, "alice", undefined, '{"rdr": "web/22"');
    expect(garbled.status).toBe(400);
    expect((garbled.body as Problems).diagnostics[0]!.code).toBe("FWC821");
    const badPath = await call("POST", "/api/v1/experiments/proj1/e1;rm/grants", "alice", { rdr: "web/22" });
    expect(badPath.status).toBe(400);
    const huge = await call("POST", `${E1}/grants`, "alice", { rdr: `web/22 ${"web/23 ".repeat(4000)}` });
    expect(huge.status).toBe(413);
    expect((huge.body as Problems).diagnostics[0]!.message).toContain("larger than 16384 bytes");
    expect((await call("GET", "/api/v1/nothing", "alice")).status).toBe(404);
    expect(fwc(["status", "--exp", "proj1/e1", "--json"]).out).toBe(before);
  });

  it("100 concurrent grants all land, on distinct ports, in far fewer than 100 transactions", async () => {
    const metric = async (name: string) => {
      const m = (await call("GET", "/metrics", null)).body as string;
      return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(m)?.[1] ?? "0");
    };
    const metricsText = async () =>
      ((await call("GET", "/metrics", null)).body as string)
        .split("\n")
        .filter((l) => l.startsWith("fwc_batch") || l.startsWith("fwc_apply"))
        .join("\n");
    const rounds = await metric("fwc_batch_size_count");
    // The 100 clients are another process, so that they send at once (this worker is slow to send).
    const results = await burst(Array.from({ length: 100 }, (_, i) => ({ rdr: `db/${10000 + i}`, expires: "1h" })));
    expect(results).toEqual(results.map(() => 200));
    const last = await call("GET", E1, "alice");
    const mine = (last.body as Listing).inbound.filter((e) => e.node === "db");
    expect(mine.length).toBe(100);
    expect(new Set(mine.map((e) => e.external.port)).size).toBe(100);
    expect(mine.every((e) => e.expires !== undefined)).toBe(true);
    const used = (await metric("fwc_batch_size_count")) - rounds;
    expect(used).toBeGreaterThan(0);
    expect(used, await metricsText()).toBeLessThan(20);
    expect(fwc(["status"]).code).toBe(0);
    const c = await call("DELETE", `${E1}/grants`, "alice", {
      rdr: mine.map((e) => `db/${e.port}`).join(" "),
    });
    expect(c.status).toBe(200);
  });

  it("reads are answered while a stream of changes goes on", async () => {
    // 150: under the 200 requests one user may have waiting (past those, 429).
    const changes = burst(Array.from({ length: 150 }, (_, i) => ({ rdr: `db/${12000 + i}` })));
    let slowest = 0;
    let reads = 0;
    const statuses = new Set<number>();
    const t0 = performance.now();
    // Ten readers at once, for 3 s.
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (performance.now() - t0 < 3000) {
          const t = performance.now();
          const r = await call("GET", E1, "alice");
          slowest = Math.max(slowest, performance.now() - t);
          statuses.add(r.status);
          reads++;
        }
      }),
    );
    expect([...statuses]).toEqual([200]);
    expect(await changes).toEqual(Array.from({ length: 150 }, () => 200));
    // Served between rounds: never a 503, and never a wait as long as the store's lock timeout (10 s): the
    // service's reads do not wait for a change in flight. (curl from another process sees 0.2 s at most; this
    // test's own worker is slow to send on a busy 2-vCPU machine, so the bound is loose.)
    expect(reads).toBeGreaterThan(10);
    expect(slowest).toBeLessThan(8000);
    const l = (await call("GET", E1, "alice")).body as Listing;
    const mine = l.inbound.filter((e) => e.node === "db" && e.port >= 12000);
    expect(
      (await call("DELETE", `${E1}/grants`, "alice", { rdr: mine.map((e) => `db/${e.port}`).join(" ") })).status,
    ).toBe(200);
  });

  it("the CLI and the service take turns on one store", async () => {
    const [api, cli] = await Promise.all([
      Promise.all(
        Array.from({ length: 10 }, (_, i) => call("POST", `${E1}/grants`, "alice", { rdr: `db/${3000 + i}` })),
      ),
      new Promise<ReturnType<typeof fwc>>((resolve) =>
        setTimeout(() => resolve(fwc(["open", "--exp", "proj1/e1", "--rdr", "db/4000"])), 5),
      ),
    ]);
    expect(api.map((r) => r.status)).toEqual(api.map(() => 200));
    expect([cli.code, cli.err]).toEqual([0, ""]);
    const l = (await call("GET", E1, "alice")).body as Listing;
    const ports = l.inbound.filter((e) => e.node === "db").map((e) => e.external.port);
    expect(ports.length).toBe(11);
    expect(new Set(ports).size).toBe(11);
    expect(fwc(["status"]).code).toBe(0);
    expect((await call("DELETE", "/api/v1/firewall/proj1/e1", "alice")).status).toBe(200);
  });

  it("a grant with a lifetime is removed by the service when its time is up", async () => {
    const r = await call("POST", `${E1}/grants`, "alice", { rdr: "web/8080", expires: "2s" });
    expect(r.status).toBe(200);
    const port = (r.body as Listing).inbound.find((e) => e.port === 8080)!.external.port;
    expect(connect(port)).toBe("web:8080");
    let gone = false;
    for (let i = 0; i < 40 && !gone; i++) {
      await new Promise((x) => setTimeout(x, 250));
      gone = !((await call("GET", E1, "alice")).body as Listing).inbound.some((e) => e.port === 8080);
    }
    expect(gone).toBe(true);
    expect(connect(port)).not.toBe("web:8080");
    const audit = readFileSync(join(state, "audit.jsonl"), "utf8").trim().split("\n");
    expect(JSON.parse(audit[audit.length - 1]!)).toMatchObject({ who: "service:expiry", command: "expire" });
  });

  it("Grid'5000's g5kfw API: openings, the resolved list, removal", async () => {
    const p = await call("POST", "/api/v1/firewall/proj1/e1", "alice", [{ addr: "web", port: "22 8000..8010" }]);
    expect(p.status, JSON.stringify(p.body)).toBe(200);
    expect(p.body).toEqual([{ addr: ["2620:0:e01::3/128"], port: [22, "8000..8010"], proto: "tcp+udp" }]);
    expect((await call("GET", "/api/v1/firewall/proj1/e1", "alice")).body).toEqual(p.body);
    const bad = await call("POST", "/api/v1/firewall/proj1/e1", "alice", [{ addr: "x", port: 22 }]);
    expect(bad.status, JSON.stringify(bad.body)).toBe(400);
    const field = await call("POST", "/api/v1/firewall/proj1/e1", "alice", [{ addr: "web", port: "22,from=::/0" }]);
    expect(field.status).toBe(400);
    expect((field.body as Problems).diagnostics[0]!.file).toBe("body[0].port");
    expect((await call("DELETE", "/api/v1/firewall/proj1/e1", "alice")).body).toEqual([]);
    expect((await call("POST", "/api/v1/firewall/proj2/e2", "alice", [{ addr: "x", port: 22 }])).status).toBe(403);
  });

  it("the blocklist is the admins'", async () => {
    expect((await call("GET", "/api/v1/blocks", "alice")).status).toBe(403);
    expect((await call("POST", "/api/v1/blocks", "alice", { cidr: "203.0.113.0/24" })).status).toBe(403);
    const b = await call("POST", "/api/v1/blocks", "ops", { cidr: "203.0.113.0/24", reason: "abuse" });
    expect(b.status).toBe(200);
    expect(b.body.blocks).toMatchObject([{ cidr: "203.0.113.0/24", reason: "abuse", by: "ops" }]);
    expect((await call("POST", "/api/v1/blocks", "ops", { cidr: "203.0.113.0/24" })).status).toBe(409);
    const bad = await call("POST", "/api/v1/blocks", "ops", { cidr: "203.0.113.0/99" });
    expect(bad.status).toBe(400);
    expect((bad.body as Problems).diagnostics[0]!.file).toBe("cidr");
    expect(lab.exec("gw", ["nft", "list", "table", "inet", "fwc"])).toContain("203.0.113.0/24");
    expect((await call("DELETE", "/api/v1/blocks", "ops", { cidr: "203.0.113.0/24" })).status).toBe(200);
    expect((await call("GET", "/api/v1/blocks", "ops")).body).toEqual({ blocks: [] });
  });

  it("the exposure diagram: SVG for a member, 403 for another project", async () => {
    const r = await fetch(`${server.url}${E1}/diagram.svg`, { headers: { authorization: `Bearer ${TOKENS.alice}` } });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toContain("image/svg+xml");
    const svg = await r.text();
    expect(svg).toContain("<svg");
    expect(svg).toContain("198.51.100.1:");
    expect(svg).not.toMatch(/<script/i);
    expect((await call("GET", `${E1}/diagram.svg`, "bob")).status).toBe(403);
  });

  it("503 when a CLI command holds the store longer than --wait; the service answers other requests meanwhile", async () => {
    // A second service on the same store, waiting 1 s for the lock.
    const quick = await startServer([...serveArgs(dir, state, lab), "--wait", "1"]);
    const cli = await holdingStore("x/2222");
    try {
      const post = fetch(`${quick.url}${E1}/grants`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKENS.alice}`, "content-type": "application/json" },
        body: JSON.stringify({ rdr: "web/8081" }),
      });
      // While the change waits for the lock, the service still answers.
      const t = performance.now();
      expect((await fetch(`${quick.url}/healthz`)).status).toBe(200);
      expect(performance.now() - t).toBeLessThan(500);
      const r = await post;
      expect(r.status).toBe(503);
      expect(((await r.json()) as Problems).diagnostics[0]!.code).toBe("FWC804");
    } finally {
      expect(await cli.release()).toBe(0);
      quick.child.kill("SIGTERM");
      await new Promise((r) => quick.child.once("exit", r));
    }
    expect(((await call("GET", E1, "alice")).body as Listing).inbound.some((e) => e.port === 8081)).toBe(false);
    expect(fwc(["close", "--exp", "proj2/e2", "--rdr", "x/2222"]).code).toBe(0);
  });

  it("429 for a user with 200 requests waiting; the ones that waited are applied", async () => {
    // A CLI command holds the store, so that the service's requests queue up behind it.
    const cli = await holdingStore("x/2223");
    const statuses = burst(Array.from({ length: 230 }, (_, i) => ({ rdr: `db/${14000 + i}` })));
    await new Promise((r) => setTimeout(r, 2500));
    expect(await cli.release()).toBe(0);
    const got = await statuses;
    const busy = got.filter((x) => x === 429).length;
    // 200 wait in the queue, a few more in the round that waits for the lock: the rest are refused.
    expect(busy).toBeGreaterThan(0);
    expect(busy).toBeLessThanOrEqual(30);
    expect(got.filter((x) => x === 200).length).toBe(230 - busy);
    const l = (await call("GET", E1, "alice")).body as Listing;
    const mine = l.inbound.filter((e) => e.node === "db" && e.port >= 14000);
    expect(mine.length).toBe(230 - busy);
    expect(
      (await call("DELETE", `${E1}/grants`, "alice", { rdr: mine.map((e) => `db/${e.port}`).join(" ") })).status,
    ).toBe(200);
    expect(fwc(["close", "--exp", "proj2/e2", "--rdr", "x/2223"]).code).toBe(0);
  });

  it("a service killed in the middle of a round: the next command puts the gateway back to the store", async () => {
    // Killed after nft took the round and before the store committed it (FWC_FAILPOINT=after-nft).
    const doomed = await startServer(serveArgs(dir, state, lab), { FWC_FAILPOINT: "after-nft" });
    const exited = new Promise<NodeJS.Signals | null>((r) => doomed.child.once("exit", (_c, sig) => r(sig)));
    const post = (exp: string, who: "alice" | "bob", rdr: string) =>
      fetch(`${doomed.url}/api/v1/experiments/${exp}/grants`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKENS[who]}`, "content-type": "application/json" },
        body: JSON.stringify({ rdr }),
      }).then(
        (r) => r.status,
        () => "no answer",
      );
    const answers = await Promise.all([post("proj1/e1", "alice", "web/8082"), post("proj2/e2", "bob", "x/2224")]);
    expect(await exited).toBe("SIGKILL");
    expect(answers).toEqual(["no answer", "no answer"]);
    // The gateway has what the store never got: status says so, and the next command puts it back.
    const st = fwc(["status"]);
    expect(st.code).toBe(1);
    const rec = fwc(["reconcile"]);
    expect(rec.code, rec.err).toBe(0);
    // The round held one request or both, as they arrived.
    expect(rec.err).toMatch(
      /warning\[FWC808\]: the store does not have the last change, `(batch of 2|open` of proj[12]\/e[12])/,
    );
    expect(fwc(["status"]).code).toBe(0);
    const l = (await call("GET", E1, "alice")).body as Listing;
    expect(l.inbound.some((e) => e.port === 8082)).toBe(false);
    const l2 = (await call("GET", "/api/v1/experiments/proj2/e2", "bob")).body as Listing;
    expect(l2.inbound.some((e) => e.port === 2224)).toBe(false);
  });

  it("health, the OpenAPI document and the metrics need no token", async () => {
    expect((await call("GET", "/healthz", null)).body).toMatchObject({ status: "ok" });
    const api = (await call("GET", "/openapi.json", null)).body;
    expect(Object.keys(api.paths)).toEqual(
      expect.arrayContaining([
        "/api/v1/experiments/{pid}/{eid}",
        "/api/v1/experiments/{pid}/{eid}/grants",
        "/api/v1/blocks",
      ]),
    );
    expect(api.paths["/api/v1/experiments/{pid}/{eid}/grants"].post.requestBody).toBeDefined();
    const m = (await call("GET", "/metrics", null)).body as string;
    for (const name of [
      "fwc_http_requests_total",
      "fwc_http_request_duration_seconds",
      "fwc_apply_seconds",
      "fwc_store_wait_seconds",
      "fwc_grant_changes_total",
    ])
      expect(m).toContain(name);
  });

  it("SIGTERM: the request in flight is answered, then the server exits 0", async () => {
    const inFlight = Array.from({ length: 20 }, (_, i) =>
      call("POST", `${E1}/grants`, "alice", { rdr: `db/${5000 + i}` }),
    );
    await new Promise((r) => setTimeout(r, 20));
    const exited = new Promise<number | null>((resolve) => server.child.on("exit", (code) => resolve(code)));
    server.child.kill("SIGTERM");
    const answers = await Promise.allSettled(inFlight);
    // Each was answered (applied, or refused with 503 once closing) or, sent after the close, not taken at all.
    for (const a of answers) if (a.status === "fulfilled") expect([200, 503]).toContain(a.value.status);
    expect(await exited).toBe(0);
    expect(server.lines.pending()).toEqual([
      "fwc serve: SIGTERM: finishing the requests in flight",
      "fwc serve: stopped",
    ]);
    // What the service said it applied is in the store and on the gateway.
    const st = spawnSync(
      FWC,
      ["status", "--state", state, "--testbed", join(dir, "testbed.yaml"), "--netns", lab.name("gw")],
      {
        encoding: "utf8",
      },
    );
    expect([st.status, st.stderr]).toEqual([0, ""]);
    const applied = answers.filter((a) => a.status === "fulfilled" && a.value.status === 200).length;
    const status = JSON.parse(fwc(["status", "--exp", "proj1/e1", "--json"]).out) as { experiments: Listing[] };
    const ports = status.experiments[0]!.inbound.filter((e) => e.node === "db" && e.port >= 5000).length;
    expect(ports).toBeGreaterThanOrEqual(applied);
  });
});
