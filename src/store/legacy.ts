/**
 * The state directory of fwc before the embedded store (docs/deploy.md, "Upgrading"): JSON files written by
 * rename. Read only, to migrate it into the store on first use, and by `fwc compile --state` on a directory that
 * no change command has opened since.
 *
 *   DIR/index.json                  ports and dedicated addresses in use, the quarantine queue, the skeleton's
 *                                   digest, the zone serial
 *   DIR/experiments/PID/EID.json    one experiment
 *   DIR/intent.json                 a change that did not finish, with the state before and after it
 *   DIR/blocks.json, DIR/claims.json, DIR/lock
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as z from "zod/mini";
import "../schema.js";
import {
  type Blocks,
  Blocks as BlocksSchema,
  ExperimentState,
  Index,
  indexOf,
  isExperimentName,
  StateError,
  stateFile,
} from "./schema.js";

const Claims = z.record(z.string(), z.string());

export const Intent = z.object({
  version: z.literal(1),
  command: z.string(),
  experiment: z.string(),
  previous: z.nullable(ExperimentState),
  next: z.nullable(ExperimentState),
  indexPrevious: Index,
  indexNext: Index,
  blocks: z.optional(z.object({ previous: BlocksSchema, next: BlocksSchema })),
  started: z.string(),
});
export type Intent = z.infer<typeof Intent>;

/** The files of the old layout, as they are named in DIR. */
export const LEGACY_FILES = ["index.json", "experiments", "intent.json", "blocks.json", "claims.json", "lock"];

/** Whether DIR holds state in the old layout. */
export const hasLegacyState = (dir: string): boolean =>
  ["index.json", "experiments", "intent.json", "blocks.json", "claims.json"].some((f) => existsSync(join(dir, f)));

/** State files are fwc's own and small; anything bigger was not written by fwc. */
const MAX_STATE_BYTES = 256 * 1024 * 1024;

function readJson<T extends z.ZodMiniType>(path: string, schema: T): z.infer<T> | null {
  const st = stateFile(path);
  if (st === null) return null;
  if (st.size > MAX_STATE_BYTES) throw new StateError(`${path}: ${st.size} bytes, not a state file fwc wrote`);
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    // The parser's message quotes the file's content: only where it failed is reported.
    const at = /position ([0-9]+)/.exec((e as Error).message)?.[1];
    throw new StateError(
      `${path}: not JSON${at !== undefined ? ` (at byte ${at})` : ""}; restore it from a backup or run fwc reconcile`,
    );
  }
  const r = schema.safeParse(data);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new StateError(`${path}: ${i.path.join(".") || "(top level)"}: ${i.message}`);
  }
  return r.data;
}

export class LegacyState {
  constructor(readonly dir: string) {}

  private expPath(exp: string): string {
    if (!isExperimentName(exp)) throw new StateError(`"${exp}" is not PID/EID made of two DNS labels`);
    const [pid, eid] = exp.toLowerCase().split("/");
    return join(this.dir, "experiments", pid!, `${eid}.json`);
  }

  /** The index; a missing one is rebuilt from the experiments' own allocations, never taken as empty. */
  readIndex(): Index {
    return readJson(join(this.dir, "index.json"), Index) ?? indexOf(this.listExperiments());
  }

  readExperiment(exp: string): ExperimentState | null {
    return readJson(this.expPath(exp), ExperimentState);
  }

  listExperiments(): ExperimentState[] {
    const root = join(this.dir, "experiments");
    if (!existsSync(root)) return [];
    const out: ExperimentState[] = [];
    for (const pid of readdirSync(root).sort())
      for (const f of readdirSync(join(root, pid)).sort())
        if (f.endsWith(".json")) {
          const s = readJson(join(root, pid, f), ExperimentState);
          if (s !== null) out.push(s);
        }
    return out;
  }

  readClaims(): Record<string, string> | null {
    return readJson(join(this.dir, "claims.json"), Claims);
  }

  readBlocks(): Blocks {
    return readJson(join(this.dir, "blocks.json"), BlocksSchema) ?? { version: 1, entries: [] };
  }

  readIntent(): Intent | null {
    return readJson(join(this.dir, "intent.json"), Intent);
  }
}
