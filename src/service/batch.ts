/**
 * The service's change loop (docs/service.md, "Many requests at once"), after kube-proxy's sync loop: requests
 * that arrive while a change is being applied wait, and the next round takes them together, in one store
 * transaction, one nft transaction and one commit. 50 concurrent grants cost about one change, not 50.
 *
 * Each request is planned on what the ones before it in the round wrote (same transaction), so they never hand
 * out one port twice; one that cannot be planned is dropped alone (a savepoint) and answered with its own
 * diagnostics. When the round's apply fails (nft or DNS refused it), every request of the round is run again on
 * its own, so that each gets its own answer and one bad request never fails the others.
 *
 * Fairness: a round takes the users' requests in turn (one of each user, then a second of each, ...), stops
 * planning once it has spent `budgetMs` (the rest wait for the next round), and after a long round leaves the
 * store's lock free for a moment, so that one user's burst of costly requests delays neither the other users
 * nor the testbed's own commands. A user with `maxQueued` requests waiting gets 429.
 */
import type { DynamicRequest } from "../access/dynamic.js";
import { type Prepared, prepareClose, prepareExpire, prepareOpen } from "../deploy/commands.js";
import type { GatewayWait } from "../deploy/gateways.js";
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
  /** Refused before it was tried: the user has too many requests waiting. */
  busy?: boolean;
  /** With the etcd store: how far the gateways got with the change (202 when some are not there yet). */
  gateways?: GatewayWait;
}

interface Queued {
  job: Job;
  resolve: (r: JobResult) => void;
}

export interface BatchStats {
  /** A round was applied: how many requests, and how long its apply took, in ms. */
  round?: (size: number, applyMs: number) => void;
  lockWait?: (ms: number) => void;
  /** What concerns the operators, not the requests' users (recovery after a crash, internal errors). */
  log?: (line: string) => void;
}

/** Reports of a round that are the operators' business: another command's recovery, not a request's. */
const OPERATORS_ONLY = new Set(["FWC808", "FWC815", "FWC816", "FWC809"]);

export class Batcher {
  /** Waiting requests, by user, in the order users first came. */
  private readonly queues = new Map<string, Queued[]>();
  private exclusive: (() => Promise<void>)[] = [];
  private running: Promise<void> | null = null;

  constructor(
    /** A fresh context for a round (its own bag and output). */
    private readonly context: () => DeployContext,
    private readonly stats: BatchStats = {},
    private readonly limits = { maxBatch: 500, budgetMs: 200, maxQueued: 200 },
  ) {}

  /** Queues a change; the answer comes when its round is applied. */
  submit(job: Job): Promise<JobResult> {
    const q = this.queues.get(job.who) ?? [];
    if (q.length >= this.limits.maxQueued) return Promise.resolve({ ok: false, busy: true, diagnostics: [] });
    return new Promise((resolve) => {
      q.push({ job, resolve });
      this.queues.set(job.who, q);
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

  private get waiting(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  /** Up to maxBatch requests, the users in turn. */
  private take(): Queued[] {
    const out: Queued[] = [];
    while (out.length < this.limits.maxBatch && this.queues.size > 0)
      for (const [who, q] of this.queues) {
        const x = q.shift();
        if (x !== undefined) out.push(x);
        if (q.length === 0) this.queues.delete(who);
        if (out.length >= this.limits.maxBatch) break;
      }
    return out;
  }

  /** Requests a round did not get to go first in the next one. */
  private putBack(items: Queued[]): void {
    for (const x of [...items].reverse()) {
      const q = this.queues.get(x.job.who);
      if (q === undefined) {
        // The user goes first in the next round's turn.
        const rest = [...this.queues];
        this.queues.clear();
        this.queues.set(x.job.who, [x]);
        for (const [k, v] of rest) this.queues.set(k, v);
      } else q.unshift(x);
    }
  }

  private kick(): void {
    if (this.running !== null) return;
    this.running = (async () => {
      try {
        while (this.waiting > 0 || this.exclusive.length > 0) {
          const x = this.exclusive.shift();
          if (x !== undefined) {
            await x();
            continue;
          }
          // One turn of the event loop first: requests that arrived while the last round ran (planning and
          // SQLite are synchronous) are read and queued, and this round takes them.
          await new Promise((r) => setImmediate(r));
          const items = this.take();
          if (items.length === 0) continue;
          const start = performance.now();
          const left = await this.round(items, true);
          this.putBack(left);
          // A long round held the store's lock all along: leave it free a moment for the CLI's commands (SQLite's
          // busy wait looks again within 100 ms).
          const took = performance.now() - start;
          if (took > 100 && this.waiting > 0) await new Promise((r) => setTimeout(r, Math.min(110, took / 4)));
        }
      } finally {
        this.running = null;
      }
    })();
  }

  /**
   * One round: the requests planned in one transaction (until the planning budget is spent), then applied
   * together. Returns the requests it did not get to.
   */
  private async round(items: Queued[], split: boolean): Promise<Queued[]> {
    const ctx: DeployContext = { ...this.context(), onLocked: (ms) => this.stats.lockWait?.(ms) };
    const bags = items.map(() => new DiagnosticBag());
    const prepared: { i: number; p: Prepared }[] = [];
    const ready: JobResult[] = [];
    let applied = false;
    let tried = 0;
    let started = false;
    try {
      await withState(ctx, async (store: Store) => {
        started = true;
        // With etcd the round may be planned again on a fresh read (another controller wrote first).
        prepared.length = 0;
        ready.length = 0;
        tried = 0;
        for (const b of bags) b.truncate(0);
        const start = performance.now();
        for (const [i, q] of items.entries()) {
          if (i > 0 && performance.now() - start > this.limits.budgetMs) break;
          tried = i + 1;
          const c: DeployContext = { ...ctx, bag: bags[i]!, who: q.job.who, out: [] };
          store.mark();
          let p: Prepared | null | "none" = null;
          try {
            p = prepareJob(c, store, q.job);
          } catch (e) {
            // This request's problem only: the others of the round are still tried.
            if (e instanceof StateError)
              c.bag.add("FWC802", span(new SourceFile("the store", ""), 0, 0), e.message, "nothing was changed");
            else {
              this.stats.log?.(`internal error in ${q.job.kind} of ${q.job.exp}: ${(e as Error).stack ?? e}`);
              c.bag.add(
                "FWC900",
                span(new SourceFile("fwc serve", ""), 0, 0),
                "internal error (see the service's log)",
              );
            }
          }
          if (p === null || p === "none") store.undoToMark();
          else {
            store.keepMark();
            prepared.push({ i, p });
          }
          if (p === "none") ready[i] = { ok: true, diagnostics: [] };
        }
        if (prepared.length === 0) return;
        const t = performance.now();
        applied = await applyChanges(
          ctx,
          store,
          prepared.map((x) => x.p.change),
        );
        this.stats.round?.(prepared.length, performance.now() - t);
      });
    } catch (e) {
      // Not a state or gateway problem (those are reports): an internal error, for the requests of the round.
      this.stats.log?.(`internal error in a round: ${(e as Error).stack ?? e}`);
      ctx.bag.add("FWC900", span(new SourceFile("fwc serve", ""), 0, 0), "internal error (see the service's log)");
    }
    // The round's own reports: what the operators need (a crashed command's recovery) goes to the log; what
    // stopped the round (the lock, the store, the gateway) goes to the requests it stopped.
    for (const d of ctx.bag.items)
      if (OPERATORS_ONLY.has(d.code)) this.stats.log?.(`${d.code}: ${d.message}${d.help ? ` (${d.help})` : ""}`);
    const shared = ctx.bag.items.filter((d) => !OPERATORS_ONLY.has(d.code));
    // The round never started (the lock, the store): every request gets why.
    if (!started) tried = items.length;
    const sharedErrors = shared.some((d) => d.severity === "error");
    const left = items.slice(tried);
    const done = new Set(prepared.map((x) => x.i));
    if (!applied && split && prepared.length > 1) {
      // The round failed as a whole: each of its requests alone, so that each gets its own answer.
      for (const x of prepared) this.putBack(await this.round([items[x.i]!], false));
      for (const [i, q] of items.slice(0, tried).entries())
        if (!done.has(i)) q.resolve(ready[i] ?? { ok: false, diagnostics: bags[i]!.items });
      return left;
    }
    for (const [i, q] of items.slice(0, tried).entries()) {
      const own = bags[i]!.items;
      if (done.has(i)) {
        const x = prepared.find((y) => y.i === i)!;
        // Prepared: it shares the round's fate (applied, or not, and why).
        q.resolve(
          applied
            ? {
                ok: true,
                plan: x.p.plan,
                diagnostics: own,
                ...(ctx.gateways === undefined ? {} : { gateways: ctx.gateways }),
              }
            : { ok: false, diagnostics: [...shared, ...own] },
        );
      } else if (ready[i] !== undefined && !sharedErrors) q.resolve({ ...ready[i]!, diagnostics: own });
      else if (ready[i] !== undefined || (own.length === 0 && sharedErrors))
        // Stopped by the round (the lock, the store) before it could be tried.
        q.resolve({ ok: false, diagnostics: shared });
      else q.resolve({ ok: false, diagnostics: own });
    }
    return left;
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
