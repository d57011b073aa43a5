/**
 * Emulab's and DETER's `tb-*` commands with their Tcl parameter lists, as tb_compat.tcl declares them.
 * `?name?` is optional, `args` takes any number. `kinds` says which parameters must be NS objects of a kind.
 */
export type ArgKind = "node" | "lanlink" | "lan" | "link" | "onoff" | "bw" | "delay" | "loss";

export interface TbCommand {
  params: string[];
  kinds?: Record<number, ArgKind>;
  origin: "emulab" | "deter";
}

const em = (params: string, kinds?: Record<number, ArgKind>): TbCommand =>
  kinds === undefined
    ? { params: params.split(" ").filter(Boolean), origin: "emulab" }
    : { params: params.split(" ").filter(Boolean), kinds, origin: "emulab" };
const de = (params: string, kinds?: Record<number, ArgKind>): TbCommand =>
  kinds === undefined
    ? { params: params.split(" ").filter(Boolean), origin: "deter" }
    : { params: params.split(" ").filter(Boolean), kinds, origin: "deter" };

const N = { 0: "node" } as const;
const LL = { 0: "lanlink" } as const;
const LLON = { 0: "lanlink", 1: "onoff" } as const;
const ON = { 0: "onoff" } as const;

export const TB_COMMANDS: Record<string, TbCommand> = {
  "tb-add-ip-alias-lan": em("src lan ip", { 0: "node", 1: "lan" }),
  "tb-add-ip-alias-link": em("src link ip", { 0: "node", 1: "link" }),
  "tb-add-node-service-hook": em("service args"),
  "tb-bind-parent": em("sub phys", { 0: "node", 1: "node" }),
  "tb-elab-in-elab": em("onoff", ON),
  "tb-elab-in-elab-topology": em("topo"),
  "tb-elabinelab-singlenet": em("args"),
  "tb-set-elabinelab-attribute": em("key value ?order?"),
  "tb-unset-elabinelab-attribute": em("key"),
  "tb-set-elabinelab-role-attribute": em("role key value ?order?"),
  "tb-unset-elabinelab-role-attribute": em("role key"),
  "tb-get-elabinelab-role-attribute": em("role key"),
  "tb-set-elabinelab-fw-type": em("type"),
  "tb-set-nonfs": em("onoff", ON),
  "tb-request-ip-alias-lan": em("src lan count", { 0: "node", 1: "lan" }),
  "tb-request-ip-alias-link": em("src link count", { 0: "node", 1: "link" }),
  "tb-set-node-loadlist": em("node loadlist", N),
  "tb-set-link-failure-action": em("lanlink type", LL),
  "tb-set-lan-simplex-backfill": em("lan node tobw frombw", { 0: "lan", 1: "node" }),
  "tb-set-packing-strategy": em("strategy"),
  "tb-set-link-protocol": em("lanlink protocol", LL),
  "tb-set-link-layer": em("link mylayer", LL),
  "tb-use-modelnet": em("onoff", ON),
  "tb-set-use-oml": em("args"),
  "tb-set-oml-server": em("node", N),
  "tb-set-oml-use-control": em("flag"),
  "tb-set-oml-mp": em("args"),
  "tbx-log": em("msg"),
  "tb-fix-interface": em("vnode lanlink iface", { 0: "node", 1: "lanlink" }),
  "tb-fix-node": em("vnode pnode", N),
  "tb-fix-current-resources": em("onoff", ON),
  "tb-force-endnodeshaping": em("onoff", ON),
  "tb-make-hard-vtype": em("name types"),
  "tb-make-soft-vtype": em("name types"),
  "tb-make-weighted-vtype": em("name weight types"),
  "tb-set-allowcolocate": em("lanlink onoff", LLON),
  "tb-set-colocate-factor": em("factor"),
  "tb-set-cpu-usage": em("usage"),
  "tb-set-delay-capacity": em("cap"),
  "tb-set-delay-os": em("os"),
  "tb-set-dpdb": em("onoff", ON),
  "tb-set-elabinelab-cvstag": em("cvstag"),
  "tb-set-encapsulate": em("onoff", ON),
  "tb-set-endnodeshaping": em("lanlink onoff", LLON),
  "tb-set-hardware": em("node type args", N),
  "tb-set-inner-elab-eid": em("eid"),
  "tb-set-ip": em("node ip", N),
  "tb-set-ip-interface": em("src dst ip", { 0: "node", 1: "node" }),
  "tb-set-ip-lan": em("src lan ip", { 0: "node", 1: "lan" }),
  "tb-set-ip-link": em("src link ip", { 0: "node", 1: "link" }),
  "tb-set-ip-routing": em("type"),
  "tb-set-jail-os": em("os"),
  "tb-set-lan-accesspoint": em("lan node", { 0: "lan", 1: "node" }),
  "tb-set-lan-backfill": em("lan bw", { 0: "lan" }),
  "tb-set-lan-est-bandwidth": em("lan bw", { 0: "lan" }),
  "tb-set-lan-loss": em("lan lossrate", { 0: "lan", 1: "loss" }),
  "tb-set-lan-protocol": em("lanlink protocol", LL),
  "tb-set-lan-setting": em("lan capkey capval", { 0: "lan" }),
  "tb-set-lan-simplex-params": em("lan node todelay tobw toloss fromdelay frombw fromloss", {
    0: "lan",
    1: "node",
    2: "delay",
    3: "bw",
    4: "loss",
    5: "delay",
    6: "bw",
    7: "loss",
  }),
  "tb-set-link-backfill": em("srclink args"),
  "tb-set-link-encap": em("link style", { 0: "link" }),
  "tb-set-link-est-bandwidth": em("srclink args"),
  "tb-set-link-loss": em("srclink args"),
  "tb-set-link-simplex-backfill": em("link src bw", { 0: "link", 1: "node" }),
  "tb-set-link-simplex-params": em("link src delay bw loss", { 0: "link", 1: "node", 2: "delay", 3: "bw", 4: "loss" }),
  "tb-set-mem-usage": em("usage"),
  "tb-set-modelnet-physnodes": em("cores edges"),
  "tb-set-multiplexed": em("lanlink onoff", LLON),
  "tb-set-netmask": em("lanlink netmask", LL),
  "tb-set-node-cmdline": em("node cmdline", N),
  "tb-set-node-failure-action": em("node type", N),
  "tb-set-node-id": em("vnode myid", N),
  "tb-set-node-inner-elab-role": em("node role", N),
  "tb-set-node-lan-backfill": em("node lan bw", { 0: "node", 1: "lan" }),
  "tb-set-node-lan-bandwidth": em("node lan bw", { 0: "node", 1: "lan", 2: "bw" }),
  "tb-set-node-lan-delay": em("node lan delay", { 0: "node", 1: "lan", 2: "delay" }),
  "tb-set-node-lan-est-bandwidth": em("node lan bw", { 0: "node", 1: "lan" }),
  "tb-set-node-lan-loss": em("node lan loss", { 0: "node", 1: "lan", 2: "loss" }),
  "tb-set-node-lan-params": em("node lan delay bw loss", { 0: "node", 1: "lan", 2: "delay", 3: "bw", 4: "loss" }),
  "tb-set-node-lan-setting": em("lan node capkey capval", { 0: "lan", 1: "node" }),
  "tb-set-node-memory-size": em("node mem", N),
  "tb-set-node-os": em("node os ?parentos?", N),
  "tb-set-node-plab-plcnet": em("node lanname", N),
  "tb-set-node-plab-role": em("node role", N),
  "tb-set-node-routable-ip": em("node onoff", { 0: "node", 1: "onoff" }),
  "tb-set-node-rpms": em("node args", N),
  "tb-set-node-service": em("service args"),
  "tb-set-node-sharingmode": em("node sharemode", N),
  "tb-set-node-startcmd": em("node command", N),
  "tb-set-node-startup": em("node cmd", N),
  "tb-set-node-tarfiles": em("node args", N),
  "tb-set-node-usesharednode": em("node weight", N),
  "tb-set-noshaping": em("lanlink onoff", LLON),
  "tb-set-security-level": em("level"),
  "tb-set-switch-fabric": em("lanlink fabric", LL),
  "tb-set-sync-server": em("node", N),
  "tb-set-tarfiles": em("args"),
  "tb-set-uselatestwadata": em("onoff", ON),
  "tb-set-useveth": em("lanlink onoff", LLON),
  "tb-set-usewatunnels": em("onoff", ON),
  "tb-set-vlink-emulation": em("style"),
  "tb-set-wasolver-weights": em("delay bw plr"),
  "tb-use-endnodeshaping": em("onoff", ON),
  "tb-use-ipassign": em("onoff", ON),
  "tb-set-ipassign-args": em("args"),
  "tb-use-physnaming": em("onoff", ON),
  "tb-feedback-vnode": em("vnode hardware args", N),
  "tb-feedback-vlan": em("vnode lan args", { 0: "node", 1: "lan" }),
  "tb-feedback-vlink": em("link args", { 0: "link" }),
  // DETER additions
  "tb-allow-external": de("vnode args", N),
  "tb-set-node-testbed": de("vnode tb", N),
  "tb-set-default-failure-action": de("type"),
  "tb-add-node-attribute": de("vnode key value", N),
};

/**
 * Commands that Emulab renamed or that never existed under the name, with the command to use: a file using the
 * old name fails in Emulab's parser ("invalid command name").
 */
export const RENAMED: Record<string, string> = {
  "tb-set-uselinkdelays": "tb-use-endnodeshaping",
  "tb-set-forcelinkdelays": "tb-force-endnodeshaping",
  "tb-set-elabinelab-singlenet": "tb-elabinelab-singlenet",
};

/** The Tcl usage string Emulab's proc would print: `tb-set-node-os node os ?parentos?`. */
export function usage(name: string, cmd: TbCommand): string {
  return [name, ...cmd.params.map((p) => (p === "args" ? "?arg ...?" : p))].join(" ");
}

const arities = new WeakMap<TbCommand, { min: number; max: number }>();

export function arity(cmd: TbCommand): { min: number; max: number } {
  const hit = arities.get(cmd);
  if (hit !== undefined) return hit;
  let min = 0;
  let max = 0;
  for (const p of cmd.params) {
    if (p === "args") max = Number.POSITIVE_INFINITY;
    else if (p.startsWith("?")) max++;
    else {
      min++;
      max++;
    }
  }
  arities.set(cmd, { min, max });
  return { min, max };
}
