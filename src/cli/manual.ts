/**
 * The man page and the shell completions, generated from the command definitions (the commander program), so
 * that they never say other than `fwc --help` does. `npm run grammar` writes man/fwc.1 and completions/; a
 * test fails when they are stale. `fwc completion SHELL` prints the same scripts.
 */
import type { Command, Option } from "commander";

interface Cmd {
  name: string;
  summary: string;
  args: string;
  options: {
    flags: string;
    long: string;
    description: string;
    choices: readonly string[] | undefined;
    value: boolean;
  }[];
}

function commandsOf(program: Command): Cmd[] {
  const opt = (o: Option) => ({
    flags: o.flags,
    long: o.long ?? o.short ?? "",
    description: o.description,
    choices: o.argChoices,
    value: o.required || o.optional,
  });
  return program.commands
    .filter((c) => c.name() !== "help")
    .map((c) => ({
      name: c.name(),
      summary: c.description(),
      args: c.registeredArguments
        .map((a) => (a.required ? `<${a.name()}${a.variadic ? "..." : ""}>` : `[${a.name()}]`))
        .join(" "),
      options: c.options.map(opt),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** roff text: backslashes doubled, a leading dot or quote guarded, hyphens as \- where they are options. */
const roff = (s: string): string =>
  s
    .replace(/\\/g, "\\e")
    .replace(/^([.'])/gm, "\\&$1")
    .replace(/(^|\s)-/g, "$1\\-");

/** The man page, section 1. `date` is fixed by the caller (SOURCE_DATE_EPOCH or the version), for reproducibility. */
export function manPage(program: Command, version: string): string {
  const out = [
    `.TH FWC 1 "" "fwc ${version}" "User Commands"`,
    ".SH NAME",
    `fwc \\- ${roff(program.description())}`,
    ".SH SYNOPSIS",
    ".B fwc",
    "\\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGUMENTS\\fR]",
    ".SH DESCRIPTION",
    "fwc checks Emulab/DETER NS files as the testbed evaluates them, compiles their",
    ".B tb\\-allow\\-external",
    "calls into nftables rulesets and DNS records, and keeps gateways and DNS in step with the experiments.",
    "Exit codes: 0 success, 1 the input has errors (diagnostics say which), 2 usage error, 3 internal error.",
    ".SH COMMANDS",
  ];
  for (const c of commandsOf(program)) {
    out.push(".SS", `\\fB${c.name}\\fR ${roff(c.args)}`.trimEnd().replace(/^/, ""), roff(c.summary));
    for (const o of c.options)
      out.push(".TP", `.B ${roff(o.flags)}`, roff(o.description) + (o.choices ? ` (${o.choices.join(", ")})` : ""));
  }
  out.push(
    ".SH ENVIRONMENT",
    ".TP",
    ".B FWC_STATE",
    "the state directory of the deploy commands (default /var/lib/fwc)",
    ".TP",
    ".B NO_COLOR",
    "no colour in text output, even on a terminal",
    ".TP",
    ".B FWC_DOCS_URL",
    "the web address of docs/diagnostics.md, for the help links of fwc check --format sarif (default: the copy installed with fwc, as a file: URL)",
    ".SH SEE ALSO",
    "The guides in the docs/ directory of fwc (in a package installed with npm install -g: $(npm prefix -g)/lib/node_modules/fwc/docs): cli.md, operations.md, deploy.md, language.md, diagnostics.md, ci.md; fwc explain CODE.",
  );
  return `${out.join("\n")}\n`;
}

const sq = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`;

/** A completion script for bash, zsh or fish: commands, their options, and the values of options with choices. */
export function completion(program: Command, shell: "bash" | "zsh" | "fish"): string {
  const cmds = commandsOf(program);
  if (shell === "bash") {
    const lines = [
      "# bash completion for fwc (generated from its command definitions: fwc completion bash)",
      "_fwc() {",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's ${...}, not a template
      '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
      '  if [ "$COMP_CWORD" -eq 1 ]; then',
      `    COMPREPLY=( $(compgen -W ${sq(cmds.map((c) => c.name).join(" "))} -- "$cur") )`,
      "    return",
      "  fi",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's ${...}, not a template
      '  case "${COMP_WORDS[1]} $prev" in',
    ];
    for (const c of cmds)
      for (const o of c.options)
        if (o.choices)
          lines.push(
            `    ${sq(`${c.name} ${o.long}`)}) COMPREPLY=( $(compgen -W ${sq(o.choices.join(" "))} -- "$cur") ); return ;;`,
          );
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's ${...}, not a template
    lines.push("  esac", '  case "${COMP_WORDS[1]}" in');
    for (const c of cmds)
      lines.push(
        `    ${sq(c.name)}) COMPREPLY=( $(compgen -W ${sq(c.options.map((o) => o.long).join(" "))} -- "$cur") $(compgen -f -- "$cur") ) ;;`,
      );
    lines.push("  esac", "}", "complete -o filenames -F _fwc fwc");
    return `${lines.join("\n")}\n`;
  }
  if (shell === "zsh") {
    const lines = [
      "#compdef fwc",
      "# zsh completion for fwc (generated from its command definitions: fwc completion zsh)",
      "_fwc() {",
      "  local -a commands",
      "  commands=(",
      ...cmds.map((c) => `    ${sq(`${c.name}:${c.summary.replace(/:/g, "\\:")}`)}`),
      "  )",
      "  if (( CURRENT == 2 )); then",
      "    _describe 'command' commands",
      "    return",
      "  fi",
      "  case $words[2] in",
    ];
    for (const c of cmds) {
      const specs = c.options.map((o) => {
        const d = o.description.replace(/[[\]:]/g, " ");
        return sq(`${o.long}[${d}]${o.value ? `:value:${o.choices ? `(${o.choices.join(" ")})` : "_files"}` : ""}`);
      });
      lines.push(`    ${c.name}) _arguments ${[...specs, sq("*:file:_files")].join(" ")} ;;`);
    }
    lines.push("  esac", "}", "compdef _fwc fwc");
    return `${lines.join("\n")}\n`;
  }
  const lines = [
    "# fish completion for fwc (generated from its command definitions: fwc completion fish)",
    "complete -c fwc -f",
  ];
  for (const c of cmds) lines.push(`complete -c fwc -n __fish_use_subcommand -a ${c.name} -d ${sq(c.summary)}`);
  for (const c of cmds)
    for (const o of c.options)
      if (o.long.startsWith("--"))
        lines.push(
          `complete -c fwc -n ${sq(`__fish_seen_subcommand_from ${c.name}`)} -l ${o.long.slice(2)} -d ${sq(o.description)}${o.value ? (o.choices ? ` -xa ${sq(o.choices.join(" "))}` : " -r -F") : ""}`,
        );
  return `${lines.join("\n")}\n`;
}
