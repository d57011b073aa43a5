/**
 * One fwc at a time per state directory: `DIR/lock` holds the owner's pid. A lock whose process is gone (killed
 * mid-apply) is taken over; a live owner is waited for, up to a limit, and then named in the error.
 */
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";

export class LockError extends Error {}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
};

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Takes the lock, waiting up to `waitMs`; returns the function that releases it. */
export function acquireLock(dir: string, waitMs: number): () => void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "lock");
  const deadline = Date.now() + waitMs;
  for (;;) {
    // The lock appears with its owner already in it: written to a file of our own, then linked into place
    // (link fails if the lock exists). A lock created empty and written afterwards could be read as garbage.
    const mine = `${process.pid} ${new Date().toISOString()}\n`;
    const tmp = `${path}.${process.pid}`;
    try {
      const fd = openSync(tmp, "w", 0o644);
      try {
        writeSync(fd, mine);
      } finally {
        closeSync(fd);
      }
      linkSync(tmp, path);
      rmSync(tmp, { force: true });
      // Released only while it is still ours.
      return () => {
        try {
          if (readFileSync(path, "utf8") === mine) rmSync(path, { force: true });
        } catch {
          // already gone
        }
      };
    } catch (e) {
      rmSync(tmp, { force: true });
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    let owner = "";
    try {
      owner = readFileSync(path, "utf8").trim();
    } catch {
      continue; // released meanwhile
    }
    const pid = Number(owner.split(" ")[0]);
    if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) {
      // The owner died (or the file is garbage): move it aside; of two takers only one rename succeeds.
      try {
        renameSync(path, `${path}.stale${process.pid}`);
        rmSync(`${path}.stale${process.pid}`, { force: true });
      } catch {
        // someone else took it over first
      }
      continue;
    }
    if (Date.now() >= deadline) {
      const since = owner.split(" ")[1] ?? "?";
      throw new LockError(
        `another fwc (pid ${pid}, since ${since}) holds ${path}; waited ${Math.round(waitMs / 1000)} s. Try again when it is done, or raise --wait`,
      );
    }
    sleep(50);
  }
}
