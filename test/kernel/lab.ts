/**
 * Network namespaces for the packet tests: an Internet host, the gateway and experiment nodes, joined by veth
 * pairs. Traffic only ever flows between namespaces this lab creates; everything is removed at the end.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

// The probe is plain JavaScript beside this file; from the compiled copy (dist/test/kernel, used by bench/nft)
// it is found in the source tree.
const PROBE = existsSync(join(import.meta.dirname, "probe.mjs"))
  ? join(import.meta.dirname, "probe.mjs")
  : join(import.meta.dirname, "..", "..", "..", "test", "kernel", "probe.mjs");

export const canRunKernelTests = (): boolean => {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync("nft", ["--version"], { stdio: "ignore" });
    execFileSync("ip", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};

let labs = 0;

/**
 * A child's standard output as lines: `next(ms)` resolves with the next line, or "TIMEOUT" when none comes
 * within `ms`; `pending()` is the lines that wait to be taken.
 */
export function lineReader(child: ChildProcess): { next: (ms: number) => Promise<string>; pending: () => string[] } {
  const lines: string[] = [];
  let wake: (() => void) | null = null;
  let buf = "";
  child.stdout!.on("data", (d: Buffer) => {
    buf += String(d);
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    wake?.();
  });
  const next = (ms: number) =>
    new Promise<string>((resolve) => {
      const t = setTimeout(() => {
        wake = null;
        resolve("TIMEOUT");
      }, ms);
      const take = () => {
        if (lines.length > 0) {
          clearTimeout(t);
          wake = null;
          resolve(lines.shift()!);
        }
      };
      wake = take;
      take();
    });
  return { next, pending: () => lines };
}

export class Lab {
  /** Namespaces are named `fwc-<tag>-<pid>-<ns>`: each test file passes its own tag, so files never collide. */
  readonly prefix: string;
  /** Temporary veth names in the root namespace (at most 15 characters), unique per lab and process. */
  private readonly vethTag: string;
  private readonly namespaces: string[] = [];
  private readonly children: ChildProcess[] = [];

  constructor(tag: string) {
    if (!/^[a-z0-9]{1,8}$/.test(tag)) throw new Error(`lab tag "${tag}": 1-8 lowercase letters or digits`);
    this.prefix = `fwc-${tag}-${process.pid}`;
    this.vethTag = `v${(process.pid % 100000).toString(36)}${(labs++).toString(36)}`;
  }

  name(ns: string): string {
    return `${this.prefix}-${ns}`;
  }

  sh(args: string[], input?: string): string {
    return execFileSync(args[0]!, args.slice(1), {
      encoding: "utf8",
      input,
      stdio: ["pipe", "pipe", "pipe"],
      timeout: 20_000,
    });
  }

  exec(ns: string, args: string[], input?: string): string {
    return this.sh(["ip", "netns", "exec", this.name(ns), ...args], input);
  }

  addNamespace(ns: string): void {
    this.sh(["ip", "netns", "add", this.name(ns)]);
    this.namespaces.push(ns);
    this.exec(ns, ["ip", "link", "set", "lo", "up"]);
  }

  /** A veth pair between two namespaces, with addresses (CIDR) on each end. */
  link(a: string, ifA: string, addrA: string[], b: string, ifB: string, addrB: string[]): void {
    const pair = `${this.namespaces.indexOf(a).toString(36)}${this.namespaces.indexOf(b).toString(36)}`;
    const tmpA = `${this.vethTag}a${pair}`;
    const tmpB = `${this.vethTag}b${pair}`;
    this.sh(["ip", "link", "add", tmpA, "type", "veth", "peer", "name", tmpB]);
    this.sh(["ip", "link", "set", tmpA, "netns", this.name(a)]);
    this.sh(["ip", "link", "set", tmpB, "netns", this.name(b)]);
    this.exec(a, ["ip", "link", "set", tmpA, "name", ifA]);
    this.exec(b, ["ip", "link", "set", tmpB, "name", ifB]);
    // IPv6 addresses skip duplicate address detection, which would keep them unusable for a second or two.
    const add = (ns: string, x: string, dev: string) =>
      this.exec(ns, ["ip", "addr", "add", x, "dev", dev, ...(x.includes(":") ? ["nodad"] : [])]);
    for (const x of addrA) add(a, x, ifA);
    for (const x of addrB) add(b, x, ifB);
    this.exec(a, ["ip", "link", "set", ifA, "up"]);
    this.exec(b, ["ip", "link", "set", ifB, "up"]);
  }

  /**
   * The gateway's inside LAN: a bridge `eth1` in namespace `gw` with `gwAddrs`, and each node attached to it
   * with its addresses and a default route via `via` (the family follows the address).
   */
  insideLan(gwAddrs: string[], nodes: [ns: string, addrs: string[]][], via: string): void {
    this.exec("gw", ["ip", "link", "add", "eth1", "type", "bridge"]);
    for (const a of gwAddrs)
      this.exec("gw", ["ip", "addr", "add", a, "dev", "eth1", ...(a.includes(":") ? ["nodad"] : [])]);
    this.exec("gw", ["ip", "link", "set", "eth1", "up"]);
    for (const [ns, addrs] of nodes) {
      this.link("gw", `p-${ns}`, [], ns, "eth0", addrs);
      this.exec("gw", ["ip", "link", "set", `p-${ns}`, "master", "eth1"]);
      this.exec(ns, ["ip", "route", "add", "default", "via", via]);
    }
  }

  /** Starts a probe listener and waits until it is bound. */
  async listen(ns: string, proto: "tcp" | "udp", addr: string, port: number, name: string): Promise<() => void> {
    const child = spawn(
      "ip",
      ["netns", "exec", this.name(ns), process.execPath, PROBE, "listen", proto, addr, String(port), name],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    this.children.push(child);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`listener ${ns} ${proto}/${port} did not start`)), 10_000);
      child.stdout!.on("data", (d: Buffer) => {
        if (String(d).includes("ready")) {
          clearTimeout(t);
          resolve();
        }
      });
      child.on("exit", (code) => reject(new Error(`listener ${ns} exited ${code}`)));
    });
    return () => {
      child.removeAllListeners("exit");
      child.kill("SIGKILL");
    };
  }

  /**
   * A UDP listener that answers like the probe and records "<peer> <payload>" for every datagram that arrives
   * (only while the test awaits: Lab.send blocks the event loop).
   */
  async udpSink(ns: string, addr: string, port: number, name: string): Promise<string[]> {
    const script = `const s = require("node:dgram").createSocket(${JSON.stringify(addr.includes(":") ? "udp6" : "udp4")});
s.on("message", (m, r) => { console.log("got " + r.address + " " + String(m).trim()); s.send(${JSON.stringify(name)} + " " + r.address + "\\n", r.port, r.address); });
s.bind(${port}, ${JSON.stringify(addr)}, () => console.log("ready"));`;
    const child = spawn("ip", ["netns", "exec", this.name(ns), process.execPath, "-e", script], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.children.push(child);
    const seen: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`udp sink ${ns}/${port} did not start`)), 10_000);
      let buf = "";
      child.stdout!.on("data", (d: Buffer) => {
        buf += String(d);
        const lines = buf.split("\n");
        buf = lines.pop()!; // a line not ended yet waits for the next chunk
        for (const line of lines) {
          if (line === "ready") {
            clearTimeout(t);
            resolve();
          } else if (line.startsWith("got ")) seen.push(line.slice(4));
        }
      });
    });
    return seen;
  }

  /** An echo listener that keeps connections open (for established-connection tests). */
  async echo(ns: string, addr: string, port: number, name: string): Promise<void> {
    const child = spawn(
      "ip",
      ["netns", "exec", this.name(ns), process.execPath, PROBE, "echo", "tcp", addr, String(port), name],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    this.children.push(child);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`echo ${ns}/${port} did not start`)), 10_000);
      child.stdout!.on("data", (d: Buffer) => {
        if (String(d).includes("ready")) {
          clearTimeout(t);
          resolve();
        }
      });
    });
  }

  /**
   * One long TCP connection from `ns`: `ask(line)` sends a line and resolves with the answer line, "CLOSED" when
   * the connection ended, or "TIMEOUT".
   */
  async session(
    ns: string,
    addr: string,
    port: number,
  ): Promise<{ ask: (line: string, timeoutMs?: number) => Promise<string>; end: () => void }> {
    const child = spawn(
      "ip",
      ["netns", "exec", this.name(ns), process.execPath, PROBE, "session", "tcp", addr, String(port)],
      {
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
    this.children.push(child);
    const { next, pending } = lineReader(child);
    const first = await next(3000);
    if (first !== "connected") throw new Error(`session ${ns} -> ${addr}:${port}: ${first}`);
    return {
      ask: async (line: string, timeoutMs = 1500) => {
        if (pending().length === 0 || pending()[0] !== "CLOSED") child.stdin!.write(`${line}\n`);
        return next(timeoutMs);
      },
      end: () => child.kill("SIGKILL"),
    };
  }

  /** A continuous `ping` (5 a second) from `ns` to `addr`: how many replies have come, and a stop. */
  ping(ns: string, addr: string): { replies: () => number; stop: () => void } {
    const child = spawn(
      "ip",
      ["netns", "exec", this.name(ns), "ping", ...(addr.includes(":") ? ["-6"] : []), "-n", "-i", "0.2", addr],
      { stdio: ["ignore", "pipe", "ignore"] },
    );
    this.children.push(child);
    let replies = 0;
    child.stdout!.on("data", (d: Buffer) => {
      replies += String(d)
        .split("\n")
        .filter((l) => l.includes("bytes from")).length;
    });
    return { replies: () => replies, stop: () => child.kill("SIGKILL") };
  }

  /** One connection or datagram from `ns`; the answer ("NAME PEER") or TIMEOUT/REFUSED. */
  send(ns: string, proto: "tcp" | "udp", addr: string, port: number, from?: string, timeoutMs = 700): string {
    const args = [process.execPath, PROBE, "send", proto, addr, String(port), String(timeoutMs)];
    if (from !== undefined) args.push(from);
    return this.exec(ns, args).trim();
  }

  /**
   * The usual lab: an Internet host "inet" (198.51.100.2) on the gateway's outside (eth0, 198.51.100.1), the
   * nodes (name -> IPv4 address) on one LAN behind its eth1 (10.1.1.1/24), routed both ways, forwarding on.
   */
  standard(nodes: Record<string, string>): void {
    for (const ns of ["inet", "gw", ...Object.keys(nodes)]) this.addNamespace(ns);
    this.link("inet", "inet0", ["198.51.100.2/24"], "gw", "eth0", ["198.51.100.1/24"]);
    this.insideLan(
      ["10.1.1.1/24"],
      Object.entries(nodes).map(([n, a]): [string, string[]] => [n, [`${a}/24`]]),
      "10.1.1.1",
    );
    this.exec("inet", ["ip", "route", "add", "10.1.1.0/24", "via", "198.51.100.1"]);
    this.exec("gw", ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
  }

  destroy(): void {
    for (const c of this.children) c.kill("SIGKILL");
    for (const ns of this.namespaces) {
      try {
        this.sh(["ip", "netns", "del", this.name(ns)]);
      } catch {
        // already gone
      }
    }
  }
}
