/** `string` and its subcommands. */
import type { Interp } from "../interp.js";
import { parseBoolean, parseNumber } from "../values.js";
import { index } from "./lists.js";
import { globMatch, integer } from "./vars.js";

const SUBCOMMANDS = [
  "compare",
  "equal",
  "first",
  "index",
  "is",
  "last",
  "length",
  "map",
  "match",
  "range",
  "repeat",
  "reverse",
  "tolower",
  "toupper",
  "totitle",
  "trim",
  "trimleft",
  "trimright",
];

function trimSet(s: string, chars: string, left: boolean, right: boolean): string {
  let a = 0;
  let b = s.length;
  if (left) while (a < b && chars.includes(s[a]!)) a++;
  if (right) while (b > a && chars.includes(s[b - 1]!)) b--;
  return s.slice(a, b);
}

const WS_CHARS = " \t\n\r\v\f\0";

export function installStrings(it: Interp): void {
  it.commands.set("string", (it, a) => {
    const sub = a[1];
    const args = a.slice(2);
    const opts = (names: string[]): Set<string> => {
      const s = new Set<string>();
      while (args.length > 0 && names.includes(args[0]!)) s.add(args.shift()!);
      return s;
    };
    switch (sub) {
      case "length":
        if (args.length !== 1) throw it.wrongArgs("string length string");
        return String([...args[0]!].length);
      case "tolower":
      case "toupper":
      case "totitle": {
        if (args.length !== 1) throw it.wrongArgs(`string ${sub} string`);
        const s = args[0]!;
        if (sub === "tolower") return s.toLowerCase();
        if (sub === "toupper") return s.toUpperCase();
        return s.charAt(0).toUpperCase() + s.slice(1).toLowerCase();
      }
      case "equal":
      case "compare": {
        const o = opts(["-nocase"]);
        let len: number | undefined;
        if (args[0] === "-length") {
          args.shift();
          len = Number(integer(it, args.shift() ?? ""));
        }
        if (args.length !== 2) throw it.wrongArgs(`string ${sub} ?-nocase? ?-length int? string1 string2`);
        let x = args[0]!;
        let y = args[1]!;
        if (o.has("-nocase")) {
          x = x.toLowerCase();
          y = y.toLowerCase();
        }
        if (len !== undefined && len >= 0) {
          x = x.slice(0, len);
          y = y.slice(0, len);
        }
        if (sub === "equal") return x === y ? "1" : "0";
        return x < y ? "-1" : x > y ? "1" : "0";
      }
      case "match": {
        const o = opts(["-nocase"]);
        if (args.length !== 2) throw it.wrongArgs("string match ?-nocase? pattern string");
        return globMatch(args[0]!, args[1]!, o.has("-nocase")) ? "1" : "0";
      }
      case "range": {
        if (args.length !== 3) throw it.wrongArgs("string range string first last");
        const s = args[0]!;
        const first = Math.max(0, index(it, args[1]!, s.length, 3));
        const last = Math.min(s.length - 1, index(it, args[2]!, s.length, 4));
        return first > last ? "" : s.slice(first, last + 1);
      }
      case "index": {
        if (args.length !== 2) throw it.wrongArgs("string index string charIndex");
        const s = args[0]!;
        const i = index(it, args[1]!, s.length, 3);
        return i < 0 || i >= s.length ? "" : s[i]!;
      }
      case "first":
      case "last": {
        if (args.length < 2 || args.length > 3)
          throw it.wrongArgs(`string ${sub} needleString haystackString ?startIndex?`);
        const [needle, hay] = [args[0]!, args[1]!];
        if (sub === "first") {
          const start = args[2] === undefined ? 0 : Math.max(0, index(it, args[2], hay.length, 4));
          return needle.length === 0 ? "-1" : String(hay.indexOf(needle, start));
        }
        const start = args[2] === undefined ? hay.length : index(it, args[2], hay.length, 4);
        if (needle.length === 0 || start < 0) return "-1";
        return String(hay.lastIndexOf(needle, start));
      }
      case "trim":
      case "trimleft":
      case "trimright": {
        if (args.length < 1 || args.length > 2) throw it.wrongArgs(`string ${sub} string ?chars?`);
        return trimSet(args[0]!, args[1] ?? WS_CHARS, sub !== "trimright", sub !== "trimleft");
      }
      case "map": {
        const o = opts(["-nocase"]);
        if (args.length !== 2) throw it.wrongArgs("string map ?-nocase? charMap string");
        const map = it.list(args[0]!, 2 + (o.size > 0 ? 1 : 0));
        if (map.length % 2 !== 0) throw it.error("FWC205", "char map list unbalanced");
        const s = args[1]!;
        const nocase = o.has("-nocase");
        const hay = nocase ? s.toLowerCase() : s;
        let out = "";
        let i = 0;
        outer: while (i < s.length) {
          for (let k = 0; k < map.length; k += 2) {
            const key = nocase ? map[k]!.toLowerCase() : map[k]!;
            if (key.length > 0 && hay.startsWith(key, i)) {
              out += map[k + 1]!;
              i += key.length;
              continue outer;
            }
          }
          out += s[i]!;
          i++;
        }
        return it.checkSize(out);
      }
      case "repeat": {
        if (args.length !== 2) throw it.wrongArgs("string repeat string count");
        const n = Number(integer(it, args[1]!, 3));
        if (n <= 0) return "";
        if (args[0]!.length * n > it.limits.maxString) throw it.sizeError(args[0]!.length * n);
        return args[0]!.repeat(n);
      }
      case "reverse":
        if (args.length !== 1) throw it.wrongArgs("string reverse string");
        return [...args[0]!].reverse().join("");
      case "is": {
        const cls = args.shift();
        const o = opts(["-strict"]);
        if (cls === undefined || args.length !== 1) throw it.wrongArgs("string is class ?-strict? string");
        const s = args[0]!;
        if (s.length === 0) return o.has("-strict") ? "0" : "1";
        let ok: boolean;
        switch (cls) {
          case "integer":
          case "wide":
          case "entier":
            ok = parseNumber(s)?.t === "i";
            break;
          case "double":
            ok = parseNumber(s) !== null;
            break;
          case "boolean":
          case "true":
          case "false": {
            const b = parseBoolean(s);
            ok = cls === "boolean" ? b !== null : cls === "true" ? b === true : b === false;
            break;
          }
          case "alpha":
            ok = /^\p{L}+$/u.test(s);
            break;
          case "digit":
            ok = /^\p{Nd}+$/u.test(s);
            break;
          case "alnum":
            ok = /^[\p{L}\p{Nd}]+$/u.test(s);
            break;
          case "space":
            ok = /^\s+$/.test(s);
            break;
          case "upper":
            ok = /^\p{Lu}+$/u.test(s);
            break;
          case "lower":
            ok = /^\p{Ll}+$/u.test(s);
            break;
          case "list":
            try {
              it.list(s);
              ok = true;
            } catch {
              ok = false;
            }
            break;
          default:
            throw it.error("FWC214", `string is ${cls} is not supported by fwc`);
        }
        return ok ? "1" : "0";
      }
      default:
        throw it.error(
          sub === undefined ? "FWC201" : "FWC214",
          sub === undefined
            ? 'wrong # args: should be "string subcommand ?arg ...?"'
            : `unknown or unsupported subcommand "${sub}": must be one of ${SUBCOMMANDS.join(", ")}`,
        );
    }
  });
}
