// End-to-end test of the `xcr serve` dashboard in headless Chromium.
//
//   node dashboard.mjs --xcr PATH/TO/xcr --out DIR
//       starts `xcr serve` on the built-in demo book (a token file, a fresh
//       SQLite --db, a free loopback port), drives the page, and saves
//       DIR/dashboard.png (plus DIR/serve.log, the server's output);
//   node dashboard.mjs --url http://127.0.0.1:PORT --token TOKEN --out DIR
//       the same checks against a server that is already running (they
//       add an account and post a crash tick: use a test server).
//
// Checks: the page fits 1280x800; the summary tiles show GET /v1/summary's
// numbers; the nearest-liquidation table has GET /v1/accounts?sort=health's
// rows; the LaR chart is drawn; an unknown typed id is reported and a typed id
// with "/" and ":" opens its view; after a crash tick (POST /v1/prices with
// the bearer token) an alert reaches the live list and the tiles follow the
// new summary; the weakest account's view shows GET /v1/accounts/{id}'s
// explain text and numbers.  Any failure, page error, console error or
// unexpected HTTP error exits 1.  Chromium reaches nothing but loopback.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const CHROMIUM = process.env.XCR_CHROMIUM || "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
  "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync",
];
const VIEWPORT = { width: 1280, height: 800 };
const WAIT_MS = 20000;      // for anything the page does after an event
const TOTAL_MS = 240000;    // the whole test

// ---- small helpers ---------------------------------------------------------

function fail(msg) { throw new Error(msg); }

// A failure that polling must not retry (the server died).
class Fatal extends Error {}

function check(cond, msg) {
  if (!cond) fail(msg);
  console.log(`ok   ${msg}`);
}

const fmtUsd = new Intl.NumberFormat("en-US",
  { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const fmtInt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

async function freePort() {
  const srv = net.createServer();
  await new Promise((ok, ko) => srv.listen(0, "127.0.0.1", ok).on("error", ko));
  const { port } = srv.address();
  await new Promise((ok) => srv.close(ok));
  return port;
}

async function api(base, route, init = {}) {
  const res = await fetch(base + route, init);
  const text = await res.text();
  if (!res.ok) fail(`${init.method ?? "GET"} ${route}: HTTP ${res.status} ${text}`);
  return JSON.parse(text);
}

// Poll FN until it returns a truthy value; fail with WHAT after MS.
async function until(what, fn, ms = WAIT_MS) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try { last = await fn(); } catch (e) {
      if (e instanceof Fatal || Date.now() > end) throw e;
      last = undefined;
    }
    if (last) return last;
    if (Date.now() > end) fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

// ---- the server ------------------------------------------------------------

// Start `xcr serve` on the demo book; resolve once /healthz answers.
async function startServer(xcr, work, out) {
  const token = randomBytes(24).toString("hex");
  const tokenFile = path.join(work, "token");
  fs.writeFileSync(tokenFile, token + "\n", { mode: 0o600 });
  const port = await freePort();
  const args = ["serve", "--listen", `127.0.0.1:${port}`,
                "--db", path.join(work, "monitor.db"), "--token-file", tokenFile];
  const log = fs.openSync(path.join(out, "serve.log"), "w");
  const child = spawn(xcr, args, { stdio: ["ignore", log, log] });
  let exited = null;
  child.on("exit", (code, sig) => { exited = sig ?? code; });
  const base = `http://127.0.0.1:${port}`;
  await until(`xcr ${args.join(" ")} to answer /healthz (see serve.log)`, async () => {
    if (exited !== null)
      throw new Fatal(`xcr serve exited (${exited}) before answering; see ${out}/serve.log`);
    const r = await fetch(base + "/healthz").catch(() => null);
    return r && r.ok;
  }, 60000);
  return { base, token, child };
}

async function stopServer(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((ok) => child.once("exit", ok));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 5000);
  await gone;
  clearTimeout(t);
}

// ---- the browser -----------------------------------------------------------

async function launch(work) {
  const context = await chromium.launchPersistentContext(path.join(work, "profile"), {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: VIEWPORT,
  });
  // Loopback only: anything else would be a page bug (and is unreachable anyway).
  await context.route("**/*", (route) => {
    const host = new URL(route.request().url()).hostname;
    return host === "127.0.0.1" || host === "localhost" ? route.continue() : route.abort();
  });
  return context;
}

// The one request the test makes fail on purpose.
const EXPECTED_404 = "/v1/accounts/no-such-account";

// Collect page errors, console errors and failed requests: the page must run
// clean.  (Chromium logs every HTTP error to the console without its URL, so
// those are judged from the responses instead.)
function watchPage(page, errors) {
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource"))
      errors.push(`console: ${m.text()}`);
  });
  page.on("response", (r) => {
    const u = new URL(r.url());
    if (r.status() >= 400 && !(r.status() === 404 && u.pathname === EXPECTED_404))
      errors.push(`HTTP ${r.status()} for ${u.pathname}${u.search}`);
  });
  page.on("requestfailed", (r) => {
    if (!r.url().endsWith("/v1/stream")) errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
}

// ---- the checks ------------------------------------------------------------

const tileValue = (page, id) => page.$eval(`#tile-${id}`, (t) => ({
  value: t.dataset.value, text: t.querySelector(".value").textContent }));

async function checkTiles(page, s, when) {
  for (const k of ["accounts", "healthy", "margin_call", "liquidatable", "bankrupt"]) {
    const t = await tileValue(page, k);
    check(t.value === String(s[k]) && t.text === fmtInt.format(s[k]),
          `${when}: tile ${k} shows ${t.text} (summary ${s[k]})`);
  }
  for (const k of ["equity", "collateral", "maintenance_margin"]) {
    const t = await tileValue(page, k);
    check(t.value === String(s[k]) && t.text === fmtUsd.format(s[k]),
          `${when}: tile ${k} shows ${t.text} (summary ${s[k]})`);
  }
}

async function checkNearest(page, base) {
  const want = await api(base, "/v1/accounts?sort=health&limit=25");
  const ids = await until("the nearest-liquidation table to fill", async () => {
    const got = await page.$$eval("#nearest tbody tr", (rows) => rows.map((r) => r.dataset.id));
    return got.length ? got : null;
  });
  check(ids.length === want.accounts.length && ids.length > 0,
        `nearest table has ${ids.length} rows (API ${want.accounts.length})`);
  check(ids[0] === want.accounts[0].id, `nearest table starts with ${ids[0]}, the lowest health`);
}

// The chart: a canvas of a sensible size with the series actually drawn.
async function checkChart(page) {
  const c = await until("the LaR chart", () => page.$eval("#lar canvas", (cv) => {
    const d = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data;
    let inked = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) inked++;
    return inked > 0 ? { w: cv.width, h: cv.height, inked } : null;
  }).catch(() => null));
  check(c.w >= 200 && c.h >= 100, `LaR canvas is ${c.w}x${c.h}`);
  check(c.inked > 1000, `LaR canvas has ${c.inked} drawn pixels`);
  const labels = await page.$$eval("#lar .u-legend .u-label", (ls) => ls.map((l) => l.textContent));
  check(labels.some((l) => /accounts/.test(l)) && labels.some((l) => /collateral/.test(l)),
        `LaR legend shows ${labels.join(", ")}`);
}

// A crash: every risky symbol (price far from 1) down 30% in one batch.
function crashTicks(prices) {
  return Object.entries(prices).filter(([, p]) => Math.abs(p - 1) > 0.05)
    .map(([symbol, p]) => ({ symbol, price: p * 0.7 }));
}

async function crashAndWatch(page, base, token, before) {
  const ticks = crashTicks(before.prices);
  check(ticks.length > 0, `crash tick moves ${ticks.map((t) => t.symbol).join(", ")} by -30%`);
  const r = await api(base, "/v1/prices", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ ticks }),
  });
  check(r.alerts > 0, `the crash raised ${r.alerts} alerts (recomputed ${r.recomputed})`);
  const after = await api(base, "/v1/summary");
  check(after.summary.liquidatable + after.summary.bankrupt >
        before.summary.liquidatable + before.summary.bankrupt,
        `more accounts liquidatable or bankrupt after the crash`);
  const first = await until("an alert in the live list", () =>
    page.$eval("#alerts li", (li) => ({ seq: li.dataset.seq, text: li.textContent })).catch(() => null));
  const known = await api(base, `/v1/alerts?since=${first.seq}&limit=1`);
  check(known.alerts.length === 1 && String(known.alerts[0].seq) === first.seq &&
        first.text.includes(known.alerts[0].account),
        `live alert #${first.seq} (${first.text}) matches GET /v1/alerts`);
  await until("the tiles to show the crash", async () =>
    (await tileValue(page, "liquidatable")).value === String(after.summary.liquidatable) &&
    (await tileValue(page, "equity")).value === String(after.summary.equity));
  await checkTiles(page, after.summary, "after the crash");
  const ticksShown = await page.$eval("#tile-ticks", (t) => t.dataset.ticks);
  check(ticksShown === String(after.ticks), `tick count shows ${ticksShown}`);
  return after;
}

async function checkAccount(page, base) {
  await until("the table to show the crash", async () => {
    const want = await api(base, "/v1/accounts?sort=health&limit=1");
    return (await page.$eval("#nearest tbody tr", (r) => r.dataset.id)) === want.accounts[0].id;
  });
  const id = await page.$eval("#nearest tbody tr", (r) => r.dataset.id);
  await page.click(`#nearest tbody tr[data-id="${id}"]`);
  const want = await api(base, `/v1/accounts/${encodeURIComponent(id)}`);
  await until(`account ${id}'s view`, () => page.$eval("#account-explain", (p, want) =>
    !p.closest("[hidden]") && p.textContent === want, want.explain));
  check(want.explain.startsWith(`Account ${id}`), `explain text of ${id} shown in full`);
  const title = await page.$eval("#account-title", (t) => t.textContent);
  check(title.includes(id) && title.includes(want.account.status.replace("_", " ")),
        `account title: ${title}`);
  const kv = await page.$$eval("#account-kv dd", (dds) => dds.map((d) => d.textContent));
  check(kv[0] === fmtUsd.format(want.account.equity), `account equity shows ${kv[0]}`);
  const npos = await page.$$eval("#account-positions tbody tr", (rs) => rs.length);
  const wantPos = Math.max(1, (want.account.positions ?? []).length);
  check(npos === wantPos, `account positions table has ${npos} rows`);
  const selected = await page.$eval("#nearest tr.selected", (r) => r.dataset.id);
  check(selected === id, `row ${id} is highlighted`);
}

async function checkUnknownAccount(page) {
  await page.fill("#account-id", EXPECTED_404.split("/").pop());
  await page.press("#account-id", "Enter");
  await until("the unknown-account message", () =>
    page.$eval("#account-msg", (m) => m.textContent.includes("no-such-account")));
  check(true, "an unknown id says so");
}

// An id typed into the box reaches the API intact: ids may hold "/" and ":"
// (book format), which the page must escape in the URL.
async function checkTypedAccount(page, base, token) {
  const id = "e2e/desk:1";
  await api(base, "/v1/accounts", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ id, mode: "cross", balances: { USDT: 5000 }, positions: [] }),
  });
  await page.fill("#account-id", id);
  await page.press("#account-id", "Enter");
  const want = await api(base, `/v1/accounts/${encodeURIComponent(id)}`);
  await until(`the view of the typed account ${id}`, () => page.$eval("#account-explain",
    (p, w) => !p.closest("[hidden]") && p.textContent === w, want.explain));
  const hash = await page.evaluate(() => decodeURIComponent(location.hash));
  check(hash === `#account=${id}`, `typed id ${id} opens its view (address ${hash})`);
}

// ---- main --------------------------------------------------------------------

async function run(opts) {
  const out = path.resolve(opts.out);
  fs.mkdirSync(out, { recursive: true });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "xcr-e2e-"));
  let server = null, context = null;
  const errors = [];
  try {
    server = opts.url ? { base: opts.url.replace(/\/$/, ""), token: opts.token }
                      : await startServer(opts.xcr, work, out);
    const before = await api(server.base, "/v1/summary");
    context = await launch(work);
    const page = context.pages()[0] ?? await context.newPage();
    watchPage(page, errors);
    await page.goto(server.base + "/");
    await page.waitForSelector("body[data-ready='1']", { timeout: WAIT_MS });
    await until("the event stream", () => page.$eval("#conn", (c) => c.dataset.state === "live"));
    check(true, "page loaded, event stream live");
    const fit = await page.evaluate(() => ({ w: document.documentElement.scrollWidth,
                                             h: document.documentElement.scrollHeight }));
    check(fit.w <= VIEWPORT.width && fit.h <= VIEWPORT.height,
          `page fits ${VIEWPORT.width}x${VIEWPORT.height} without scrolling (${fit.w}x${fit.h})`);
    await checkTiles(page, before.summary, "initially");
    await checkNearest(page, server.base);
    await checkChart(page);
    await checkUnknownAccount(page);
    await checkTypedAccount(page, server.base, server.token);
    await crashAndWatch(page, server.base, server.token, before);
    await checkAccount(page, server.base);
    await checkChart(page);
    await sleep(1500); // let the flash animations settle for the screenshot
    await page.screenshot({ path: path.join(out, "dashboard.png") });
    console.log(`screenshot: ${path.join(out, "dashboard.png")}`);
    check(errors.length === 0, `no page errors${errors.length ? ": " + errors.join("; ") : ""}`);
  } finally {
    await context?.close().catch(() => {});
    await stopServer(server?.child);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function usage() {
  console.error("usage: node dashboard.mjs (--xcr PATH | --url URL --token TOKEN) --out DIR");
  process.exit(2);
}

const { values } = parseArgs({ options: {
  xcr: { type: "string" }, url: { type: "string" }, token: { type: "string" },
  out: { type: "string", default: "." } } });
if (!values.xcr === !values.url || (values.url && !values.token)) usage();

const guard = setTimeout(() => { console.error("FAIL timed out"); process.exit(1); }, TOTAL_MS);
run(values).then(() => { clearTimeout(guard); console.log("PASS"); },
                 (e) => { clearTimeout(guard); console.error(`FAIL ${e.message}`); process.exitCode = 1; });
