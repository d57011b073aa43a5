/** What the deploy tests on a real gateway share: the fwc binary, the testbed, and running fwc on a gateway. */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import type { TestbedConfig } from "../../src/testbed/config.js";
import type { Lab } from "./lab.js";

export const FWC = join(import.meta.dirname, "..", "..", "dist", "fwc.cjs");

/** The testbed of the lifecycle tests: the gateway at 198.51.100.1, outside eth0, inside eth1. */
export const TESTBED_YAML = `domain: testbed.example.net
gateway:
  name: gw.testbed.example.net
  ipv4: 198.51.100.1
  outside: eth0
  inside: [eth1]
ports: 20000-29999
`;

/** TESTBED_YAML as the parsed configuration (for rendering zones in the DNS tests). */
export const TESTBED: TestbedConfig = {
  domain: "testbed.example.net",
  gateway: { name: "gw.testbed.example.net", ipv4: "198.51.100.1", outside: "eth0", inside: ["eth1"] },
  ports: { from: 20000, to: 29999 },
};

/** The same testbed with IPv6 on the gateway (the attack and blocklist tests). */
export const TESTBED6_YAML = `domain: testbed.example.net
gateway:
  name: gw.testbed.example.net
  ipv4: 198.51.100.1
  ipv6: 2001:db8:ffff::1
  outside: eth0
  inside: [eth1]
ports: 20000-29999
`;

/** An NS file with these nodes and these lines of tb-allow-external calls. */
export const nsText = (nodes: string[], ...calls: string[]) =>
  [
    "set ns [new Simulator]",
    "source tb_compat.tcl",
    ...nodes.map((n) => `set ${n} [$ns node]`),
    ...calls,
    "$ns run",
    "",
  ].join("\n");

export interface FwcRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

/** The options that put a command on the lab's "gw" namespace, with the state and the testbed file of `dir`. */
export const gatewayArgs = (dir: string, state: string, lab: Lab): string[] => [
  "--state",
  state,
  "--testbed",
  join(dir, "testbed.yaml"),
  "--netns",
  lab.name("gw"),
];

/**
 * Runs the fwc binary on the lab's "gw" namespace with the state directory and the testbed file in `dir`;
 * `extra` options come after the command's own, `env` adds to the environment.
 */
export function fwcOn(lab: Lab, dir: string, state: string, extra: string[] = []) {
  return (args: string[], env: Record<string, string> = {}): FwcRun => {
    const r = spawnSync(FWC, [...args, ...gatewayArgs(dir, state, lab), ...extra], {
      encoding: "utf8",
      cwd: dir,
      timeout: 60_000,
      env: { ...process.env, ...env },
    });
    return { code: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
  };
}
