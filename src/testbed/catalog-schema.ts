/** The schema of the testbed catalog (docs/catalog.md), in testbed.yaml or a file of its own. */
import * as z from "zod/mini";

const Name = z
  .string()
  .check(z.regex(/^[\x21-\x7e]{1,200}$/, "must be a name of 1 to 200 printable characters without spaces"));

export const CatalogSchema = z.strictObject({
  /** Node types and classes, as tb-set-hardware takes them (pc3000, d430, pc). */
  hardware: z.optional(z.array(Name)),
  /** OS image names, as tb-set-node-os takes them (UBUNTU22-64-STD, or PID/NAME for a project's own). */
  os: z.optional(z.array(Name)),
  /** Storage classes of `$bs set-class` (local, SAN). */
  storage_classes: z.optional(z.array(Name)),
  /** Client services of tb-set-node-service and tb-add-node-service-hook: NAME, or NAME:ENV:WHENCE for one point. */
  services: z.optional(z.array(Name)),
});
export type CatalogSchema = z.infer<typeof CatalogSchema>;
