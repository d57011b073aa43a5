/** A real etcd (Debian's etcd-server) for the tests: on loopback, free ports, a temporary data directory. */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const canRunEtcd = (): boolean => {
  try {
    execFileSync("etcd", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });

export interface Etcd {
  url: string;
  child: ChildProcess;
  /** Stops etcd and removes its data. */
  stop: () => Promise<void>;
  /** Stops etcd (SIGTERM) keeping its data, then starts it again on the same ports (`down` ms later). */
  restart: (down?: number) => Promise<void>;
  /** etcdctl (v3 API) against this etcd. */
  ctl: (args: string[]) => string;
}

/** Starts etcd and waits until it answers (at most 15 s). */
export async function startEtcd(): Promise<Etcd> {
  const dir = mkdtempSync(join(tmpdir(), "fwc-etcd-"));
  const [client, peer] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${client}`;
  const spawnEtcd = () =>
    spawn(
      "etcd",
      [
        "--name",
        "fwc-test",
        "--data-dir",
        join(dir, "data"),
        "--listen-client-urls",
        url,
        "--advertise-client-urls",
        url,
        "--listen-peer-urls",
        `http://127.0.0.1:${peer}`,
        "--initial-advertise-peer-urls",
        `http://127.0.0.1:${peer}`,
        "--initial-cluster",
        `fwc-test=http://127.0.0.1:${peer}`,
      ],
      { stdio: "ignore" },
    );
  const etcd: Etcd = {
    url,
    child: spawnEtcd(),
    stop: async () => {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
    restart: async (down = 0) => {
      await halt();
      await new Promise((r) => setTimeout(r, down));
      etcd.child = spawnEtcd();
      await ready();
    },
    ctl: (args) =>
      execFileSync("etcdctl", ["--endpoints", url, ...args], {
        encoding: "utf8",
        env: { ...process.env, ETCDCTL_API: "3" },
        timeout: 10_000,
      }),
  };
  const halt = async () => {
    const child = etcd.child;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGCONT");
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  };
  const ready = async () => {
    for (let i = 0; i < 150; i++) {
      try {
        const r = await fetch(`${url}/health`);
        if (r.ok) return;
      } catch {
        // not yet listening
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await etcd.stop();
    throw new Error("etcd did not start within 15 s");
  };
  await ready();
  return etcd;
}

/**
 * A TCP relay to etcd that can be cut without closing anything: connections stay open and nothing passes, as
 * when a gateway's link to etcd goes down (no reset, no FIN); `restore` lets it pass again. It runs in a process
 * of its own (proxy.mjs): the test's event loop stops while fwc runs synchronously.
 */
export async function cuttableProxy(target: string): Promise<{
  url: string;
  cut: () => void;
  restore: () => void;
  close: () => void;
}> {
  const { hostname, port } = new URL(target);
  const child = spawn(process.execPath, [join(import.meta.dirname, "proxy.mjs"), hostname, port], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const listening = await new Promise<string>((resolve, reject) => {
    child.stdout!.once("data", (d: Buffer) => resolve(String(d).trim()));
    child.once("exit", () => reject(new Error("the proxy did not start")));
  });
  return {
    url: `http://127.0.0.1:${listening}`,
    cut: () => child.kill("SIGUSR1"),
    restore: () => child.kill("SIGUSR2"),
    close: () => child.kill("SIGTERM"),
  };
}

/** A running `fwc agent` of the tests: its process, its exit code, its log, and a wait for it to follow etcd. */
export interface TestAgent {
  child: ChildProcess;
  exited: Promise<number | null>;
  log: () => string;
  /** Resolves once the status file says it follows etcd (throws with its log after 10 s). */
  following: () => Promise<void>;
}

/**
 * Starts the real `fwc agent` for `gateway` on network namespace `netns`, with a 3 s lease and its status file
 * in `dir` (a stale one from an earlier agent of that name is removed first).
 */
export function startAgent(
  fwc: string,
  dir: string,
  o: { testbed: string; gateway: string; netns: string; extra?: string[] },
): TestAgent {
  const status = join(dir, `${o.gateway}.status`);
  rmSync(status, { force: true });
  const child = spawn(
    fwc,
    [
      "agent",
      "--gateway",
      o.gateway,
      "--testbed",
      o.testbed,
      "--netns",
      o.netns,
      "--lease",
      "3s",
      "--status-file",
      status,
      ...(o.extra ?? []),
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  child.stderr!.on("data", (d: Buffer) => {
    log += String(d);
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
  const following = async () => {
    for (let i = 0; i < 200; i++) {
      try {
        if (JSON.parse(readFileSync(status, "utf8")).stale === false) return;
      } catch {
        // not written yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${o.gateway} did not follow etcd:\n${log}`);
  };
  return { child, exited, log: () => log, following };
}
