/**
 * The service's users (docs/service.md, "Users and tokens"): a YAML file naming each user, the SHA-256 of the
 * bearer token they present, the projects whose experiments they may act on, and whether they are an admin.
 * Tokens themselves are never stored; a request's token is hashed and looked up.
 */
import { createHash } from "node:crypto";
import * as z from "zod/mini";
import type { DiagnosticBag } from "../diagnostics/diagnostic.js";
import { type SourceFile, span } from "../diagnostics/source.js";
import { loadConfig } from "../testbed/config.js";

const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

const User = z.strictObject({
  name: z
    .string()
    .check(
      z.regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, "must be 1-64 letters, digits, '.', '_', '@' or '-' (no spaces)"),
    ),
  token_sha256: z
    .string()
    .check(
      z.regex(/^[0-9a-fA-F]{64}$/, "must be the 64 hex digits of the token's SHA-256 (printf %s TOKEN | sha256sum)"),
    ),
  projects: z._default(
    z.array(z.string().check(z.regex(LABEL, "must be a project name (a DNS label: letters, digits, inner hyphens)"))),
    [],
  ),
  admin: z._default(z.boolean(), false),
});

export const UsersFile = z.strictObject({ users: z.array(User) });

export interface User {
  name: string;
  projects: Set<string>;
  admin: boolean;
}

export class Users {
  private readonly byHash: Map<string, User>;
  constructor(users: z.infer<typeof UsersFile>["users"]) {
    this.byHash = new Map(
      users.map((u) => [
        u.token_sha256.toLowerCase(),
        { name: u.name, projects: new Set(u.projects.map((p) => p.toLowerCase())), admin: u.admin },
      ]),
    );
  }
  get size(): number {
    return this.byHash.size;
  }
  /** The user whose token this is, or null. */
  byToken(token: string): User | null {
    return this.byHash.get(tokenHash(token)) ?? null;
  }
}

export const tokenHash = (token: string): string => createHash("sha256").update(token, "utf8").digest("hex");

/** Whether `user` may act on experiment PID/EID: an admin, or a member of its project. */
export const mayAct = (user: User, exp: string): boolean =>
  user.admin || user.projects.has(exp.split("/")[0]!.toLowerCase());

/** Loads the users file; problems (naming the key) go to `bag`. Two users with one token are refused. */
export function loadUsers(file: SourceFile, bag: DiagnosticBag): Users | null {
  const cfg = loadConfig(file, UsersFile, bag);
  if (cfg === null) return null;
  const seenNames = new Set<string>();
  const seenTokens = new Map<string, string>();
  for (const u of cfg.users) {
    const t = u.token_sha256.toLowerCase();
    const other = seenTokens.get(t);
    if (seenNames.has(u.name) || other !== undefined) {
      bag.add(
        "FWC820",
        span(file, 0, 0),
        other !== undefined
          ? `${file.path}: users ${other} and ${u.name} have the same token_sha256`
          : `${file.path}: the user name ${u.name} is given twice`,
        "give every user a name and a token of their own",
      );
      return null;
    }
    seenNames.add(u.name);
    seenTokens.set(t, u.name);
  }
  return new Users(cfg.users);
}
