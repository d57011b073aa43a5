/**
 * The experiment's web page (src/service/web, docs/web.md) in a real headless Chromium, against the real fwc
 * serve and a gateway in network namespaces: log in, open the experiment, grant access on the page and check with
 * a real connection through the gateway that it passes, remove it; add and remove grants of every kind; a 409 on
 * a page showing an old listing; bad targets, each shown under its field at its position. Any console error or
 * warning, page error, failed request or Content-Security-Policy violation of the page fails the test (only the
 * API's own refusals that a step provokes are expected). Screenshots go to test-output/.
 */

import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fwcOn, nsText, TESTBED6_YAML } from "../kernel/deploy-helpers.js";
import { canRunKernelTests, Lab } from "../kernel/lab.js";
import { serveArgs, startServer, TOKENS, USERS_YAML } from "./serve-helpers.js";

const CHROMIUM = "/usr/bin/chromium";
const OUT = join(import.meta.dirname, "..", "..", "test-output");
const TOKEN = TOKENS.alice;
const GW = "gw.testbed.example.net";
/** How long a step of the page may take (an answer of the API and a render). */
const STEP = 15_000;

interface Diagnostic {
  code: string;
  file: string;
  line: number;
  column: number;
  endColumn: number;
  message: string;
}

describe.skipIf(!canRunKernelTests() || !existsSync(CHROMIUM))("the experiment's web page in headless Chromium", () => {
  const lab = new Lab("web");
  const dir = mkdtempSync(join(tmpdir(), "fwc-web-"));
  const state = join(dir, "state");
  const fwc = fwcOn(lab, dir, state);
  let server: Awaited<ReturnType<typeof startServer>>;
  let browser: Browser;
  let page: Page;
  /** What the page must never do: console errors and warnings, page errors, CSP violations, failed loads. */
  const problems: string[] = [];
  /** The API's refusals that the page's requests met (Chromium logs each as a console error): "401 /api/v1/me". */
  const refusals: string[] = [];
  const E1 = "/api/v1/experiments/proj1/e1";

  /** A screenshot of the whole page (from its top: the status line is sticky), and one of a part if given. */
  const shot = async (name: string, part?: string) => {
    await page.evaluate("window.scrollTo(0, 0)");
    await page.screenshot({ path: join(OUT, `web-${name}.png`), fullPage: true });
    if (part !== undefined) await page.locator(part).screenshot({ path: join(OUT, `web-${name}-detail.png`) });
  };
  const connect = (port: number) => lab.send("inet", "tcp", "198.51.100.1", port).split(" ")[0];
  /** The API's own answer to a grant, for comparing the page's rendering with it. */
  const apiGrant = async (body: object): Promise<{ status: number; diagnostics: Diagnostic[] }> => {
    const r = await fetch(`${server.url}${E1}/grants`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: r.status, diagnostics: ((await r.json()) as { diagnostics: Diagnostic[] }).diagnostics };
  };
  const text = async (selector: string) => (await page.locator(selector).textContent({ timeout: STEP })) ?? "";

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    writeFileSync(join(dir, "testbed.yaml"), TESTBED6_YAML);
    writeFileSync(join(dir, "users.yaml"), USERS_YAML);
    writeFileSync(
      join(dir, "e1.ns"),
      nsText(
        ["web", "db"],
        'tb-allow-external $web shared rdr "web/22 web/80" nat "192.154.6.22/13/udp" open6 "web,443"',
      ),
    );
    writeFileSync(
      join(dir, "e1.json"),
      JSON.stringify({ web: { ipv4: "10.1.1.3", ipv6: "2620:0:e01::3" }, db: { ipv4: "10.1.1.4" } }),
    );
    lab.standard({ web: "10.1.1.3", db: "10.1.1.4" });
    await lab.listen("web", "tcp", "10.1.1.3", 8080, "web:8080");
    const r = fwc(["swapin", join(dir, "e1.ns"), "--exp", "proj1/e1", "--nodes", join(dir, "e1.json")]);
    expect([r.code, r.err]).toEqual([0, ""]);
    server = await startServer(serveArgs(dir, state, lab));

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      timeout: 30_000,
    });
    // launch() gives every context a fresh temporary profile.
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      permissions: ["clipboard-read", "clipboard-write"],
    });
    // Violations of the page's Content-Security-Policy, reported to the console (Chromium reports them there
    // too; this makes sure, whatever the version).
    await context.addInitScript({
      content: `document.addEventListener("securitypolicyviolation", (e) =>
        console.error("CSP violation: " + e.violatedDirective + " " + e.blockedURI));`,
    });
    page = await context.newPage();
    page.setDefaultTimeout(STEP);
    page.on("console", (m) => {
      if (m.type() !== "error" && m.type() !== "warning") return;
      const where = m.location().url;
      const refusal = /^Failed to load resource: the server responded with a status of (\d+)/.exec(m.text());
      const path = where.startsWith(server.url) ? new URL(where).pathname : where;
      if (refusal !== null && path.startsWith("/api/v1/")) refusals.push(`${refusal[1]} ${path}`);
      else problems.push(`console ${m.type()}: ${m.text()} (${where})`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("requestfailed", (q) => problems.push(`request failed: ${q.url()} ${q.failure()?.errorText}`));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    server?.child.kill("SIGKILL");
    lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("is served with its Content-Security-Policy; a wrong token is refused clearly, the right one lists the experiment", async () => {
    const answer = await page.goto(`${server.url}/`);
    expect(answer?.status()).toBe(200);
    expect(answer?.headers()["content-security-policy"]).toContain("default-src 'self'");
    await page.locator("#login").waitFor();
    // A wrong token, entered with the keyboard.
    await page.locator("#token").fill("not-the-token");
    await page.locator("#token").press("Enter");
    await page.locator("#login-error").waitFor();
    expect(await text("#login-error")).toContain("unknown token");
    expect(await page.evaluate("sessionStorage.length")).toBe(0);
    await shot("1-login-refused");
    await page.locator("#token").fill(TOKEN);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.locator("#experiments-table a", { hasText: "proj1/e1" }).waitFor();
    expect(await text("#who-name")).toBe("alice");
    expect(await page.evaluate('sessionStorage.getItem("fwc.token")')).toBe(TOKEN);
    expect(await page.evaluate("localStorage.length")).toBe(0);
    await shot("2-experiments");
    expect(refusals.splice(0)).toEqual(["401 /api/v1/me"]);
    expect(problems.splice(0)).toEqual([]);
  });

  it("shows the endpoints with access hints, the NS file's grants without a remove button, and the diagram", async () => {
    await page.locator("#experiments-table a", { hasText: "proj1/e1" }).click();
    const ssh = page.locator("#inbound tbody tr", { hasText: "web:22" });
    await ssh.waitFor();
    expect(page.url()).toMatch(/#\/proj1\/e1$/);
    const sshPort = Number((await ssh.locator("td").nth(2).textContent())!.split(":")[1]);
    expect(sshPort).toBeGreaterThanOrEqual(20000);
    expect(await ssh.locator(".copy-text").textContent()).toBe(`ssh -p ${sshPort} alice@${GW}`);
    const web = page.locator("#inbound tbody tr", { hasText: "web:80" });
    const webPort = Number((await web.locator("td").nth(2).textContent())!.split(":")[1]);
    expect(await web.locator(".copy-text").textContent()).toBe(`http://${GW}:${webPort}/`);
    expect(await page.locator("#inbound button.danger").count()).toBe(0);
    expect(await text("#outbound tbody")).toContain("192.154.6.22/32");
    expect(await text("#open6 tbody")).toContain("2620:0:e01::3");
    expect(await text("#dns tbody")).toContain("web.e1.proj1.testbed.example.net.");
    expect(await text("#gw-name")).toBe(GW);
    // The copy button puts the hint on the clipboard.
    await ssh.getByRole("button", { name: /^Copy / }).click();
    await page.locator("#status", { hasText: "Copied" }).waitFor();
    expect(await page.evaluate("navigator.clipboard.readText()")).toBe(`ssh -p ${sshPort} alice@${GW}`);
    // The diagram: an image from a data: URL (an <img> never runs an SVG's scripts).
    await page.locator("#diagram img").waitFor({ timeout: 15_000 });
    expect(await page.locator("#diagram img").getAttribute("src")).toMatch(/^data:image\/svg\+xml;base64,/);
    expect(await page.evaluate("document.querySelector('#diagram img').naturalWidth")).toBeGreaterThan(0);
    await shot("3-experiment");
    expect(problems.splice(0)).toEqual([]);
  });

  it("a grant added on the page passes a real connection through the gateway; removing it on the page stops it", async () => {
    await page.locator("#f-rdr").fill("web/8080");
    await page.locator("#f-expires").fill("2h");
    await page.locator("#grant-submit").click();
    const row = page.locator("#inbound tbody tr", { hasText: "web:8080" });
    await row.waitFor();
    await page.locator("#status", { hasText: "Granted web:8080/tcp at 198.51.100.1:" }).waitFor();
    const port = Number((await row.locator("td").nth(2).textContent())!.split(":")[1]);
    expect(port).toBeGreaterThanOrEqual(20000);
    expect(await row.locator(".copy-text").textContent()).toBe(`http://${GW}:${port}/`);
    expect(await row.locator(".tag").textContent()).toBe("added");
    expect(await row.locator("time").textContent()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    expect(await row.getAttribute("class")).toBe("fresh");
    expect(await page.locator("#f-rdr").inputValue()).toBe("");
    expect(connect(port)).toBe("web:8080");
    await shot("4-granted", "#inbound");

    await row.getByRole("button", { name: "Remove web:8080/tcp" }).click();
    await row.waitFor({ state: "detached" });
    await page.locator("#status", { hasText: "Removed web:8080/tcp" }).waitFor();
    expect(connect(port)).not.toBe("web:8080");
    expect(await page.locator("#inbound tbody tr").count()).toBe(2);
    await shot("5-removed");
    expect(refusals.splice(0)).toEqual([]);
    expect(problems.splice(0)).toEqual([]);
  });

  it("grants of every kind, added at once, are listed and each removed by its own button", async () => {
    await page.locator("#f-rdr").fill("db,5000..5010,udp,from=203.0.113.0/24 web,8443,tcp+udp web,25000,identity 2222");
    await page.locator("#f-node").fill("db");
    await page.locator("#f-nat").fill("128.112.0.0/16,443 128.112.0.0/16,all");
    await page.locator("#f-open6").fill("web,9000");
    await page.locator("#f-expires").fill("1h");
    await page.locator("#grant-submit").click();
    await page.locator("#status", { hasText: "Granted" }).waitFor();
    const added = page.locator("tr:has(.tag.dynamic)");
    // Inbound: the udp range, 8443 tcp and udp, the identity port, db's 2222; open6: 9000 tcp and udp; nat: two.
    expect(await added.count()).toBe(9);
    const range = page.locator("#inbound tbody tr", { hasText: "db:5000..5010" });
    const external = (await range.locator("td").nth(2).textContent())!;
    expect(external).toMatch(/^198\.51\.100\.1:\d+\.\.\d+$/);
    expect(await range.locator(".copy-text").textContent()).toBe(`nc -u ${GW} ${/:(\d+)/.exec(external)![1]}`);
    expect(await range.locator("td").nth(3).textContent()).toBe("203.0.113.0/24");
    const identity = page.locator("#inbound tbody tr", { hasText: "web:25000" });
    expect(await identity.locator("td").nth(2).textContent()).toBe("198.51.100.1:25000");
    expect(await page.locator("#inbound tbody tr", { hasText: "db:2222" }).count()).toBe(1);
    await shot("8-every-kind");
    // Each button names its grant as a target the server takes at once (no guess refused: no 400).
    for (let left = await added.count(); left > 0; left = await added.count()) {
      await added
        .first()
        .getByRole("button", { name: /^Remove / })
        .click();
      // (No waitForFunction: it evaluates a string, which the page's CSP refuses as it should.)
      await added.nth(left - 1).waitFor({ state: "detached" });
    }
    await page.locator("#status", { hasText: "Removed" }).waitFor();
    const l = (await (await fetch(`${server.url}${E1}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
      inbound: { origin: string }[];
      outbound: { origin: string }[];
      open6: { origin: string }[];
    };
    expect([...l.inbound, ...l.outbound, ...l.open6].filter((e) => e.origin === "dynamic")).toEqual([]);
    expect(refusals.splice(0)).toEqual([]);
    expect(problems.splice(0)).toEqual([]);
  });

  it("on a page showing an old listing, removing a grant the NS file now makes shows the 409, then the listing as it is", async () => {
    await page.locator("#f-rdr").fill("web/8080");
    await page.locator("#grant-submit").click();
    const row = page.locator("#inbound tbody tr", { hasText: "web:8080" });
    await row.locator(".tag.dynamic").waitFor();
    // Meanwhile the experiment is modified: its NS file now grants web/8080 itself (CXA: replacing the added ones).
    writeFileSync(
      join(dir, "e1-8080.ns"),
      nsText(["web", "db"], 'tb-allow-external $web shared rdr "web/22 web/80 web/8080"'),
    );
    const m = fwc(["modify", join(dir, "e1-8080.ns"), "--exp", "proj1/e1"]);
    // The CLI says which grant of fwc open the file replaced (note FWC834); the page still shows the old one.
    expect(m.code).toBe(0);
    expect(m.err).toContain("note[FWC834]: replaced 1 grant made with fwc open");
    await row.getByRole("button", { name: "Remove web:8080/tcp" }).click();
    const shown = page.locator("#exp-problem .diag");
    await shown.waitFor();
    expect(await shown.locator(".sev").textContent()).toBe("error[FWC807]");
    expect(await text("#exp-problem .diag-help")).toContain("fwc modify");
    await page.locator("#status", { hasText: "Could not remove web:8080/tcp" }).waitFor();
    // The page then shows the listing as it is: web:8080 is the NS file's.
    await row.locator(".tag.nsfile").waitFor();
    await shot("9-conflict");
    expect(refusals.splice(0)).toEqual([`409 ${E1}/grants`]);
    const back = fwc(["modify", join(dir, "e1.ns"), "--exp", "proj1/e1"]);
    expect([back.code, back.err]).toEqual([0, ""]);
    await page.getByRole("button", { name: "Refresh" }).click();
    await row.waitFor({ state: "detached" });
    expect(await page.locator("#exp-problem").isHidden()).toBe(true);
    expect(problems.splice(0)).toEqual([]);
  });

  it("a bad target's error is shown under its field, at its position, with its code and help, as text", async () => {
    const cases = [
      { field: "rdr", value: "web/8080 web/99999" },
      { field: "rdr", value: "web,8080,from=10.0.0.0/33" },
      { field: "rdr", value: "<img src=x onerror=alert(1)>" },
    ];
    for (const [i, c] of cases.entries()) {
      const expected = await apiGrant({ [c.field]: c.value });
      expect(expected.status).toBe(400);
      const d = expected.diagnostics[0]!;
      expect(d.file).toBe(c.field);
      await page.locator(`#f-${c.field}`).fill(c.value);
      await page.locator(`#f-${c.field}`).press("Enter");
      const shown = page.locator(`#d-${c.field} .diag`).first();
      await shown.waitFor();
      expect(await shown.locator(".sev").textContent()).toBe(`error[${d.code}]`);
      expect(await shown.locator(".diag-head").textContent()).toBe(`error[${d.code}]: ${d.message}`);
      expect(await shown.locator("mark").textContent()).toBe(c.value.slice(d.column - 1, d.endColumn - 1));
      expect(await shown.locator("pre").textContent()).toBe(c.value);
      expect(await page.locator(`#f-${c.field}`).getAttribute("aria-invalid")).toBe("true");
      await shot(`6-bad-target-${i + 1}`, "#grant-form");
    }
    // The first case: the port 99999 is marked, after "web/8080 web/".
    expect(cases[0]!.value.slice(13, 18)).toBe("99999");
    // Nothing of the hostile text became markup.
    expect(await page.locator("#grant-form img").count()).toBe(0);

    // A lifetime that is not one: its error is under its own field, and the whole text is marked.
    await page.locator("#f-rdr").fill("web/8080");
    await page.locator("#f-expires").fill("tomorrow");
    await page.locator("#f-expires").press("Enter");
    const e = page.locator("#d-expires .diag").first();
    await e.waitFor();
    expect(await e.locator(".sev").textContent()).toBe("error[FWC821]");
    expect(await e.locator("mark").textContent()).toBe("tomorrow");
    expect(await page.locator("#d-rdr .diag").count()).toBe(0);
    await shot("7-bad-lifetime", "#grant-form");
    expect(refusals.splice(0).filter((r) => r !== `400 ${E1}/grants` && !r.endsWith("/diagram.svg"))).toEqual([]);
    // The store is as before: no half-made grant.
    expect(fwc(["status", "--exp", "proj1/e1", "--json"]).out).not.toContain('"port": 8080');
    expect(problems.splice(0)).toEqual([]);
  });

  it("an experiment of another project is refused with the server's message", async () => {
    await page.goto(`${server.url}/#/proj2/e9`);
    await page.locator("#exp-problem .diag").waitFor();
    expect(await text("#exp-problem .diag-head")).toBe("error[FWC822]: alice is not a member of project proj2");
    expect(await page.locator("#exp-body").isHidden()).toBe(true);
    await shot("10-not-a-member");
    expect(refusals.splice(0)).toEqual(["403 /api/v1/experiments/proj2/e9"]);
    await page.getByRole("link", { name: "All experiments" }).click();
    await page.locator("#experiments-table a", { hasText: "proj1/e1" }).waitFor();
    expect(problems.splice(0)).toEqual([]);
  });

  it("logging out forgets the token", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    await page.locator("#login").waitFor();
    expect(await page.evaluate("sessionStorage.length")).toBe(0);
    expect(await page.locator("#inbound tbody tr").count()).toBe(0);
    expect(await text("#status")).toContain("Logged out");
    await page.reload();
    await page.locator("#login").waitFor();
    expect(problems.splice(0)).toEqual([]);
  });
});
