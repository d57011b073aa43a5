/** Reading NS files: a missing file, a binary file or non-UTF-8 text become diagnostics, never exceptions. */
import { closeSync, openSync, readFileSync, readSync, realpathSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import type { DiagnosticBag } from "../diagnostics/diagnostic.js";
import { SourceFile, span } from "../diagnostics/source.js";

/** The largest input file fwc reads (NS files, configurations, node addresses): far beyond any real one. */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;

/** What an operating-system error means, in words (ENOENT: "no such file"). */
export function osReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const words: Record<string, string> = {
    ENOENT: "no such file or directory",
    EISDIR: "it is a directory",
    ENOTDIR: "a part of the path is not a directory",
    EACCES: "permission denied",
    EPERM: "operation not permitted",
    ENOSPC: "no space left on the device",
    EROFS: "read-only file system",
    EFBIG: "file too large",
    ELOOP: "too many symbolic links",
    ENAMETOOLONG: "the name is too long",
  };
  return code !== undefined && words[code] !== undefined ? `${words[code]} (${code})` : String(code ?? e);
}

/** What to do about a missing testbed.yaml, for the commands that read one. */
export const TESTBED_MISSING =
  "give the testbed configuration with --testbed FILE, or write one into the state directory with fwc init --state DIR (docs/operations.md; docs/gateway.md explains every key)";

/**
 * A file's bytes, at most MAX_INPUT_BYTES + 1 of them: a device or a file that grows (/dev/zero, a log) is read
 * no further than that, whatever its size says (0 for a device).
 */
function readBounded(path: string): Buffer {
  const fd = openSync(path, "r");
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    while (total <= MAX_INPUT_BYTES) {
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, MAX_INPUT_BYTES + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(n === chunk.length ? chunk : chunk.subarray(0, n));
      total += n;
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

/** Reads a file for fwc; `missing` is the help when it does not exist (default: check the path). */
export function readSource(path: string, bag: DiagnosticBag, missing?: string): SourceFile | null {
  let buf: Buffer;
  const where = span(new SourceFile(path, ""), 0, 0);
  try {
    if (path !== "-" && statSync(path).size > MAX_INPUT_BYTES) {
      bag.add(
        "FWC100",
        where,
        `cannot read ${path}: it is ${statSync(path).size} bytes, more than fwc reads (${MAX_INPUT_BYTES} bytes)`,
        "pass the NS file, configuration or node addresses themselves",
      );
      return null;
    }
    buf = path === "-" ? readFileSync(0) : readBounded(path);
  } catch (e) {
    const absent = (e as NodeJS.ErrnoException).code === "ENOENT";
    bag.add(
      "FWC100",
      where,
      `cannot read ${path}: ${osReason(e)}`,
      absent && missing !== undefined ? missing : "check the path and its permissions",
    );
    return null;
  }
  if (buf.length > MAX_INPUT_BYTES) {
    bag.add(
      "FWC100",
      where,
      `cannot read ${path}: it is ${buf.length} bytes, more than fwc reads (${MAX_INPUT_BYTES} bytes)`,
      "pass the NS file, configuration or node addresses themselves",
    );
    return null;
  }
  const nul = buf.indexOf(0);
  if (nul >= 0) {
    const file = new SourceFile(path, buf.subarray(0, nul).toString("latin1"));
    bag.add(
      "FWC110",
      span(file, nul, nul),
      `${path} contains a NUL byte at offset ${nul}: it is not a text file`,
      "pass the NS file itself, not an archive or binary",
    );
    return null;
  }
  try {
    return new SourceFile(path, new TextDecoder("utf-8", { fatal: true }).decode(buf).replace(/^\uFEFF/, ""));
  } catch {
    const text = buf.toString("latin1");
    const file = new SourceFile(path, text);
    let bad = 0;
    for (let i = 0; i < buf.length; i++) {
      if (buf[i]! >= 0x80) {
        bad = i;
        break;
      }
    }
    bag.add(
      "FWC111",
      span(file, bad, bad + 1),
      `${path} is not valid UTF-8 (byte 0x${buf[bad]!.toString(16)} at offset ${bad}); read as Latin-1`,
      "save the file as UTF-8",
    );
    return file;
  }
}

/**
 * A guide installed with this fwc (dist/fwc.cjs, through any link npm made for it, -> ../docs/NAME), or undefined
 * when there is none (the tests' module graph, a copy without docs).
 */
export function installedDoc(name: string): string | undefined {
  try {
    const path = join(dirname(realpathSync(process.argv[1] ?? "")), "..", "docs", name);
    return statSync(path, { throwIfNoEntry: false })?.isFile() ? path : undefined;
  } catch {
    return undefined;
  }
}
