/**
 * Setting a gateway up: `fwc init --state DIR` (the state directory, a commented testbed.yaml and the store) and
 * `fwc check-config` (a testbed.yaml and node addresses checked without compiling an experiment). docs/operations.md.
 */
import {
  accessSync,
  closeSync,
  constants,
  lstatSync,
  mkdirSync,
  openSync,
  rmdirSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { isAbsolute, join } from "node:path";
import { parse } from "yaml";
import { type DeployContext, withState } from "../deploy/lifecycle.js";
import { anyTable } from "../deploy/nft.js";
import { DiagnosticBag } from "../diagnostics/diagnostic.js";
import { plural, renderJson, renderText, summaryLine } from "../diagnostics/render.js";
import { SourceFile, span } from "../diagnostics/source.js";
import { checkNodeAddressFile } from "../plan/plan.js";
import { DB_FILE, PENDING_FILE } from "../store/sqlite.js";
import { testbedCatalog } from "../testbed/catalog.js";
import { configSpan, loadNodeAddresses, loadTestbed, type TestbedConfig } from "../testbed/config.js";
import { installedDoc, osReason, readSource, TESTBED_MISSING } from "./input.js";
import { useColor } from "./options.js";

export interface InitOptions {
  state?: string;
  netns?: string;
  domain?: string;
  gatewayName?: string;
  ipv4?: string;
  ipv6?: string;
  outside?: string;
  inside?: string;
  ports?: string;
  color?: string;
}

/** The option each key of the generated testbed.yaml comes from. */
const OPTION_OF: Record<string, string> = {
  domain: "--domain",
  "gateway.name": "--gateway-name",
  "gateway.ipv4": "--ipv4",
  "gateway.ipv6": "--ipv6",
  "gateway.outside": "--outside",
  "gateway.inside": "--inside",
  ports: "--ports",
};

/** A YAML scalar: plain when it is a simple word, else a JSON string (which YAML reads alike). */
const scalar = (v: string) => (/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/.test(v) && parse(v) === v ? v : JSON.stringify(v));

/** The commented testbed.yaml fwc init writes (values from the options, or the documentation examples). */
export function testbedTemplate(o: InitOptions): string {
  const inside = (o.inside ?? "eth1")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const domain = o.domain ?? "testbed.example.net";
  return `# fwc's testbed configuration, written by fwc init. Every key is explained in docs/gateway.md (the gateway,
# ports, limits), docs/dns.md (dns:) and docs/catalog.md (catalog:). Check it after each edit with
#   fwc check-config --state DIR
# Addresses below that you did not give to fwc init are from the documentation ranges: replace them.

# Experiments get names under <eid>.<pid>.<domain>.
domain: ${scalar(domain)}

gateway:
  name: ${scalar(o.gatewayName ?? `gw.${domain}`)}      # the gateway's host name: the CNAME target of redirected nodes
  ipv4: ${scalar(o.ipv4 ?? "198.51.100.1")}             # the shared public IPv4 address (DNAT and SNAT)
${o.ipv6 === undefined ? "  # ipv6: 2001:db8:100::1        # the gateway's public IPv6 address, for IPv6 grants\n" : `  ipv6: ${scalar(o.ipv6)}\n`}  outside: ${scalar(o.outside ?? "eth0")}                  # the interface toward the Internet
  inside: [${inside.map(scalar).join(", ")}]                 # the interfaces toward the experiment nodes
  # infrastructure: [10.0.0.0/24]  # the testbed's own servers behind the inside interfaces: not filtered by fwc

# External ports handed out for shared redirects (tb-allow-external ... rdr). Leave room: each redirected port
# of each experiment takes one.
ports: ${scalar(o.ports ?? "20000-29999")}

# quarantine: 3600     # seconds a released port stays away from other experiments' identity ranges

# What one experiment may hold (these are the defaults):
# limits:
#   ports: 1024        # external ports
#   elements: 20000    # nftables elements on the gateway
#   dedicated: 16      # dedicated public addresses

# Public addresses for the legacy (non-shared) form of tb-allow-external:
# dedicated: 198.51.100.128/25

# DNS: where fwc sends its changes (nsupdate), and how the zone looks. Without server:, fwc writes no DNS.
# dns:
#   zone: ${scalar(domain)}
#   ttl: 300
#   server: 192.0.2.53
#   key: /etc/fwc/tsig.key

# Many gateways: keep the state in etcd, and run fwc agent on each gateway (docs/etcd.md).
# store:
#   etcd:
#     endpoints: ["http://127.0.0.1:2379"]
#     prefix: /fwc/

# What Emulab checks against its database (docs/catalog.md): a list left out is not checked.
# catalog:
#   hardware: [pc, d430]
#   os: [UBUNTU22-64-STD]
#   storage_classes: [local]
#   services: [rc.progagent]
`;
}

/** Prints the bag's diagnostics (text on standard error, or JSON on standard output) and returns the exit code. */
function finish(bag: DiagnosticBag, files: string[], out: string[], opts: { format?: string; color?: string }): number {
  const diags = bag.sorted();
  const counts = { errors: bag.errorCount, warnings: bag.warningCount, notShown: bag.droppedCount };
  if (opts.format === "json") process.stdout.write(renderJson(diags, files, counts));
  else {
    process.stdout.write(out.join(""));
    if (diags.length > 0)
      process.stderr.write(
        `${renderText(diags, { color: useColor(opts.color, process.stderr) })}${summaryLine(bag.errorCount, bag.warningCount, Math.max(1, files.length))}\n`,
      );
  }
  return bag.errorCount > 0 ? 1 : 0;
}

/** The files of the embedded store (SQLite's beside them). */
const STORE_FILES = [
  DB_FILE,
  `${DB_FILE}-wal`,
  `${DB_FILE}-shm`,
  PENDING_FILE,
  `${PENDING_FILE}-wal`,
  `${PENDING_FILE}-shm`,
];

const where = (path: string) => span(new SourceFile(path, ""), 0, 0);

export async function initAction(opts: InitOptions): Promise<number> {
  const dir = opts.state ?? process.env.FWC_STATE ?? "/var/lib/fwc";
  const path = join(dir, "testbed.yaml");
  const bag = new DiagnosticBag();
  const out: string[] = [];
  const text = testbedTemplate(opts);
  // The options are checked as the configuration they become; a problem names the option it came from.
  const scratch = new DiagnosticBag();
  const generated = new SourceFile(path, text);
  const testbed = loadTestbed(generated, scratch);
  if (testbed !== null) checkTestbed(testbed, generated, scratch);
  const given = (option: string) =>
    opts[option.slice(2).replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase()) as keyof InitOptions] !== undefined;
  const problems = scratch.sorted().map((d) => {
    const key = /^[a-z_][a-z_.0-9]*/.exec(d.message)?.[0] ?? "";
    const option = OPTION_OF[key] ?? OPTION_OF[key.replace(/\.[0-9]+$/, "")];
    return { d, key, option };
  });
  for (const { d, key, option } of problems) {
    // A default made from another option (gw.<domain>) fails with it: the option given is the one to name.
    if (option !== undefined && !given(option) && problems.some((p) => p.option !== undefined && given(p.option)))
      continue;
    bag.add(
      d.code,
      where(option ?? path),
      option === undefined ? d.message : d.message.startsWith(`${key}:`) ? d.message.slice(key.length + 2) : d.message,
      option === undefined ? d.help : (d.help ?? `give ${option} a valid value (fwc init --help)`),
    );
  }
  if (testbed === null || bag.errorCount > 0) return finish(bag, [path], out, opts);
  // A new directory only: never over a configuration or a store (either may be a running gateway's).
  const there = [path, ...STORE_FILES.map((f) => join(dir, f))].find((f) => {
    try {
      lstatSync(f);
      return true;
    } catch {
      return false;
    }
  });
  if (there !== undefined) {
    bag.add(
      "FWC836",
      where(there),
      there === path
        ? `${path} exists: fwc init does not overwrite a testbed configuration`
        : `${dir} holds a store already (${there}): fwc init sets up a new state directory, and leaves this one as it is`,
      there === path
        ? `check it with fwc check-config --state ${dir}; to start again, move it away first`
        : `check it with fwc status --state ${dir} (give --testbed if its configuration is elsewhere); or choose another directory`,
    );
    return finish(bag, [path], out, opts);
  }
  // The gateway must say whether it has fwc's tables: a store made beside tables that another state wrote would
  // take them for nothing, and the first reconcile would empty the gateway.
  const gw = opts.netns === undefined ? {} : { netns: opts.netns };
  let tables: boolean;
  try {
    tables = anyTable(gw);
  } catch (e) {
    bag.add(
      "FWC802",
      where(opts.netns ?? "gateway"),
      `cannot ask the gateway whether it has fwc's tables: ${(e as Error).message.split("\n")[0]}`,
      "run fwc init as root on the gateway (with --netns NAME for a gateway in a network namespace), where nft works",
    );
    return finish(bag, [path], out, opts);
  }
  if (tables) {
    bag.add(
      "FWC836",
      where(opts.netns ?? "gateway"),
      `the gateway already has fwc's tables, and ${dir} holds no state: the gateway's state is elsewhere, or was lost`,
      "give the gateway's own --state; to start it empty, delete fwc's tables first (nft delete table inet fwc; nft delete table bridge fwc)",
    );
    return finish(bag, [path], out, opts);
  }
  let made = false;
  try {
    made = !statSync(dir, { throwIfNoEntry: false })?.isDirectory();
    // 0700: whoever can write the store can give any experiment anything (docs/operations.md).
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    bag.add(
      "FWC802",
      where(dir),
      `cannot make the state directory ${dir}: ${osReason(e)}`,
      "check the path and its permissions",
    );
    return finish(bag, [path], out, opts);
  }
  const undo = () => {
    // Refused or failed: leave nothing of this attempt behind.
    for (const f of STORE_FILES) rmSync(join(dir, f), { force: true });
    if (made)
      try {
        rmdirSync(dir);
      } catch {}
  };
  const ctx: DeployContext = { stateDir: dir, testbed, gw, dryRun: false, waitMs: 10_000, bag, out };
  const stored = await withState(
    ctx,
    async (store) => {
      store.check();
      return true;
    },
    { create: true, recover: false },
  );
  if (stored === null || bag.errorCount > 0) {
    undo();
    return finish(bag, [path], out, opts);
  }
  let written = false;
  try {
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    written = true;
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    const raced = (e as NodeJS.ErrnoException).code === "EEXIST";
    // Raced by another process setting the directory up: the store may be its own now, and is left to it.
    if (!raced) {
      // A half-written configuration (a full disk) goes with the rest.
      if (written) rmSync(path, { force: true });
      undo();
    }
    bag.add(
      raced ? "FWC836" : "FWC802",
      where(path),
      raced
        ? `${path} appeared while fwc init ran: another process is setting this directory up`
        : `cannot write ${path}: ${osReason(e)}`,
      raced ? "let it finish, then check the directory with fwc check-config" : "check the directory's permissions",
    );
    return finish(bag, [path], out, opts);
  }
  const loose = !made && (statSync(dir).mode & 0o077) !== 0;
  if (loose)
    bag.add(
      "FWC608",
      where(dir),
      `${dir} may be read by others (mode ${(statSync(dir).mode & 0o777).toString(8)}): they would see every experiment's grants`,
      `chmod 0700 ${dir}`,
    );
  const ns = opts.netns === undefined ? "" : ` --netns ${opts.netns}`;
  const anyGiven = Object.values(OPTION_OF).some(given);
  out.push(
    [
      `${made ? `Made ${dir} (mode 0700), with` : `In ${dir}:`} an empty store ${join(dir, DB_FILE)} and ${path}.`,
      "",
      "Next:",
      `  1. Edit ${path}: ${anyGiven ? "check the values and replace the example ones" : "every address in it is an example"} (the gateway's`,
      `     name, addresses and interfaces, the port pool, DNS). Its comments say what each key does; ${guide("gateway.md")}`,
      "     explains them.",
      `  2. fwc check-config --state ${dir}`,
      `  3. fwc reconcile --state ${dir}${ns}     # writes fwc's tables on the gateway; run it at boot too`,
      "",
    ].join("\n"),
  );
  return finish(bag, [path], out, opts);
}

/** A guide as the reader can open it: the copy installed with this fwc when there is one, else docs/NAME. */
const guide = (name: string): string => installedDoc(name) ?? `docs/${name}`;

export interface CheckConfigOptions {
  state?: string;
  testbed?: string;
  nodes?: string[];
  format?: "text" | "json";
  color?: string;
}

/** The checks of a configuration beyond its form: what would fail later, at the first swapin or DNS push. */
function checkTestbed(t: TestbedConfig, file: SourceFile, bag: DiagnosticBag): void {
  const at = (...path: string[]) => configSpan(file, path);
  // The second mention is the one to remove.
  const again = t.gateway.inside.findIndex((x, i) => t.gateway.inside.indexOf(x) !== i);
  if (again >= 0)
    bag.add(
      "FWC606",
      at("gateway", "inside", String(again)),
      `gateway.inside lists ${t.gateway.inside[again]} twice`,
      "list each interface once",
    );
  const zone = t.dns?.zone?.toLowerCase().replace(/\.$/, "");
  const domain = t.domain.toLowerCase().replace(/\.$/, "");
  if (zone !== undefined && domain !== zone && !domain.endsWith(`.${zone}`))
    bag.add(
      "FWC708",
      at("dns", "zone"),
      `dns.zone ${zone} does not contain the domain ${domain}: every experiment's names (<eid>.<pid>.${domain}) would lie outside the zone`,
      `make dns.zone ${domain} or a zone above it`,
    );
  const key = t.dns?.key;
  if (key !== undefined) {
    const path = isAbsolute(key) ? key : join(process.cwd(), key);
    // Whether nsupdate could read it: the file is not read here (it may be anything, even /dev/zero).
    let problem: string | null = null;
    try {
      if (!statSync(path).isFile()) problem = "it is not a regular file";
      else accessSync(path, constants.R_OK);
    } catch (e) {
      problem = osReason(e);
    }
    if (problem !== null)
      bag.add(
        "FWC601",
        at("dns", "key"),
        `dns.key: cannot read ${key}: ${problem}`,
        "nsupdate needs the TSIG key to change the zone: write it with tsig-keygen, readable by the user fwc runs as",
      );
  }
  if (t.dns?.server === undefined && t.dns !== undefined)
    bag.add(
      "FWC607",
      at("dns"),
      "dns: has no server: fwc publishes no names (compile --emit zone still writes the zone)",
      "add dns.server (the name server's address) for fwc to send its changes with nsupdate",
    );
}

export async function checkConfigAction(opts: CheckConfigOptions): Promise<number> {
  const dir = opts.state ?? process.env.FWC_STATE ?? "/var/lib/fwc";
  const path = opts.testbed ?? join(dir, "testbed.yaml");
  const bag = new DiagnosticBag();
  const files = [path];
  const out: string[] = [];
  const file = readSource(path, bag, TESTBED_MISSING);
  const testbed = file === null ? null : loadTestbed(file, bag);
  if (file !== null && testbed !== null) {
    const before = bag.errorCount;
    const catalog = testbedCatalog(testbed, path, bag);
    checkTestbed(testbed, file, bag);
    if (bag.errorCount === before) {
      const g = testbed.gateway;
      const { from, to } = testbed.ports;
      const store = testbed.store?.etcd;
      out.push(
        [
          `${path}: valid.`,
          `  gateway  ${g.name} ${g.ipv4}${g.ipv6 ? ` ${g.ipv6}` : ""}, outside ${g.outside}, inside ${g.inside.join(", ")}`,
          `  ports    ${from}-${to} (${to - from + 1} for redirects)`,
          `  names    <eid>.<pid>.${testbed.domain}${testbed.dns?.server ? `, sent to ${testbed.dns.server}` : ", not published (no dns.server)"}`,
          `  store    ${store ? `etcd ${store.endpoints.join(", ")}` : opts.state === undefined && opts.testbed !== undefined ? "embedded, in each command's --state directory" : `embedded, in ${dir}`}`,
          `  catalog  ${catalog ? "given" : "none (NS files' hardware, images and services are not checked)"}`,
          "",
        ].join("\n"),
      );
    }
  }
  for (const n of opts.nodes ?? []) {
    files.push(n);
    const f = readSource(n, bag);
    const nodes = f === null ? null : loadNodeAddresses(f, bag);
    if (f === null || nodes === null) continue;
    const before = bag.errorCount;
    if (testbed !== null)
      checkNodeAddressFile(testbed, nodes, (message, help) => bag.add("FWC711", span(f, 0, 0), message, help));
    if (bag.errorCount === before)
      out.push(
        testbed === null
          ? `${n}: valid in form, ${plural(Object.keys(nodes).length, "node")} (not checked against the testbed, which has errors).\n`
          : `${n}: valid, ${plural(Object.keys(nodes).length, "node")}.\n`,
      );
  }
  return finish(bag, files, out, opts);
}
