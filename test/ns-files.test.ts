/** Whole NS files in the styles people write: they evaluate cleanly to the topology Emulab builds. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { evaluate } from "./helpers.js";

const load = (name: string) =>
  evaluate(readFileSync(join(import.meta.dirname, "fixtures", "ns", name), "utf8"), undefined, name);

describe("realistic NS files", () => {
  it("dumbbell: links named after variables, queue settings, agents and events", () => {
    const { diags, topo } = load("dumbbell.ns");
    expect(diags).toEqual([]);
    expect(topo.nodes.map((n) => n.name)).toEqual(["nodeA", "nodeB", "router1", "router2", "nodeC", "nodeD"]);
    expect(topo.links.map((l) => [l.name, l.endpoints.join("-"), l.bandwidthKbps, l.delayMs, l.queue])).toEqual([
      ["link1", "nodeA-router1", 100000, 0, "DropTail"],
      ["link2", "nodeB-router1", 100000, 0, "DropTail"],
      ["bottleneck", "router1-router2", 10000, 20, "RED"],
      ["link3", "router2-nodeC", 100000, 0, "DropTail"],
      ["link4", "router2-nodeD", 100000, 0, "DropTail"],
    ]);
    expect(topo.nodes[0]!.ips).toEqual([{ on: "link1", ip: "10.1.1.2" }]);
    expect(topo.events.map((e) => [e.time, e.event])).toEqual([
      ["10.0", "cbr0 start"],
      ["20.0", "cbr0 stop"],
    ]);
  });

  it("star: loop, lappend, expr-built values, a LAN list spanning lines, braced variable names", () => {
    const { diags, topo } = load("star.ns");
    expect(diags).toEqual([]);
    expect(topo.nodes.map((n) => [n.name, n.hardware])).toEqual([
      ["hub", null],
      ["leaf-1", "d710"],
      ["leaf-2", "pc3000"],
      ["leaf-3", "d710"],
      ["leaf-4", "pc3000"],
      ["leaf-5", "d710"],
      ["leaf-6", "pc3000"],
    ]);
    // Unassigned duplex-links keep internal names from the shared counter.
    expect(topo.links.map((l) => [l.name, l.bandwidthKbps, l.delayMs])).toEqual([
      ["tblink-l3", 10000, 2],
      ["tblink-l5", 20000, 4],
      ["tblink-l7", 30000, 6],
      ["tblink-l9", 40000, 8],
      ["tblink-l11", 50000, 10],
      ["tblink-l13", 60000, 12],
    ]);
    expect(topo.lans.map((l) => [l.name, l.members, l.cloud])).toEqual([
      ["lan0", ["leaf-1", "leaf-2", "leaf-3"], false],
      ["cloud0", ["hub", "leaf-4"], true],
    ]);
    expect(topo.rtproto).toBe("Session");
  });

  it("procs: a node returned from a proc is named by the global; nodes made through upvar keep internal names", () => {
    const { diags, topo } = load("procs.ns");
    expect(diags).toEqual([]);
    expect(topo.nodes.map((n) => [n.name, n.os])).toEqual([
      ["server", "UBUNTU20-64-STD"],
      ["tbnode-n2", null],
      ["tbnode-n3", null],
      ["tbnode-n4", null],
    ]);
    expect(topo.external).toMatchObject([
      { node: "server", args: ["shared", "rdr", "22 80/tcp"], location: { line: 26, column: 1 } },
    ]);
  });
});
