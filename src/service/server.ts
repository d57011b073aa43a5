/**
 * `fwc serve` (docs/service.md): the REST API, the experiment's web page, metrics. Routes are thin: they check
 * the input (the JSON schemas below, which also make the OpenAPI document), authorize the user, and call the
 * same functions as the CLI's commands (src/deploy/commands.ts). Changes go through the change loop (batch.ts).
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import swagger from "@fastify/swagger";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { DynamicRequest } from "../access/dynamic.js";
import { DURATION_HELP, MAX_LIFETIME_SECONDS, parseDuration } from "../access/lifetime.js";
import { type EndpointListing, endpointsJson } from "../backends/endpoints/endpoints.js";
import { parseBlock } from "../deploy/blocks.js";
import * as cmd from "../deploy/commands.js";
import { everywhere } from "../deploy/gateways.js";
import { claimsOf, type DeployContext } from "../deploy/lifecycle.js";
import type { Gateway } from "../deploy/nft.js";
import type { DiagnosticCode } from "../diagnostics/codes.js";
import { type Diagnostic, DiagnosticBag } from "../diagnostics/diagnostic.js";
import { diagnosticJson } from "../diagnostics/render.js";
import { SourceFile, span } from "../diagnostics/source.js";
import type { Plan } from "../plan/plan.js";
import { connectEtcd, type EtcdSettings, EtcdStore, EtcdUnavailable, etcdSettingsOf } from "../store/etcd.js";
import { type BlockEntry, isExperimentName, StateError } from "../store/schema.js";
import { openReader } from "../store/sqlite.js";
import { LockError, type StoreReader } from "../store/store.js";
import { DEFAULT_EXPERIMENT_LIMITS, type TestbedConfig } from "../testbed/config.js";
import { Batcher, type Job, type JobResult } from "./batch.js";
import { type ServiceMetrics, serviceMetrics } from "./metrics.js";
import { mayAct, type User, type Users } from "./users.js";

export interface ServeOptions {
  stateDir: string;
  testbed: TestbedConfig;
  gw: Gateway;
  /** How long a change waits for the store's write lock (held by a CLI command), in ms. */
  waitMs: number;
  users: () => Users;
  /** The largest request body taken, in bytes. */
  bodyLimit: number;
  /** The web page's built files (index.html, app.js, style.css); none: GET / is 404. */
  webDir?: string;
  /** The exposure diagram (the SVG renderer is loaded only when asked for). */
  diagram?: (listing: EndpointListing, blocks: BlockEntry[]) => Promise<string>;
  /** How often the service looks for grants whose time is up that it was not told of (CLI opens), in ms. */
  expiryScanMs?: number;
  version: string;
  /** Where the operators' messages go (default: standard error). */
  log?: (line: string) => void;
}

declare module "fastify" {
  interface FastifyRequest {
    user: User | null;
    started: number;
  }
}

/** Where a diagnostic of a request points: the JSON field (rdr) rather than the CLI's option (--rdr). */
const fieldOf = (path: string) => path.replace(/^--/, "");

const diagnosticsBody = (ds: Diagnostic[]) => ({
  diagnostics: ds.map((d) => {
    const j = diagnosticJson(d);
    return { ...j, file: fieldOf(j.file) };
  }),
});

/** One diagnostic about the request itself (a field, the token). */
function requestProblem(code: DiagnosticCode, where: string, message: string, help?: string) {
  const bag = new DiagnosticBag();
  bag.add(code, span(new SourceFile(where, ""), 0, 0), message, help);
  return diagnosticsBody(bag.items);
}

/** The HTTP status of a change's answer, from its diagnostics (docs/service.md, "Status codes"). */
export function statusOf(r: JobResult): number {
  const errors = r.diagnostics.filter((d) => d.severity === "error").map((d) => d.code);
  // Accepted and written, and some gateway has not applied it yet (the etcd store): 202, never a failure.
  if (r.ok && errors.length === 0) return r.gateways !== undefined && !everywhere(r.gateways) ? 202 : 200;
  if (errors.includes("FWC800") || errors.includes("FWC823")) return 404;
  if (errors.includes("FWC807")) return 409;
  if (errors.includes("FWC804")) return 503;
  if (errors.some((c) => ["FWC802", "FWC803", "FWC805", "FWC900"].includes(c))) return 500;
  return 400;
}

const LABEL = "^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$";
const experimentParams = {
  type: "object",
  required: ["pid", "eid"],
  additionalProperties: false,
  properties: {
    pid: { type: "string", pattern: LABEL, description: "the project" },
    eid: { type: "string", pattern: LABEL, description: "the experiment" },
  },
} as const;

const targets = (what: string) => ({ type: "string", maxLength: 8192, description: what });
const grantBody = {
  type: "object",
  additionalProperties: false,
  minProperties: 1,
  properties: {
    rdr: targets('inbound targets, as in tb-allow-external ("web/80 db,5432")'),
    nat: targets("outbound targets, as in tb-allow-external"),
    open6: targets("direct IPv6 openings, as in tb-allow-external"),
    node: { type: "string", maxLength: 63, description: 'the node that targets without a node ("22") mean' },
    expires: {
      type: "string",
      maxLength: 40,
      description: "open only: when the grants end, as a duration (2h, 1d, 1h30m) or an RFC 3339 time",
    },
  },
} as const;

const listing = {
  type: "object",
  additionalProperties: true,
  description: "the endpoint listing (docs/cli.md): experiment, gateway, inbound, outbound, open6, dedicated, dns",
} as const;
const problems = {
  type: "object",
  additionalProperties: true,
  properties: { diagnostics: { type: "array", items: { type: "object", additionalProperties: true } } },
  description: "the problems, as fwc check --format json gives them",
} as const;
const answers = (ok: object) => ({
  200: ok,
  202: {
    ...ok,
    description:
      "written, and some gateway has not applied it yet (the etcd store; docs/etcd.md): `gateways` says which (revision, done, pending)",
  },
  400: problems,
  401: problems,
  403: problems,
  404: problems,
  409: problems,
});

const without = <T extends object, K extends keyof T>(o: T, k: K): Omit<T, K> => {
  const { [k]: _gone, ...rest } = o;
  return rest;
};

const blockBody = {
  type: "object",
  required: ["cidr"],
  additionalProperties: false,
  properties: {
    cidr: { type: "string", maxLength: 64, description: "the network, IPv4 or IPv6 (198.51.100.0/24)" },
    reason: { type: "string", maxLength: 500, description: "why (shown to the operators)" },
    proto: { type: "string", maxLength: 8, description: "tcp, udp or tcp+udp (default: every protocol)" },
    port: { type: "string", maxLength: 16, description: "a port or a range (22, 8000-8100), with proto" },
  },
} as const;

const g5kBody = {
  type: "array",
  maxItems: 1000,
  items: { type: "object", description: "a g5kfw opening: addr, proto, port, src_addr (docs/deploy.md)" },
} as const;

export async function buildServer(
  o: ServeOptions,
): Promise<{ app: FastifyInstance; batcher: Batcher; stop: () => Promise<void> }> {
  const metrics = serviceMetrics();
  // With the etcd store: the rounds' copy of the state, and the reads' (never one in the middle of a round).
  const etcdWriter = { store: null as EtcdStore | null };
  const etcdReader = etcdSettingsOf(o.testbed) === null ? null : new EtcdReader(etcdSettingsOf(o.testbed)!);
  const context = (): DeployContext => ({
    ...(etcdReader === null ? {} : { etcdCache: etcdWriter }),
    stateDir: o.stateDir,
    testbed: o.testbed,
    gw: o.gw,
    dryRun: false,
    waitMs: o.waitMs,
    bag: new DiagnosticBag(),
    out: [],
    lockPoll: true,
    // The fault-injection tests' failpoints (FWC_FAILPOINT, as for the CLI's commands).
    ...(process.env.FWC_FAILPOINT ? { failpoint: process.env.FWC_FAILPOINT } : {}),
  });
  const log = o.log ?? ((line: string) => process.stderr.write(`fwc serve: ${line}\n`));
  const batcher = new Batcher(
    context,
    {
      round: (size, ms) => {
        metrics.batch.observe(size);
        metrics.apply.observe(ms / 1000);
      },
      lockWait: (ms) => metrics.storeWait.observe(ms / 1000),
      log,
    },
    // With etcd a round is one transaction only up to 100 experiments (etcd takes 128 operations in one):
    // rounds stay within it.
    { maxBatch: etcdReader === null ? 500 : 100, budgetMs: 200, maxQueued: 200 },
  );
  const expiry = new Expiry(o, batcher, metrics, etcdReader);

  const app = Fastify({
    bodyLimit: o.bodyLimit,
    logger: false,
    // Requests name no more than they should: unknown fields are refused, never dropped or coerced.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true, useDefaults: false } },
    return503OnClosing: true,
    forceCloseConnections: "idle",
    // A client has 20 s to send its request (a slow one holds nothing for ever; Node looks every 2 s), and an
    // idle kept-alive connection is closed after 5 s.
    requestTimeout: 20_000,
    keepAliveTimeout: 5_000,
    serverFactory: (handler) =>
      createServer({ requestTimeout: 20_000, headersTimeout: 10_000, connectionsCheckingInterval: 2_000 }, handler),
  });
  app.server.maxConnections = 4096;
  app.decorateRequest("user", null);
  app.decorateRequest("started", 0);
  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "fwc",
        version: o.version,
        description: "Grants of access between testbed experiments and the Internet through the shared gateway",
      },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    },
  });

  app.addHook("onRequest", async (req) => {
    req.started = performance.now();
  });
  app.addHook("onSend", async (_req, reply, payload) => {
    reply.header("X-Content-Type-Options", "nosniff");
    if (!reply.hasHeader("Cache-Control")) reply.header("Cache-Control", "no-store");
    return payload;
  });
  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url ?? "(none)";
    metrics.requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    metrics.latency.observe({ method: req.method, route }, (performance.now() - req.started) / 1000);
  });

  app.setNotFoundHandler((req, reply) => {
    reply
      .code(404)
      .send(
        requestProblem(
          "FWC823",
          "path",
          `no route ${req.method} ${req.url.slice(0, 200)}`,
          "GET /openapi.json lists the routes",
        ),
      );
  });
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    if (err.validation !== undefined) {
      const bag = new DiagnosticBag();
      for (const v of err.validation) {
        const field = `${err.validationContext ?? "body"}${v.instancePath.replace(/\//g, ".")}`;
        const extra = (v.params as { additionalProperty?: string }).additionalProperty;
        bag.add(
          "FWC821",
          span(new SourceFile(field, ""), 0, 0),
          `${field}${extra !== undefined ? `: unknown field "${String(extra).slice(0, 64)}"` : ` ${v.message ?? "is not valid"}`}`,
          "GET /openapi.json describes what each route takes",
        );
      }
      reply.code(400).send(diagnosticsBody(bag.items));
      return;
    }
    const status = err.statusCode ?? 500;
    if (status >= 500) {
      log(`internal error: ${err.stack ?? err.message}`);
      reply.code(500).send(requestProblem("FWC900", "fwc serve", "internal error (see the service's log)"));
      return;
    }
    if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE") reply.header("Connection", "close");
    const what =
      err.code === "FST_ERR_CTP_BODY_TOO_LARGE"
        ? `the request body is larger than ${o.bodyLimit} bytes`
        : err.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE"
          ? "the body must be JSON (Content-Type: application/json)"
          : err.message;
    reply.code(status).send(requestProblem("FWC821", "body", what, "send a JSON body as GET /openapi.json describes"));
  });

  /** The user of the request's bearer token (401 without one). */
  const authenticate = async (req: FastifyRequest, reply: FastifyReply) => {
    const h = req.headers.authorization ?? "";
    // The scheme is matched without case (RFC 7235).
    const m = /^Bearer ([\x21-\x7e]{1,512})$/i.exec(h);
    const user = m === null ? null : o.users().byToken(m[1]!);
    if (user === null) {
      reply
        .code(401)
        .header("WWW-Authenticate", 'Bearer realm="fwc"')
        // Not read further: whatever body follows is not waited for.
        .header("Connection", "close")
        .send(
          requestProblem(
            "FWC822",
            "Authorization",
            m === null ? "no bearer token (Authorization: Bearer <token>)" : "unknown token",
            "ask the testbed's operators for a token",
          ),
        );
      return reply;
    }
    req.user = user;
  };
  /** The experiment of the path, once the user may act on it (403 otherwise: not telling whether it exists). */
  const experimentOf = (req: FastifyRequest, reply: FastifyReply): string | null => {
    const { pid, eid } = req.params as { pid: string; eid: string };
    const exp = `${pid}/${eid}`.toLowerCase();
    if (!isExperimentName(exp) || !mayAct(req.user!, exp)) {
      reply
        .code(403)
        .send(
          requestProblem(
            "FWC822",
            "path",
            `${req.user!.name} is not a member of project ${pid}`,
            "ask the project's leader or the operators",
          ),
        );
      return null;
    }
    return exp;
  };
  const admin = async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.user?.admin !== true) {
      reply.code(403).send(requestProblem("FWC822", "path", "the blocklist is for the testbed's operators (admin)"));
      return reply;
    }
  };
  const answer = (reply: FastifyReply, r: JobResult, body: (plan: Plan) => unknown) => {
    if (r.busy === true)
      return reply
        .code(429)
        .header("Retry-After", "5")
        .send(
          requestProblem(
            "FWC822",
            "fwc serve",
            "too many of your requests are waiting",
            "wait for their answers, then send more",
          ),
        );
    const status = statusOf(r);
    if ((status === 200 || status === 202) && r.plan !== undefined) {
      const b = body(r.plan);
      // With etcd, where the gateways are: every one done (200), or the ones still pending (202).
      return reply
        .code(status)
        .send(r.gateways === undefined || Array.isArray(b) ? b : { ...(b as object), gateways: r.gateways });
    }
    return reply.code(status).send(diagnosticsBody(r.diagnostics));
  };
  /** A read of the store: the result, or the problem's answer. */
  const read = async <T>(reply: FastifyReply, fn: (c: DeployContext, store: StoreReader) => T | null) => {
    const ctx = context();
    const r = await readStore(ctx, etcdReader, (store) => fn(ctx, store));
    if (r === null || ctx.bag.errorCount > 0) {
      reply.code(statusOf({ ok: false, diagnostics: ctx.bag.items })).send(diagnosticsBody(ctx.bag.items));
      return null;
    }
    return r;
  };
  const change = async (job: Job) => {
    const r = await batcher.submit(job);
    metrics.grants.inc({ kind: job.kind, result: statusOf(r) === 200 ? "ok" : "refused" });
    if (r.plan !== undefined) expiry.learn(job.exp, r.plan);
    return r;
  };

  // ---- routes that need no token ----
  app.get("/healthz", { schema: { hide: true } }, async (_req, reply) => {
    // The store can be opened and read (a change in flight does not matter here).
    const ok = (await readStore(context(), etcdReader, (store) => store.readBlocks() !== null)) === true;
    return reply.code(ok ? 200 : 503).send({ status: ok ? "ok" : "store unreadable", version: o.version });
  });
  app.get("/metrics", { schema: { hide: true } }, async (_req, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  const assets = loadAssets(o.webDir);
  for (const [path, a] of assets)
    app.get(path, { schema: { hide: true } }, async (_req, reply) =>
      reply
        .type(a.type)
        .header(
          "Content-Security-Policy",
          "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
        )
        .header("X-Content-Type-Options", "nosniff")
        .header("Cache-Control", "no-cache")
        .send(a.body),
    );

  // ---- the API ----
  await app.register(async (api) => {
    api.addHook("onRequest", authenticate);

    api.get("/api/v1/me", { schema: { summary: "who the token belongs to" } }, async (req) => ({
      name: req.user!.name,
      admin: req.user!.admin,
      projects: [...req.user!.projects].sort(),
    }));

    api.get(
      "/api/v1/experiments",
      { schema: { summary: "the experiments swapped in that the user may act on" } },
      async (req, reply) => {
        const r = await read(reply, (_c, store) => {
          const mine = store.listNames().filter((n) => mayAct(req.user!, n));
          return mine.map((n) => {
            const s = store.readExperiment(n)!;
            return {
              experiment: s.experiment,
              file: s.file,
              updated: s.updated,
              nodes: s.policy.nodes.length,
              dynamic: s.dynamic.inbound.length + s.dynamic.outbound.length + s.dynamic.open6.length,
            };
          });
        });
        return r === null ? reply : { experiments: r };
      },
    );

    api.get(
      "/api/v1/experiments/:pid/:eid",
      { schema: { summary: "the endpoint listing", params: experimentParams, response: answers(listing) } },
      async (req, reply) => {
        const exp = experimentOf(req, reply);
        if (exp === null) return reply;
        const plan = await read(reply, (c, store) => cmd.currentPlan(c, store, exp));
        return plan === null ? reply : endpointsJson(plan);
      },
    );

    const grants = "/api/v1/experiments/:pid/:eid/grants";
    api.post(
      grants,
      {
        schema: {
          summary: "grant access (like fwc open); answers the new endpoint listing",
          params: experimentParams,
          body: grantBody,
          response: answers(listing),
        },
      },
      async (req, reply) => {
        const exp = experimentOf(req, reply);
        if (exp === null) return reply;
        const body = req.body as DynamicRequest & { expires?: string };
        const lifetime = body.expires === undefined ? undefined : lifetimeOf(body.expires);
        if (lifetime === null)
          return reply
            .code(400)
            .send(
              requestProblem(
                "FWC821",
                "expires",
                `"${body.expires!.slice(0, 40)}" is not ${DURATION_HELP}, or a future RFC 3339 time within 366 days`,
              ),
            );
        const { expires: _e, ...req2 } = body;
        if (req2.rdr === undefined && req2.nat === undefined && req2.open6 === undefined)
          return reply.code(400).send(requestProblem("FWC821", "body", "give rdr, nat or open6 targets"));
        const r = await change({
          kind: "open",
          exp,
          req: req2,
          who: req.user!.name,
          ...(lifetime ? { lifetime } : {}),
        });
        return answer(reply, r, (p) => endpointsJson(p));
      },
    );
    api.delete(
      grants,
      {
        schema: {
          summary: "remove dynamic grants (like fwc close); 409 for a grant of the NS file",
          params: experimentParams,
          body: { ...grantBody, properties: without(grantBody.properties, "expires") },
          response: answers(listing),
        },
      },
      async (req, reply) => {
        const exp = experimentOf(req, reply);
        if (exp === null) return reply;
        const body = req.body as DynamicRequest;
        if (body.rdr === undefined && body.nat === undefined && body.open6 === undefined)
          return reply.code(400).send(requestProblem("FWC821", "body", "give the rdr, nat or open6 targets to remove"));
        const r = await change({ kind: "close", exp, req: body, who: req.user!.name });
        return answer(reply, r, (p) => endpointsJson(p));
      },
    );

    api.get(
      "/api/v1/experiments/:pid/:eid/diagram.svg",
      { schema: { summary: "the exposure diagram (SVG)", params: experimentParams } },
      async (req, reply) => {
        const exp = experimentOf(req, reply);
        if (exp === null) return reply;
        if (o.diagram === undefined)
          return reply.code(404).send(requestProblem("FWC823", "path", "no diagram renderer"));
        const r = await read(reply, (c, store) => {
          const plan = cmd.currentPlan(c, store, exp);
          return plan === null ? null : { listing: endpointsJson(plan), blocks: store.readBlocks().entries };
        });
        if (r === null) return reply;
        return reply
          .type("image/svg+xml")
          .header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
          .send(await o.diagram(r.listing, r.blocks));
      },
    );

    // Grid'5000's g5kfw API.
    const firewall = "/api/v1/firewall/:pid/:eid";
    api.get(
      firewall,
      { schema: { summary: "g5kfw: the experiment's IPv6 openings, resolved", params: experimentParams } },
      async (req, reply) => {
        const exp = experimentOf(req, reply);
        if (exp === null) return reply;
        const plan = await read(reply, (c, store) => cmd.currentPlan(c, store, exp));
        return plan === null ? reply : cmd.g5kList(plan);
      },
    );
    api.post(
      firewall,
      {
        schema: {
          summary: "g5kfw: open IPv6 openings (like fwc open --json)",
          params: experimentParams,
          body: g5kBody,
        },
      },
      async (req, reply) => {
        const exp = experimentOf(req, reply);
        if (exp === null) return reply;
        const parsed = cmd.G5kOpening.safeParse(req.body);
        if (!parsed.success) {
          const bag = new DiagnosticBag();
          for (const i of parsed.error.issues)
            bag.add(
              "FWC821",
              span(
                new SourceFile(
                  `body${i.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")}`,
                  "",
                ),
                0,
                0,
              ),
              i.message,
              "see docs/service.md (g5kfw openings)",
            );
          return reply.code(400).send(diagnosticsBody(bag.items));
        }
        const nodes = await read(reply, (c, store) => {
          const s = store.readExperiment(exp);
          if (s === null)
            c.bag.add("FWC800", span(new SourceFile(exp, ""), 0, 0), `${exp} is not swapped in on this gateway`);
          return s?.nodes ?? null;
        });
        if (nodes === null) return reply;
        const g = cmd.g5kRequest(parsed.data, nodes, { ...DEFAULT_EXPERIMENT_LIMITS, ...o.testbed.limits }.elements);
        if ("problem" in g)
          return reply
            .code(400)
            .send(requestProblem(g.code ?? "FWC510", "body", g.problem, "see docs/service.md (g5kfw openings)"));
        const r = await change({ kind: "open", exp, req: g.request, who: req.user!.name });
        return answer(reply, r, (p) => cmd.g5kList(p));
      },
    );
    api.delete(
      firewall,
      { schema: { summary: "g5kfw: remove every dynamic grant of the experiment", params: experimentParams } },
      async (req, reply) => {
        const exp = experimentOf(req, reply);
        if (exp === null) return reply;
        const r = await change({ kind: "close", exp, req: "all", who: req.user!.name });
        return answer(reply, r, (p) => cmd.g5kList(p));
      },
    );

    // The operators' blocklist.
    await api.register(async (ops) => {
      ops.addHook("preHandler", admin);
      ops.get("/api/v1/blocks", { schema: { summary: "the blocklist (admin)" } }, async (_req, reply) => {
        const r = await read(reply, (_c, store) => store.readBlocks().entries);
        return r === null ? reply : { blocks: r };
      });
      const blockChange = (command: "block" | "unblock") => async (req: FastifyRequest, reply: FastifyReply) => {
        const b = req.body as { cidr: string; reason?: string; proto?: string; port?: string };
        const parsed = parseBlock(b.cidr, b.proto, b.port);
        if (!parsed.ok) {
          const bag = new DiagnosticBag();
          const text = parsed.arg === "cidr" ? b.cidr : parsed.arg === "proto" ? b.proto! : b.port!;
          bag.add(
            parsed.code as DiagnosticCode,
            span(new SourceFile(parsed.arg, text), parsed.at, parsed.at + parsed.length),
            parsed.message,
            parsed.help,
          );
          return reply.code(400).send(diagnosticsBody(bag.items));
        }
        if (b.reason !== undefined && /[\u0000-\u001f\u007f]/.test(b.reason))
          return reply
            .code(400)
            .send(requestProblem("FWC821", "reason", "reason is one line, without control characters"));
        const ctx = { ...context(), who: req.user!.name };
        const ok = await batcher.alone(() =>
          cmd.changeBlocks(ctx, command, [parsed.block], b.reason ?? "", req.user!.name, { json: true }),
        );
        const r = { ok, diagnostics: ctx.bag.items };
        // Blocking what is blocked, unblocking what is not: the request is at odds with the list (409).
        const odds = ctx.bag.items.some((d) => d.code === "FWC812" || d.code === "FWC813");
        if (odds || statusOf(r) !== 200)
          return reply.code(odds ? 409 : statusOf(r)).send(diagnosticsBody(ctx.bag.items));
        return JSON.parse(ctx.out.join(""));
      };
      ops.post(
        "/api/v1/blocks",
        { schema: { summary: "block a network for everyone (admin)", body: blockBody } },
        blockChange("block"),
      );
      ops.delete(
        "/api/v1/blocks",
        {
          schema: {
            summary: "unblock a network (admin)",
            body: { ...blockBody, properties: without(blockBody.properties, "reason") },
          },
        },
        blockChange("unblock"),
      );
    });
  });

  await app.ready();
  expiry.start();
  const stop = async () => {
    expiry.stop();
    const closeEtcd = () => {
      etcdReader?.close();
      etcdWriter.store?.close();
      etcdWriter.store?.client.close();
    };
    // Requests in flight are answered (new ones get 503), then the change loop is drained. A kept-alive
    // connection is closed as soon as its request is answered; after 30 s, whatever is left is cut.
    const idle = setInterval(() => app.server.closeIdleConnections(), 50);
    const cut = setTimeout(() => app.server.closeAllConnections(), 30_000);
    try {
      await app.close();
      await batcher.drain();
    } finally {
      clearInterval(idle);
      clearTimeout(cut);
      closeEtcd();
    }
  };
  return { app, batcher, stop };
}

/**
 * Reads the store as it was last committed: a service's reads answer with what is committed, and never wait
 * for a change in flight (the CLI's status does, to tell drift from a change under way; the service's own
 * rounds would then stall its reads). Problems become reports.
 */
async function readStore<T>(
  ctx: DeployContext,
  etcd: EtcdReader | null,
  fn: (store: StoreReader) => T | null,
): Promise<T | null> {
  try {
    if (etcd !== null) return fn(await etcd.current());
    const store = openReader(ctx.stateDir, claimsOf);
    try {
      return fn(store);
    } finally {
      store.close();
    }
  } catch (e) {
    if (e instanceof StateError || e instanceof LockError || e instanceof EtcdUnavailable) {
      ctx.bag.add(
        e instanceof LockError ? "FWC804" : e instanceof EtcdUnavailable ? "FWC830" : "FWC802",
        span(new SourceFile("the store", ""), 0, 0),
        e.message,
      );
      return null;
    }
    throw e;
  }
}

/**
 * The service's reads with the etcd store: one copy of the state in memory, read again only when another
 * change was written since (one small read tells), and by one read at a time.
 */
class EtcdReader {
  private store: EtcdStore | null = null;
  private loading: Promise<EtcdStore> | null = null;
  private client: Awaited<ReturnType<typeof connectEtcd>> | null = null;
  constructor(private readonly settings: EtcdSettings) {}

  async current(): Promise<EtcdStore> {
    if (this.loading !== null) return this.loading;
    this.loading = (async () => {
      try {
        this.client ??= await connectEtcd(this.settings);
        if (this.store === null) this.store = await EtcdStore.open(this.client, this.settings, claimsOf);
        else await this.store.refresh();
        return this.store;
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  close(): void {
    this.store?.close();
    this.client?.close();
  }
}

/** A lifetime from "expires": a duration, or a future time; null when it is neither. */
function lifetimeOf(v: string): { seconds: number } | null {
  const d = parseDuration(v);
  if (d !== null) return { seconds: d };
  const m = /^(\d{4}-\d\d-\d\d)T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.exec(v);
  if (m === null) return null;
  // A day that does not exist (2027-02-30) is refused, not read as another.
  if (
    Number.isNaN(Date.parse(`${m[1]}T00:00:00Z`)) ||
    new Date(`${m[1]}T00:00:00Z`).toISOString().slice(0, 10) !== m[1]
  )
    return null;
  const seconds = (Date.parse(v) - Date.now()) / 1000;
  return Number.isFinite(seconds) && seconds > 0 && seconds <= MAX_LIFETIME_SECONDS ? { seconds } : null;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

/** The web page's files, read once: a fixed set, so no path of a request ever reaches the file system. */
function loadAssets(dir: string | undefined): Map<string, { type: string; body: Buffer }> {
  const out = new Map<string, { type: string; body: Buffer }>();
  if (dir === undefined) return out;
  for (const name of ["index.html", "app.js", "style.css"]) {
    let body: Buffer;
    try {
      body = readFileSync(join(dir, name));
    } catch {
      continue;
    }
    const type = TYPES[name.slice(name.lastIndexOf("."))]!;
    out.set(name === "index.html" ? "/" : `/${name}`, { type, body });
  }
  return out;
}

/**
 * Grants with a lifetime end on time while the service runs: it knows the next end of each experiment (from
 * its own answers, and a scan of the store every `expiryScanMs` for grants the CLI opened) and queues an
 * `expire` change when it comes.
 */
class Expiry {
  private readonly due = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private lastScan = 0;
  private stopped = false;

  constructor(
    private readonly o: ServeOptions,
    private readonly batcher: Batcher,
    private readonly metrics: ServiceMetrics,
    private readonly etcd: EtcdReader | null,
  ) {}

  start(): void {
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
  }

  /** What a change's answer says of the experiment's next end. */
  learn(exp: string, plan: Plan): void {
    const next = cmd.nextExpiry([...plan.inbound, ...plan.outbound, ...plan.open6]);
    if (next === null) this.due.delete(exp);
    else {
      this.due.set(exp, next);
      this.schedule(next - Date.now());
    }
  }

  private schedule(inMs: number): void {
    if (this.stopped) return;
    if (this.timer !== null) clearTimeout(this.timer);
    const scanIn = this.lastScan + (this.o.expiryScanMs ?? 60_000) - Date.now();
    const wait = Math.max(50, Math.min(inMs, scanIn, 2 ** 31 - 1));
    this.timer = setTimeout(() => void this.tick(), wait);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    this.timer = null;
    const now = Date.now();
    if (now >= this.lastScan + (this.o.expiryScanMs ?? 60_000)) {
      this.lastScan = now;
      const ctx: DeployContext = {
        stateDir: this.o.stateDir,
        testbed: this.o.testbed,
        gw: this.o.gw,
        dryRun: false,
        waitMs: this.o.waitMs,
        bag: new DiagnosticBag(),
        out: [],
      };
      const found = await readStore(ctx, this.etcd, (store) => {
        const m = new Map<string, number>();
        for (const s of store.listExpiring()) {
          const t = cmd.nextExpiry([...s.dynamic.inbound, ...s.dynamic.outbound, ...s.dynamic.open6]);
          if (t !== null) m.set(s.experiment.toLowerCase(), t);
        }
        return m;
      });
      if (found !== null) {
        this.due.clear();
        for (const [k, v] of found) this.due.set(k, v);
      }
    }
    for (const [exp, t] of [...this.due]) {
      if (this.stopped) return;
      if (t > Date.now()) continue;
      this.due.delete(exp);
      const r = await this.batcher.submit({ kind: "expire", exp, who: "service:expiry" });
      this.metrics.grants.inc({ kind: "expire", result: r.ok ? "ok" : "refused" });
      if (r.plan !== undefined) this.learn(exp, r.plan);
      // A failed expiry is tried again at the next scan.
    }
    const next = Math.min(...this.due.values(), Number.POSITIVE_INFINITY);
    this.schedule(next - Date.now());
  }
}
