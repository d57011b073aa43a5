/**
 * The service's change loop (docs/service.md, "Many requests at once"), after kube-proxy's sync loop: requests
 * that arrive while a change is being applied wait, and the next round takes all of them together, in one store
 * transaction, one nft transaction and one commit. 50 concurrent grants cost about one change, not 50.
 *
 * Each request is planned on what the ones before it in the round wrote (same transaction), so they never hand
 * out one port twice; one that cannot be planned is dropped alone (a savepoint) and answered with its own
 * diagnostics. When the round's apply fails (nft or DNS refused it), every request of the round is run again on
 * its own, so that each gets its own answer and one bad request never fails the others.
 */
import type { DynamicRequest } from "../access/dynamic.js";
import { type Prepared, prepareClose, prepareExpire, prepareOpen } from "../deploy/commands.js";
import { applyChanges, type DeployContext, withState } from "../deploy/lifecycle.js";
import { type Diagnostic, DiagnosticBag } from "../diagnostics/diagnostic.js";
import { SourceFile, span } from "../diagnostics/source.js";
import type { Plan } from "../plan/plan.js";
import { StateError } from "../store/schema.js";
import type { Store } from "../store/store.js";

export type Job =
  | { kind: "open"; exp: string; req: DynamicRequest; lifetime?: { seconds: number }; who: string }
  | { kind: "close"; exp: string; req: DynamicRequest | "all"; who: string }
  | { kind: "expire"; exp: string; who: string };

export interface JobResult {
  ok: boolean;
  /** The experiment's plan after the change (ok, and not an expiry that found nothing to do). */
  plan?: Plan;
  diagnostics: Diagnostic[];
}

interface Queued {
  job: Job;
  resolve: (r: JobResult) => void;
}

export interface BatchStats {
  /** A round was applied: how many requests, how long the lock took and the apply, in ms. */
  round?: (size: number, applyMs: number) => void;
  lockWait?: (ms: number) => void;
}

export class Batcher {
  private queue: Queued[] = [];
  private exclusive: (() => Promise<void>)[] = [];
  private running: Promise<void> | null = null;

  constructor(
    /** A fresh context for a round (its own bag and output). */
    private readonly context: () => DeployContext,
    private readonly stats: BatchStats = {},
    private readonly maxBatch = 500,
  ) {}

  /** Queues a change; the answer comes when its round is applied. */
  submit(job: Job): Promise<JobResult> {
    return new Promise((resolve) => {
      this.queue.push({ job, resolve });
      this.kick();
    });
  }

  /** Runs `fn` alone, between rounds (the blocklist's changes): nothing else of the service changes the store meanwhile. */
  alone<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise((resolve, reject) => {
      this.exclusive.push(() => fn().then(resolve, reject));
      this.kick();
    });
  }

  /** Resolves when every queued request has been answered. */
  async drain(): Promise<void> {
    while (this.running !== null) await this.running;
  }

  private kick(): void {
    if (this.running !== null) return;
    this.running = (async () => {
      try {
        while (this.queue.length > 0 || this.exclusive.length > 0) {
          const x = this.exclusive.shift();
          if (x !== undefined) {
            await x();
            continue;
          }
          // One turn of the event loop first: requests that arrived while the last round ran (nft and SQLite
          // are synchronous) are read and queued, and this round takes them all.
          await new Promise((r) => setImmediate(r));
          const round = this.queue.splice(0, this.maxBatch);
          if (round.length === 0) continue;
          await this.round(round, true);
        }
      } finally {
        this.running = null;
      }
    })();
  }

  /** One round: every request planned in one transaction, then applied together. */
  private async round(items: Queued[], split: boolean): Promise<void> {
    const ctx: DeployContext = { ...this.context(), onLocked: (ms) => this.stats.lockWait?.(ms) };
    const bags = items.map(() => new DiagnosticBag());
    const prepared: { i: number; p: Prepared }[] = [];
    const ready: JobResult[] = [];
    let applied = false;
    try {
      await withState(ctx, async (store: Store) => {
        for (const [i, q] of items.entries()) {
          const c: DeployContext = { ...ctx, bag: bags[i]!, who: q.job.who, out: [] };
          store.mark();
          let p: Prepared | null | "none" = null;
          try {
            p = prepareJob(c, store, q.job);
          } catch (e) {
            if (!(e instanceof StateError)) throw e;
            c.bag.add("FWC802", span(new SourceFile(store.location, ""), 0, 0), e.message, "nothing was changed");
          }
          if (p === null || p === "none") store.undoToMark();
          else {
            store.keepMark();
            prepared.push({ i, p });
          }
          if (p === "none") ready[i] = { ok: true, diagnostics: [] };
        }
        if (prepared.length === 0) return;
        const start = performance.now();
        applied = await applyChanges(
          ctx,
          store,
          prepared.map((x) => x.p.change),
        );
        this.stats.round?.(prepared.length, performance.now() - start);
      });
    } catch (e) {
      // Not a state or gateway problem (those are reports): every request of the round gets it as an internal error.
      ctx.bag.add("FWC900", span(new SourceFile("fwc serve", ""), 0, 0), (e as Error).message);
    }
    if (!applied && split && prepared.length > 1) {
      // The round failed as a whole: each of its requests alone, so that each gets its own answer.
      for (const x of prepared) await this.round([items[x.i]!], false);
      for (const [i, q] of items.entries())
        if (!prepared.some((x) => x.i === i))
          q.resolve(ready[i] ?? { ok: false, diagnostics: [...ctx.bag.items, ...bags[i]!.items] });
      return;
    }
    const done = new Set(prepared.map((x) => x.i));
    for (const [i, q] of items.entries()) {
      const diagnostics = [...ctx.bag.items, ...bags[i]!.items];
      if (ready[i] !== undefined && ctx.bag.errorCount === 0) q.resolve({ ...ready[i]!, diagnostics });
      else if (done.has(i) && applied) {
        const x = prepared.find((y) => y.i === i)!;
        q.resolve({ ok: true, plan: x.p.plan, diagnostics });
      } else q.resolve({ ok: false, diagnostics });
    }
  }
}

function prepareJob(ctx: DeployContext, store: Store, job: Job): Prepared | null | "none" {
  switch (job.kind) {
    case "open":
      return prepareOpen(ctx, store, job.exp, job.req, job.lifetime);
    case "close":
      return prepareClose(ctx, store, job.exp, job.req);
    case "expire":
      return prepareExpire(ctx, store, job.exp);
  }
}
