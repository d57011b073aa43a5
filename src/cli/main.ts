import { join } from "node:path";
/**
 * fwc's command line. Exit codes: 0 ok, 1 the input has errors, 2 usage error, 3 internal error.
 */
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { DURATION_HELP, parseDuration } from "../access/lifetime.js";
import { DEFAULT_LIMITS } from "../ns/limits.js";
import { requireCached } from "./codecache.js";
import { VERSION } from "./version.js";

function positiveInt(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) <= 0) throw new InvalidArgumentError("expected a positive integer");
  return Number(v);
}

/** A lifetime: 90s, 30m, 2h, 1d, 1h30m (at most 366 days); in seconds. */
function duration(v: string): number {
  const seconds = parseDuration(v);
  if (seconds === null) throw new InvalidArgumentError(`expected ${DURATION_HELP}`);
  return seconds;
}

function limitOptions(cmd: Command): Command {
  return cmd
    .option(
      "--max-steps <n>",
      `stop evaluating after this many Tcl commands (default: ${DEFAULT_LIMITS.maxSteps})`,
      positiveInt,
    )
    .option(
      "--max-depth <n>",
      `deepest nesting of procs, eval and [...] (default: ${DEFAULT_LIMITS.maxDepth})`,
      positiveInt,
    )
    .option(
      "--max-string <n>",
      `longest value allowed, in characters (default: ${DEFAULT_LIMITS.maxString})`,
      positiveInt,
    )
    .option(
      "--max-seconds <n>",
      `stop evaluating after this many seconds (default: ${DEFAULT_LIMITS.maxSeconds})`,
      positiveInt,
    )
    .option(
      "--max-memory <mb>",
      `stop evaluating when it holds more than this many megabytes (default: ${DEFAULT_LIMITS.maxMemoryMb})`,
      positiveInt,
    )
    .addOption(new Option("--color <when>", "colour the output").choices(["auto", "always", "never"]).default("auto"));
}

/**
 * Each command's code is a bundle of its own, loaded only when the command runs (dist/fwc-*.cjs, esbuild):
 *   fwc-front.cjs    check, inspect: the NS front end (chevrotain)
 *   fwc-compile.cjs  compile, swapin, modify: the front end, zod, yaml, the planner and the backends
 *   fwc-deploy.cjs   open, close, swapout, status, reconcile: zod, yaml, the planner and the backends
 *   fwc-serve.cjs    serve: the service (fastify, prom-client) over the deploy commands
 * so that `fwc check` parses no zod and `fwc open` no Tcl evaluator. From the TypeScript output (tests) they
 * are ordinary imports.
 */
function loader<T>(bundle: string, module: string): () => Promise<T> {
  return async () => {
    if (process.env.FWC_SPLIT_BUNDLE === "1") return requireCached(join(__dirname, bundle)) as T;
    // A computed specifier, so that esbuild leaves the module out of the main bundle.
    return (await import(module)) as T;
  };
}
const loadFront = loader<typeof import("./front.js")>("fwc-front.cjs", "./front.js");
const loadCompile = loader<typeof import("./lazy.js")>("fwc-compile.cjs", "./lazy.js");
const loadDeploy = loader<typeof import("./deploy.js")>("fwc-deploy.cjs", "./deploy.js");
const loadServe = loader<typeof import("./serve.js")>("fwc-serve.cjs", "./serve.js");
const loadAgent = loader<typeof import("./agent.js")>("fwc-agent.cjs", "./agent.js");

/** The options every lifecycle command takes. */
/** The options of the lifecycle commands; `changes` false for the ones that only read (no --dry-run). */
function deployOptions(cmd: Command, changes = true): Command {
  cmd
    .option("--state <dir>", "the state directory (default: $FWC_STATE or /var/lib/fwc)")
    .option("--testbed <file>", "testbed configuration, YAML (default: <state>/testbed.yaml)")
    .option("--netns <name>", "act on the gateway inside this network namespace");
  if (changes)
    cmd.option(
      "--dry-run",
      "print a preview of the endpoints that change, then the nft transaction (and DNS update), and apply nothing",
    );
  return cmd
    .option("--json", "print JSON")
    .option(
      "--wait <seconds>",
      "how long to wait for another fwc holding the store's write lock (default: 10)",
      positiveInt,
    );
}

function colorOption(cmd: Command): Command {
  return cmd.addOption(
    new Option("--color <when>", "colour the output").choices(["auto", "always", "never"]).default("auto"),
  );
}

function targetOptions(cmd: Command): Command {
  return cmd
    .option("--rdr <targets>", 'inbound targets, as in tb-allow-external ("web/80 db,5432")')
    .option("--nat <targets>", "outbound targets, as in tb-allow-external")
    .option("--open6 <targets>", "direct IPv6 openings, as in tb-allow-external")
    .option("--node <name>", 'the node that targets without a node ("22") mean');
}

export function buildProgram(exit: (code: number) => void): Command {
  const program = new Command("fwc")
    .description("Check Emulab/DETER NS files as the testbed evaluates them, and show what they build")
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride();

  limitOptions(
    program
      .command("check")
      .description("evaluate NS files as Emulab does and report every problem with file:line:col")
      .argument("<file...>", "NS files (- reads standard input)")
      .addOption(new Option("--format <format>", "output format").choices(["text", "json", "sarif"]).default("text"))
      .option("--strict", "treat warnings as errors")
      .option("--stdin-filename <name>", "the name to report for standard input (-), as editors and CI pass it")
      .option("--catalog <file>", "check hardware types, OS images, storage classes and services against this catalog")
      .option("--testbed <file>", "testbed.yaml: check against its catalog (catalog: or catalog_file:)"),
  ).action(async (files: string[], opts) => exit(await (await loadFront()).checkAction(files, opts)));

  program
    .command("completion")
    .description("print the completion script of a shell: fwc completion bash > /etc/bash_completion.d/fwc")
    .addArgument(new Argument("<shell>", "the shell").choices(["bash", "zsh", "fish"]))
    .action(async (shell: "bash" | "zsh" | "fish") => {
      const { completion } = await import("./manual.js");
      process.stdout.write(completion(program, shell));
      exit(0);
    });

  colorOption(
    program
      .command("explain")
      .description("explain a diagnostic code: what it means and how to fix it (FWC515, or 515)")
      .argument("<code>", "the code, as printed in brackets: error[FWC515]"),
  ).action(async (code: string, opts: { color?: string }) => {
    const { codeId, explain } = await import("./explain.js");
    const { EXAMPLES } = await import("../diagnostics/examples.js");
    // The NS front end runs the code's example, when it has one.
    const id = codeId(code);
    const { useColor } = await import("./options.js");
    const color = useColor(opts.color, process.stdout);
    const front = Object.hasOwn(EXAMPLES, id) ? await loadFront() : undefined;
    const check = front === undefined ? undefined : (name: string, text: string) => front.checkText(name, text, color);
    const r = explain(code, check);
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
    exit(r.exitCode);
  });

  limitOptions(
    program
      .command("inspect")
      .description("print the evaluated topology and tb-allow-external calls")
      .argument("<file>", "NS file")
      .option("--json", "print JSON (the documented contract)"),
  ).action(async (file: string, opts) => exit((await loadFront()).inspectAction(file, opts)));

  limitOptions(
    program
      .command("compile")
      .description(
        "compile an NS file's external access: the AccessPolicy, endpoint listing, exposure diagram, gateway ruleset or DNS records",
      )
      .argument("<file>", "NS file")
      .addOption(
        new Option(
          "--emit <kind>",
          "default: table, or ir for a file given alone (no --exp, --testbed, --nodes). ir: the AccessPolicy; endpoints: the endpoint listing (JSON); table: the listing for people; svg: the exposure diagram; nft: the gateway ruleset; nft-json: the same for nft -j -f; dns: the DNS records for $INCLUDE; zone: a complete zone; nsupdate: the DNS changes from the deployed state",
        ).choices(["ir", "endpoints", "table", "svg", "nft", "nft-json", "dns", "zone", "nsupdate"]),
      )
      .option("--exp <pid/eid>", "the experiment (needed for every kind but ir)")
      .option("--testbed <file>", "testbed configuration, YAML")
      .option("--nodes <file>", "node addresses, JSON")
      .option(
        "--state <dir>",
        "the state directory of the deploy commands, for allocations, DNS and the blocklist; read only",
      )
      .option("-o, --output <file>", "write to this file instead of standard output"),
  ).action(async (file: string, opts) => exit(await (await loadCompile()).compileAction(file, opts)));

  const deploy =
    (name: string) =>
    async (...args: unknown[]) => {
      const withFile = typeof args[0] === "string";
      const file = withFile ? (args[0] as string) : undefined;
      const opts = (withFile ? args[1] : args[0]) as Record<string, unknown>;
      // swapin and modify evaluate an NS file: they run from the bundle that has the front end.
      const withNs = name === "swapin" || name === "modify";
      exit(
        withNs
          ? await (await loadCompile()).deployWithNs(name as never, file, opts)
          : await (await loadDeploy()).deployAction(name as never, file, opts),
      );
    };
  limitOptions(
    deployOptions(
      program
        .command("swapin")
        .description("put an experiment's access on the gateway (and DNS) at swap-in, and print its endpoints")
        .argument("<file>", "NS file")
        .option("--exp <pid/eid>", "the experiment (required)")
        .option("--nodes <file>", "node addresses, JSON"),
    ),
  ).action(deploy("swapin"));
  limitOptions(
    deployOptions(
      program
        .command("modify")
        .description(
          "swap-modify: apply the changed NS file (a file with tb-allow-external calls replaces open grants)",
        )
        .argument("<file>", "NS file")
        .option("--exp <pid/eid>", "the experiment (required)")
        .option("--nodes <file>", "node addresses, JSON (default: those of the swapin)"),
    ),
  ).action(deploy("modify"));
  colorOption(
    deployOptions(
      targetOptions(
        program
          .command("open")
          .description("grant access to a running experiment (with --json: g5kfw openings on standard input)")
          .option("--exp <pid/eid>", "the experiment (required)")
          .option(
            "--for <duration>",
            "the grants end after this long (90s, 30m, 2h, 1d, 1h30m); fwc reconcile removes them then",
            duration,
          ),
      ),
    ),
  ).action(deploy("open"));
  colorOption(
    deployOptions(
      targetOptions(
        program
          .command("close")
          .description("revoke grants made with open, and cut their open connections")
          .option("--exp <pid/eid>", "the experiment (required)")
          .option("--all", "revoke every grant made with open"),
      ),
    ),
  ).action(deploy("close"));
  colorOption(
    deployOptions(
      program
        .command("swapout")
        .description("remove an experiment's access from the gateway and DNS")
        .option("--exp <pid/eid>", "the experiment (required)"),
    ),
  ).action(deploy("swapout"));
  colorOption(
    deployOptions(
      program
        .command("env")
        .description("print GLOBUS_TCP_PORT_RANGE and GLOBUS_HOSTNAME for a node's identity range")
        .option("--exp <pid/eid>", "the experiment (required)")
        .option("--node <name>", "the node (needed when several have identity ranges)"),
      false,
    ),
  ).action(deploy("env"));
  colorOption(
    deployOptions(
      program
        .command("status")
        .description("endpoints of the experiments on the gateway, and any drift between the gateway and the state")
        .option("--exp <pid/eid>", "one experiment"),
      false,
    ),
  ).action(deploy("status"));
  colorOption(
    deployOptions(
      program.command("reconcile").description("put the gateway back in step with the state (after drift or a crash)"),
    ),
  ).action(deploy("reconcile"));
  const blockAction = (name: "block" | "unblock") => async (cidrs: string[], opts: Record<string, unknown>) =>
    exit(await (await loadDeploy()).deployAction(name, cidrs, opts));
  colorOption(
    deployOptions(
      program
        .command("block")
        .description("the operator's blocklist: drop traffic from and to these networks, before any grant")
        .argument("<cidr...>", "IPv4 or IPv6 networks (203.0.113.0/24, 2001:db8::/32) or addresses")
        .option("--reason <text>", "why (kept with the entry, shown by fwc blocks and fwc status)")
        .option("--proto <proto>", "block only tcp, udp or tcp+udp (default: every protocol)")
        .option("--port <port>", "block only this service port or range (8000..8100); default tcp+udp"),
    ),
  ).action(blockAction("block"));
  colorOption(
    deployOptions(
      program
        .command("unblock")
        .description("remove networks from the blocklist (with the --proto and --port they were blocked with)")
        .argument("<cidr...>", "networks as they were blocked")
        .option("--proto <proto>", "the protocol of the entry")
        .option("--port <port>", "the port or range of the entry"),
    ),
  ).action(blockAction("unblock"));
  colorOption(deployOptions(program.command("blocks").description("list the blocklist"), false)).action(
    deploy("blocks"),
  );
  colorOption(
    program
      .command("init")
      .description("set up a gateway's state directory: a commented testbed.yaml and an empty store")
      .option("--state <dir>", "the state directory to make (default: $FWC_STATE or /var/lib/fwc)")
      .option("--domain <name>", "experiments get names under <eid>.<pid>.<domain> (default: testbed.example.net)")
      .option("--gateway-name <name>", "the gateway's host name (default: gw.<domain>)")
      .option("--ipv4 <address>", "the gateway's shared public IPv4 address")
      .option("--ipv6 <address>", "the gateway's public IPv6 address (optional)")
      .option("--outside <iface>", "the interface toward the Internet (default: eth0)")
      .option("--inside <ifaces>", "the interfaces toward the nodes, comma-separated (default: eth1)")
      .option("--ports <low-high>", "external ports for shared redirects (default: 20000-29999)")
      .option("--netns <name>", "the gateway is inside this network namespace (tests, demos)"),
  ).action(async (opts) => exit(await (await loadDeploy()).initAction(opts)));
  colorOption(
    program
      .command("check-config")
      .description("check a testbed.yaml (and node addresses files) without compiling an experiment")
      .option("--state <dir>", "the state directory (default: $FWC_STATE or /var/lib/fwc)")
      .option("--testbed <file>", "testbed configuration, YAML (default: <state>/testbed.yaml)")
      .option("--nodes <file...>", "node addresses files (JSON) to check against the testbed")
      .addOption(new Option("--format <format>", "output format").choices(["text", "json"]).default("text")),
  ).action(async (opts) => exit(await (await loadDeploy()).checkConfigAction(opts)));
  colorOption(
    program
      .command("serve")
      .description("the service: REST API, web page and metrics over the same commands (docs/service.md)")
      .option("--listen <host:port>", "where to listen (default: 127.0.0.1:8700)")
      .option("--users <file>", "the users file, YAML: names, token SHA-256s, projects, admin")
      .option("--state <dir>", "the state directory (default: $FWC_STATE or /var/lib/fwc)")
      .option("--testbed <file>", "testbed configuration, YAML (default: <state>/testbed.yaml)")
      .option("--netns <name>", "act on the gateway inside this network namespace")
      .option(
        "--wait <seconds>",
        "how long a change waits for a command holding the store's write lock (default: 10)",
        positiveInt,
      )
      .option("--body-limit <bytes>", "the largest request body taken (default: 65536)", positiveInt)
      .option("--web <dir>", "the web page's files (default: the built ones beside fwc)"),
  ).action(async (opts) => exit(await (await loadServe()).serveAction(opts)));
  colorOption(
    program
      .command("agent")
      .description("make one gateway follow the state in etcd, until SIGTERM (docs/etcd.md)")
      .requiredOption("--gateway <name>", "this gateway's name in the reports (fwc status)")
      .option("--state <dir>", "where testbed.yaml is (default: $FWC_STATE or /var/lib/fwc)")
      .option("--testbed <file>", "testbed configuration, YAML, with store.etcd (default: <state>/testbed.yaml)")
      .option("--netns <name>", "the gateway is inside this network namespace")
      .option("--dns", "write DNS too (exactly one agent; testbed.yaml says store.etcd.dns: agent)")
      .option("--resync <duration>", "how often the kernel is compared with etcd and drift repaired (default: 30s)")
      .option("--lease <duration>", "the report's lease: silent longer, the agent is taken for gone (default: 10s)")
      .option("--status-file <file>", "a JSON file kept up to date with the revision applied and staleness"),
  ).action(async (opts) => exit(await (await loadAgent()).agentAction(opts)));

  return program;
}

/** Runs the command line (called by dist/fwc.cjs, src/cli/launch.ts). */
export async function main(): Promise<void> {
  // `fwc check ... | head` closes the pipe early: that is not an error worth a stack trace.
  for (const stream of [process.stdout, process.stderr])
    stream.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw e;
    });
  let code = 0;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; every other commander error is a usage error.
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    // An operating-system error that no command turned into a diagnostic is still the system's, not a bug.
    const os = e as NodeJS.ErrnoException;
    if (typeof os?.code === "string" && /^E[A-Z]+$/.test(os.code) && os.syscall !== undefined) {
      process.stderr.write(`fwc: error: ${os.message.slice(0, 600)}\n`);
      process.exitCode = 1;
      return;
    }
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(
      `fwc: internal error: ${msg.slice(0, 600)}\nThis is a bug in fwc; please report it with the input that caused it.\n`,
    );
    if (process.env.FWC_DEBUG !== undefined && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.exitCode = 3;
    return;
  }
  process.exitCode = code;
}
