/** Bandwidth and delay values, checked as Emulab's parse_bw and parse_delay check them. */

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string; help: string };

/** Tcl's `scan "%f%s"`: a leading float and the next word. */
function scanFloatWord(s: string): { num: number; unit: string | null } | null {
  const m = /^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*(\S*)/.exec(s);
  if (m === null) return null;
  return { num: Number.parseFloat(m[1]!), unit: m[2] === "" ? null : m[2]! };
}

const BW_FACTORS: Record<string, number> = {
  b: 1e-3,
  bps: 1e-3,
  k: 1,
  kb: 1,
  kbps: 1,
  K: 1,
  Kb: 1,
  Kbps: 1,
  M: 1e3,
  Mb: 1e3,
  Mbps: 1e3,
  G: 1e6,
  Gb: 1e6,
  Gbps: 1e6,
};

/** Kbit/s as Emulab stores it (`*` is 0: the testbed chooses). */
export function parseBandwidth(s: string): Parsed<number | "*"> {
  if (s === "*") return { ok: true, value: "*" };
  const sc = scanFloatWord(s);
  if (sc === null)
    return {
      ok: false,
      message: `"${s}" is not a bandwidth`,
      help: "write a number and a unit, e.g. 100Mb, 1Gb or 512kb",
    };
  const unit = sc.unit ?? "b";
  const f = BW_FACTORS[unit];
  if (f === undefined)
    return {
      ok: false,
      message: `unknown bandwidth unit "${unit}" in "${s}"`,
      help: "use one of b bps k kb kbps K Kb Kbps M Mb Mbps G Gb Gbps (units are case-sensitive)",
    };
  const kbps = Math.trunc(sc.num * f);
  if (kbps < 10)
    return {
      ok: false,
      message: `bandwidth ${s} is too low (${kbps} kbps; Emulab needs at least 10 kbps)`,
      help: "a bare number is bits per second: write 10Mb for ten megabits",
    };
  return { ok: true, value: kbps };
}

/** Milliseconds as Emulab stores them (an integer). */
export function parseDelay(s: string): Parsed<number> {
  const sc = scanFloatWord(s);
  if (sc === null)
    return { ok: false, message: `"${s}" is not a delay`, help: "write a number and a unit, e.g. 0ms, 10ms or 0.5s" };
  const unit = sc.unit ?? "s";
  let ms: number;
  // Emulab divides ns by 1000 (it treats them as microseconds); kept so the numbers agree with the testbed.
  if (unit === "s") ms = sc.num * 1000;
  else if (unit === "ms") ms = sc.num;
  else if (unit === "ns") ms = sc.num / 1000;
  else
    return {
      ok: false,
      message: `unknown delay unit "${unit}" in "${s}"`,
      help: "use s, ms or ns (a bare number is seconds)",
    };
  if (ms !== 0 && ms < 2)
    return {
      ok: false,
      message: `the delay of ${unit === "ms" ? s : `${s} (${ms}ms)`} is invalid: it must be 0 or at least 2ms`,
      help: "a bare number is seconds, so `0.001` means 1ms; use 0ms for no delay",
    };
  return { ok: true, value: Math.trunc(ms) };
}

const FLOAT_RE = /(^[0-9]+(\.[0-9]+)?$)|(^\.[0-9]+$)/;

/**
 * A packet loss rate as tb_compat.tcl checks it: a plain decimal number, at most 1, and not below 0.000005
 * unless it is 0 (Emulab's own test also refuses 0, by an operator-precedence slip; fwc accepts "no loss").
 */
export function parseLoss(s: string): Parsed<number> {
  const v = Number(s);
  if (!FLOAT_RE.test(s) || v > 1 || (v !== 0 && v < 0.000005))
    return {
      ok: false,
      message: `${s} is not a valid loss rate`,
      help: "a loss rate is a fraction between 0.000005 and 1, e.g. 0.01 for 1%",
    };
  return { ok: true, value: v };
}

export const RTPROTOS = ["Static", "Session", "ospf", "Manual", "Static-ddijk", "Static-old"];
export const QUEUES = ["DropTail", "RED", "GRED"];
