// Parley operator console: plain DOM over the REST API, no framework.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const k of kids.flat()) e.append(k instanceof Node ? k : document.createTextNode(k ?? ""));
  return e;
};

// api returns the decoded JSON body, or throws an Error carrying the API's
// own message and the status (404 means this node does not serve it).
async function api(path) {
  const r = await fetch(path, { headers: { Accept: "application/json" } });
  let body = null;
  try { body = await r.json(); } catch (_) { /* not JSON */ }
  if (!r.ok && !(path === "/readyz" && r.status === 503)) {
    const err = new Error((body && body.error) || `${r.status} ${r.statusText}`);
    err.status = r.status;
    throw err;
  }
  return body;
}

// Go's zero time (year 1) means "never": show nothing.
const when = (s) => (s && new Date(s).getFullYear() > 1970 ? new Date(s) : null);
const fmtTime = (s) => (when(s) ? when(s).toLocaleTimeString() : "");
const fmtDate = (s) => (s ? new Date(s).toLocaleString() : "");
const seconds = (a, b) => {
  if (!a) return "";
  const ms = (b ? new Date(b) : new Date()) - new Date(a);
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
};
const skills = (list) => (list || []).map((s) => `${s.name} ${s.proficiency}`).join(", ");

function fillTable(table, rows, empty) {
  const body = $("tbody", table);
  body.replaceChildren();
  if (!rows.length) body.append(el("tr", {}, el("td", { colspan: String($("thead tr", table).children.length), class: "muted" }, empty)));
  for (const r of rows) body.append(r);
}

function unavailable(table, err) {
  fillTable(table, [], err.status === 404 ? "Not served by this node." : `Could not load: ${err.message}`);
}

// ---- calls
let selectedCall = null;

async function loadCalls() {
  const q = new URLSearchParams();
  if ($("#call-state").value) q.set("state", $("#call-state").value);
  if ($("#call-queue").value.trim()) q.set("queue", $("#call-queue").value.trim());
  q.set("limit", "100");
  try {
    const { calls } = await api("/api/v1/calls?" + q);
    fillTable($("#call-list"), calls.map((c) => {
      const tr = el("tr", { "data-id": c.id, onclick: () => showCall(c.id) },
        el("td", {}, fmtTime(c.started_at)), el("td", {}, c.id), el("td", {}, c.channel), el("td", {}, c.from),
        el("td", {}, c.to), el("td", {}, c.state), el("td", {}, c.queue_id || ""), el("td", {}, c.agent_id || ""),
        el("td", {}, seconds(c.answered_at || c.started_at, c.ended_at)));
      if (c.id === selectedCall) tr.classList.add("sel");
      return tr;
    }), "No calls yet: call the bot from the Call page or a SIP phone.");
  } catch (err) { unavailable($("#call-list"), err); }
}

async function showCall(id) {
  selectedCall = id;
  for (const tr of document.querySelectorAll("#call-list tbody tr")) tr.classList.toggle("sel", tr.dataset.id === id);
  const box = $("#call-detail");
  try {
    const t = await api("/api/v1/calls/" + encodeURIComponent(id));
    const c = t.call;
    const parts = [
      el("h2", {}, `Call ${c.id}`),
      el("p", { class: "muted" }, `${c.direction} ${c.channel} from ${c.from || "?"} to ${c.to || "?"} · ${c.state}` +
        (t.member ? ` · held by ${t.member}` : "") + ` · ${t.source}`),
    ];
    if (c.summary) parts.push(el("p", {}, el("b", {}, "Summary: "), c.summary));
    if (c.recording_path) parts.push(el("audio", { controls: "", preload: "none", src: `/api/v1/calls/${encodeURIComponent(c.id)}/recording` }));
    parts.push(el("h2", {}, "Transcript"));
    if (!t.turns.length) parts.push(el("p", { class: "muted" }, "Nothing said yet."));
    for (const turn of t.turns) {
      const meta = [fmtTime(turn.at), turn.speaker];
      if (turn.intent) meta.push(`${turn.intent} ${(turn.confidence ?? 0).toFixed(2)}`);
      if (turn.sentiment) meta.push(`sentiment ${turn.sentiment.toFixed(2)}`);
      const tm = turn.timings || {};
      if (tm.first_rtp_out_ms) meta.push(`first audio ${Math.round(tm.first_rtp_out_ms)} ms`);
      parts.push(el("div", { class: "turn " + turn.speaker }, el("div", {}, turn.text), el("div", { class: "meta" }, meta.join(" · "))));
    }
    parts.push(el("h2", {}, "Events"));
    const ev = el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "At"), el("th", {}, "Event"), el("th", {}, "By"), el("th", {}, "Detail"))), el("tbody"));
    fillTable(ev, t.events.map((e) => el("tr", {}, el("td", {}, fmtTime(e.at)), el("td", {}, e.type), el("td", {}, e.by || ""),
      el("td", {}, Object.entries(e.data || {}).map(([k, v]) => `${k}=${v}`).join(" ")))), "No events.");
    parts.push(ev);
    box.replaceChildren(...parts);
  } catch (err) {
    box.replaceChildren(el("p", { class: "bad" }, `Call ${id}: ${err.message}`));
  }
}

// ---- queues and agents
const pct = (x) => (x == null ? "" : `${(100 * x).toFixed(1)}%`);
const secs = (x) => (x == null ? "" : `${Math.round(x)} s`);

async function loadLive() {
  try {
    const queues = await api("/api/v1/routing/queues");
    fillTable($("#live-queues"), queues.map((q) => el("tr", {}, el("td", {}, q.queue), el("td", {}, String(q.waiting)),
      el("td", {}, secs(q.longest_wait_secs)), el("td", {}, String(q.staffed)), el("td", {}, String(q.answered)),
      el("td", {}, `${pct(q.service_level)} in ${q.service_level_threshold_secs} s`), el("td", {}, secs(q.asa_secs)), el("td", {}, secs(q.aht_secs)),
      el("td", {}, `${q.abandoned} (${pct(q.abandon_rate)})`), el("td", {}, q.staffing ? String(q.staffing.agents_needed ?? "") : ""))),
      "No queues configured.");
  } catch (err) { unavailable($("#live-queues"), err); }
  try {
    const agents = await api("/api/v1/routing/agents");
    fillTable($("#live-agents"), agents.map((a) => el("tr", {}, el("td", {}, a.agent_id),
      el("td", {}, a.presence + (a.break_reason ? ` (${a.break_reason})` : "")), el("td", {}, a.work_state), el("td", {}, a.call_id || ""),
      el("td", { class: a.connected ? "good" : "muted" }, a.connected ? "connected" : "offline"), el("td", {}, fmtTime(a.presence_since)),
      el("td", {}, String(a.misses ?? 0)))), "No agents.");
  } catch (err) { unavailable($("#live-agents"), err); }
}

async function loadDirectory() {
  loadLive();
  try {
    const { queues } = await api("/api/v1/queues");
    fillTable($("#queue-list"), queues.map((q) => el("tr", {}, el("td", {}, q.id), el("td", {}, q.name), el("td", {}, q.strategy),
      el("td", {}, skills(q.required_skills)), el("td", {}, q.language || ""), el("td", {}, q.service_level_secs ? `${q.service_level_secs} s` : ""),
      el("td", {}, q.overflow_queue_id || ""))), "No queues.");
  } catch (err) { unavailable($("#queue-list"), err); }
  try {
    const { agents } = await api("/api/v1/agents");
    fillTable($("#agent-list"), agents.map((a) => el("tr", {}, el("td", {}, a.id), el("td", {}, a.name), el("td", {}, a.extension || ""),
      el("td", {}, skills(a.skills)), el("td", {}, (a.languages || []).join(", ")), el("td", {}, String(a.capacity ?? "")))), "No agents.");
  } catch (err) { unavailable($("#agent-list"), err); }
}

// ---- knowledge
async function searchKB(ev) {
  ev.preventDefault();
  const q = $("#kb-q").value.trim();
  const out = $("#kb-results");
  if (!q) return;
  try {
    const res = await api("/api/v1/kb/search?" + new URLSearchParams({ q, limit: "5" }));
    const hits = res.results || res.hits || [];
    out.replaceChildren(...(hits.length ? hits.map((h) => el("div", { class: "kb-hit" },
      el("b", {}, h.title || h.document_id || ""), el("span", { class: "muted" }, ` ${h.document_id || ""} ${h.score != null ? "· " + Number(h.score).toFixed(3) : ""}`),
      el("div", {}, h.text || h.passage || ""))) : [el("p", { class: "muted" }, "Nothing relevant found.")]));
  } catch (err) {
    out.replaceChildren(el("p", { class: err.status === 404 ? "muted" : "bad" }, err.status === 404 ? "The knowledge base is not served by this node." : err.message));
  }
}

// ---- evals
async function loadEvals() {
  try {
    const res = await api("/api/v1/evals/runs");
    const runs = res.runs || [];
    fillTable($("#eval-list"), runs.map((r) => el("tr", {}, el("td", {}, r.id), el("td", {}, r.suite || ""), el("td", {}, r.mode || ""),
      el("td", {}, fmtDate(r.started_at)), el("td", {}, String(r.scenarios ?? r.total ?? "")), el("td", {}, String(r.passed ?? "")),
      el("td", { class: r.failed ? "bad" : "good" }, r.failed ? `${r.failed} failed` : "passed"))), "No eval runs stored yet: run `parley eval`.");
  } catch (err) { unavailable($("#eval-list"), err); }
}

// ---- node health
const keyMetrics = [
  ["parley_grain_active", "Active grains"],
  ["parley_grain_messages_total", "Grain messages"],
  ["parley_write_behind_pending", "Writes held for the database"],
  ["parley_http_requests_total", "HTTP requests"],
];

async function loadHealth() {
  try {
    const r = await api("/readyz");
    const pill = $("#ready");
    pill.textContent = r.status === "ready" ? "ready" : "not ready: " + (r.failing || []).join(", ");
    pill.className = "pill " + (r.status === "ready" ? "ok" : "bad");
    fillTable($("#check-list"), (r.checks || []).map((c) => el("tr", {}, el("td", {}, c.name), el("td", { class: c.ok ? "good" : "bad" }, c.ok ? "yes" : "no"),
      el("td", {}, c.error || ""), el("td", {}, (c.duration_ms ?? 0).toFixed(1)))), "No checks.");
  } catch (err) {
    $("#ready").textContent = "unreachable";
    $("#ready").className = "pill bad";
  }
  if (!$("#health").classList.contains("active")) return;
  try {
    const text = await (await fetch("/metrics")).text();
    const sums = new Map();
    for (const line of text.split("\n")) {
      if (!line || line.startsWith("#")) continue;
      const name = line.split(/[{ ]/)[0];
      if (!keyMetrics.some(([m]) => m === name)) continue;
      sums.set(name, (sums.get(name) || 0) + Number(line.slice(line.lastIndexOf(" ") + 1)));
    }
    fillTable($("#metric-list"), keyMetrics.filter(([m]) => sums.has(m)).map(([m, label]) =>
      el("tr", {}, el("td", {}, label), el("td", {}, String(sums.get(m))))), "No metrics.");
  } catch (err) { unavailable($("#metric-list"), err); }
}

// ---- tabs and refresh
function showTab() {
  const name = (location.hash || "#calls").slice(1);
  for (const s of document.querySelectorAll(".tab")) s.classList.toggle("active", s.id === name);
  for (const a of document.querySelectorAll("#tabs a")) a.classList.toggle("active", a.dataset.tab === name);
  refresh();
}

function refresh() {
  const tab = (location.hash || "#calls").slice(1);
  loadHealth();
  if (tab === "calls") { loadCalls(); if (selectedCall) showCall(selectedCall); }
  if (tab === "queues") loadDirectory();
  if (tab === "evals") loadEvals();
}

window.addEventListener("hashchange", showTab);
$("#kb-search").addEventListener("submit", searchKB);
$("#call-state").addEventListener("change", loadCalls);
$("#call-queue").addEventListener("change", loadCalls);
showTab();
setInterval(refresh, 3000);
