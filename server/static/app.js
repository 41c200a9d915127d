// swarmpulse dashboard: the overview, an agent's page and the alerts, live over /v1/events.
// User data (ids, metadata, alert texts) only ever goes into the page as text (textContent),
// never as HTML. The token comes from the URL fragment (#token=...) or the sign-in prompt and
// is kept for the browser session only.
"use strict";

const STATES = ["healthy", "degraded", "critical", "failed"];
const SEVERITY = { healthy: 0, degraded: 1, critical: 2, failed: 3, unknown: -1 };
const MARK = { healthy: "●", degraded: "▲", critical: "◆", failed: "✖" };
const RANGES = { "15m": 900, "1h": 3600, "24h": 86400, "7d": 604800 };
const PAGE_SIZE = 100;
const RENDER_EVERY_MS = 250; // the most often the page redraws, whatever the swarm does
const TOKEN_KEY = "swarmpulse-token";

const app = {
  token: sessionStorage.getItem(TOKEN_KEY),
  range: sessionStorage.getItem("swarmpulse-range") || "1h",
  page: null,          // "overview" | "agent" | "alerts"
  agentId: null,
  agents: new Map(),   // id -> record from /v1/agents, kept current by events
  fetchedAt: 0,        // performance.now() when agents were fetched (ages count up from it)
  summary: null,
  monitoring: null,
  stats: null,
  trends: new Map(),
  alerts: [],
  sort: { key: "health_state", dir: -1 },
  filter: "",
  stateFilter: "",
  pageNo: 0,
  dirty: false,
  renderTimer: null,
  lastEventId: null,
  stream: null,
  refreshing: null,
  lastRefresh: 0,
  version: 0,          // bumped per full redraw, so late answers for an old page are ignored
};

// ---- small DOM helpers: children that are strings become text nodes --------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name === "style") node.style.cssText = value;  // CSSOM: allowed by the page's CSP
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function stateBadge(state) {
  const known = STATES.includes(state) ? state : "unknown";
  return el("span", { class: "state state-" + known, "data-state": known },
            el("span", { class: "mark", "aria-hidden": "true" }, MARK[known] || "?"), " ", known);
}

function fmtAge(ms) {
  if (ms == null || !Number.isFinite(ms)) return "–";
  const s = ms / 1000;
  if (s < 60) return s.toFixed(1) + " s";
  if (s < 3600) return (s / 60).toFixed(1) + " min";
  if (s < 86400) return (s / 3600).toFixed(1) + " h";
  return (s / 86400).toFixed(1) + " d";
}

function fmtPct(v, count) {
  if (count === 0 || v == null || !Number.isFinite(v)) return "–";
  return v.toFixed(1) + "%";
}

function fmtMs(v, count) {
  if (count === 0 || v == null || !Number.isFinite(v)) return "–";
  return Math.round(v).toLocaleString() + " ms";
}

function fmtInt(v) {
  return v == null || !Number.isFinite(v) ? "–" : Math.round(v).toLocaleString();
}

function formatGauge(v) {
  return typeof v === "number" && Number.isFinite(v) ? String(Math.round(v * 1000) / 1000) : "–";
}

function fmtTime(epoch) {
  return epoch == null ? "–" : new Date(epoch * 1000).toLocaleString();
}

// ---- the API ----------------------------------------------------------------------------

class Unauthorized extends Error {}

async function api(path) {
  const headers = { Accept: "application/json" };
  if (app.token) headers.Authorization = "Bearer " + app.token;
  const response = await fetch(path, { headers, cache: "no-store" });
  if (response.status === 401) throw new Unauthorized("unauthorized");
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    const reason = body && body.error ? body.error : "HTTP " + response.status;
    const err = new Error(reason);
    err.status = response.status;
    throw err;
  }
  return body;
}

async function apiSend(method, path, body) {
  const headers = { Accept: "application/json", "Content-Type": "application/json" };
  if (app.token) headers.Authorization = "Bearer " + app.token;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 401) throw new Unauthorized("unauthorized");
  let answer = null;
  try { answer = await response.json(); } catch (e) { answer = null; }
  if (!response.ok) throw new Error(answer && answer.error ? answer.error : "HTTP " + response.status);
  return answer;
}

function showLogin(message) {
  stopStream();
  document.getElementById("main").replaceChildren();
  const login = document.getElementById("login");
  login.hidden = false;
  document.getElementById("login-error").textContent = message || "";
  setLive("signed out");
  document.getElementById("login-token").focus();
}

function setLive(text, cls) {
  const live = document.getElementById("live");
  live.textContent = text;
  live.className = "live " + (cls || "");
}

// ---- the event stream: fetch() so that the token travels in a header ---------------------

function stopStream() {
  if (app.stream) app.stream.abort();
  app.stream = null;
}

async function openStream(delay = 0) {
  stopStream();
  const controller = new AbortController();
  app.stream = controller;
  if (delay) await new Promise((r) => setTimeout(r, delay));
  if (controller.signal.aborted) return;
  const headers = { Accept: "text/event-stream" };
  if (app.token) headers.Authorization = "Bearer " + app.token;
  if (app.lastEventId) headers["Last-Event-ID"] = app.lastEventId;
  let response;
  try {
    response = await fetch("/v1/events?coalesce=1", { headers, signal: controller.signal, cache: "no-store" });
  } catch (e) {
    if (!controller.signal.aborted) reconnect(delay);
    return;
  }
  if (response.status === 401) { showLogin("The token was refused."); return; }
  if (!response.ok || !response.body) { reconnect(delay); return; }
  setLive("live", "on");
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
        handleFrame(frame);
      }
    }
  } catch (e) { /* aborted or dropped */ }
  if (!controller.signal.aborted) reconnect(0);
}

function reconnect(previous) {
  setLive("reconnecting", "off");
  openStream(Math.min(5000, Math.max(500, previous * 2)));
}

function handleFrame(frame) {
  let event = "message", data = "", id = null;
  for (const line of frame.split(/\r?\n/)) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data += (data ? "\n" : "") + value;
    else if (field === "id") id = value;
  }
  if (id) app.lastEventId = id;
  if (!data && event !== "reset") return;
  let payload = null;
  try { payload = data ? JSON.parse(data) : null; } catch (e) { return; }
  onEvent(event, payload);
}

function onEvent(kind, data) {
  if (kind === "health_changed" && data) {
    applyTransition(data);
  } else if (kind === "health_batch" && data && Array.isArray(data.changes)) {
    data.changes.forEach(applyTransition);
    for (const alert of data.alerts || []) app.alerts.push(alert);
    if (app.alerts.length > 1000) app.alerts.splice(0, app.alerts.length - 1000);
  } else if (kind === "alert" && data) {
    app.alerts.push(data);
    if (app.alerts.length > 1000) app.alerts.splice(0, app.alerts.length - 1000);
    scheduleRender();
  } else if (kind === "summary" && data) {
    app.summary = data;
    scheduleRender();
    // ages and task figures are refreshed with each pushed summary (transitions are pushed at once)
    maybeRefresh();
  } else if (kind === "reset") {
    refresh();
  }
}

function applyTransition(change) {
  const agent = app.agents.get(change.agent_id);
  const now = Date.now() / 1000;
  if (!agent) {
    maybeRefresh(true);
    return;
  }
  agent.health_state = change.current;
  if (change.current === "healthy") {
    agent.last_heartbeat = change.at;
  } else if (typeof change.heartbeat_age_ms === "number") {
    agent.last_heartbeat = change.at - change.heartbeat_age_ms / 1000;
  }
  agent.heartbeat_age_ms = agent.last_heartbeat == null ? null : (now - agent.last_heartbeat) * 1000;
  agent.seenAt = performance.now();
  if (app.page === "agent" && change.agent_id === app.agentId) {
    app.transitions = (app.transitions || []).concat([change]);
  }
  scheduleRender();
}

function scheduleRender() {
  // leading edge: the first change after a quiet spell draws at once, then at most one
  // redraw every RENDER_EVERY_MS, whatever the swarm does
  app.dirty = true;
  if (app.renderTimer) return;
  const wait = Math.max(0, (app.renderedAt || 0) + RENDER_EVERY_MS - performance.now());
  app.renderTimer = setTimeout(() => {
    app.renderTimer = null;
    if (app.dirty) { app.dirty = false; render(); }
  }, wait);
}

function maybeRefresh(force) {
  const wait = app.agents.size > 1000 ? 15000 : 5000;
  if (!force && (document.hidden || performance.now() - app.lastRefresh < wait)) return;
  refresh();
}

// ---- loading what a page shows ---------------------------------------------------------

function rangeQuery() {
  return "since=" + encodeURIComponent(app.range);
}

async function loadAgents() {
  const body = await api("/v1/agents");
  const map = new Map();
  const at = performance.now();
  for (const agent of body.agents) { agent.seenAt = at; map.set(agent.agent_id, agent); }
  app.agents = map;
  app.fetchedAt = at;
}

async function loadOverview() {
  const [, stats, monitoring, cost, flying, findings] = await Promise.all([
    loadAgents(), api("/v1/stats?" + rangeQuery()), api("/v1/monitoring"),
    api("/v1/cost"), api("/v1/tasks/in-flight?stuck=1"), api("/v1/findings?profiles=0"),
  ]);
  app.stats = stats;
  app.monitoring = monitoring;
  app.cost = cost;
  app.inFlight = flying;
  app.inFlightAt = performance.now();
  app.findings = findings.findings || [];
}

async function loadTrends(ids) {
  if (ids.length === 0) return;
  const query = ids.map((id) => "agent_id=" + encodeURIComponent(id)).join("&");
  const body = await api(`/v1/trends?${query}&${rangeQuery()}&slices=24`);
  for (const [id, points] of Object.entries(body.trends)) app.trends.set(id, points);
}

async function loadAgentPage(id) {
  const enc = encodeURIComponent(id);
  const [detail, trend, alerts, stats, cost] = await Promise.all([
    api("/v1/agents/" + enc),
    api(`/v1/trends?agent_id=${enc}&${rangeQuery()}&slices=60`),
    api(`/v1/alerts?agent_id=${enc}&${rangeQuery()}&limit=200`),
    api(`/v1/stats?agent_id=${enc}&${rangeQuery()}`),
    api("/v1/cost"),
  ]);
  app.detail = detail;
  app.detailAt = performance.now();
  app.cost = cost;
  app.transitions = detail.transitions || [];
  app.agentTrend = { start: trend.start, end: trend.end, points: trend.trends[id] || [] };
  app.alerts = alerts.alerts;
  app.agentStats = stats;
}

async function loadAlerts() {
  const body = await api(`/v1/alerts?${rangeQuery()}&limit=1000`);
  app.alerts = body.alerts;
  // alert management (start_system(alerting=...) / serve --config): active alerts and silences
  try {
    const [active, silences] = await Promise.all([api("/v1/alerts/active"), api("/v1/silences")]);
    app.management = { alerts: active.alerts, silences };
  } catch (e) {
    if (e instanceof Unauthorized) throw e;
    app.management = null;  // 404: alert management is off
  }
}

async function manage(action) {
  try {
    await action();
    app.notice = "";
  } catch (e) {
    if (e instanceof Unauthorized) { showLogin("The token was refused."); return; }
    app.notice = "Could not do it: " + e.message;
  }
  await refresh();
}

function actor() {
  const field = document.getElementById("acting-as");
  const who = (field && field.value.trim()) || sessionStorage.getItem("swarmpulse-actor") || "dashboard";
  sessionStorage.setItem("swarmpulse-actor", who);
  return who;
}

function silenceFor(alert, hours) {
  // from the alert's start (the server's clock), so that the silence is active at once
  // even when this browser's clock is behind the server's
  const began = Date.parse(alert.startsAt) / 1000;
  const now = Number.isFinite(began) ? Math.min(Date.now() / 1000, began) : Date.now() / 1000;
  const matchers = ["alertname", "agent_id"].filter((k) => alert.labels[k] !== undefined)
    .map((name) => ({ name, value: alert.labels[name], isRegex: false, isEqual: true }));
  return { matchers, startsAt: now, endsAt: Math.max(now, Date.now() / 1000) + hours * 3600, createdBy: actor(),
           comment: `from the dashboard, for ${hours} h` };
}

function renderManagement(main) {
  const m = app.management;
  const who = el("input", { id: "acting-as", "aria-label": "Acting as", placeholder: "your name",
                            value: sessionStorage.getItem("swarmpulse-actor") || "" });
  const active = m.alerts.map((a) => el("tr", { "data-fingerprint": a.fingerprint, "data-status": a.status },
    el("td", {}, a.status + (a.muted ? " (muted)" : "") + (a.acknowledgedBy ? ` (acknowledged by ${a.acknowledgedBy})` : "")),
    el("td", {}, el("span", { class: "sev sev-" + (a.labels.severity || "info") }, a.labels.severity || "")),
    el("td", {}, a.labels.alertname || ""),
    el("td", {}, a.labels.agent_id || ""),
    el("td", { class: "message" }, a.annotations.summary || a.annotations.description || ""),
    el("td", { class: "actions" },
      el("button", { type: "button", class: "ack", onclick: () => manage(() =>
        apiSend("POST", `/v1/alerts/${encodeURIComponent(a.fingerprint)}/ack`, { by: actor(), comment: "from the dashboard" })) }, "Acknowledge"),
      " ",
      el("button", { type: "button", class: "silence", onclick: () => manage(() =>
        apiSend("POST", "/v1/silences", silenceFor(a, 1))) }, "Silence 1 h"))));
  const silences = m.silences.map((s) => el("tr", { "data-silence": s.id, "data-state": s.status.state },
    el("td", {}, s.status.state),
    el("td", { class: "message" }, s.matchers.map((x) => `${x.name}${x.isEqual === false ? "!" : ""}${x.isRegex ? "=~" : "="}${x.value}`).join(", ")),
    el("td", {}, s.endsAt), el("td", {}, s.createdBy), el("td", { class: "message" }, s.comment),
    el("td", { class: "actions" }, s.status.state === "expired" ? "" :
      el("button", { type: "button", class: "expire", onclick: () => manage(() =>
        apiSend("DELETE", `/v1/silences/${encodeURIComponent(s.id)}`)) }, "Expire"))));
  main.append(el("section", { class: "panel" },
    el("div", { class: "toolbar" }, el("h2", {}, "Active alerts"), el("label", { for: "acting-as" }, "acting as"), who),
    app.notice ? el("p", { class: "error", role: "alert" }, app.notice) : null,
    active.length ? el("div", { class: "scroll" }, el("table", { id: "active-alerts" },
      el("thead", {}, el("tr", {}, ["Status", "Severity", "Alert", "Agent", "Summary", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, active))) : el("p", { class: "empty" }, "No alert held by the alert router."),
    el("h2", {}, "Silences"),
    silences.length ? el("div", { class: "scroll" }, el("table", { id: "silences" },
      el("thead", {}, el("tr", {}, ["State", "Matchers", "Ends", "By", "Comment", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, silences))) : el("p", { class: "empty" }, "No silence.")));
}

async function refresh() {
  if (app.refreshing) return app.refreshing;
  app.lastRefresh = performance.now();
  const version = ++app.version;
  app.refreshing = (async () => {
    try {
      if (app.page === "overview") await loadOverview();
      else if (app.page === "agent") await loadAgentPage(app.agentId);
      else await loadAlerts();
      if (version !== app.version) return;
      document.getElementById("login").hidden = true;
      render();
      if (app.page === "overview") {
        await loadTrends(visibleRows().map((a) => a.agent_id));
        render();
      }
    } catch (e) {
      if (e instanceof Unauthorized) { showLogin(app.token ? "The token was refused." : ""); return; }
      showError(e.status === 404 ? "Not found: " + e.message : "Could not load: " + e.message);
    } finally {
      app.refreshing = null;
    }
  })();
  return app.refreshing;
}

function showError(text) {
  const main = document.getElementById("main");
  main.replaceChildren(el("p", { class: "error", role: "alert" }, text));
}

// ---- the overview ----------------------------------------------------------------------

function liveAge(agent) {
  if (agent.last_heartbeat == null) return null;
  const elapsed = performance.now() - (agent.seenAt || app.fetchedAt);
  return (agent.heartbeat_age_ms || 0) + elapsed;
}

const COLUMNS = [
  { key: "agent_id", label: "Agent" },
  { key: "health_state", label: "State" },
  { key: "heartbeat_age_ms", label: "HB age", num: true },
  { key: "uptime_pct", label: "Uptime", num: true },
  { key: "tasks_completed", label: "Tasks", num: true },
  { key: "success_rate", label: "OK %", num: true },
  { key: "p95_duration_ms", label: "p95", num: true },
  { key: "total_tokens", label: "Tokens", num: true },
  { key: "spark", label: "Duration", nosort: true },
];

function sortValue(agent, key) {
  if (key === "health_state") return SEVERITY[agent.health_state] ?? -1;
  if (key === "heartbeat_age_ms") return liveAge(agent) ?? -1;
  if (key === "success_rate" || key === "p95_duration_ms") {
    return agent.tasks_completed ? agent[key] : -1;
  }
  return agent[key];
}

function filteredAgents() {
  const text = app.filter.trim().toLowerCase();
  const rows = [];
  for (const agent of app.agents.values()) {
    if (app.stateFilter && agent.health_state !== app.stateFilter) continue;
    if (text && !agent.agent_id.toLowerCase().includes(text)) continue;
    rows.push(agent);
  }
  const { key, dir } = app.sort;
  rows.sort((a, b) => {
    const x = sortValue(a, key), y = sortValue(b, key);
    if (x < y) return -dir;
    if (x > y) return dir;
    return a.agent_id < b.agent_id ? -1 : a.agent_id > b.agent_id ? 1 : 0;
  });
  return rows;
}

function visibleRows() {
  const rows = filteredAgents();
  const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
  if (app.pageNo >= pages) app.pageNo = pages - 1;
  return rows.slice(app.pageNo * PAGE_SIZE, (app.pageNo + 1) * PAGE_SIZE);
}

function distribution() {
  const counts = { healthy: 0, degraded: 0, critical: 0, failed: 0 };
  for (const agent of app.agents.values()) {
    if (agent.health_state in counts) counts[agent.health_state] += 1;
  }
  return counts;
}

function card(label, value, hint, id) {
  return el("div", { class: "card", id: id || null }, el("div", { class: "card-label" }, label),
            el("div", { class: "card-value" }, value), hint ? el("div", { class: "card-hint" }, hint) : null);
}

function renderOverview(main) {
  const counts = distribution();
  const total = app.agents.size;
  const stats = app.stats || {};
  const tasks = stats.total_tasks || 0;
  const mon = app.monitoring || {};
  const collector = mon.metrics_collector || {};
  const beats = mon.heartbeat_monitor || {};
  const supervision = mon.supervision || {};
  const summary = app.summary || {};
  const failedServices = summary.failed_services || supervision.failed_services || [];

  const bars = el("div", { class: "health", role: "list", "aria-label": "Health distribution" },
    STATES.map((state) => el("div", { class: "health-row", role: "listitem", "data-state": state },
      el("span", { class: "health-label" }, stateBadge(state)),
      el("span", { class: "health-bar" },
         el("span", { class: "health-fill fill-" + state,
                      style: `width:${total ? (100 * counts[state]) / total : 0}%` })),
      el("span", { class: "health-count", "data-count": state }, String(counts[state])))));

  const cards = el("div", { class: "cards" },
    card("Agents", total ? fmtInt(total) : "none yet"),
    card("Tasks", tasks ? fmtInt(tasks) : "none yet", "in the last " + app.range),
    card("Success rate", fmtPct(stats.success_rate, tasks)),
    card("Duration p50 / p95 / p99", tasks ? [stats.median_duration_ms, stats.p95_duration_ms,
      stats.p99_duration_ms].map((v) => fmtInt(v)).join(" / ") + " ms" : "–"),
    card("Tokens", tasks ? fmtInt(stats.total_tokens) : "–"),
    card("Writer", `${fmtInt(summary.pending_writes ?? collector.pending_writes)} pending`,
      `${fmtInt(summary.dropped ?? collector.dropped)} dropped · ` +
      `${fmtInt(collector.quarantined ?? 0)} quarantined`),
    card("Monitor stalls", fmtInt(summary.stalls ?? beats.stalls)),
    card("Failed services", failedServices.length ? failedServices.join(", ") : "none",
         null),
    costCard(app.cost, null),
    inFlightCard(app.inFlight));

  main.append(el("h1", {}, "Swarm overview"), el("section", { class: "overview" }, bars, cards));
  main.append(renderAnalysis());
  main.append(renderTable());
}

// ---- what the analyst finds: cost, tasks in flight, stuck tasks, findings ------------------

function fmtCost(value, currency) {
  return (Math.round(value * 10000) / 10000).toFixed(4) + " " + (currency || "");
}

function costCard(cost, agentId) {
  if (!cost) return null;
  if (agentId !== null) {
    const mine = (cost.by_agent || {})[agentId];
    return card("Cost", mine == null ? "–" : fmtCost(mine, cost.currency),
      mine == null ? "no priced task" : "its priced tasks, since the start", "cost-card");
  }
  const priced = cost.priced_tasks || 0;
  return card("Cost", priced ? fmtCost(cost.total, cost.currency) : "–",
    priced ? `${fmtInt(priced)} priced task(s), ${fmtInt(cost.unpriced_tasks)} without a price`
           : "no priced task: start_system(prices=...)", "cost-card");
}

function inFlightCard(flying) {
  if (!flying) return null;
  return card("Tasks in flight", fmtInt(flying.tasks),
    flying.stuck ? `${fmtInt(flying.stuck)} stuck` : "none stuck", "in-flight-card");
}

function runningCell(task, at) {
  // counts up between loads, like the heartbeat ages
  return el("td", { class: "num running", "data-running": String(task.running_s), "data-at": String(at) },
            fmtAge(task.running_s * 1000));
}

function inFlightTable(tasks, at, withAgent, id) {
  return el("div", { class: "scroll" }, el("table", { id },
    el("thead", {}, el("tr", {}, withAgent ? el("th", {}, "Agent") : null, el("th", {}, "Task"),
      el("th", {}, "Kind"), el("th", { class: "num" }, "Running for"), el("th", { class: "num" }, "Stuck after"),
      el("th", {}, "State"))),
    el("tbody", {}, tasks.map(([agentId, t]) => el("tr", { "data-task": t.task_id, "data-stuck": String(!!t.stuck) },
      withAgent ? el("td", {}, el("a", { href: "/agents/" + encodeURIComponent(agentId) }, agentId)) : null,
      el("td", {}, t.task_id), el("td", {}, t.kind), runningCell(t, at),
      el("td", { class: "num" }, t.limit_s == null ? "no limit" : fmtAge(t.limit_s * 1000)),
      el("td", {}, t.stuck ? el("span", { class: "sev sev-warning" }, "▲ stuck") : "running"))))));
}

function renderAnalysis() {
  const flying = app.inFlight || { in_flight: {} };
  const stuck = Object.entries(flying.in_flight || {}).flatMap(([a, ts]) => ts.map((t) => [a, t]));
  const findings = app.findings || [];
  return el("section", { class: "panel", id: "analysis" },
    el("h2", {}, "Findings"),
    findings.length ? el("ul", { id: "findings" }, findings.map((f) => el("li", {}, f.text)))
                    : el("p", { class: "empty" }, "Nothing found yet."),
    el("h2", {}, "Stuck tasks"),
    stuck.length ? inFlightTable(stuck, app.inFlightAt, true, "stuck-tasks")
                 : el("p", { class: "empty" }, "No task is stuck."));
}

function renderTable() {
  const rows = filteredAgents();
  const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
  if (app.pageNo >= pages) app.pageNo = pages - 1;
  const shown = rows.slice(app.pageNo * PAGE_SIZE, (app.pageNo + 1) * PAGE_SIZE);

  const filter = el("input", { type: "search", id: "filter", placeholder: "filter by id",
                               "aria-label": "Filter agents by id", value: app.filter });
  filter.addEventListener("input", () => { app.filter = filter.value; app.pageNo = 0; renderKeepingFocus("filter"); });
  const state = el("select", { id: "state-filter", "aria-label": "Filter agents by state" },
    el("option", { value: "" }, "all states"),
    STATES.map((s) => el("option", { value: s, selected: app.stateFilter === s }, s)));
  state.addEventListener("change", () => { app.stateFilter = state.value; app.pageNo = 0; render(); });

  const head = el("tr", {}, COLUMNS.map((col) => {
    const sorted = app.sort.key === col.key;
    const th = el("th", { scope: "col", class: col.num ? "num" : "",
                          "aria-sort": sorted ? (app.sort.dir > 0 ? "ascending" : "descending") : null });
    if (col.nosort) { th.append(col.label); return th; }
    th.append(el("button", { type: "button", class: "sort", "data-sort": col.key, onclick: () => {
      app.sort = { key: col.key, dir: sorted ? -app.sort.dir : (col.num || col.key === "health_state" ? -1 : 1) };
      render();
      loadTrends(visibleRows().map((a) => a.agent_id)).then(render, () => {});
    } }, col.label, sorted ? (app.sort.dir > 0 ? " ▲" : " ▼") : ""));
    return th;
  }));

  const body = el("tbody", {}, shown.map((agent) => {
    const trend = app.trends.get(agent.agent_id) || [];
    const n = agent.tasks_completed || 0;
    return el("tr", { "data-agent": agent.agent_id },
      el("td", {}, el("a", { href: "/agents/" + encodeURIComponent(agent.agent_id) }, agent.agent_id)),
      el("td", {}, stateBadge(agent.health_state)),
      el("td", { class: "num age", "data-age": agent.agent_id }, fmtAge(liveAge(agent))),
      el("td", { class: "num" }, agent.uptime_pct == null ? "–" : agent.uptime_pct.toFixed(1) + "%"),
      el("td", { class: "num" }, fmtInt(n)),
      el("td", { class: "num" }, fmtPct(agent.success_rate, n)),
      el("td", { class: "num" }, fmtMs(agent.p95_duration_ms, n)),
      el("td", { class: "num" }, n ? fmtInt(agent.total_tokens) : "–"),
      el("td", {}, recentSeries(agent, trend)));
  }));

  const pager = el("div", { class: "pager" },
    el("button", { type: "button", disabled: app.pageNo === 0, onclick: () => { app.pageNo -= 1; render(); loadTrends(visibleRows().map((a) => a.agent_id)).then(render, () => {}); } }, "‹ prev"),
    el("span", { id: "page-info" }, rows.length ? `${app.pageNo * PAGE_SIZE + 1}–${app.pageNo * PAGE_SIZE + shown.length} of ${rows.length}` : "no agents"),
    el("button", { type: "button", disabled: app.pageNo >= pages - 1, onclick: () => { app.pageNo += 1; render(); loadTrends(visibleRows().map((a) => a.agent_id)).then(render, () => {}); } }, "next ›"));

  const empty = app.agents.size === 0
    ? el("p", { class: "empty" }, "No agents yet. Register one: POST /v1/agents, or swarm.register_agent(...).")
    : rows.length === 0 ? el("p", { class: "empty" }, "No agent matches the filter.") : null;

  return el("section", { class: "agents" },
    el("div", { class: "toolbar" }, el("h2", {}, "Agents"), filter, state),
    el("div", { class: "scroll" }, el("table", { id: "agents" }, el("thead", {}, head), body)),
    empty, pager);
}

// The duration sparkline: the agent's recent tasks (as the terminal's live view draws them)
// when it has a few, else the median per slice of the range from the rollups.
function recentSeries(agent, trend) {
  const recent = agent.duration_series || [];
  const label = "task duration of " + agent.agent_id;
  return recent.length > 1 ? charts.sparkline(recent, "recent " + label)
                           : charts.sparkline(trend.map((p) => p.p50_ms), "median " + label);
}

function renderKeepingFocus(id) {
  const node = document.getElementById(id);
  const pos = node ? node.selectionStart : null;
  render();
  const again = document.getElementById(id);
  if (again) { again.focus(); if (pos != null) again.setSelectionRange(pos, pos); }
}

// ---- an agent's page -------------------------------------------------------------------

function bandsOf(transitions, start, end, current, since) {
  // stored in order (one agent's events keep their sequence); before `since` nothing is known
  let state = "healthy";
  const bands = [];
  let from = Math.max(start, since ?? start);
  if (since != null && since > start) bands.push({ from: start, to: Math.min(since, end), state: "unmonitored" });
  for (const t of transitions) {
    if (t.at <= from) { state = t.current; continue; }
    if (t.at >= end) break;
    bands.push({ from, to: t.at, state });
    from = t.at;
    state = t.current;
  }
  bands.push({ from, to: end, state: current || state });
  return bands.filter((b) => b.to > b.from);
}

function firstKnown(detail, transitions) {
  // the earliest moment the page knows of: the oldest kept heartbeat, or the silence before
  // the first stored transition
  const times = [];
  const beats = detail.heartbeats || [];
  if (beats.length) times.push(beats[0].timestamp);
  if (transitions.length) {
    const t = transitions[0];
    times.push(t.at - (t.heartbeat_age_ms || 0) / 1000);
  }
  return times.length ? Math.min(...times) : null;
}

const FACTS = [
  ["tasks_completed", "tasks completed", fmtInt],
  ["success_rate", "success rate", (v) => (v == null ? "–" : v.toFixed(1) + "%")],
  ["avg_duration_ms", "mean duration", (v) => fmtMs(v)],
  ["p95_duration_ms", "p95 duration", (v) => fmtMs(v)],
  ["total_tokens_used", "tokens", fmtInt],
];

function renderAgent(main) {
  const d = app.detail;
  const live = app.agents.get(d.agent_id);
  const state = live ? live.health_state : d.health_state;
  const now = Date.now() / 1000;
  const start = now - RANGES[app.range];
  const stats = app.agentStats || {};
  const n = stats.total_tasks || 0;
  const points = (app.agentTrend && app.agentTrend.points) || [];

  main.append(el("p", { class: "crumbs" }, el("a", { href: "/" }, "Overview"), " / agent"));
  main.append(el("h1", { class: "agent-title" }, el("span", { id: "agent-id" }, d.agent_id), " ", stateBadge(state)));
  main.append(el("div", { class: "cards" },
    card("Heartbeat age", fmtAge(d.heartbeat_age_ms)),
    card("Uptime", d.uptime_pct == null ? "–" : d.uptime_pct.toFixed(1) + "%"),
    card("Tasks", n ? fmtInt(n) : "none yet", "in the last " + app.range),
    card("Success rate", fmtPct(stats.success_rate, n)),
    card("p50 / p95", n ? `${fmtInt(stats.median_duration_ms)} / ${fmtInt(stats.p95_duration_ms)} ms` : "–"),
    card("Interval", fmtInt(d.interval_ms) + " ms", "FAILED after " + d.failure_threshold),
    d.phi == null ? null : card("Phi", d.phi.toFixed(1), "phi accrual: FAILED at its threshold"),
    d.at_risk ? card("At risk", "yes", "its heartbeat gaps drift later or grow jittery", "at-risk-card") : null,
    costCard(app.cost, d.agent_id)));

  const flying = (d.in_flight || []).map((t) => [d.agent_id, t]);
  main.append(el("section", { class: "panel" }, el("h2", {}, "Tasks in flight"),
    flying.length ? inFlightTable(flying, app.detailAt, false, "in-flight")
                  : el("p", { class: "empty" }, "No task in flight.")));

  const transitions = app.transitions || [];
  const bands = bandsOf(transitions, start, now, state, firstKnown(d, transitions));
  main.append(el("section", { class: "panel" }, el("h2", {}, "Health over the last " + app.range),
    el("div", { id: "timeline" }, charts.timeline(bands, start, now)),
    el("ul", { class: "legend" }, STATES.map((s) => el("li", {}, stateBadge(s))),
       el("li", { class: "key-unmonitored" }, "not monitored")),
    el("p", { class: "muted" }, `${transitions.length} stored transition(s)`)));

  const beats = (d.heartbeats || []).map((h) => h.timestamp);
  const gaps = beats.slice(1).map((t, i) => t - beats[i]);
  main.append(el("section", { class: "panel" }, el("h2", {}, "Heartbeat gaps"),
    gaps.length ? charts.barChart(gaps, "seconds between the last heartbeats", 800, 60, "bar gap")
                : el("p", { class: "empty" }, "No heartbeat gaps yet."),
    gaps.length ? el("p", { class: "muted" }, `last ${gaps.length} gaps: longest ${Math.max(...gaps).toFixed(2)} s, ` +
      `mean ${(gaps.reduce((a, b) => a + b, 0) / gaps.length).toFixed(2)} s`) : null));

  const times = points.map((p) => p.start);
  main.append(el("section", { class: "panel" }, el("h2", {}, "Task duration (p50, p95) and throughput"),
    n ? charts.lineChart([{ name: "p50", values: points.map((p) => p.p50_ms), cls: "p50" },
                          { name: "p95", values: points.map((p) => p.p95_ms), cls: "p95" }],
                         times, "task duration p50 and p95 in ms")
      : el("p", { class: "empty" }, "No tasks in this range yet."),
    n ? el("ul", { class: "legend" }, el("li", { class: "key-p50" }, "p50"), el("li", { class: "key-p95" }, "p95")) : null,
    n ? charts.barChart(points.map((p) => p.tasks), "tasks per slice") : null,
    n ? el("p", { class: "muted" }, "Results: " + Object.entries(stats.results_breakdown || {})
      .filter(([, c]) => c > 0).map(([r, c]) => `${r} ${c}`).join(", ")) : null));

  const recent = (d.recent_tasks || []).slice().reverse();
  main.append(el("section", { class: "panel" }, el("h2", {}, "Recent tasks"),
    recent.length ? el("div", { class: "scroll" }, el("table", { id: "recent-tasks" },
      el("thead", {}, el("tr", {}, ["Finished", "Task", "Result", "Duration", "Tokens", "Files"].map(
        (h, i) => el("th", { class: i >= 3 ? "num" : "" }, h)))),
      el("tbody", {}, recent.map((t) => el("tr", {},
        el("td", {}, fmtTime(t.timestamp)), el("td", {}, t.task_id), el("td", {}, t.result),
        el("td", { class: "num" }, fmtMs(t.duration_ms)), el("td", { class: "num" }, fmtInt(t.tokens_used)),
        el("td", { class: "num" }, fmtInt(t.files_changed)))))))
      : el("p", { class: "empty" }, "No task in the last 15 minutes.")));
  const gauges = d.gauges || [];
  main.append(el("section", { class: "panel" }, el("h2", {}, "Gauges"),
    gauges.length ? el("dl", { class: "facts", id: "gauges" }, gauges.flatMap((g) =>
      [el("dt", {}, g.metric_type), el("dd", {}, `${formatGauge(g.value)} at ${fmtTime(g.timestamp)}`)]))
      : el("p", { class: "empty" }, "No gauge recorded yet.")));
  main.append(el("section", { class: "panel" }, el("h2", {}, "Alerts"), alertsTable(app.alerts, false)));
  const perf = d.performance || {};
  main.append(el("section", { class: "panel" }, el("h2", {}, "Since it was registered"),
    (perf.tasks_completed || 0) === 0 ? el("p", { class: "empty" }, "No tasks yet.") :
    el("dl", { class: "facts" }, FACTS.flatMap(([key, label, fmt]) =>
      [el("dt", {}, label), el("dd", {}, fmt(perf[key]))]))));
}

// ---- alerts ------------------------------------------------------------------------------

// Actions on an alert (acknowledge, silence) go here once alert management lands.
function alertActions(alert) {
  return [];
}

function alertsTable(alerts, withAgent) {
  if (!alerts.length) return el("p", { class: "empty" }, "No alerts in this range.");
  const rows = alerts.slice().reverse().map((a) => el("tr", { "data-severity": a.severity },
    el("td", {}, fmtTime(a.at)),
    el("td", {}, el("span", { class: "sev sev-" + a.severity }, a.severity)),
    withAgent ? el("td", {}, a.agent_id === "*" ? "swarm" :
      el("a", { href: "/agents/" + encodeURIComponent(a.agent_id) }, a.agent_id)) : null,
    el("td", { class: "message" }, a.message),
    el("td", { class: "actions" }, alertActions(a))));
  return el("div", { class: "scroll" }, el("table", { id: "alerts" },
    el("thead", {}, el("tr", {}, el("th", {}, "Time"), el("th", {}, "Severity"),
      withAgent ? el("th", {}, "Agent") : null, el("th", {}, "Message"), el("th", {}, ""))),
    el("tbody", {}, rows)));
}

function renderAlerts(main) {
  const sev = el("select", { id: "severity-filter", "aria-label": "Filter alerts by severity" },
    el("option", { value: "" }, "all severities"),
    ["info", "warning", "critical"].map((s) => el("option", { value: s, selected: app.alertSeverity === s }, s)));
  sev.addEventListener("change", () => { app.alertSeverity = sev.value; render(); });
  const text = el("input", { type: "search", id: "alert-filter", placeholder: "filter by agent or text",
                             "aria-label": "Filter alerts", value: app.alertText || "" });
  text.addEventListener("input", () => { app.alertText = text.value; renderKeepingFocus("alert-filter"); });
  const needle = (app.alertText || "").toLowerCase();
  const shown = app.alerts.filter((a) => (!app.alertSeverity || a.severity === app.alertSeverity) &&
    (!needle || a.agent_id.toLowerCase().includes(needle) || a.message.toLowerCase().includes(needle)));
  main.append(el("h1", {}, "Alerts"));
  if (app.management) renderManagement(main);
  main.append(el("h2", {}, "Recent alerts"), el("div", { class: "toolbar" }, sev, text),
              alertsTable(shown, true));
}

// ---- page frame ----------------------------------------------------------------------------

function render() {
  app.renderedAt = performance.now();
  const main = document.getElementById("main");
  const fresh = document.createDocumentFragment();
  const holder = el("div", { class: "page page-" + app.page });
  try {
    if (app.page === "overview") { if (app.stats) renderOverview(holder); }
    else if (app.page === "agent") { if (app.detail) renderAgent(holder); }
    else renderAlerts(holder);
  } catch (e) {
    holder.replaceChildren(el("p", { class: "error" }, "Could not draw the page: " + e.message));
  }
  fresh.append(holder);
  main.replaceChildren(fresh);
  main.setAttribute("aria-busy", "false");
  for (const link of document.querySelectorAll("nav a")) {
    link.toggleAttribute("aria-current", link.dataset.page === (app.page === "agent" ? "overview" : app.page));
  }
  for (const button of document.querySelectorAll("[data-range]")) {
    button.setAttribute("aria-pressed", String(button.dataset.range === app.range));
  }
}

function tickAges() {
  // heartbeat ages and tasks' running times count up between updates, without redrawing
  for (const cell of document.querySelectorAll("td.age")) {
    const agent = app.agents.get(cell.dataset.age);
    if (agent) cell.textContent = fmtAge(liveAge(agent));
  }
  for (const cell of document.querySelectorAll("td.running")) {
    const base = Number(cell.dataset.running), at = Number(cell.dataset.at);
    if (Number.isFinite(base) && Number.isFinite(at)) cell.textContent = fmtAge(base * 1000 + performance.now() - at);
  }
}

function route() {
  const path = location.pathname;
  if (path.startsWith("/agents/")) {
    app.page = "agent";
    try { app.agentId = decodeURIComponent(path.slice("/agents/".length)); } catch (e) { app.agentId = ""; }
  } else if (path === "/alerts") {
    app.page = "alerts";
  } else {
    app.page = "overview";
  }
}

function boot() {
  const hash = location.hash;
  if (hash.startsWith("#token=")) {
    app.token = decodeURIComponent(hash.slice("#token=".length));
    sessionStorage.setItem(TOKEN_KEY, app.token);
    history.replaceState(null, "", location.pathname + location.search);
  }
  route();
  document.getElementById("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    app.token = document.getElementById("login-token").value;
    sessionStorage.setItem(TOKEN_KEY, app.token);
    document.getElementById("login").hidden = true;
    openStream();
    refresh();
  });
  for (const button of document.querySelectorAll("[data-range]")) {
    button.addEventListener("click", () => {
      app.range = button.dataset.range;
      sessionStorage.setItem("swarmpulse-range", app.range);
      app.trends.clear();
      refresh();
    });
  }
  document.addEventListener("visibilitychange", () => { if (!document.hidden) maybeRefresh(); });
  setInterval(tickAges, 1000);
  // the stream first, so that no transition falls between the first load and the stream
  openStream();
  refresh();
}

document.addEventListener("DOMContentLoaded", boot);
