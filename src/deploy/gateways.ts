/**
 * With the etcd store, a change is made when every live gateway's agent has applied it (docs/etcd.md): the
 * command waits for the agents' reports to reach the change's revision, up to --wait. A gateway that lags is
 * never a failure: the change is then pending, and says which gateways are not there yet.
 */
import type { Etcd3 } from "etcd3";
import { type EtcdSettings, readGateways, revisionAtLeast } from "../store/etcd.js";
import type { DeployContext } from "./lifecycle.js";
import { report } from "./lifecycle.js";

export interface GatewayWait {
  /** The etcd revision of the change. */
  revision: string;
  /** Live gateways whose tables hold the change. */
  done: string[];
  /** Live gateways that do not yet: where they are, and whether they have lost etcd. */
  pending: { gateway: string; revision: string; stale: boolean }[];
  /** The reports could not be read (etcd went away after the write). */
  unknown?: string;
}

/** Whether the change reached every live gateway (and there is one). */
export const everywhere = (w: GatewayWait): boolean =>
  w.pending.length === 0 && w.done.length > 0 && w.unknown === undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits up to `waitMs` for every live gateway to report `revision` (none live: answers at once). */
export async function waitForGateways(
  client: Etcd3,
  settings: EtcdSettings,
  revision: string,
  waitMs: number,
): Promise<GatewayWait> {
  const deadline = performance.now() + waitMs;
  for (let pause = 2; ; pause = Math.min(pause * 2, 20)) {
    let w: GatewayWait;
    try {
      const { reports } = await readGateways(client, settings);
      const done = reports.filter((r) => !r.stale && revisionAtLeast(r.revision, revision));
      w = {
        revision,
        done: done.map((r) => r.gateway).sort(),
        pending: reports
          .filter((r) => !done.includes(r))
          .map((r) => ({ gateway: r.gateway, revision: r.revision, stale: r.stale }))
          .sort((a, b) => a.gateway.localeCompare(b.gateway)),
      };
    } catch (e) {
      return { revision, done: [], pending: [], unknown: (e as Error).message };
    }
    if (w.done.length + w.pending.length === 0 || w.pending.length === 0 || performance.now() >= deadline) return w;
    await sleep(Math.min(pause, Math.max(1, deadline - performance.now())));
  }
}

/** One warning when the change is not yet on every gateway (exit 0: it is made, and the agents catch up). */
export function reportWait(ctx: DeployContext, w: GatewayWait): void {
  if (everywhere(w)) return;
  const where = `etcd revision ${w.revision}`;
  if (w.unknown !== undefined)
    report(
      ctx,
      "FWC832",
      where,
      `the change is in etcd, but the gateways' reports cannot be read: ${w.unknown}`,
      "fwc status shows where each gateway is",
    );
  else if (w.done.length + w.pending.length === 0)
    report(
      ctx,
      "FWC832",
      where,
      "the change is in etcd, and no gateway's agent is running to apply it: it is pending",
      "start `fwc agent --gateway NAME` on each gateway; it applies everything in etcd when it starts",
    );
  else
    report(
      ctx,
      "FWC832",
      where,
      `the change is in etcd and pending on ${w.pending
        .map((p) => `${p.gateway} (${p.stale ? "stale: it cannot reach etcd" : `at revision ${p.revision}`})`)
        .join(", ")}${w.done.length > 0 ? `; applied on ${w.done.join(", ")}` : ""}`,
      "a gateway that lags catches up by itself; fwc status shows where each one is",
    );
}
