// The experiment's web page of fwc serve (docs/web.md): log in with a bearer token, list your experiments, show
// one's endpoints with ready-to-copy access hints, grant and remove access, and show the exposure diagram.
// Plain ES2020 with no dependencies. Everything that comes from the server or the user (targets, node names,
// messages) reaches the page as text nodes only: no HTML is ever built from data.

const TOKEN_KEY = "fwc.token";
const FIELDS = ["rdr", "nat", "open6", "node", "expires"];
/** Ports whose access hint is a web address. */
const HTTP_PORTS = new Set([80, 8000, 8008, 8080, 8888]);
const HTTPS_PORTS = new Set([443, 8443]);

const state = {
  /** The logged-in user (GET /api/v1/me). */
  me: null,
  /** The experiment shown: { pid, eid }. */
  exp: null,
  /** Its endpoint listing, as last received. */
  listing: null,
  /** Bumped by every navigation: answers for an earlier view are dropped. */
  view: 0,
  /** The refresh planned for when the next grant of the listing ends. */
  expiryTimer: null,
};

// ---- small helpers ----

const byId = (id) => document.getElementById(id);

/** An element with attributes and children (strings become text nodes; nothing is parsed as HTML). */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c !== undefined && c !== null && c !== false) e.append(c);
  return e;
}

const token = () => sessionStorage.getItem(TOKEN_KEY);

/** A time as "2030-01-31 18:00:00 UTC". */
function utc(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return String(iso);
  return `${new Date(t).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** How far a time is from now: "in 1 h 59 min", "ended". */
function fromNow(iso) {
  const s = Math.round((Date.parse(iso) - Date.now()) / 1000);
  if (Number.isNaN(s)) return "";
  if (s <= 0) return "ended";
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `in ${d} d ${h} h`;
  if (h > 0) return `in ${h} h ${m} min`;
  if (m > 0) return `in ${m} min`;
  return `in ${s} s`;
}

const ports = (p, end) => (end === undefined || end === p ? String(p) : `${p}..${end}`);
const protoPorts = (proto, p, end) =>
  proto === "all" ? "all protocols" : p === 0 && (end ?? 0) === 0 ? `${proto}, any port` : `${proto} ${ports(p, end)}`;

/** The status line: what just happened, with the time (UTC). */
function say(text, kind = "ok") {
  const s = byId("status");
  s.className = `status ${kind}`;
  s.textContent = `${new Date().toISOString().slice(11, 19)} UTC: ${text}`;
}

// ---- the API ----

/** A call of the API with the token: { status, body (parsed JSON or null), text, type }; status 0 when no answer. */
async function api(method, path, body) {
  const headers = { authorization: `Bearer ${token() ?? ""}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  let r;
  try {
    r = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    return { status: 0, body: null, text: "", type: "" };
  }
  const text = await r.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON (the diagram, or a proxy's error page)
  }
  return { status: r.status, body: json, text, type: r.headers.get("content-type") ?? "" };
}

const diagnosticsOf = (r) => (Array.isArray(r.body?.diagnostics) ? r.body.diagnostics : []);

/** One line for an answer that is not a success: its first diagnostic, or its status. */
function problemLine(r) {
  if (r.status === 0) return "the server did not answer (is fwc serve running?)";
  const d = diagnosticsOf(r)[0];
  if (d === undefined) return `the server answered ${r.status}`;
  return `${d.severity ?? "error"}[${d.code}]: ${d.message}`;
}

// ---- views ----

function show(view) {
  for (const id of ["login", "experiments", "experiment"]) byId(id).hidden = id !== view;
}

function showLogin(message) {
  state.me = null;
  state.exp = null;
  state.listing = null;
  state.view++;
  byId("who").hidden = true;
  show("login");
  const box = byId("login-error");
  box.hidden = message === undefined;
  box.replaceChildren(...(message === undefined ? [] : message));
  byId("token").setAttribute("aria-invalid", message === undefined ? "false" : "true");
  byId("token").focus();
}

/** The token was refused (401): back to the login form, saying why. */
function refused(r) {
  sessionStorage.removeItem(TOKEN_KEY);
  const d = diagnosticsOf(r)[0];
  showLogin([
    el("p", { text: `The server refused the token${d ? `: ${d.message}` : ""}.` }),
    d?.help ? el("p", { class: "muted", text: `${d.help[0].toUpperCase()}${d.help.slice(1)}.` }) : null,
  ]);
  say("Not logged in: the token was refused.", "error");
}

async function loadMe() {
  const r = await api("GET", "/api/v1/me");
  if (r.status === 401) {
    refused(r);
    return false;
  }
  if (r.status !== 200 || r.body === null) {
    showLogin([el("p", { text: `Could not log in: ${problemLine(r)}.` })]);
    return false;
  }
  state.me = r.body;
  byId("who-name").textContent = r.body.name;
  const projects = (r.body.projects ?? []).join(", ");
  byId("who-role").textContent = r.body.admin
    ? " (operator: every project)"
    : projects === ""
      ? " (no project)"
      : ` (projects ${projects})`;
  byId("who").hidden = false;
  return true;
}

/** The view the address names: #/PID/EID is an experiment, anything else the list. */
function route() {
  if (token() === null) return showLogin();
  const m = /^#\/([A-Za-z0-9-]{1,63})\/([A-Za-z0-9-]{1,63})$/.exec(location.hash);
  if (m !== null) return openExperiment(m[1], m[2]);
  return showExperiments();
}

async function showExperiments() {
  const view = ++state.view;
  state.exp = null;
  state.listing = null;
  clearTimeout(state.expiryTimer);
  show("experiments");
  document.title = "fwc: your experiments";
  const r = await api("GET", "/api/v1/experiments");
  if (view !== state.view) return;
  if (r.status === 401) return refused(r);
  const body = byId("experiments-table").tBodies[0];
  if (r.status !== 200 || !Array.isArray(r.body?.experiments)) {
    body.replaceChildren();
    say(`Could not list the experiments: ${problemLine(r)}`, "error");
    return;
  }
  const list = r.body.experiments;
  body.replaceChildren(
    ...list.map((x) => {
      const [pid, eid] = String(x.experiment).split("/");
      return el(
        "tr",
        {},
        el(
          "td",
          {},
          el("a", {
            href: `#/${encodeURIComponent(pid)}/${encodeURIComponent(eid)}`,
            class: "mono",
            text: x.experiment,
          }),
        ),
        el("td", { class: "mono", title: x.file, text: baseName(x.file) }),
        el("td", { class: "num", text: String(x.nodes) }),
        el("td", { class: "num", text: String(x.dynamic) }),
        el("td", { text: utc(x.updated) }),
      );
    }),
  );
  byId("experiments-table").hidden = list.length === 0;
  byId("experiments-empty").hidden = list.length > 0;
}

const baseName = (path) => String(path ?? "").replace(/^.*\//, "");

async function openExperiment(pid, eid) {
  const view = ++state.view;
  const same = state.exp?.pid === pid && state.exp?.eid === eid;
  state.exp = { pid, eid };
  show("experiment");
  document.title = `fwc: ${pid}/${eid}`;
  byId("exp-name").textContent = `${pid}/${eid}`;
  byId("exp-problem").hidden = true;
  if (!same) {
    state.listing = null;
    clearForm(true);
    for (const id of ["inbound", "open6", "outbound", "dedicated", "dns"]) byId(id).tBodies[0].replaceChildren();
    byId("gw-name").textContent = "";
    byId("gw-addrs").textContent = "";
  }
  const r = await api("GET", base());
  if (view !== state.view) return;
  if (r.status === 401) return refused(r);
  if (r.status !== 200 || r.body === null) {
    problem(r, "This experiment cannot be shown");
    byId("exp-body").hidden = true;
    byId("to-grant").hidden = true;
    return;
  }
  byId("exp-body").hidden = false;
  byId("to-grant").hidden = false;
  render(r.body);
  loadDiagram(view);
}

/** The experiment shown, as PID/EID, or null. */
const experimentName = () => (state.exp === null ? null : `${state.exp.pid}/${state.exp.eid}`);

const base = () => `/api/v1/experiments/${encodeURIComponent(state.exp.pid)}/${encodeURIComponent(state.exp.eid)}`;

/** A refused request's diagnostics in the box at the top of the experiment. */
function problem(r, what) {
  const box = byId("exp-problem");
  const ds = diagnosticsOf(r);
  box.replaceChildren(
    el("p", { class: "problem-title", text: `${what}.` }),
    ...(ds.length > 0 ? ds.map((d) => diagnostic(d)) : [el("p", { text: problemLine(r) })]),
  );
  box.hidden = false;
  box.scrollIntoView({ block: "nearest" });
  say(`${what}: ${problemLine(r)}`, "error");
}

// ---- the endpoint listing ----

/** Rows of the listing, keyed so that a new listing can mark what it adds. */
const keyOf = (kind, e) =>
  `${kind} ${JSON.stringify({ ...e, expires: undefined, location: undefined, external: e.external?.port })}`;

function keys(l) {
  const out = new Set();
  if (l === null) return out;
  for (const e of l.inbound ?? []) out.add(keyOf("in", e));
  for (const e of l.open6 ?? []) out.add(keyOf("open6", e));
  for (const e of l.outbound ?? []) out.add(keyOf("out", e));
  return out;
}

function render(l) {
  const before = state.listing === null ? null : keys(state.listing);
  state.listing = l;
  const isNew = (k) => before !== null && !before.has(k);
  const gw = l.gateway ?? {};
  byId("gw-name").textContent = gw.name ?? gw.ipv4 ?? "";
  byId("gw-addrs").textContent = [gw.ipv4, gw.ipv6].filter(Boolean).join(", ");
  fill(
    "inbound",
    (l.inbound ?? []).map((e) => inboundRow(e, l, isNew(keyOf("in", e)))),
  );
  fill(
    "open6",
    (l.open6 ?? []).map((e) => open6Row(e, l, isNew(keyOf("open6", e)))),
  );
  fill(
    "outbound",
    (l.outbound ?? []).map((e) => outboundRow(e, l, isNew(keyOf("out", e)))),
  );
  fill(
    "dedicated",
    (l.dedicated ?? []).map((d) =>
      el(
        "tr",
        {},
        el("td", { class: "mono", text: d.node }),
        el("td", { class: "mono", text: d.address }),
        grantedBy(d),
      ),
    ),
  );
  byId("dedicated-block").hidden = (l.dedicated ?? []).length === 0;
  fill(
    "dns",
    (l.dns ?? []).map((d) =>
      el(
        "tr",
        {},
        el("td", {}, copyable(d.name)),
        el("td", { text: d.type }),
        el("td", { class: "mono", text: d.target }),
      ),
    ),
  );
  planExpiryRefresh(l);
}

function fill(id, rows) {
  const table = byId(id);
  table.tBodies[0].replaceChildren(...rows);
  table.hidden = rows.length === 0;
  const empty = table.closest("section").querySelector(".empty");
  if (empty !== null) empty.hidden = rows.length > 0;
}

/** Who granted it: the NS file (with the line), or "added" on a running experiment, with its remove button. */
function grantedBy(e, remove) {
  if (e.origin === "dynamic")
    return el(
      "td",
      { class: "nowrap" },
      el("span", { class: "tag dynamic", text: "added" }),
      remove === undefined ? null : " ",
      remove === undefined ? null : removeButton(remove),
    );
  const at = e.location?.line ? `:${e.location.line}` : "";
  return el(
    "td",
    { class: "nowrap" },
    el("span", { class: "tag nsfile", text: "NS file" }),
    el("span", { class: "muted", title: e.location?.file ?? "", text: ` ${baseName(e.location?.file)}${at}` }),
  );
}

function expiresCell(e) {
  if (e.expires === undefined)
    return el("td", { class: "muted", text: e.origin === "dynamic" ? "until removed" : "until swap-out" });
  return el(
    "td",
    {},
    el("time", { datetime: e.expires, text: utc(e.expires) }),
    el("br"),
    el("span", { class: "muted", text: fromNow(e.expires) }),
  );
}

/** A text ready to copy: the text itself and a copy button. */
function copyable(text, link) {
  const code = el(
    "code",
    { class: "copy-text" },
    link ? el("a", { href: text, rel: "noopener noreferrer", target: "_blank", text }) : text,
  );
  const button = el("button", {
    type: "button",
    class: "copy small secondary",
    "aria-label": `Copy ${text}`,
    text: "Copy",
    onclick: () => copy(text, code),
  });
  return el("span", { class: "copyable" }, code, button);
}

async function copy(text, code) {
  try {
    if (!window.isSecureContext || navigator.clipboard === undefined) throw new Error("no clipboard");
    await navigator.clipboard.writeText(text);
    say(`Copied: ${text}`);
  } catch {
    // No clipboard (a page not served over https or from localhost, or no permission): select the text instead.
    const range = document.createRange();
    range.selectNodeContents(code);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    say("The text is selected: press Ctrl+C to copy it.");
  }
}

/** How to reach an inbound redirect from the Internet: a command or an address to copy. */
function accessHint(e, l) {
  const gw = l.gateway ?? {};
  // The gateway's name resolves wherever the user is; the address is the one the redirect listens on.
  const host = e.external.address === gw.ipv4 && gw.name ? gw.name : e.external.address;
  const port = e.external.port;
  if (e.proto === "udp") return { text: `nc -u ${host} ${port}` };
  if (e.port === 22) {
    const name = state.me?.name ?? "";
    const user = /^[a-z_][a-z0-9_-]{0,31}$/i.test(name) ? name : "USER";
    return { text: `ssh -p ${port} ${user}@${host}` };
  }
  if (HTTP_PORTS.has(e.port)) return { text: `http://${host}:${port}/`, link: true };
  if (HTTPS_PORTS.has(e.port)) return { text: `https://${host}:${port}/`, link: true };
  return { text: `nc ${host} ${port}` };
}

/**
 * The dynamic entry of the same grant with the other protocol (a tcp+udp grant is listed as two entries that
 * share everything but the protocol, including where the grant's text began).
 */
function twinOf(list, e) {
  const same = (a, b) =>
    a !== b &&
    a.origin === "dynamic" &&
    b.origin === "dynamic" &&
    a.node === b.node &&
    a.host === b.host &&
    a.port === b.port &&
    a.portEnd === b.portEnd &&
    a.expires === b.expires &&
    String(a.sources) === String(b.sources) &&
    a.location?.file === b.location?.file &&
    a.location?.column === b.location?.column &&
    [a.proto, b.proto].sort().join() === "tcp,udp";
  return list.find((x) => same(x, e)) ?? null;
}

/**
 * The target texts that name a dynamic grant, best guess first: tried in turn while the server answers that the
 * grant is not open (FWC806). The listing does not say whether a grant was tcp+udp or identity-mapped, so the
 * guesses cover both.
 */
function inboundTargets(e, list) {
  const from = (e.sources ?? []).map((s) => `,from=${s}`).join("");
  const protos = twinOf(list, e) !== null ? ["tcp+udp", e.proto] : [e.proto];
  const identity =
    e.external.port === e.port && (e.external.portEnd ?? e.external.port) === (e.portEnd ?? e.port)
      ? [",identity", ""]
      : [""];
  return protos.flatMap((p) => identity.map((i) => `${e.node},${ports(e.port, e.portEnd)},${p}${from}${i}`));
}

function open6Targets(e, list) {
  const from = (e.sources ?? []).map((s) => `,from=${s}`).join("");
  if (e.proto === "all") return [`${e.node},all${from}`];
  const protos = twinOf(list, e) !== null ? ["tcp+udp", e.proto] : [e.proto];
  return protos.map((p) => `${e.node},${ports(e.port, e.portEnd)},${p}${from}`);
}

function outboundTargets(e, list) {
  if (e.proto === "all") return [`${e.host},all`];
  const protos = twinOf(list, e) !== null ? ["tcp+udp", e.proto] : [e.proto];
  return protos.map((p) => `${e.host},${ports(e.port, e.portEnd)},${p}`);
}

/** The button that removes a dynamic grant: { key: "rdr", targets: [...], what: "web:8080/tcp" }. */
function removeButton({ key, targets, what }) {
  const both = targets[0].includes(",tcp+udp");
  return el("button", {
    type: "button",
    class: "small danger",
    "aria-label": `Remove ${what}${both ? " (tcp and udp)" : ""}`,
    title: `${key} "${targets[0]}"`,
    text: "Remove",
    onclick: (ev) => removeGrant(ev.currentTarget, key, targets, what),
  });
}

function inboundRow(e, l, fresh) {
  const hint = accessHint(e, l);
  const what = `${e.node}:${ports(e.port, e.portEnd)}/${e.proto}`;
  return el(
    "tr",
    { class: fresh ? "fresh" : undefined },
    el("td", { class: "mono", text: `${e.node}:${ports(e.port, e.portEnd)}` }),
    el("td", { text: e.proto }),
    el("td", { class: "mono", text: `${e.external.address}:${ports(e.external.port, e.external.portEnd)}` }),
    el("td", {
      class: e.sources?.length ? "mono" : "muted",
      text: e.sources?.length ? e.sources.join(", ") : "anyone",
    }),
    grantedBy(e, { key: "rdr", targets: inboundTargets(e, l.inbound), what }),
    expiresCell(e),
    el(
      "td",
      {},
      copyable(hint.text, hint.link),
      e.external.portEnd !== undefined
        ? el("span", { class: "muted block-note", text: `first port of ${ports(e.external.port, e.external.portEnd)}` })
        : null,
    ),
  );
}

function open6Row(e, l, fresh) {
  const what = `${e.node} ${protoPorts(e.proto, e.port, e.portEnd)}`;
  return el(
    "tr",
    { class: fresh ? "fresh" : undefined },
    el("td", { class: "mono", text: e.node }),
    el("td", { class: "mono", text: e.address ?? "" }),
    el("td", { text: protoPorts(e.proto, e.port, e.portEnd) }),
    el("td", {
      class: e.sources?.length ? "mono" : "muted",
      text: e.sources?.length ? e.sources.join(", ") : "anyone",
    }),
    grantedBy(e, { key: "open6", targets: open6Targets(e, l.open6), what: `direct IPv6 ${what}` }),
    expiresCell(e),
  );
}

function outboundRow(e, l, fresh) {
  const host = e.host === "0.0.0.0/0" || e.host === "::/0" ? `${e.host} (any host)` : e.host;
  return el(
    "tr",
    { class: fresh ? "fresh" : undefined },
    el("td", { class: "mono", text: host }),
    el("td", { text: protoPorts(e.proto, e.port, e.portEnd) }),
    grantedBy(e, {
      key: "nat",
      targets: outboundTargets(e, l.outbound),
      what: `outbound ${e.host} ${protoPorts(e.proto, e.port, e.portEnd)}`,
    }),
    expiresCell(e),
  );
}

/** When a grant of the listing ends, the service removes it: show the listing again then. */
function planExpiryRefresh(l) {
  clearTimeout(state.expiryTimer);
  const ends = [...(l.inbound ?? []), ...(l.open6 ?? []), ...(l.outbound ?? [])]
    .map((e) => Date.parse(e.expires ?? ""))
    .filter((t) => !Number.isNaN(t));
  if (ends.length === 0) return;
  const wait = Math.max(2000, Math.min(...ends) - Date.now() + 2000);
  if (wait > 2 ** 31 - 1) return;
  const view = state.view;
  state.expiryTimer = setTimeout(() => {
    if (view === state.view && state.exp !== null) openExperiment(state.exp.pid, state.exp.eid);
  }, wait);
}

// ---- changes ----

async function removeGrant(button, key, targets, what) {
  button.disabled = true;
  const exp = experimentName();
  let r = null;
  for (const target of targets) {
    r = await api("DELETE", `${base()}/grants`, { [key]: target });
    const codes = diagnosticsOf(r).map((d) => d.code);
    if (!(r.status === 400 && codes.length > 0 && codes.every((c) => c === "FWC806"))) break;
  }
  if (exp !== experimentName()) return;
  if (r.status === 401) return refused(r);
  if (r.status === 200 && r.body !== null) {
    byId("exp-problem").hidden = true;
    render(r.body);
    say(`Removed ${what}.`);
    byId(key === "rdr" ? "inbound-title" : key === "nat" ? "outbound-title" : "open6-title").focus();
    loadDiagram(state.view);
    return;
  }
  button.disabled = false;
  problem(r, `Could not remove ${what}`);
  // The page may show an old listing (the NS file changed, the grant ended): show the current one.
  if (r.status === 400 || r.status === 409) await refreshListing();
}

/** The listing again, after a refused change; the problem box stays. */
async function refreshListing() {
  const view = state.view;
  const r = await api("GET", base());
  if (view === state.view && r.status === 200 && r.body !== null) {
    render(r.body);
    loadDiagram(view);
  }
}

function clearForm(values) {
  for (const f of FIELDS) {
    byId(`d-${f}`).replaceChildren();
    byId(`f-${f}`).removeAttribute("aria-invalid");
    if (values) byId(`f-${f}`).value = "";
  }
  byId("d-body").replaceChildren();
}

async function submitGrant(ev) {
  ev.preventDefault();
  clearForm(false);
  const sent = {};
  for (const f of FIELDS) {
    const v = byId(`f-${f}`).value;
    if (v.trim() !== "") sent[f] = v;
  }
  if (sent.rdr === undefined && sent.nat === undefined && sent.open6 === undefined) {
    byId("d-body").replaceChildren(
      el("p", { class: "problem", text: "Write at least one target: rdr, nat or open6." }),
    );
    byId("f-rdr").focus();
    return;
  }
  const exp = experimentName();
  const submit = byId("grant-submit");
  submit.disabled = true;
  const r = await api("POST", `${base()}/grants`, sent);
  submit.disabled = false;
  if (exp !== experimentName()) return;
  if (r.status === 401) return refused(r);
  if (r.status === 200 && r.body !== null) {
    const before = keys(state.listing);
    render(r.body);
    clearForm(true);
    const added = [
      ...r.body.inbound
        .filter((e) => !before.has(keyOf("in", e)))
        .map(
          (e) =>
            `${e.node}:${ports(e.port, e.portEnd)}/${e.proto} at ${e.external.address}:${ports(e.external.port, e.external.portEnd)}`,
        ),
      ...r.body.open6
        .filter((e) => !before.has(keyOf("open6", e)))
        .map((e) => `IPv6 ${e.node} ${protoPorts(e.proto, e.port, e.portEnd)}`),
      ...r.body.outbound
        .filter((e) => !before.has(keyOf("out", e)))
        .map((e) => `outbound ${e.host} ${protoPorts(e.proto, e.port, e.portEnd)}`),
    ];
    say(
      added.length > 0
        ? `Granted ${added.join("; ")}.`
        : "Granted (these grants were open already; their lifetime is renewed).",
    );
    loadDiagram(state.view);
    return;
  }
  showDiagnostics(r, sent);
  const n = diagnosticsOf(r).filter((d) => d.severity !== "warning" && d.severity !== "note").length;
  say(
    `The grant was refused (${r.status === 0 ? "no answer" : r.status}): ${n > 1 ? `${n} problems, shown under the fields` : problemLine(r)}.`,
    "error",
  );
}

/** A refused grant's diagnostics, each under the field it names, with the field's text and the span marked. */
function showDiagnostics(r, sent) {
  const ds = diagnosticsOf(r);
  if (ds.length === 0) {
    byId("d-body").replaceChildren(el("p", { class: "problem", text: `Refused: ${problemLine(r)}.` }));
    return;
  }
  let first = null;
  for (const d of ds) {
    const file = String(d.file ?? "");
    // "rdr" is a position in the rdr text; "body.rdr" is about the field as a whole (its type, say).
    const field = FIELDS.includes(file) ? file : /^body\.(\w+)$/.exec(file)?.[1];
    if (field !== undefined && FIELDS.includes(field)) {
      byId(`d-${field}`).append(diagnostic(d, FIELDS.includes(file) ? (sent[field] ?? "") : undefined, field));
      byId(`f-${field}`).setAttribute("aria-invalid", "true");
      first ??= byId(`f-${field}`);
    } else byId("d-body").append(diagnostic(d));
  }
  (first ?? byId("grant-submit")).focus();
}

/** A diagnostic as `fwc check` prints it: error[FWCnnn]: message, the text with the span marked, the help. */
function diagnostic(d, text, field) {
  const severity = d.severity === "warning" || d.severity === "note" ? d.severity : "error";
  const box = el(
    "div",
    { class: `diag ${severity}` },
    el(
      "p",
      { class: "diag-head" },
      el("span", { class: "sev", text: `${severity}[${String(d.code)}]` }),
      `: ${String(d.message)}`,
    ),
  );
  if (text !== undefined && text !== "") box.append(frame(text, d, field));
  if (d.help)
    box.append(
      el("p", { class: "diag-help" }, el("span", { class: "help-label", text: "help" }), `: ${String(d.help)}`),
    );
  for (const n of d.related ?? [])
    box.append(el("p", { class: "diag-note", text: `note: ${String(n.message)} (column ${n.column})` }));
  return box;
}

/** The widest part of a text a frame shows (as the CLI's code frames): a longer text is cut around the span. */
const FRAME_WIDTH = 160;

/** The field's text with the diagnostic's span (columns in UTF-16 code units, 1-based) marked. */
function frame(text, d, field) {
  const lines = text.split("\n");
  const lineNo = Math.min(Math.max(1, Number(d.line) || 1), lines.length);
  const line = lines[lineNo - 1];
  const clamp = (n) => Math.min(Math.max(0, n), line.length);
  const a = clamp((Number(d.column) || 1) - 1);
  let b = Number(d.endLine) > lineNo ? line.length : clamp((Number(d.endColumn) || 1) - 1);
  if (b < a) b = a;
  // An empty span at the start is about the whole field (an expires that is not a duration, say).
  if (a === b && a === 0) b = line.length;
  else if (a === b && b < line.length) b = a + 1;
  const from = line.length <= FRAME_WIDTH ? 0 : Math.max(0, Math.min(a - 40, line.length - FRAME_WIDTH));
  const to = Math.min(line.length, from + FRAME_WIDTH);
  const mark = line.slice(a, Math.min(b, to));
  return el(
    "div",
    { class: "frame" },
    el("span", { class: "where", text: `${field}, column ${a + 1}${b > a + 1 ? `-${b}` : ""}` }),
    el(
      "pre",
      {},
      from > 0 ? "..." : null,
      line.slice(from, a),
      el("mark", { class: a === line.length ? "at-end" : undefined, text: mark === "" ? " " : mark }),
      line.slice(Math.min(b, to), to),
      to < line.length ? "..." : null,
    ),
  );
}

// ---- the diagram ----

/** Base64 of a text's UTF-8 bytes. */
function base64(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/**
 * The exposure diagram. An <img> cannot send the token, and the page's policy allows images from data: URLs
 * only (not blob:), so the SVG is fetched and shown as a data: URL; an <img> never runs an SVG's scripts.
 */
async function loadDiagram(view) {
  const fig = byId("diagram");
  const exp = `${state.exp.pid}/${state.exp.eid}`;
  const r = await fetchDiagram();
  if (view !== state.view) return;
  if (r.status === 200 && r.type.startsWith("image/svg+xml")) {
    fig.replaceChildren(
      el("img", {
        src: `data:image/svg+xml;base64,${base64(r.text)}`,
        alt: `Exposure diagram of ${exp}: the Internet, the gateway, and the experiment's nodes with their grants`,
      }),
      el("figcaption", { class: "muted", text: `What ${exp} exposes, as of ${utc(new Date().toISOString())}.` }),
    );
  } else if (r.status === 404)
    fig.replaceChildren(el("p", { class: "muted", text: "No diagram: this server does not draw one." }));
  else if (r.status === 401) refused(r);
  else fig.replaceChildren(el("p", { class: "muted", text: `No diagram: ${problemLine(r)}.` }));
}

const fetchDiagram = () => api("GET", `${base()}/diagram.svg`);

// ---- start ----

async function logIn(ev) {
  ev.preventDefault();
  const t = byId("token").value.trim();
  if (!/^[\x21-\x7e]{1,512}$/.test(t)) {
    showLogin([el("p", { text: "A token is 1 to 512 printable ASCII characters, without spaces." })]);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, t);
  byId("token").value = "";
  if (await loadMe()) {
    say(`Logged in as ${state.me.name}.`);
    route();
  }
}

function logOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(state.expiryTimer);
  for (const id of ["inbound", "open6", "outbound", "dedicated", "dns", "experiments-table"])
    byId(id).tBodies[0].replaceChildren();
  byId("diagram").replaceChildren();
  clearForm(true);
  if (location.hash !== "") history.replaceState(null, "", location.pathname);
  showLogin();
  say("Logged out.");
}

async function start() {
  byId("login-form").addEventListener("submit", logIn);
  byId("logout").addEventListener("click", logOut);
  byId("grant-form").addEventListener("submit", submitGrant);
  byId("refresh").addEventListener("click", () => {
    if (state.exp !== null) openExperiment(state.exp.pid, state.exp.eid).then(() => say("Refreshed."));
  });
  byId("to-grant").addEventListener("click", () => {
    byId("grant-title").scrollIntoView({ block: "start" });
    byId("f-rdr").focus();
  });
  window.addEventListener("hashchange", () => {
    if (token() !== null && state.me !== null) route();
  });
  if (token() === null) return showLogin();
  if (await loadMe()) route();
}

start();
