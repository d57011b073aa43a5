/**
 * The testbed catalog: what an Emulab testbed knows from its database and checks NS files against (hardware
 * types, OS images, storage classes, client services). fwc has no database; an operator lists them in
 * testbed.yaml (`catalog:`) or in a file of its own (`catalog_file: catalog.yaml`, or `fwc check --catalog FILE`).
 * docs/catalog.md describes it.
 */
import { dirname, isAbsolute, join } from "node:path";
import { readSource } from "../cli/input.js";
import type { DiagnosticBag } from "../diagnostics/diagnostic.js";
import type { SourceFile } from "../diagnostics/source.js";
import type { Catalog } from "../ns/catalog.js";
import { CatalogSchema } from "./catalog-schema.js";
import { loadConfig, type TestbedConfig } from "./config.js";

/** The catalog's lists as sets, for the NS front end. */
export function catalogOf(c: CatalogSchema, from: string): Catalog {
  return {
    from,
    ...(c.hardware !== undefined ? { hardware: new Set(c.hardware) } : {}),
    ...(c.os !== undefined ? { os: new Set(c.os) } : {}),
    ...(c.storage_classes !== undefined ? { storageClasses: new Set(c.storage_classes) } : {}),
    ...(c.services !== undefined ? { services: new Set(c.services) } : {}),
  };
}

/** A catalog file of its own (YAML or JSON); null with diagnostics when it cannot be read or is not valid. */
export function loadCatalog(file: SourceFile, bag: DiagnosticBag): Catalog | null {
  const c = loadConfig(file, CatalogSchema, bag);
  return c === null ? null : catalogOf(c, file.path);
}

/**
 * The catalog testbed.yaml names: written in it, or a file beside it (a relative path is taken from the
 * directory of testbed.yaml). Undefined when it has none; null when the file named cannot be loaded.
 */
export function testbedCatalog(
  testbed: TestbedConfig,
  testbedPath: string,
  bag: DiagnosticBag,
): Catalog | null | undefined {
  if (testbed.catalog !== undefined) return catalogOf(testbed.catalog, testbedPath);
  const c = testbed.catalog_file;
  if (c === undefined) return undefined;
  const path = isAbsolute(c) || testbedPath === "-" ? c : join(dirname(testbedPath), c);
  const file = readSource(path, bag);
  return file === null ? null : loadCatalog(file, bag);
}
