/**
 * A real BIND `named` on loopback for tests: a temporary directory, one primary zone that accepts updates
 * signed with a TSIG key, a free port. Queries go through Node's resolver straight to it.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { promises as dns } from "node:dns";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function canRunNamed(): boolean {
  try {
    execFileSync("named", ["-v"], { stdio: "ignore" });
    execFileSync("nsupdate", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((ok) => s.bind(0, "127.0.0.1", () => ok()));
  const port = s.address().port;
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}

const keyText = (name: string, secret: string) =>
  `key "${name}" {\n\talgorithm hmac-sha256;\n\tsecret "${secret}";\n};\n`;

export class Named {
  readonly dir = mkdtempSync(join(tmpdir(), "fwc-named-"));
  readonly keyFile = join(this.dir, "update.key");
  /** A key the server does not know. */
  readonly wrongKeyFile = join(this.dir, "wrong.key");
  port = 0;
  private proc: ChildProcess | null = null;
  private log = "";

  constructor(
    readonly zone: string,
    private readonly zoneText: string,
  ) {}

  async start(): Promise<void> {
    this.port = await freePort();
    const secret = randomBytes(32).toString("base64");
    writeFileSync(this.keyFile, keyText("fwc-update", secret));
    writeFileSync(this.wrongKeyFile, keyText("fwc-update", randomBytes(32).toString("base64")));
    writeFileSync(join(this.dir, "zone.db"), this.zoneText);
    const conf = join(this.dir, "named.conf");
    writeFileSync(
      conf,
      [
        `include "${this.keyFile}";`,
        "options {",
        `\tdirectory "${this.dir}";`,
        `\tpid-file "${this.dir}/named.pid";`,
        `\tsession-keyfile "${this.dir}/session.key";`,
        `\tmanaged-keys-directory "${this.dir}";`,
        `\tlisten-on port ${this.port} { 127.0.0.1; };`,
        "\tlisten-on-v6 { none; };",
        "\trecursion no;",
        "\tnotify no;",
        "\tdnssec-validation no;",
        "};",
        "controls { };",
        `zone "${this.zone.replace(/\.$/, "")}" {`,
        "\ttype primary;",
        `\tfile "${this.dir}/zone.db";`,
        '\tallow-update { key "fwc-update"; };',
        "};",
        "",
      ].join("\n"),
    );
    this.proc = spawn("named", ["-g", "-n", "1", "-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
    this.proc.stderr!.on("data", (d: Buffer) => {
      this.log += d.toString();
    });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`named exited:\n${this.log}`);
      if ((await this.query(this.zone, "SOA")).length > 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`named did not answer within 10 s:\n${this.log}`);
  }

  /** The answer's records of exactly this name and type, as strings; [] for none. */
  async query(name: string, type: "SOA" | "CNAME" | "A" | "AAAA"): Promise<string[]> {
    const r = new dns.Resolver({ timeout: 1000, tries: 1 });
    r.setServers([`127.0.0.1:${this.port}`]);
    try {
      if (type === "SOA") {
        const soa = await r.resolveSoa(name);
        return [`${soa.nsname} ${soa.serial}`];
      }
      if (type === "CNAME") return (await r.resolveCname(name)).map((t) => `${t}.`);
      if (type === "A") return (await r.resolve4(name)).sort();
      return (await r.resolve6(name)).sort();
    } catch {
      return [];
    }
  }

  /** An update outside fwc (another tool, an operator), signed with the right key. */
  nsupdate(lines: string[]): void {
    execFileSync("nsupdate", ["-k", this.keyFile], {
      input: [`server 127.0.0.1 ${this.port}`, `zone ${this.zone}`, ...lines, "send", ""].join("\n"),
    });
  }

  /** Stops named and waits for it, so that it writes nothing into the directory being removed. */
  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (p !== null && p.exitCode === null) {
      const exited = new Promise<void>((ok) => p.once("exit", () => ok()));
      p.kill("SIGTERM");
      const timer = setTimeout(() => p.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
