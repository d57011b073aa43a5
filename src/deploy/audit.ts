/**
 * The audit log (docs/deploy.md, "The audit log"): every change that reached the gateway, from the CLI or the
 * service, is one JSON line appended to `DIR/audit.jsonl` once the store has committed it: when, who, which
 * command, which experiment, and what was added and removed (nftables elements as `set key`, DNS records as
 * `name type target`). Lines are appended with one write each, so lines of concurrent commands never mix.
 */
import { closeSync, constants, fsyncSync, openSync, writeSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import type { DnsRecord } from "../backends/dns/records.js";
import type { ElementDelta, ElementSet } from "../backends/nftables/render.js";
import { stateFile } from "../store/schema.js";

export const AUDIT_FILE = "audit.jsonl";

export interface AuditEntry {
  time: string;
  /** `cli:<unix user>` (the sudo caller when there is one) or the service user's name. */
  who: string;
  command: string;
  /** PID/EID, or null for the blocklist and reconcile. */
  experiment: string | null;
  added: string[];
  removed: string[];
  /** reconcile: how many elements it changed, or "whole" when it wrote the tables whole. */
  changed?: number | "whole";
}

const recordText = (r: DnsRecord) => `${r.name} ${r.type} ${r.target}`;

/** What a change added and removed (its element delta, its records): elements as `set key`, records as `name type target`. */
export function changeOf(
  delta: ElementDelta,
  fromRecords: DnsRecord[],
  toRecords: DnsRecord[],
): { added: string[]; removed: string[] } {
  const lines = (set: ElementSet) => Object.entries(set).flatMap(([name, es]) => es.map((e) => `${name} ${e.key}`));
  const have = new Set(fromRecords.map(recordText));
  const want = new Set(toRecords.map(recordText));
  return {
    added: [...lines(delta.add), ...[...want].filter((r) => !have.has(r))],
    removed: [...lines(delta.remove), ...[...have].filter((r) => !want.has(r))],
  };
}

/**
 * Appends entries (one write of whole lines, flushed to disk: a batch of the service costs one write); throws on
 * an I/O error or a file that is a link.
 */
export function appendAudit(dir: string, entries: AuditEntry[]): void {
  const path = join(dir, AUDIT_FILE);
  stateFile(path);
  // O_NOFOLLOW: a link put there after the check is refused too, never written through.
  const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o640);
  try {
    writeSync(fd, entries.map((e) => `${JSON.stringify(e)}\n`).join(""));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Who runs this command: `cli:<unix user>` (the sudo caller when there is one). */
export function cliUser(): string {
  let name = process.env.SUDO_USER;
  if (name === undefined || name === "")
    try {
      name = userInfo().username;
    } catch {
      name = `uid ${process.getuid?.() ?? "?"}`;
    }
  return `cli:${name}`;
}
