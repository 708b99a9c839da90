/* xcr serve dashboard: summary tiles, accounts nearest liquidation, the
 * liquidations-at-risk curve, live alerts and a per-account view, all read
 * from the HTTP API (docs/serve.md) and kept live by the /v1/stream events.
 *
 * Every string from the server reaches the page through textContent (the
 * el() helper below) and every status through a fixed list of class names,
 * so nothing the server sends is ever parsed as HTML. */
"use strict";

/* ---- settings ----------------------------------------------------------- */

const NEAREST_LIMIT = 25;
const ALERTS_KEPT = 200;
const TABLE_REFRESH_MS = 1000;   /* table and open account, at most this often */
const LAR_REFRESH_MS = 3000;     /* the curve re-evaluates the book a dozen times */
const STATUSES = ["healthy", "margin_call", "liquidatable", "bankrupt"];
const STATUS_LABELS = {
  healthy: "healthy", margin_call: "margin call",
  liquidatable: "liquidatable", bankrupt: "bankrupt",
};

/* ---- formatting --------------------------------------------------------- */

const fmtUsd = new Intl.NumberFormat("en-US",
  { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const fmtInt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const fmtRatio = new Intl.NumberFormat("en-US",
  { minimumFractionDigits: 4, maximumFractionDigits: 4 });
const fmtQty = new Intl.NumberFormat("en-US", { maximumFractionDigits: 8 });
const fmtCompact = new Intl.NumberFormat("en-US",
  { notation: "compact", maximumFractionDigits: 1 });

function isNum(v) { return typeof v === "number" && Number.isFinite(v); }
function usd(v) { return isNum(v) ? fmtUsd.format(v) : "–"; }
function int(v) { return isNum(v) ? fmtInt.format(v) : "–"; }
function ratio(v) { return isNum(v) ? fmtRatio.format(v) : "–"; }
function qty(v) { return isNum(v) ? fmtQty.format(v) : "–"; }
function compactUsd(v) { return isNum(v) ? fmtCompact.format(v) : "–"; }

/* Prices keep about six significant digits: 66,500.00 but 0.129500. */
const fmtPriceBig = fmtUsd;
const fmtPriceMid = new Intl.NumberFormat("en-US",
  { minimumFractionDigits: 2, maximumFractionDigits: 4 });
const fmtPriceSmall = new Intl.NumberFormat("en-US",
  { minimumSignificantDigits: 4, maximumSignificantDigits: 6 });
function price(v) {
  if (!isNum(v)) return "–";
  const a = Math.abs(v);
  return (a >= 1000 ? fmtPriceBig : a >= 1 ? fmtPriceMid : fmtPriceSmall).format(v);
}

/* A fraction as a signed percentage: -0.125 -> "-12.5%". */
function pct(v, digits = 1) {
  if (!isNum(v)) return "–";
  const s = (v * 100).toFixed(digits);
  return (v > 0 ? "+" : "") + s + "%";
}

/* "2024-06-17T08:00:00Z" -> "08:00:00"; anything unparsable as itself. */
function clock(iso) {
  if (typeof iso !== "string") return "–";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().slice(11, 19);
}

function statusClass(status) {
  return STATUSES.includes(status) ? "st-" + status : "st-unknown";
}

function statusLabel(status) {
  return STATUS_LABELS[status] ?? String(status ?? "–");
}

/* ---- DOM helpers -------------------------------------------------------- */

const $ = (id) => document.getElementById(id);

/* Build an element; string children become text nodes (never HTML). */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/* Attributes that make a row or list item open ACCOUNT by click or Enter. */
function opens(account) {
  return {
    tabindex: 0,
    onclick: () => openAccount(account),
    onkeydown: (ev) => { if (ev.key === "Enter") openAccount(account); },
  };
}

function numCell(text, extraClass) {
  return el("td", { class: extraClass ? "n " + extraClass : "n" }, text);
}

function badge(status) {
  return el("span", { class: "badge " + statusClass(status) },
            statusLabel(status));
}

/* ---- HTTP --------------------------------------------------------------- */

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function getJson(path) {
  const res = await fetch(path, { cache: "no-store", headers: { Accept: "application/json" } });
  let body = null;
  try { body = await res.json(); } catch { /* no JSON body */ }
  if (!res.ok) {
    const msg = body && typeof body.error === "string" ? body.error : res.statusText;
    throw new HttpError(res.status, `${path}: HTTP ${res.status} ${msg}`);
  }
  return body;
}

/* Run FN at most once per MS; a call during the wait runs once afterwards. */
function throttle(fn, ms) {
  let last = 0, timer = null;
  return function run() {
    const wait = last + ms - Date.now();
    if (timer) return;
    if (wait > 0) {
      timer = setTimeout(() => { timer = null; run(); }, wait);
      return;
    }
    last = Date.now();
    Promise.resolve(fn()).catch(reportError);
  };
}

let errorTimer = null;

/* Show a failed request in the top bar for a while (and in the console). */
function reportError(err) {
  console.error(err);
  const box = $("error");
  box.textContent = err instanceof Error ? err.message : String(err);
  box.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => { box.hidden = true; }, 15000);
}

/* ---- summary tiles ------------------------------------------------------ */

function setTile(id, value, text) {
  const tile = $("tile-" + id);
  if (!tile) return;
  const v = tile.querySelector(".value");
  const old = tile.dataset.value;
  tile.dataset.value = String(value ?? "");
  v.textContent = text;
  if (old !== undefined && old !== tile.dataset.value) flash(tile);
}

function flash(node) {
  node.classList.remove("flash");
  void node.offsetWidth; /* restart the animation */
  node.classList.add("flash");
}

function renderSummary(s) {
  setTile("accounts", s.accounts, int(s.accounts));
  for (const st of STATUSES) setTile(st, s[st], int(s[st]));
  setTile("equity", s.equity, usd(s.equity));
  setTile("collateral", s.collateral, usd(s.collateral));
  setTile("maintenance_margin", s.maintenance_margin, usd(s.maintenance_margin));
  const cov = s.maintenance_margin > 0 ? s.collateral / s.maintenance_margin : null;
  setTile("coverage", cov, isNum(cov) ? cov.toFixed(2) + "×" : "–");
}

function renderTickMeta(m) {
  if ("last_tick" in m) setTile("last_tick", m.last_tick, m.last_tick ? clock(m.last_tick) : "none yet");
  setTile("recompute_ms", m.recompute_ms, isNum(m.recompute_ms) ? `${m.recompute_ms.toFixed(1)} ms` : "–");
  const sub = $("tile-ticks");
  sub.dataset.ticks = String(m.ticks ?? "");
  sub.dataset.seq = String(m.seq ?? "");
  sub.textContent = `${int(m.ticks)} tick${m.ticks === 1 ? "" : "s"} · seq ${int(m.seq)}`;
}

const lastPrices = new Map();   /* symbol -> mark price */
const priceMoves = new Map();   /* symbol -> " up" | " down": the last change */

function renderPrices(prices) {
  const box = $("prices");
  const items = Object.entries(prices ?? {}).filter(([, p]) => isNum(p));
  box.replaceChildren(...items.map(([sym, p]) => priceItem(sym, p)));
}

function priceItem(sym, p) {
  const prev = lastPrices.get(sym);
  lastPrices.set(sym, p);
  if (prev !== undefined && prev !== p) priceMoves.set(sym, p > prev ? " up" : " down");
  return el("span", { class: "px" + (priceMoves.get(sym) ?? ""), title: sym },
            el("span", { class: "sym" }, sym), " ", price(p));
}

/* Highest update seq shown: a slow reply must not undo a newer tick. */
let shownSeq = -1;

async function loadSummary() {
  const s = await getJson("/v1/summary");
  if (isNum(s.seq) && s.seq < shownSeq) return;
  shownSeq = isNum(s.seq) ? s.seq : shownSeq;
  renderSummary(s.summary);
  renderTickMeta(s);
  renderPrices(s.prices);
}

/* A tick event carries the new summary: the tiles change at once. */
function onTick(t) {
  if (isNum(t.seq) && t.seq < shownSeq) return;
  shownSeq = isNum(t.seq) ? t.seq : shownSeq;
  renderSummary(t.summary);
  renderTickMeta({ ...t, last_tick: new Date().toISOString() });
  renderPrices(t.prices);
  refreshTable();
  refreshLar();
}

/* ---- accounts nearest liquidation --------------------------------------- */

function nearestRow(a) {
  const row = el("tr", { class: "click " + statusClass(a.status), dataset: { id: a.id },
                         ...opens(a.id) },
    el("td", { class: "l mono" }, a.id),
    el("td", { class: "l muted" }, a.mode),
    el("td", { class: "l" }, badge(a.status)),
    numCell(ratio(a.health), "health"),
    numCell(usd(a.equity), a.equity < 0 ? "neg" : ""),
    numCell(usd(a.collateral)),
    numCell(usd(a.maintenance_margin)));
  if (a.id === currentAccount) row.classList.add("selected");
  return row;
}

async function loadNearest() {
  const r = await getJson(`/v1/accounts?sort=health&limit=${NEAREST_LIMIT}`);
  $("nearest").tBodies[0].replaceChildren(...r.accounts.map(nearestRow));
  $("nearest-count").textContent = `${int(r.accounts.length)} of ${int(r.total)}`;
}

/* ---- liquidations-at-risk chart ----------------------------------------- */

let larPlot = null;

function larData(points) {
  const pts = [...points].filter((p) => isNum(p.shock)).sort((a, b) => a.shock - b.shock);
  return [pts.map((p) => p.shock), pts.map((p) => p.accounts),
          pts.map((p) => p.collateral)];
}

function larOptions(width, height) {
  const axis = { stroke: "#8b949e", grid: { stroke: "#21262d", width: 1 },
                 ticks: { stroke: "#30363d", width: 1 }, font: "11px system-ui, sans-serif" };
  return {
    width, height,
    cursor: { drag: { x: false, y: false } },
    legend: { live: false },
    scales: { x: { time: false }, n: { range: (u, min, max) => [0, Math.max(1, max) * 1.08] },
              usd: { range: (u, min, max) => [0, Math.max(1, max) * 1.08] } },
    axes: [
      { ...axis, values: (u, vals) => vals.map((v) => pct(v, 0)) },
      { ...axis, scale: "n", size: 48, stroke: "#f0883e",
        values: (u, vals) => vals.map((v) => int(v)) },
      { ...axis, scale: "usd", side: 1, size: 56, grid: { show: false }, stroke: "#58a6ff",
        values: (u, vals) => vals.map((v) => compactUsd(v)) },
    ],
    series: [
      { label: "shock", value: (u, v) => pct(v) },
      { label: "accounts liquidated", scale: "n", stroke: "#f0883e", width: 2,
        points: { size: 5, fill: "#f0883e" }, value: (u, v) => int(v) },
      { label: "collateral USD", scale: "usd", stroke: "#58a6ff", width: 2,
        fill: "rgba(88,166,255,0.10)", points: { size: 5, fill: "#58a6ff" },
        value: (u, v) => usd(v) },
    ],
  };
}

function larSize() {
  const box = $("lar");
  const legend = box.querySelector(".u-legend");
  const legendH = legend ? legend.offsetHeight : 24;
  const cs = getComputedStyle(box);
  const padX = parseFloat(cs.paddingLeft) + parseFloat(cs.paddingRight);
  const padY = parseFloat(cs.paddingTop) + parseFloat(cs.paddingBottom);
  return { width: Math.max(200, box.clientWidth - padX),
           height: Math.max(120, box.clientHeight - padY - legendH - 4) };
}

async function loadLar() {
  const r = await getJson("/v1/lar");
  const data = larData(r.points ?? []);
  if (larPlot) {
    larPlot.setData(data);
    return;
  }
  const { width, height } = larSize();
  larPlot = new uPlot(larOptions(width, height), data, $("lar"));
  larPlot.setSize(larSize());
  new ResizeObserver(() => larPlot.setSize(larSize())).observe($("lar"));
}

/* ---- alerts ------------------------------------------------------------- */

const alertSeqs = new Set();
let alertCursor = 0;        /* the `since` for the next GET /v1/alerts */
const ALERT_PAGE = 100;
const ALERT_PAGES = 50;     /* per catch-up: the list keeps only the newest */

/* What changed: "healthy → margin call", or the health level crossed. */
function alertWhat(a) {
  const to = el("span", { class: "to " + statusClass(a.to) }, statusLabel(a.to));
  if (a.kind === "health_level") {
    const dir = isNum(a.health) && isNum(a.level) && a.health < a.level ? "below" : "above";
    return el("span", { class: "what" }, `health ${dir} ${ratio(a.level)} · `, to);
  }
  return el("span", { class: "what" }, `${statusLabel(a.from)} → `, to);
}

function alertItem(a, fresh) {
  return el("li", { class: (fresh ? "fresh " : "") + statusClass(a.to), dataset: { seq: a.seq },
                    title: `${a.time} · seq ${a.seq}`, ...opens(a.account) },
    el("span", { class: "t mono" }, clock(a.time)),
    el("span", { class: "acct mono" }, a.account),
    el("span", { class: "h mono" }, isNum(a.health) ? ratio(a.health) : ""),
    alertWhat(a));
}

/* Put ITEM in LIST (newest first) by its seq. */
function insertAlert(list, item, seq) {
  for (const li of list.children) {
    if (Number(li.dataset.seq) < seq) {
      list.insertBefore(item, li);
      return;
    }
  }
  list.append(item);
}

/* Add alerts not shown yet; FRESH ones are highlighted. */
function addAlerts(alerts, fresh) {
  const list = $("alerts");
  for (const a of alerts) {
    if (!a || !isNum(a.seq) || alertSeqs.has(a.seq)) continue;
    alertSeqs.add(a.seq);
    insertAlert(list, alertItem(a, fresh), a.seq);
  }
  while (list.children.length > ALERTS_KEPT) {
    alertSeqs.delete(Number(list.lastElementChild.dataset.seq));
    list.lastElementChild.remove();
  }
  $("alerts-count").textContent = list.children.length ? `${int(list.children.length)} shown` : "none yet";
}

/* Fetch the alerts raised since the last call.  The stream shows them at
 * once but carries only the newest few of a large batch; this catches up
 * on the rest (and on any missed while disconnected). */
async function loadAlerts() {
  const fresh = alertCursor > 0;
  for (let page = 0; page < ALERT_PAGES; page++) {
    const r = await getJson(`/v1/alerts?since=${alertCursor}&limit=${ALERT_PAGE}`);
    const got = Array.isArray(r.alerts) ? r.alerts : [];
    addAlerts(got, fresh);
    if (!isNum(r.next) || r.next <= alertCursor) break;
    alertCursor = r.next;
    if (got.length < ALERT_PAGE) break;
  }
}

/* ---- per-account view --------------------------------------------------- */

let currentAccount = null;

function kvPair(label, value, cls) {
  return [el("dt", {}, label), el("dd", { class: cls ?? "" }, value)];
}

function accountKv(a) {
  const buffer = isNum(a.collateral) && isNum(a.maintenance_margin)
    ? a.collateral - a.maintenance_margin : null;
  const shock = a.liquidation_shock ?? {};
  const pairs = [
    kvPair("Equity", usd(a.equity), a.equity < 0 ? "neg" : ""),
    kvPair("Collateral", usd(a.collateral)),
    kvPair("Initial margin", usd(a.initial_margin)),
    kvPair("Maint. margin", usd(a.maintenance_margin)),
    kvPair("Buffer", usd(buffer), buffer < 0 ? "neg" : "pos"),
    kvPair("Health", ratio(a.health)),
  ];
  if (a.health_factor !== undefined && a.health_factor !== null)
    pairs.push(kvPair("Health factor", ratio(a.health_factor)));
  if (isNum(a.borrow_capacity)) pairs.push(kvPair("Borrow capacity", usd(a.borrow_capacity)));
  pairs.push(kvPair("Liq. shock ↓", pct(shock.down, 2)), kvPair("Liq. shock ↑", pct(shock.up, 2)));
  return pairs.flat();
}

function positionRow(p) {
  return el("tr", {},
    el("td", { class: "l mono" }, p.instrument),
    numCell(qty(p.size), p.size < 0 ? "neg" : ""),
    numCell(usd(p.notional)),
    numCell(usd(p.upnl), p.upnl < 0 ? "neg" : "pos"),
    numCell(usd(p.initial_margin)),
    numCell(usd(p.maintenance_margin)),
    numCell(int(p.bracket)));
}

/* Move from the mark to a liquidation price LEVEL, as a fraction. */
function moveTo(level, mark) {
  return isNum(level) && isNum(mark) && mark > 0 ? level / mark - 1 : null;
}

function liqRow(asset, lp) {
  const mark = lastPrices.get(asset);
  return el("tr", {},
    el("td", { class: "l mono" }, asset),
    numCell(price(mark)),
    numCell(isNum(lp?.down) ? price(lp.down) : "none"),
    numCell(pct(moveTo(lp?.down, mark), 2), "muted"),
    numCell(isNum(lp?.up) ? price(lp.up) : "none"),
    numCell(pct(moveTo(lp?.up, mark), 2), "muted"));
}

function emptyRow(cols, text) {
  return el("tr", {}, el("td", { class: "l muted", colspan: cols }, text));
}

function renderAccount(r) {
  const a = r.account;
  $("account-title").replaceChildren(el("span", {},
    el("span", { class: "mono id" }, a.id), " ", el("span", { class: "muted" }, a.mode),
    a.entity ? el("span", { class: "muted" }, ` · ${a.entity}`) : null, " ", badge(a.status)));
  $("account-kv").replaceChildren(...accountKv(a));
  const positions = Array.isArray(a.positions) ? a.positions : [];
  $("account-positions").tBodies[0].replaceChildren(
    ...(positions.length ? positions.map(positionRow) : [emptyRow(7, "no positions")]));
  const liq = Object.entries(a.liquidation_prices ?? {});
  $("account-liq").tBodies[0].replaceChildren(
    ...(liq.length ? liq.map(([s, lp]) => liqRow(s, lp)) : [emptyRow(6, "no price liquidates this account")]));
  $("account-explain").textContent = typeof r.explain === "string" ? r.explain : "";
  $("account").hidden = false;
}

function markSelected(id) {
  for (const tr of $("nearest").tBodies[0].rows)
    tr.classList.toggle("selected", tr.dataset.id === id);
}

async function loadAccount(id) {
  try {
    const r = await getJson(`/v1/accounts/${encodeURIComponent(id)}`);
    if (id !== currentAccount) return; /* another account was opened meanwhile */
    renderAccount(r);
    $("account-msg").textContent = "";
  } catch (err) {
    if (id !== currentAccount) return;
    $("account").hidden = true;
    $("account-msg").textContent = err.status === 404 ? `no account '${id}'` : err.message;
  }
}

function openAccount(id) {
  id = String(id ?? "").trim();
  if (!id) return;
  currentAccount = id;
  $("account-id").value = id;
  markSelected(id);
  history.replaceState(null, "", "#account=" + encodeURIComponent(id));
  loadAccount(id);
}

/* ---- live updates ------------------------------------------------------- */

/* The summary is reloaded too: tick events carry no time, the server's
 * last_tick replaces the time the event arrived. */
const refreshTable = throttle(async () => {
  await Promise.all([loadSummary(), loadNearest(), loadAlerts()]);
  if (currentAccount) await loadAccount(currentAccount);
}, TABLE_REFRESH_MS);
const refreshLar = throttle(loadLar, LAR_REFRESH_MS);

function setConn(state, text) {
  $("conn").dataset.state = state;
  $("conn-text").textContent = text;
}

function parseEvent(ev) {
  try { return JSON.parse(ev.data); } catch { return null; }
}

/* After a reconnection: catch up on what was missed, or start over when the
 * server's history went back (a new server on a fresh database). */
async function resync() {
  const s = await getJson("/v1/summary");
  if (isNum(s.seq) && s.seq < shownSeq) {
    location.reload();
    return;
  }
  await loadAll();
}

/* EventSource reconnects by itself; then the page resyncs. */
function connectStream() {
  const es = new EventSource("/v1/stream");
  let dropped = false;
  es.onopen = () => {
    setConn("live", "live");
    if (dropped) {
      dropped = false;
      resync().catch(reportError);
    }
  };
  es.onerror = () => {
    dropped = true;
    setConn(es.readyState === EventSource.CLOSED ? "down" : "retry",
            es.readyState === EventSource.CLOSED ? "offline" : "reconnecting");
  };
  es.addEventListener("tick", (ev) => {
    const t = parseEvent(ev);
    if (t && t.summary) onTick(t);
  });
  es.addEventListener("alert", (ev) => {
    const a = parseEvent(ev);
    if (a && isNum(a.seq)) addAlerts([a], true);
  });
}

async function loadAll() {
  await loadSummary(); /* prices first: the account view shows moves from them */
  await Promise.all([loadNearest(), loadAlerts(), loadLar()]);
  if (currentAccount) await loadAccount(currentAccount);
}

function accountFromHash() {
  const m = /^#account=(.+)$/.exec(location.hash);
  if (!m) return null;
  try { return decodeURIComponent(m[1]); } catch { return null; }
}

function init() {
  $("account-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    openAccount($("account-id").value);
  });
  const id = accountFromHash();
  if (id) {
    currentAccount = id;
    $("account-id").value = id;
  }
  loadAll().then(() => { document.body.dataset.ready = "1"; }, reportError);
  connectStream();
}

init();
