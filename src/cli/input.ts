/** Reading NS files: a missing file, a binary file or non-UTF-8 text become diagnostics, never exceptions. */
import { readFileSync } from "node:fs";
import type { DiagnosticBag } from "../diagnostics/diagnostic.js";
import { SourceFile, span } from "../diagnostics/source.js";

export function readSource(path: string, bag: DiagnosticBag): SourceFile | null {
  let buf: Buffer;
  try {
    buf = path === "-" ? readFileSync(0) : readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EISDIR"
          ? "it is a directory"
          : code === "EACCES"
            ? "permission denied"
            : String(code ?? e);
    bag.add("FWC100", span(new SourceFile(path, ""), 0, 0), `cannot read ${path}: ${why}`, "check the path");
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
