// Writes FILE.v8cache, V8's code cache for a bundle, compiled exactly as src/cli/codecache.ts compiles it.
const { readFileSync, writeFileSync } = require("node:fs");
const { Module, createRequire } = require("node:module");
const { dirname, resolve } = require("node:path");
const { Script } = require("node:vm");

const path = resolve(process.argv[2]);
const script = new Script(Module.wrap(readFileSync(path, "utf8")), { filename: path });
const m = { exports: {}, filename: path };
script.runInThisContext().call(m.exports, m.exports, createRequire(path), m, path, dirname(path));
writeFileSync(`${path}.v8cache`, script.createCachedData());
