/** Every target form, table-driven: the text, what it means, or the problem and where it is. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { resolveAccess } from "../../src/access/resolve.js";
import { parseTarget, printTarget, type Target, type TargetKey } from "../../src/access/targets.js";
import { DiagnosticBag } from "../../src/diagnostics/diagnostic.js";
import { SourceFile } from "../../src/diagnostics/source.js";
import { evaluateNs } from "../../src/ns/index.js";

const ok = (key: TargetKey, text: string) => {
  const r = parseTarget(key, text);
  if (!r.ok) throw new Error(`${text}: ${r.problem.message}`);
  return r.target;
};

describe("classic CXA forms", () => {
  const nat: [string, Partial<Target>][] = [
    ["192.154.6.22/13/udp", { host: "192.154.6.22/32", ports: { port: 13, portEnd: 13 }, proto: "udp" }],
    ["192.154.6.21/25", { host: "192.154.6.21/32", ports: { port: 25, portEnd: 25 }, proto: "tcp" }],
    ["128.32.112.228", { host: "128.32.112.228/32", ports: { port: 0, portEnd: 0 }, proto: "tcp" }],
    ["0.0.0.0/80", { host: "0.0.0.0/0", ports: { port: 80, portEnd: 80 }, proto: "tcp" }],
    ["10.0.0.1/0/udp", { host: "10.0.0.1/32", ports: { port: 0, portEnd: 0 }, proto: "udp" }],
    ["192.0.2.1/6000..6010/tcp", { host: "192.0.2.1/32", ports: { port: 6000, portEnd: 6010 }, proto: "tcp" }],
  ];
  for (const [text, want] of nat)
    it(`nat ${text}`, () => expect(ok("nat", text)).toMatchObject({ kind: "nat", family: 4, ...want }));

  const rdr: [string, Partial<Target>][] = [
    ["22", { node: null, ports: { port: 22, portEnd: 22 }, proto: "tcp" }],
    ["web/80", { node: "web", ports: { port: 80, portEnd: 80 }, proto: "tcp" }],
    ["othernode/13/udp", { node: "othernode", ports: { port: 13, portEnd: 13 }, proto: "udp" }],
    ["53/udp", { node: null, ports: { port: 53, portEnd: 53 }, proto: "udp" }],
    ["n-1/8000..8100/tcp", { node: "n-1", ports: { port: 8000, portEnd: 8100 }, proto: "tcp" }],
    ["8000..8100/udp", { node: null, ports: { port: 8000, portEnd: 8100 }, proto: "udp" }],
  ];
  for (const [text, want] of rdr)
    it(`rdr ${text}`, () =>
      expect(ok("rdr", text)).toMatchObject({ kind: "rdr", sources: [], identity: false, ...want }));
});

describe("comma forms", () => {
  it("nat with subnets, IPv6, ranges and protocols", () => {
    expect(ok("nat", "198.51.100.7/24,443")).toMatchObject({ host: "198.51.100.0/24", family: 4, proto: "tcp" });
    expect(ok("nat", "2001:db8::1,53,udp")).toMatchObject({ host: "2001:db8::1/128", family: 6, proto: "udp" });
    expect(ok("nat", "any,8000..8100,tcp+udp")).toMatchObject({
      host: "0.0.0.0/0",
      ports: { port: 8000, portEnd: 8100 },
      proto: "tcp+udp",
    });
    expect(ok("nat", "192.0.2.0/24,all")).toMatchObject({ proto: "all", ports: { port: 0, portEnd: 0 } });
  });

  it("rdr with sources and identity mapping", () => {
    expect(ok("rdr", "gridftp,50000..50100,tcp,identity,from=192.0.2.0/24,from=198.51.100.7/32")).toMatchObject({
      node: "gridftp",
      ports: { port: 50000, portEnd: 50100 },
      proto: "tcp",
      identity: true,
      sources: ["192.0.2.0/24", "198.51.100.7/32"],
    });
    expect(ok("rdr", "2811,tcp")).toMatchObject({ node: null, ports: { port: 2811, portEnd: 2811 } });
  });

  it("open6: ports, ranges, protocols or everything", () => {
    expect(ok("open6", "22")).toMatchObject({
      kind: "open6",
      node: null,
      proto: "tcp+udp",
      ports: { port: 22, portEnd: 22 },
    });
    expect(ok("open6", "web,8000..8100,udp")).toMatchObject({
      node: "web",
      proto: "udp",
      ports: { port: 8000, portEnd: 8100 },
    });
    expect(ok("open6", "all,from=2001:db8:1::/48")).toMatchObject({ proto: "all", sources: ["2001:db8:1::/48"] });
  });
});

describe("problems point at the part that is wrong", () => {
  const cases: [TargetKey, string, string, number, number][] = [
    ["nat", "192.154.6.300/80", "FWC511", 0, 13],
    ["nat", "10.0.0.1/80/icmp", "FWC513", 12, 4],
    ["nat", "10.0.0.1/70000", "FWC512", 9, 5],
    ["nat", "10.0.0.1/90..80", "FWC514", 9, 6],
    ["nat", "10.0.0.1/80/tcp/x", "FWC510", 0, 17],
    ["nat", "10.0.0.0/24/80", "FWC513", 12, 2],
    ["nat", "10.0.0.0/24,80,all", "FWC524", 12, 2],
    ["rdr", "web/0", "FWC512", 4, 1],
    ["rdr", "1web/80/tcp", "FWC510", 0, 4],
    ["rdr", "web,22,tcp,bogus", "FWC510", 11, 5],
    ["rdr", "web,22,from=300.1.1.1", "FWC511", 12, 9],
    ["rdr", "web,all", "FWC524", 4, 3],
    ["open6", "web,,tcp", "FWC510", 4, 1],
    // A source of the other family would match nothing: the grant would silently admit nobody.
    ["rdr", "web,22,from=2001:db8::/32", "FWC526", 12, 13],
    ["open6", "web,22,tcp,from=192.0.2.0/24", "FWC526", 16, 12],
    // A zone id names an interface of one host; it must never reach a ruleset (it used to pass check).
    ["nat", "fe80::1%eth0,53", "FWC511", 7, 5],
    ["nat", "2001:db8::1%1/64,53", "FWC511", 11, 5],
    ["open6", "web,22,from=fe80::%lo/64", "FWC511", 18, 6],
    // Octal and hex quads were read as other addresses in the CIDR form (010.1.1.1/32 is 8.1.1.1).
    ["nat", "010.1.1.1/32,22", "FWC511", 0, 12],
    ["nat", "0x7f.1/32,22", "FWC511", 0, 9],
    // An IPv4-mapped IPv6 address never appears on the wire: a source or host written so matches nothing.
    ["open6", "web,22,from=::ffff:192.0.2.1/128", "FWC511", 12, 20],
    ["nat", "::ffff:192.0.2.1,53", "FWC511", 0, 16],
  ];
  for (const [key, text, code, at, length] of cases)
    it(`${key} ${text}`, () => {
      const r = parseTarget(key, text);
      expect(r.ok).toBe(false);
      if (!r.ok) expect([r.problem.code, r.problem.at, r.problem.length]).toEqual([code, at, length]);
    });
});

describe("printing and parsing back", () => {
  const port = fc.integer({ min: 1, max: 65535 });
  const range = fc.oneof(
    port.map((p) => ({ port: p, portEnd: p })),
    fc.tuple(port, port).map(([a, b]) => ({ port: Math.min(a, b), portEnd: Math.max(a, b) })),
  );
  const v4 = fc.ipV4().map((a) => `${a}/32`);
  const cidr4 = fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, n]) => {
    const r = parseTarget("nat", `${a}/${n},80`);
    return r.ok && r.target.kind === "nat" ? r.target.host : "0.0.0.0/0";
  });
  const v6 = fc.ipV6().map((a) => {
    const r = parseTarget("nat", `${a},80`);
    return r.ok && r.target.kind === "nat" ? r.target.host : "::/128";
  });
  const node = fc.constantFrom<string | null>(null, "web", "n-1", "gridftp", "a");
  const target: fc.Arbitrary<Target> = fc.oneof(
    fc.record({
      kind: fc.constant("nat" as const),
      host: v4,
      family: fc.constant(4 as const),
      ports: fc.oneof(range, fc.constant({ port: 0, portEnd: 0 })),
      proto: fc.constantFrom("tcp" as const, "udp" as const),
      form: fc.constant("slash" as const),
    }),
    fc
      .oneof(
        cidr4.map((h) => ({ h, f: 4 as const })),
        v6.map((h) => ({ h, f: 6 as const })),
      )
      .chain(({ h, f }) =>
        fc.oneof(
          fc.record({
            kind: fc.constant("nat" as const),
            host: fc.constant(h),
            family: fc.constant(f),
            ports: range,
            proto: fc.constantFrom("tcp" as const, "udp" as const, "tcp+udp" as const),
            form: fc.constant("comma" as const),
          }),
          fc.constant({
            kind: "nat" as const,
            host: h,
            family: f,
            ports: { port: 0, portEnd: 0 },
            proto: "all" as const,
            form: "comma" as const,
          }),
        ),
      ),
    fc.record({
      kind: fc.constant("rdr" as const),
      node,
      ports: range,
      proto: fc.constantFrom("tcp" as const, "udp" as const),
      sources: fc.constant([] as string[]),
      identity: fc.constant(false),
      form: fc.constant("slash" as const),
    }),
    fc.record({
      kind: fc.constant("rdr" as const),
      node,
      ports: range,
      proto: fc.constantFrom("tcp" as const, "udp" as const, "tcp+udp" as const),
      sources: fc.array(cidr4, { maxLength: 3 }),
      identity: fc.boolean(),
      form: fc.constant("comma" as const),
    }),
    fc.record({
      kind: fc.constant("open6" as const),
      node,
      ports: range,
      proto: fc.constantFrom("tcp" as const, "udp" as const, "tcp+udp" as const),
      sources: fc.array(v6, { maxLength: 3 }),
    }),
    fc.record({
      kind: fc.constant("open6" as const),
      node,
      ports: fc.constant({ port: 0, portEnd: 0 }),
      proto: fc.constant("all" as const),
      sources: fc.array(v6, { maxLength: 2 }),
    }),
  );

  it("a generated policy printed as a tb-allow-external call resolves back to the same grants", () => {
    const nodeTargets = target.filter((t) => t.kind === "nat" || t.node === null || ["web", "a"].includes(t.node));
    fc.assert(
      fc.property(
        fc.uniqueArray(nodeTargets, {
          maxLength: 12,
          selector: (t) =>
            JSON.stringify({ ...t, form: undefined, node: t.kind === "nat" ? undefined : (t.node ?? "web") }),
        }),
        (targets) => {
          const by = (k: string) =>
            targets
              .filter((t) => t.kind === k)
              .map(printTarget)
              .join(" ");
          const parts = ["nat", "rdr", "open6"].filter((k) => by(k) !== "").map((k) => `${k} "${by(k)}"`);
          const text = `set ns [new Simulator]\nsource tb_compat.tcl\nset web [$ns node]\nset a [$ns node]\ntb-allow-external $web shared ${parts.join(" ")}\n$ns run\n`;
          const file = new SourceFile("p.ns", text);
          const bag = new DiagnosticBag();
          const policy = resolveAccess(evaluateNs(file, undefined, bag).experiment, file, bag);
          expect(bag.items.filter((d) => d.severity === "error")).toEqual([]);
          const strip = <T extends { origin: unknown }>(g: T) => ({ ...g, origin: undefined });
          const want = (k: string) => targets.filter((t) => t.kind === k);
          expect(policy.outbound.map(strip)).toEqual(
            want("nat").map(
              (t) =>
                t.kind === "nat" && {
                  host: t.host,
                  family: t.family,
                  proto: t.proto,
                  port: t.ports.port,
                  portEnd: t.ports.portEnd,
                  origin: undefined,
                },
            ),
          );
          expect(policy.inbound.map(strip)).toEqual(
            want("rdr").map(
              (t) =>
                t.kind === "rdr" && {
                  node: t.node ?? "web",
                  proto: t.proto,
                  port: t.ports.port,
                  portEnd: t.ports.portEnd,
                  sources: t.sources,
                  identity: t.identity,
                  origin: undefined,
                },
            ),
          );
          expect(policy.open6.map(strip)).toEqual(
            want("open6").map(
              (t) =>
                t.kind === "open6" && {
                  node: t.node ?? "web",
                  proto: t.proto,
                  port: t.ports.port,
                  portEnd: t.ports.portEnd,
                  sources: t.sources,
                  origin: undefined,
                },
            ),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it("printTarget then parseTarget gives the same target", () => {
    fc.assert(
      fc.property(target, (t) => {
        const text = printTarget(t);
        const back = parseTarget(t.kind, text);
        expect(back).toEqual({ ok: true, target: t });
      }),
      { numRuns: 2000 },
    );
  });
});
