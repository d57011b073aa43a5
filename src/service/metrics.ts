/** The service's Prometheus metrics (docs/service.md, "Metrics"), on a registry of its own. */
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

export function serviceMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "fwc_" });
  const seconds = [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10];
  return {
    registry,
    requests: new Counter({
      name: "fwc_http_requests_total",
      help: "HTTP requests answered, by method, route and status code",
      labelNames: ["method", "route", "status"] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: "fwc_http_request_duration_seconds",
      help: "Time from a request's arrival to its answer, by method and route",
      labelNames: ["method", "route"] as const,
      buckets: seconds,
      registers: [registry],
    }),
    grants: new Counter({
      name: "fwc_grant_changes_total",
      help: "Grant changes asked of the service (open, close, expire), by result",
      labelNames: ["kind", "result"] as const,
      registers: [registry],
    }),
    apply: new Histogram({
      name: "fwc_apply_seconds",
      help: "Time to apply one round of changes to the gateway and DNS and commit it",
      buckets: seconds,
      registers: [registry],
    }),
    batch: new Histogram({
      name: "fwc_batch_size",
      help: "Requests applied together in one round (one store transaction, one nft transaction)",
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
      registers: [registry],
    }),
    storeWait: new Histogram({
      name: "fwc_store_wait_seconds",
      help: "Time a round waited for the store's write lock (held by a command of the CLI)",
      buckets: seconds,
      registers: [registry],
    }),
  };
}

export type ServiceMetrics = ReturnType<typeof serviceMetrics>;
