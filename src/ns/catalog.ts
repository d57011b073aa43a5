/** What the NS front end checks against a testbed catalog (src/testbed/catalog.ts reads it); a list left out is not checked. */
export interface Catalog {
  /** Where it came from, for the diagnostics. */
  from: string;
  hardware?: Set<string>;
  os?: Set<string>;
  storageClasses?: Set<string>;
  services?: Set<string>;
}

/** How `fwc check`, `compile` and the deploy commands evaluate a file beyond the Tcl limits. */
export interface FrontOptions {
  /** The testbed's catalog; without it, what it would check is not checked. */
  catalog?: Catalog;
  /** Say, with a note, what could not be checked without a catalog (`fwc check`). */
  noteUnchecked?: boolean;
  /** The experiment, PID/EID: ${GLOBALS::pid}, gid and eid as Emulab sets them for it (PID, GID, EID without). */
  experiment?: string;
}
