/** Testbed configuration and node addresses: valid files load; every problem names the file, line and key. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DiagnosticBag } from "../../src/diagnostics/diagnostic.js";
import { SourceFile } from "../../src/diagnostics/source.js";
import { loadNodeAddresses, loadTestbed } from "../../src/testbed/config.js";

const root = join(import.meta.dirname, "..", "..");

function load(text: string, kind: "testbed" | "nodes" = "testbed") {
  const file = new SourceFile(kind === "testbed" ? "testbed.yaml" : "nodes.json", text);
  const bag = new DiagnosticBag();
  const value = kind === "testbed" ? loadTestbed(file, bag) : loadNodeAddresses(file, bag);
  const diags = bag.sorted().map((d) => {
    const p = file.position(d.span.start);
    return { code: d.code, line: p.line, col: p.col, message: d.message, help: d.help };
  });
  return { value, diags };
}

const GOOD = readFileSync(join(root, "examples", "testbed.yaml"), "utf8");

describe("testbed configuration", () => {
  it("the example loads", () => {
    const { value, diags } = load(GOOD);
    expect(diags).toEqual([]);
    expect(value).toEqual({
      domain: "testbed.example.net",
      gateway: {
        name: "gw.testbed.example.net",
        ipv4: "198.51.100.1",
        ipv6: "2001:db8:100::1",
        outside: "eth0",
        inside: ["eth1"],
        infrastructure: ["10.0.0.0/24"],
      },
      ports: { from: 20000, to: 29999 },
      quarantine: 3600,
      limits: { ports: 1024, elements: 20000, dedicated: 16 },
      dedicated: "198.51.100.128/25",
      catalog: {
        hardware: ["pc", "pc3000", "d430", "d710", "d820"],
        os: ["UBUNTU22-64-STD", "UBUNTU20-64-STD", "FBSD13-64-STD"],
        storage_classes: ["local", "SAN"],
        services: ["rc.progagent", "rc.linkdelay", "rc.hostnames"],
      },
    });
  });

  it("infrastructure networks, limits and the quarantine are values of their kind", () => {
    const bad = (from: string, to: string) => load(GOOD.replace(from, to)).diags.map((d) => [d.code, d.message]);
    expect(bad("[10.0.0.0/24]", "[10.0.0.0/33]")).toEqual([
      [
        "FWC601",
        "gateway.infrastructure.0: must be an IPv4 or IPv6 address or network such as 10.0.0.0/24 or 2001:db8:1::/64 (no %zone)",
      ],
    ]);
    expect(bad("[10.0.0.0/24]", "[fe80::1%eth1]")[0]![0]).toBe("FWC601");
    expect(bad("  ports: 1024 ", "  ports: -1 ")).toEqual([["FWC601", "limits.ports: must be 0 or more"]]);
    expect(bad("  elements: 20000", "  element: 20000")[0]![0]).toBe("FWC602");
    expect(bad("quarantine: 3600", "quarantine: 1h")[0]![0]).toBe("FWC601");
  });

  it("an invalid value names the key and points at the value", () => {
    const { diags } = load(GOOD.replace("ipv4: 198.51.100.1", "ipv4: 198.51.100.300"));
    expect(diags.map((d) => [d.code, d.line, d.col])).toEqual([["FWC601", 5, 9]]);
    expect(diags[0]!.message).toBe("gateway.ipv4: must be an IPv4 address such as 198.51.100.1");
  });

  it("an unknown key is an error with a suggestion", () => {
    const { diags } = load(GOOD.replace("  outside: eth0", "  outsdie: eth0"));
    const codes = diags.map((d) => [d.code, d.line, d.col]);
    expect(codes).toContainEqual(["FWC602", 7, 3]);
    expect(diags.find((d) => d.code === "FWC602")!.help).toContain("`outside`");
    expect(diags.find((d) => d.code === "FWC603")!.message).toContain("gateway.outside: missing");
  });

  it("a missing key says where to add it", () => {
    const { diags } = load(GOOD.replace(/^ports: .*$/m, ""));
    expect(diags.map((d) => [d.code, d.message])).toEqual([
      ["FWC603", "ports: missing (expected string, received undefined)"],
    ]);
  });

  it("port pools and dedicated networks are checked", () => {
    expect(load(GOOD.replace("20000-29999", "29999-20000")).diags.map((d) => d.code)).toEqual(["FWC601"]);
    expect(load(GOOD.replace("20000-29999", "80-90")).diags.map((d) => d.code)).toEqual(["FWC601"]);
    expect(load(GOOD.replace("198.51.100.128/25", "198.51.100.0/24")).diags[0]!.message).toContain(
      "contains the gateway's own address",
    );
  });

  it("a YAML syntax error is reported at its position", () => {
    const { diags } = load("domain: x\ngateway: [eth0\n");
    expect(diags[0]!.code).toBe("FWC600");
    expect(diags[0]!.line).toBeGreaterThanOrEqual(2);
  });
});

describe("node addresses", () => {
  it("the example loads", () => {
    const { value, diags } = load(readFileSync(join(root, "examples", "web-lab.nodes.json"), "utf8"), "nodes");
    expect(diags).toEqual([]);
    expect(value).toMatchObject({ web: { ipv4: "10.1.1.4", ipv6: "2001:db8:1::4" } });
  });

  it("a MAC and a bridge port bind a node; a zone id or a MAC without its port is refused", () => {
    const ok = load('{ "web": { "ipv4": "10.1.1.3", "mac": "02:00:00:00:01:03", "port": "p-web" } }', "nodes");
    expect(ok.diags).toEqual([]);
    const msgs = (t: string) => load(t, "nodes").diags.map((d) => [d.code, d.message]);
    expect(msgs('{ "web": { "ipv6": "fe80::1%eth0" } }')).toEqual([
      ["FWC601", "web.ipv6: must be an IPv6 address such as 2001:db8::1 (no prefix length, no %zone)"],
    ]);
    expect(msgs('{ "web": { "ipv4": "10.1.1.3", "mac": "02:00:00:00:01:03" } }')).toEqual([
      ["FWC601", "web: mac needs port: the gateway's bridge port the node sits behind"],
    ]);
    expect(msgs('{ "web": { "mac": "02:00:00:00:01", "port": "p-web" } }')[0]![0]).toBe("FWC601");
    expect(msgs('{ "web": { "port": "p web" } }')[0]![0]).toBe("FWC601");
  });

  it("a bad address points at it inside the JSON", () => {
    const { diags } = load('{\n  "web": { "ipv4": "10.1.1" }\n}\n', "nodes");
    expect(diags.map((d) => [d.code, d.line, d.col, d.message])).toEqual([
      ["FWC601", 2, 20, "web.ipv4: must be an IPv4 address such as 198.51.100.1"],
    ]);
  });
});
