/** docs/diagnostics.md, generated from the code table so the two cannot drift apart. */
import { CODES } from "./codes.js";

const GROUPS: [string, string][] = [
  ["FWC1", "Reading and syntax"],
  ["FWC2", "Tcl evaluation"],
  ["FWC3", "The NS object model"],
  ["FWC4", "Emulab naming"],
  ["FWC5", "External access (tb-allow-external)"],
  ["FWC6", "Testbed configuration and node addresses"],
  ["FWC7", "Planning: addresses, ports, names and per-experiment limits"],
  ["FWC8", "Deploying to a gateway: state, nftables, conntrack, DNS, the blocklist"],
  ["FWC9", "fwc itself"],
];

export function diagnosticsMarkdown(): string {
  const out = [
    "# Diagnostic codes",
    "",
    "GENERATED from `src/diagnostics/codes.ts` by `npm run grammar`; do not edit. Codes are stable: they are never",
    "renumbered or reused, so CI systems and editors can key on them. Every diagnostic is printed as",
    "`file:line:col: severity[CODE]: message`, followed by a code frame and, where fwc knows one, a `help:` line",
    "saying how to fix it. `--format json` and `--format sarif` carry the same fields.",
    "",
    "An **error** means Emulab would refuse the file (or fwc refuses something unsafe); `fwc check` exits 1.",
    "A **warning** means Emulab accepts the file but ignores or changes something; `fwc check --strict` fails on it.",
    "A **note** is information only (what fwc could not check); it never fails a command.",
    "",
  ];
  for (const [prefix, title] of GROUPS) {
    out.push(`## ${title}`, "", "| code | severity | what | why and how to fix |", "|---|---|---|---|");
    for (const [code, info] of Object.entries(CODES)) {
      if (!code.startsWith(prefix)) continue;
      out.push(
        `| <a id="${code.toLowerCase()}"></a>${code} | ${info.severity} | ${info.title} | ${info.explain.replace(/\|/g, "\\|")} |`,
      );
    }
    out.push("");
  }
  return out.join("\n");
}

/** docs/tb-commands.md: the tb-* commands fwc knows, from the same table the evaluator uses. */
export function tbCommandsMarkdown(
  table: Record<string, { params: string[]; kinds?: Record<number, string>; origin: string }>,
): string {
  const out = [
    "# `tb-*` commands",
    "",
    "GENERATED from `src/ns/model/tbcommands.ts` by `npm run grammar`; do not edit. Every command is checked for its",
    "number of arguments (`?x?` optional, `args` any number) and for the kinds of objects it takes (a node, a link,",
    "a LAN, either, or a boolean `onoff`); the call is recorded and shown by `fwc inspect --json` (`tbCommands`).",
    "They exist only after `source tb_compat.tcl`, as in Emulab.",
    "",
    "| command | parameters | checked kinds | from |",
    "|---|---|---|---|",
  ];
  for (const [name, def] of Object.entries(table).sort(([a], [b]) => a.localeCompare(b))) {
    const kinds = Object.entries(def.kinds ?? {})
      .map(([i, k]) => `${def.params[Number(i)]}: ${k}`)
      .join(", ");
    out.push(`| \`${name}\` | ${def.params.join(" ")} | ${kinds} | ${def.origin === "deter" ? "DETER" : "Emulab"} |`);
  }
  out.push("");
  return out.join("\n");
}
