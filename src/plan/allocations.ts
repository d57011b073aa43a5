/**
 * External port and dedicated address allocation on the shared gateway. Pure: the allocations of every
 * experiment go in, the new allocations come out; storing them is the deploy step's job.
 *
 * - Deterministic: targets are allocated in a fixed order (their key), each to the lowest free port.
 * - Stable: a target that keeps its key keeps its external port across recompiles.
 * - Quarantine: a port an experiment gave up is not handed to another experiment at once; it is reused only
 *   when no never-used port is left, oldest release first.
 * - Ranges get contiguous ranges; identity targets get exactly their own ports, or a clear error. The pool is
 *   the only source of gateway ports: identity ports lie inside it, are not in use, and were not released by
 *   another experiment less than the quarantine time ago (a client of the old experiment would reach the new one).
 */
import * as z from "zod/mini";
import "../schema.js";

/** A gateway port, or the first or last of a range (a record read back with others is refused, not expanded). */
const Port = z.int().check(z.minimum(1), z.maximum(65535));
const ordered = (r: { port: number; portEnd: number }) => r.port <= r.portEnd;
export const PortAllocation = z
  .object({ key: z.string(), port: Port, portEnd: Port })
  .check(z.refine(ordered, "portEnd must not be below port"));
/** Ports an experiment gave up: when (ISO time) and who, so that identity requests respect the quarantine. */
export const ReleasedPorts = z
  .object({
    port: Port,
    portEnd: Port,
    at: z.optional(z.string()),
    by: z.optional(z.string()),
  })
  .check(z.refine(ordered, "portEnd must not be below port"));
export type ReleasedPorts = z.infer<typeof ReleasedPorts>;
export const Allocations = z.object({
  version: z.literal(1),
  /** Per experiment ("pid/eid"): its external ports and dedicated addresses. */
  experiments: z.record(
    z.string(),
    z.object({
      ports: z.array(PortAllocation),
      dedicated: z.array(z.object({ node: z.string(), address: z.string() })),
    }),
  ),
  /** Released ports, oldest first: reused only when the pool has no never-used port left. */
  released: z.array(ReleasedPorts),
});
export type Allocations = z.infer<typeof Allocations>;
export type PortAllocation = z.infer<typeof PortAllocation>;

export const emptyAllocations = (): Allocations => ({ version: 1, experiments: {}, released: [] });

export interface PortRequest {
  /** Identifies the target within its experiment, e.g. "tcp web 80-80". */
  key: string;
  size: number;
  /** For identity mapping: the exact external port wanted. */
  exact?: number;
}

export type AllocationResult =
  | { ok: true; ports: Map<string, PortAllocation>; allocations: Allocations }
  | { ok: false; key: string; message: string; help: string };

const overlaps = (a: { port: number; portEnd: number }, b: { port: number; portEnd: number }) =>
  a.port <= b.portEnd && b.port <= a.portEnd;

export interface AllocationOptions {
  /** The time of the allocation (ms since the epoch); released ports are stamped with it. */
  now?: number;
  /** How long ports released by one experiment stay away from another's identity requests (seconds). */
  quarantineSeconds?: number;
}

export const DEFAULT_QUARANTINE_SECONDS = 3600;

/** Allocates the ports of experiment `exp`, replacing its earlier set; other experiments are untouched. */
export function allocatePorts(
  all: Allocations,
  exp: string,
  pool: { from: number; to: number },
  requests: PortRequest[],
  options: AllocationOptions = {},
): AllocationResult {
  const now = options.now ?? Date.now();
  const quarantineMs = (options.quarantineSeconds ?? DEFAULT_QUARANTINE_SECONDS) * 1000;
  const stamp = { at: new Date(now).toISOString(), by: exp };
  const previous = new Map((all.experiments[exp]?.ports ?? []).map((p) => [p.key, p]));
  const others: PortAllocation[] = Object.entries(all.experiments)
    .filter(([name]) => name !== exp)
    .flatMap(([, e]) => e.ports);
  const taken: { port: number; portEnd: number }[] = [...others];
  const result = new Map<string, PortAllocation>();
  // In the order the targets are written (the NS file's, then the grants'): `rdr "8080 22"` gives 8080 the
  // first free port. The order is the policy's, so the same file always gets the same ports.
  const sorted = requests;
  // Ports in use, as a bitmap over all 65,536: checks cost the size of the range, not the number of allocations.
  const used = new Uint8Array(65536);
  for (const t of taken) used.fill(1, t.port, t.portEnd + 1);
  const free = (x: { port: number; portEnd: number }) => used.subarray(x.port, x.portEnd + 1).every((u) => u === 0);
  const take = (x: PortAllocation) => {
    taken.push(x);
    used.fill(1, x.port, x.portEnd + 1);
    result.set(x.key, x);
  };

  // 1. Identity targets and targets that keep their earlier ports first: they are not free to move.
  for (const r of sorted) {
    if (r.exact !== undefined) {
      const want = { key: r.key, port: r.exact, portEnd: r.exact + r.size - 1 };
      if (want.port < pool.from || want.portEnd > pool.to)
        return {
          ok: false,
          key: r.key,
          message: `ports ${want.port}..${want.portEnd} cannot be kept untranslated: the gateway hands out only ports of its pool ${pool.from}-${pool.to} (its other ports are its own services)`,
          help: `drop \`identity\` to let fwc choose external ports, or have the node use ports inside ${pool.from}..${pool.to}`,
        };
      const recent = all.released.find(
        (x) => overlaps(x, want) && x.by !== exp && x.at !== undefined && now - Date.parse(x.at) < quarantineMs,
      );
      if (recent !== undefined)
        return {
          ok: false,
          key: r.key,
          message: `ports ${want.port}..${want.portEnd} cannot be kept untranslated: ${recent.port}..${recent.portEnd} ${recent.portEnd === recent.port ? "was" : "were"} released by another experiment at ${recent.at} and ${recent.portEnd === recent.port ? "is" : "are"} quarantined until ${new Date(Date.parse(recent.at!) + quarantineMs).toISOString()}`,
          help: "a client of the old experiment could still connect to them; use another port range, or wait",
        };
      if (!free(want)) {
        const clash = taken.find((t) => overlaps(t, want))!;
        return {
          ok: false,
          key: r.key,
          message: `ports ${want.port}..${want.portEnd} cannot be kept untranslated: ${clash.port}..${clash.portEnd} is already in use on the gateway`,
          help: "drop `identity` to let fwc choose external ports, or use another port range",
        };
      }
      take(want);
      continue;
    }
    const prev = previous.get(r.key);
    if (prev !== undefined && prev.portEnd - prev.port + 1 === r.size && free(prev)) take(prev);
  }

  // 2. The rest: the lowest free never-used ports, then released ports (oldest release first). Bitmaps over the
  //    65,536 ports keep this linear in the pool size however many targets there are.
  // Ports this experiment gives up now are quarantined like any released port.
  const givenUp: ReleasedPorts[] = [...previous.values()]
    .filter((p) => result.get(p.key) !== p)
    .map(({ port, portEnd }) => ({ port, portEnd, ...stamp }));
  const queue = [...all.released, ...givenUp];
  const quarantined = new Uint8Array(65536);
  for (const x of queue) quarantined.fill(1, x.port, x.portEnd + 1);
  let cursor = pool.from;
  const runAt = (p: number, size: number, allowReleased: boolean): number => {
    // Returns -1 when [p, p+size) is free, else the first blocked port.
    for (let q = p; q < p + size; q++) if (used[q] === 1 || (!allowReleased && quarantined[q] === 1)) return q;
    return -1;
  };
  for (const r of sorted) {
    if (result.has(r.key)) continue;
    let found = -1;
    for (let p = cursor; p + r.size - 1 <= pool.to; ) {
      // Jump straight to the next port not in use (a native scan of the bitmap).
      p = used.indexOf(0, p);
      if (p < 0 || p + r.size - 1 > pool.to) break;
      const blocked = runAt(p, r.size, false);
      if (blocked < 0) {
        found = p;
        break;
      }
      p = blocked + 1;
    }
    if (found < 0) {
      for (const x of queue) {
        if (x.port >= pool.from && x.port + r.size - 1 <= pool.to && runAt(x.port, r.size, true) < 0) {
          found = x.port;
          break;
        }
      }
    }
    if (found < 0)
      return {
        ok: false,
        key: r.key,
        message: `no ${r.size === 1 ? "free external port" : `${r.size} contiguous free external ports`} left in the pool ${pool.from}-${pool.to}`,
        help: "ask the testbed operators to widen `ports` in the testbed configuration, or grant fewer redirects",
      };
    const got = { key: r.key, port: found, portEnd: found + r.size - 1 };
    used.fill(1, got.port, got.portEnd + 1);
    if (r.size === 1 && found === cursor) cursor = found + 1;
    result.set(r.key, got);
  }

  // Ports this experiment held and no longer holds go to the end of the quarantine queue; ports in use now leave
  // it, and only they (the rest of a released range stays quarantined, with its time and owner).
  const inUse = new Uint8Array(65536);
  for (const k of result.values()) inUse.fill(1, k.port, k.portEnd + 1);
  const next: Allocations = {
    version: 1,
    experiments: {
      ...all.experiments,
      [exp]: {
        ports: [...result.values()].sort((a, b) => a.port - b.port),
        dedicated: all.experiments[exp]?.dedicated ?? [],
      },
    },
    released: withoutPorts([...all.released, ...givenUp], inUse),
  };
  return { ok: true, ports: result, allocations: next };
}

/** Released ranges less the ports marked in `used` (a range may split in two), each piece keeping its stamp. */
export function withoutPorts(released: ReleasedPorts[], used: Uint8Array): ReleasedPorts[] {
  const out: ReleasedPorts[] = [];
  for (const r of released) {
    let p = r.port;
    while (p <= r.portEnd) {
      if (used[p] === 1) {
        p++;
        continue;
      }
      let e = p;
      while (e + 1 <= r.portEnd && used[e + 1] !== 1) e++;
      out.push({ ...r, port: p, portEnd: e });
      p = e + 1;
    }
  }
  return out;
}

/** The ports an experiment gives up, stamped for the quarantine queue. */
export const releasedBy = (
  exp: string,
  ports: { port: number; portEnd: number }[],
  now = Date.now(),
): ReleasedPorts[] => ports.map(({ port, portEnd }) => ({ port, portEnd, at: new Date(now).toISOString(), by: exp }));

/** Removes an experiment (swap-out): its ports go to the quarantine queue. */
export function releaseExperiment(all: Allocations, exp: string, now = Date.now()): Allocations {
  const e = all.experiments[exp];
  if (e === undefined) return all;
  const experiments = { ...all.experiments };
  delete experiments[exp];
  return { version: 1, experiments, released: [...all.released, ...releasedBy(exp, e.ports, now)] };
}

// ---- ports in use, as ranges over a bitmap of all 65,536 ports (the index keeps them as ranges) ----

export function portBitmap(ranges: { port: number; portEnd: number }[]): Uint8Array {
  const b = new Uint8Array(65536);
  for (const r of ranges) b.fill(1, r.port, r.portEnd + 1);
  return b;
}

export function portRanges(b: Uint8Array): { port: number; portEnd: number }[] {
  const out: { port: number; portEnd: number }[] = [];
  let p = b.indexOf(1);
  while (p >= 0) {
    let e = b.indexOf(0, p);
    if (e < 0) e = 65536;
    out.push({ port: p, portEnd: e - 1 });
    p = e >= 65536 ? -1 : b.indexOf(1, e);
  }
  return out;
}
