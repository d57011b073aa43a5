/**
 * The etcd store's allocation (issue 13, first step; docs/etcd.md): what an experiment holds on the gateways (its
 * gateway ports, dedicated addresses and node claims) is one key per held thing, and an experiment's change
 * writes them with its record in one etcd transaction that compares the revision of every key it read. Two
 * controllers that race for a port therefore never both get it: the second transaction's comparison fails, and
 * it reads again and finds the port taken.
 *
 * Keys under the store's prefix (e.g. "/fwc/"):
 *   experiments/<pid>/<eid>   the experiment's record (JSON)
 *   ports/<port>              the experiment holding that gateway port ("pid/eid")
 *   dedicated/<address>       the experiment holding that dedicated public address
 *   claims/<claim>            the experiment holding that node address, bridge port or MAC
 */
import type { Etcd3 } from "etcd3";

export interface Holdings {
  ports: number[];
  dedicated: string[];
  claims: string[];
}

export type ClaimResult =
  | { ok: true; revision: string }
  | { ok: false; taken: { key: string; holder: string }[] }
  | { ok: false; conflict: true };

const keysOf = (prefix: string, h: Holdings): string[] => [
  ...h.ports.map((p) => `${prefix}ports/${p}`),
  ...h.dedicated.map((a) => `${prefix}dedicated/${a}`),
  ...h.claims.map((c) => `${prefix}claims/${encodeURIComponent(c)}`),
];

/**
 * One attempt to make `exp` hold exactly `want` (and write its record), given what it held before (`had`): new
 * keys must not exist, kept keys must still be its own at the revision read, given-up keys are deleted.
 * `conflict`: another controller changed a key between the read and the transaction; read again and retry.
 */
export async function claimOnce(
  client: Etcd3,
  prefix: string,
  exp: string,
  had: Holdings,
  want: Holdings,
  record: string | null,
): Promise<ClaimResult> {
  const wanted = new Set(keysOf(prefix, want));
  const given = keysOf(prefix, had).filter((k) => !wanted.has(k));
  const all = [...new Set([...wanted, ...given])];
  // What each key holds now, with its revision.
  const seen = new Map<string, { value: string; mod: string }>();
  for (const key of all) {
    const r = await client.get(key).exec();
    const kv = r.kvs[0];
    if (kv !== undefined) seen.set(key, { value: kv.value.toString(), mod: kv.mod_revision });
  }
  const taken = [...wanted]
    .filter((k) => seen.has(k) && seen.get(k)!.value !== exp)
    .map((key) => ({ key: key.slice(prefix.length), holder: seen.get(key)!.value }));
  if (taken.length > 0) return { ok: false, taken };
  const recordKey = `${prefix}experiments/${exp}`;
  // Always true: the start of the comparisons (an experiment may hold nothing).
  let txn = client.if(recordKey, "Mod", ">", -1);
  for (const key of all) {
    const s = seen.get(key);
    txn = s === undefined ? txn.and(key, "Create", "==", 0) : txn.and(key, "Mod", "==", s.mod);
  }
  const ops = [
    ...[...wanted].filter((k) => !seen.has(k)).map((k) => client.put(k).value(exp)),
    ...given.filter((k) => seen.get(k)?.value === exp).map((k) => client.delete().key(k)),
    record === null ? client.delete().key(recordKey) : client.put(recordKey).value(record),
  ];
  const r = await txn.then(...ops).commit();
  return r.succeeded ? { ok: true, revision: r.header.revision } : { ok: false, conflict: true };
}

/** claimOnce, read again and retried while other controllers change the same keys (at most `tries` times). */
export async function claim(
  client: Etcd3,
  prefix: string,
  exp: string,
  had: Holdings,
  want: Holdings,
  record: string | null,
  tries = 20,
): Promise<ClaimResult> {
  let last: ClaimResult = { ok: false, conflict: true };
  for (let i = 0; i < tries; i++) {
    last = await claimOnce(client, prefix, exp, had, want, record);
    if (last.ok || !("conflict" in last)) return last;
    await new Promise((r) => setTimeout(r, Math.random() * 5 * (i + 1)));
  }
  return last;
}
