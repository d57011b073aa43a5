/**
 * `fwc agent --gateway NAME [--netns NS] [--dns]` (docs/etcd.md): one per gateway, it makes the gateway's
 * kernel follow the state in etcd (src/agent). It runs until SIGTERM or SIGINT, and then exits 0 leaving the
 * gateway's rules in place.
 */
import { join } from "node:path";
import { parseDuration } from "../access/lifetime.js";
import { Agent } from "../agent/agent.js";
import { DiagnosticBag } from "../diagnostics/diagnostic.js";
import { renderText, summaryLine } from "../diagnostics/render.js";
import { etcdSettingsOf } from "../store/etcd.js";
import { loadTestbed } from "../testbed/config.js";
import { readSource, TESTBED_MISSING } from "./input.js";
import { useColor } from "./options.js";

export interface AgentCliOptions {
  gateway?: string;
  state?: string;
  testbed?: string;
  netns?: string;
  dns?: boolean;
  resync?: string;
  lease?: string;
  statusFile?: string;
  color?: string;
}

const fail = (m: string) => {
  process.stderr.write(`fwc: ${m}\n`);
  return 2;
};

export async function agentAction(opts: AgentCliOptions): Promise<number> {
  if (opts.gateway === undefined || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(opts.gateway))
    return fail("agent needs --gateway NAME: letters, digits, and - _ . (at most 63), the gateway's name in reports");
  const resync = parseDuration(opts.resync ?? "30s");
  if (resync === null || resync < 1) return fail(`--resync "${opts.resync}" is not a duration like 30s, 5m`);
  const lease = parseDuration(opts.lease ?? "10s");
  if (lease === null || lease < 2 || lease > 3600)
    return fail(`--lease "${opts.lease}" is not a duration from 2s to 1h, like 10s`);
  const bag = new DiagnosticBag();
  const stateDir = opts.state ?? process.env.FWC_STATE ?? "/var/lib/fwc";
  const testbedPath = opts.testbed ?? join(stateDir, "testbed.yaml");
  const tbFile = readSource(testbedPath, bag, TESTBED_MISSING);
  const testbed = tbFile === null ? null : loadTestbed(tbFile, bag);
  const color = useColor(opts.color, process.stderr);
  if (testbed === null || bag.errorCount > 0) {
    process.stderr.write(`${renderText(bag.sorted(), { color })}${summaryLine(bag.errorCount, bag.warningCount, 1)}\n`);
    return 1;
  }
  const settings = etcdSettingsOf(testbed);
  if (settings === null)
    return fail(
      `${testbedPath} has no \`store: {etcd: ...}\`: an agent follows the state in etcd (docs/etcd.md); with the embedded store the commands change the gateway themselves`,
    );
  if (opts.dns === true && settings.dns !== "agent")
    return fail(
      `--dns: ${testbedPath} says the commands write DNS (store.etcd.dns is "command"): set \`dns: agent\` there, so that exactly one writer does`,
    );
  const agent = await Agent.create({
    name: opts.gateway,
    testbed,
    settings,
    gw: opts.netns === undefined ? {} : { netns: opts.netns },
    dns: opts.dns === true,
    resyncMs: resync * 1000,
    leaseTtl: lease,
    ...(opts.statusFile === undefined ? {} : { statusFile: opts.statusFile }),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const stop = (signal: string) => {
    process.stderr.write(`fwc agent ${opts.gateway}: ${signal}: stopping\n`);
    void agent.stop();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  await agent.run();
  const code = agent.fatal === null ? 0 : 1;
  // A connection to an etcd that no longer answers would keep the process alive after the agent stopped.
  setTimeout(() => process.exit(code), 200).unref();
  return code;
}
