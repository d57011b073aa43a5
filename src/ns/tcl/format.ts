/** `format`, as Tcl 8.6 does it on a 64-bit platform (C printf rounding: exact value, ties to even). */
import type { Interp } from "../interp.js";
import { parseNumber } from "../values.js";
import { integer } from "./vars.js";

/** Exact decomposition of a finite double: x = m * 2^e, m an integer. */
function decompose(x: number): [bigint, number] {
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  const hi = buf.getUint32(0);
  const lo = buf.getUint32(4);
  const exp = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (exp === 0) return [mant, -1074];
  mant |= 1n << 52n;
  return [mant, exp - 1075];
}

/** |x| rounded to `p` digits after the decimal point (p may be negative), as an integer count of 10^-p units. */
function roundedUnits(x: number, p: number): bigint {
  const [m, e] = decompose(Math.abs(x));
  let num = m;
  let den = 1n;
  if (e >= 0) num <<= BigInt(e);
  else den <<= BigInt(-e);
  if (p >= 0) num *= 10n ** BigInt(p);
  else den *= 10n ** BigInt(-p);
  const q = num / den;
  const r = num % den;
  const twice = 2n * r;
  if (twice > den || (twice === den && q % 2n === 1n)) return q + 1n;
  return q;
}

function fixed(x: number, prec: number): string {
  const units = roundedUnits(x, prec)
    .toString()
    .padStart(prec + 1, "0");
  return prec === 0 ? units : `${units.slice(0, -prec)}.${units.slice(-prec)}`;
}

/** Digits and exponent of |x| with `sig` significant digits. */
function scientific(x: number, sig: number): { digits: string; exp: number } {
  if (x === 0) return { digits: "0".repeat(sig), exp: 0 };
  let exp = Math.floor(Math.log10(Math.abs(x)));
  for (;;) {
    const units = roundedUnits(x, sig - 1 - exp).toString();
    if (units.length > sig) exp++;
    else if (units.length < sig) exp--;
    else return { digits: units, exp };
  }
}

function expString(e: number): string {
  const a = Math.abs(e);
  return `e${e < 0 ? "-" : "+"}${a < 10 ? `0${a}` : a}`;
}

function formatE(x: number, prec: number, alt: boolean, upper: boolean): string {
  const { digits, exp } = scientific(x, prec + 1);
  const mant = prec === 0 ? digits + (alt ? "." : "") : `${digits[0]}.${digits.slice(1)}`;
  const s = mant + expString(exp);
  return upper ? s.toUpperCase() : s;
}

function formatG(x: number, prec: number, alt: boolean, upper: boolean): string {
  const p = prec === 0 ? 1 : prec;
  const exp = x === 0 ? 0 : scientific(x, p).exp;
  let s: string;
  if (exp < -4 || exp >= p) {
    s = formatE(x, p - 1, alt, upper);
    if (!alt) s = s.replace(/\.?0+(e)/i, "$1");
  } else {
    s = fixed(x, p - 1 - exp);
    if (!alt && s.includes(".")) s = s.replace(/\.?0+$/, "");
  }
  return s;
}

export function installFormat(it: Interp): void {
  it.commands.set("format", (it, a) => {
    if (a.length < 2) throw it.wrongArgs("format formatString ?arg ...?");
    const f = a[1]!;
    let next = 2;
    let out = "";
    const arg = (pos: number | null): string => {
      const i = pos === null ? next++ : pos + 1;
      const v = a[i];
      if (v === undefined) throw it.error("FWC205", "not enough arguments for all format specifiers");
      return v;
    };
    const re = /%(?:(\d+)\$)?([-+ 0#]*)(\*|\d+)?(?:\.(\*|\d+))?(ll|l|h|L|q|j|z|t)?([diuoxXbcsfeEgGaA%])?/y;
    let i = 0;
    while (i < f.length) {
      const pct = f.indexOf("%", i);
      if (pct < 0) {
        out += f.slice(i);
        break;
      }
      out += f.slice(i, pct);
      re.lastIndex = pct;
      const m = re.exec(f)!;
      const conv = m[6];
      if (conv === undefined) throw it.error("FWC205", `bad field specifier "${f[pct + 1] ?? ""}"`);
      i = re.lastIndex;
      if (conv === "%") {
        out += "%";
        continue;
      }
      const pos = m[1] === undefined ? null : Number(m[1]);
      const flags = m[2] ?? "";
      let width = m[3] === "*" ? Number(integer(it, arg(null))) : m[3] === undefined ? 0 : Number(m[3]);
      let left = flags.includes("-");
      if (width < 0) {
        left = true;
        width = -width;
      }
      const precRaw = m[4] === "*" ? Number(integer(it, arg(null))) : m[4] === undefined ? undefined : Number(m[4]);
      if (width > it.limits.maxString || (precRaw ?? 0) > it.limits.maxString)
        throw it.error("FWC208", `format width or precision ${Math.max(width, precRaw ?? 0)} exceeds the size limit`);
      const size = m[5] ?? "";
      const v = arg(pos);
      let body: string;
      let sign = "";
      let numeric = true;
      switch (conv) {
        case "s":
          numeric = false;
          body = precRaw === undefined ? v : v.slice(0, precRaw);
          break;
        case "c":
          numeric = false;
          body = String.fromCodePoint(Number(BigInt.asUintN(21, integer(it, v))));
          break;
        case "d":
        case "i":
        case "u":
        case "o":
        case "x":
        case "X":
        case "b": {
          let n = integer(it, v);
          if (size !== "ll") n = conv === "d" || conv === "i" ? BigInt.asIntN(64, n) : BigInt.asUintN(64, n);
          if (n < 0n) {
            sign = "-";
            n = -n;
          } else if (conv === "d" || conv === "i") sign = flags.includes("+") ? "+" : flags.includes(" ") ? " " : "";
          const radix = conv === "o" ? 8 : conv === "x" || conv === "X" ? 16 : conv === "b" ? 2 : 10;
          body = n.toString(radix);
          if (conv === "X") body = body.toUpperCase();
          if (precRaw !== undefined) body = body.padStart(precRaw, "0");
          if (flags.includes("#") && n !== 0n) {
            if (conv === "o") body = `0${body}`;
            else if (conv === "x") body = `0x${body}`;
            else if (conv === "X") body = `0X${body}`;
            else if (conv === "b") body = `0b${body}`;
          }
          break;
        }
        default: {
          const num = parseNumber(v);
          if (num === null) throw it.error("FWC205", `expected floating-point number but got "${v}"`);
          const x = num.t === "d" ? num.v : Number(num.v);
          if (x < 0 || Object.is(x, -0)) sign = "-";
          else sign = flags.includes("+") ? "+" : flags.includes(" ") ? " " : "";
          const prec = precRaw ?? 6;
          const alt = flags.includes("#");
          if (!Number.isFinite(x)) body = Number.isNaN(x) ? "nan" : "inf";
          else if (conv === "f") body = fixed(x, prec) + (alt && prec === 0 ? "." : "");
          else if (conv === "e" || conv === "E") body = formatE(x, prec, alt, conv === "E");
          else if (conv === "g" || conv === "G") body = formatG(Math.abs(x), prec, alt, conv === "G");
          else throw it.error("FWC214", `format %${conv} is not supported by fwc`);
        }
      }
      const len = sign.length + body.length;
      if (len < width) {
        if (left) body = sign + body + " ".repeat(width - len);
        else if (numeric && flags.includes("0") && (precRaw === undefined || !"diuoxXb".includes(conv)))
          body = sign + "0".repeat(width - len) + body;
        else body = " ".repeat(width - len) + sign + body;
      } else body = sign + body;
      out += body;
      it.checkSize(out);
    }
    return out;
  });
}
