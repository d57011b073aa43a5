/** External port allocation: deterministic, stable, quarantined, contiguous, identity, exhaustion. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type Allocations,
  allocatePorts,
  emptyAllocations,
  type PortRequest,
  releaseExperiment,
} from "../../src/plan/allocations.js";

const POOL = { from: 20000, to: 20009 };
const req = (key: string, size = 1, exact?: number): PortRequest =>
  exact === undefined ? { key, size } : { key, size, exact };

function alloc(all: Allocations, exp: string, requests: PortRequest[], pool = POOL) {
  const r = allocatePorts(all, exp, pool, requests);
  if (!r.ok) throw new Error(r.message);
  return {
    ports: Object.fromEntries(
      [...r.ports].map(([k, v]) => [k, v.port === v.portEnd ? v.port : `${v.port}..${v.portEnd}`]),
    ),
    all: r.allocations,
  };
}

describe("allocatePorts", () => {
  it("gives the lowest free ports in the order the targets are written, the same each time", () => {
    const a = alloc(emptyAllocations(), "p/e1", [req("tcp web 80"), req("tcp node 22"), req("udp x 13")]);
    const b = alloc(emptyAllocations(), "p/e1", [req("udp x 13"), req("tcp web 80"), req("tcp node 22")]);
    expect(a.ports).toEqual({ "tcp web 80": 20000, "tcp node 22": 20001, "udp x 13": 20002 });
    expect(b.ports).toEqual({ "udp x 13": 20000, "tcp web 80": 20001, "tcp node 22": 20002 });
    expect(alloc(emptyAllocations(), "p/e1", [req("tcp web 80"), req("tcp node 22"), req("udp x 13")]).ports).toEqual(
      a.ports,
    );
  });

  it("keeps a target's port when the experiment is compiled again with other targets", () => {
    const first = alloc(emptyAllocations(), "p/e1", [req("b"), req("c")]);
    const again = alloc(first.all, "p/e1", [req("a"), req("c")]);
    expect(first.ports).toEqual({ b: 20000, c: 20001 });
    // c keeps 20001; a does not get 20000 at once, because b just released it.
    expect(again.ports).toEqual({ c: 20001, a: 20002 });
  });

  it("does not hand a released port to another experiment while never-used ports remain", () => {
    const one = alloc(emptyAllocations(), "p/e1", [req("x")]);
    const gone = releaseExperiment(one.all, "p/e1");
    const two = alloc(gone, "p/e2", [req("y")]);
    expect(two.ports).toEqual({ y: 20001 });
  });

  it("reuses released ports, oldest first, when the pool is otherwise full", () => {
    let all = alloc(emptyAllocations(), "p/e1", [req("a", 5)]).all;
    all = alloc(all, "p/e2", [req("b", 5)]).all;
    all = releaseExperiment(all, "p/e2");
    all = releaseExperiment(all, "p/e1");
    const r = alloc(all, "p/e3", [req("c", 3)]);
    expect(r.ports).toEqual({ c: "20005..20007" });
  });

  it("gives ranges contiguous ports and fails clearly when none are left", () => {
    const r = alloc(emptyAllocations(), "p/e1", [req("a"), req("r", 4)]);
    expect(r.ports).toEqual({ a: 20000, r: "20001..20004" });
    const full = allocatePorts(r.all, "p/e2", POOL, [req("big", 6)]);
    expect(full).toMatchObject({ ok: false, key: "big" });
    if (!full.ok) expect(full.message).toBe("no 6 contiguous free external ports left in the pool 20000-20009");
  });

  it("identity targets get exactly their ports, or an error naming the clash", () => {
    const wide = { from: 20000, to: 60000 };
    const r = alloc(emptyAllocations(), "p/e1", [req("g", 101, 50000)], wide);
    expect(r.ports).toEqual({ g: "50000..50100" });
    const clash = allocatePorts(r.all, "p/e2", wide, [req("h", 1, 50050)]);
    expect(clash.ok).toBe(false);
    if (!clash.ok) expect(clash.message).toContain("50000..50100 is already in use");
  });

  it("identity ports lie in the pool: the gateway's own ports are not the pool's to give", () => {
    for (const [port, size] of [
      [22, 1],
      [19999, 2],
      [20009, 2],
      [1, 65535],
    ] as const) {
      const r = allocatePorts(emptyAllocations(), "p/e1", POOL, [req("x", size, port)]);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.message).toContain("only ports of its pool 20000-20009");
    }
  });

  it("identity ports released by another experiment stay quarantined; the experiment that released them may retake them", () => {
    const t0 = Date.parse("2026-11-27T12:00:00Z");
    let all = alloc(emptyAllocations(), "p/b", [req("b", 5, 20000)]).all;
    all = releaseExperiment(all, "p/b", t0);
    const soon = allocatePorts(all, "p/a", POOL, [req("a", 5, 20000)], { now: t0 + 60_000 });
    expect(soon.ok).toBe(false);
    if (!soon.ok)
      expect(soon.message).toBe(
        "ports 20000..20004 cannot be kept untranslated: 20000..20004 were released by another experiment at 2026-11-27T12:00:00.000Z and are quarantined until 2026-11-27T13:00:00.000Z",
      );
    expect(allocatePorts(all, "p/b", POOL, [req("b", 5, 20000)], { now: t0 + 60_000 }).ok).toBe(true);
    const later = allocatePorts(all, "p/a", POOL, [req("a", 5, 20000)], { now: t0 + 3_600_000 });
    expect(later.ok && later.allocations.released).toEqual([]);
    expect(allocatePorts(all, "p/a", POOL, [req("a", 5, 20000)], { now: t0 + 60_000, quarantineSeconds: 30 }).ok).toBe(
      true,
    );
  });

  it("taking one port of a released range leaves the rest of it quarantined", () => {
    const t0 = Date.parse("2026-11-27T12:00:00Z");
    const opts = { now: t0 + 60_000 };
    let all = alloc(emptyAllocations(), "p/vic", [req("v", 5, 20000)]).all;
    all = releaseExperiment(all, "p/vic", t0);
    all = alloc(all, "p/c", [req("c", 5)]).all;
    // The pool's never-used ports are gone: the oldest released port goes to p/a's ordinary redirect.
    const one = allocatePorts(all, "p/a", POOL, [req("x")], opts);
    expect(one.ok && Object.fromEntries([...one.ports].map(([k, v]) => [k, v.port]))).toEqual({ x: 20000 });
    if (!one.ok) return;
    expect(one.allocations.released).toEqual([
      { port: 20001, portEnd: 20004, at: "2026-11-27T12:00:00.000Z", by: "p/vic" },
    ]);
    // So p/a's identity range over the rest is still refused (it used to pass: the whole range left the queue).
    const id = allocatePorts(one.allocations, "p/a", POOL, [req("x"), req("y", 4, 20001)], opts);
    expect(id.ok).toBe(false);
  });

  it("never gives two experiments overlapping ports, and is stable for unchanged requests", () => {
    const requests = fc.array(
      fc.record({ key: fc.string({ minLength: 1, maxLength: 3 }), size: fc.integer({ min: 1, max: 3 }) }),
      { maxLength: 6 },
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom("p/a", "p/b", "p/c"), requests), { maxLength: 8 }), (steps) => {
        let all = emptyAllocations();
        for (const [exp, reqs] of steps) {
          const unique = [...new Map(reqs.map((r) => [r.key, r])).values()];
          const r = allocatePorts(all, exp, { from: 20000, to: 20040 }, unique);
          if (!r.ok) continue;
          const again = allocatePorts(r.allocations, exp, { from: 20000, to: 20040 }, unique);
          expect(again.ok && Object.fromEntries(again.ports)).toEqual(Object.fromEntries(r.ports));
          all = r.allocations;
          const spans = Object.values(all.experiments).flatMap((e) => e.ports);
          for (const x of spans)
            for (const y of spans) if (x !== y) expect(x.portEnd < y.port || y.portEnd < x.port).toBe(true);
          for (const x of spans) expect(x.port >= 20000 && x.portEnd <= 20040).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
