// codex-litellm telemetry dashboard. Plain DOM and SVG, no dependencies. Everything from the
// files is put on the page as text (textContent), never as HTML: telemetry holds model output.
"use strict";

const token = new URLSearchParams(location.search).get("token");
const state = { sessions: new Map(), view: null, open: new Set(), current: null, models: new Set() };
const $ = (id) => document.getElementById(id);

function api(path) {
  if (!token) return path;
  return path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
}

async function getJson(path) {
  const response = await fetch(api(path), { cache: "no-store" });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || response.status + " " + response.statusText);
  return body;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  for (const child of children) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function num(n) {
  if (n === null || n === undefined) return "…";
  if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
  if (n >= 1e4) return (n / 1e3).toFixed(1) + "K";
  return String(n);
}
function ms(v) {
  if (v === null || v === undefined) return "-";
  if (v < 1000) return v + " ms";
  if (v < 60000) return (v / 1000).toFixed(1) + " s";
  return Math.floor(v / 60000) + "m " + String(Math.round((v % 60000) / 1000)).padStart(2, "0") + "s";
}
function clock(time) {
  const t = (time || "").split("T")[1];
  return t ? t.slice(0, 8) : "-";
}
function message(text) {
  $("message").hidden = !text;
  $("message").textContent = text || "";
}
function filters() {
  return {
    errors: $("errors-only").checked,
    model: $("model").value,
    search: $("search").value.trim().toLowerCase(),
  };
}
function addModels(models) {
  let added = false;
  for (const m of models) if (!state.models.has(m)) { state.models.add(m); added = true; }
  if (!added) return;
  const select = $("model");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, "all"),
    ...[...state.models].sort().map((m) => el("option", { value: m }, m)));
  select.value = chosen;
}

// ---- sessions list ----

function sessionRow(s) {
  const stateCell = el("td", {}, el("span", { class: "state " + s.state }, s.state));
  if (s.reason) stateCell.append(" ", el("span", { class: "reason" }, s.reason));
  return el("tr", { "data-session": s.name, class: s.errors ? "has-errors" : "" },
    el("td", { class: "mono" }, s.started || (s.first_time || "").replace("T", " ").slice(0, 19) || "-"),
    el("td", { class: "mono", title: s.name }, s.session_id.slice(0, 13)),
    el("td", {}, s.models.join(", ")),
    el("td", {}, s.provider || "-"),
    el("td", { class: "num" }, num(s.turns)),
    el("td", { class: "num" }, num(s.requests)),
    el("td", { class: "num" }, num(s.input_tokens)),
    el("td", { class: "num" }, num(s.output_tokens)),
    el("td", { class: "num" }, num(s.retries)),
    el("td", { class: "num" }, num(s.errors)),
    stateCell);
}

function sessionShown(s, f) {
  if (f.errors && !(s.errors > 0 || s.state === "stopped")) return false;
  if (f.model && !s.models.includes(f.model)) return false;
  if (f.search) {
    const text = [s.name, s.models.join(" "), s.provider, s.reason, s.state].join(" ").toLowerCase();
    if (!text.includes(f.search)) return false;
  }
  return true;
}

function sortedSessions() {
  return [...state.sessions.values()].sort((a, b) =>
    (b.started || "").localeCompare(a.started || "") || b.modified_ms - a.modified_ms || b.name.localeCompare(a.name));
}

function renderList(fresh) {
  const f = filters();
  const body = $("sessions").tBodies[0];
  const rows = sortedSessions().filter((s) => sessionShown(s, f)).map((s) => {
    const row = sessionRow(s);
    if (fresh && fresh.has(s.name)) row.classList.add("fresh");
    row.addEventListener("click", () => { location.hash = "#/s/" + encodeURIComponent(s.name); });
    return row;
  });
  body.replaceChildren(...rows);
  if (!rows.length) {
    body.append(el("tr", {}, el("td", { colspan: 11 }, state.sessions.size ? "no session matches the filters" : "no sessions recorded yet")));
  }
}

async function loadList() {
  try {
    const data = await getJson("/api/sessions");
    $("folder").textContent = data.dir;
    message(data.error);
    state.sessions = new Map(data.sessions.map((s) => [s.name, s]));
    for (const s of data.sessions) addModels(s.models);
    renderList();
  } catch (e) {
    message("cannot load sessions: " + e.message);
  }
}

// ---- one session ----

let reloadTimer = null;
function reloadSessionSoon() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => loadSession(state.current, true), 150);
}

async function loadSession(name, live) {
  const search = filters().search;
  try {
    const view = await getJson("/api/sessions/" + encodeURIComponent(name) + (search ? "?q=" + encodeURIComponent(search) : ""));
    if (state.current !== name) return;
    const before = state.view && state.view.name === name ? state.view.requests : 0;
    state.view = view;
    addModels(view.models.map((m) => m.model));
    renderSession(live ? before : null);
    const notes = [];
    if (view.omitted) notes.push("showing the latest " + (view.requests - view.omitted) + " of " + view.requests + " requests (totals count them all)");
    if (view.skipped) notes.push("skipped " + view.skipped + " unreadable line(s) in this file");
    message(notes.join("; "));
  } catch (e) {
    message("cannot load session " + name + ": " + e.message);
  }
}

function requestShown(r, f, matches) {
  if (f.errors && !r.error) return false;
  if (f.model && r.model !== f.model) return false;
  if (matches && !matches.has(r.n)) return false;
  return true;
}

function renderSession(freshAfter) {
  const view = state.view;
  const f = filters();
  const matches = view.matches ? new Set(view.matches) : null;
  const all = view.turns.flatMap((t) => t.requests);
  const s = state.sessions.get(view.name);
  $("session-title").textContent = "session " + view.session_id;
  const bits = [view.name, view.turns.length + " turns", view.requests + " requests"];
  if (s) { bits.push(s.state + (s.reason ? ": " + s.reason : "")); if (s.provider) bits.push(s.provider); }
  $("session-summary").textContent = bits.join(" · ");
  drawLatency(all.filter((r) => requestShown(r, f, matches)));
  drawTokens(view.turns);
  drawModels(view.models);
  const turns = [];
  view.turns.forEach((t, i) => {
    const shown = t.requests.filter((r) => requestShown(r, f, matches));
    if (!shown.length) return;
    const failed = t.outcome !== "completed";
    const box = el("div", { class: "turn" + (failed ? " failed" : ""), "data-turn": t.turn_id || "" },
      el("h2", {},
        el("span", {}, "turn " + (i + 1)),
        el("span", { class: "mono" }, (t.turn_id || "no turn id").slice(0, 8)),
        el("span", {}, clock(t.time)),
        el("span", {}, t.requests.length + " request" + (t.requests.length === 1 ? "" : "s")),
        el("span", {}, "in " + num(t.input_tokens) + " / out " + num(t.output_tokens)),
        el("span", { class: "why" }, (failed ? "stopped: " : "") + t.diagnosis)));
    const body = el("tbody");
    for (const r of shown) {
      const row = el("tr", { class: "req" + (r.error ? " error" : "") + (r.retries ? " retried" : ""), "data-n": r.n },
        el("td", { class: "num" }, r.n),
        el("td", { class: "mono" }, clock(r.time)),
        el("td", {}, r.model),
        el("td", { class: "num" }, r.http_status === null ? "-" : r.http_status),
        el("td", { class: "num" }, ms(r.first_byte_ms)),
        el("td", { class: "num" }, ms(r.total_ms)),
        el("td", { class: "num" }, r.input_tokens === null ? "-" : num(r.input_tokens)),
        el("td", { class: "num" }, r.output_tokens === null ? "-" : num(r.output_tokens)),
        el("td", { class: "num retries" }, r.retries),
        el("td", {}, r.finish_reason || r.outcome),
        el("td", {}, r.fault_kind || ""),
        el("td", { class: "diag" }, r.diagnosis));
      if (freshAfter !== null && freshAfter !== undefined && r.n > freshAfter) row.classList.add("fresh");
      row.addEventListener("click", () => toggleRequest(view.name, r.n, row));
      body.append(row);
      if (state.open.has(view.name + "#" + r.n)) showRequest(view.name, r.n, row);
    }
    box.append(el("table", { class: "requests" },
      el("thead", {}, el("tr", {}, ...["#", "time", "model", "HTTP", "first byte", "total", "in", "out", "retries", "finish", "fault", "why it ended"]
        .map((h, k) => el("th", { class: [0, 3, 4, 5, 6, 7, 8].includes(k) ? "num" : "" }, h)))),
      body));
    turns.push(box);
  });
  if (!turns.length) turns.push(el("p", {}, view.requests ? "no request matches the filters" : "no requests recorded yet"));
  $("turns").replaceChildren(...turns);
}

function toggleRequest(name, n, row) {
  const key = name + "#" + n;
  const next = row.nextElementSibling;
  if (next && next.classList.contains("detail")) {
    next.remove();
    state.open.delete(key);
    return;
  }
  state.open.add(key);
  showRequest(name, n, row);
}

async function showRequest(name, n, row) {
  const detail = el("tr", { class: "detail", "data-detail": n }, el("td", { colspan: 12 }, el("pre", {}, "loading…")));
  row.after(detail);
  try {
    const value = await getJson("/api/sessions/" + encodeURIComponent(name) + "/requests/" + n);
    detail.querySelector("pre").textContent = JSON.stringify(value, null, 2);
  } catch (e) {
    detail.querySelector("pre").textContent = "cannot load request " + n + ": " + e.message;
  }
}

// ---- pictures (plain SVG) ----

const W = 640, H = 180, PAD = { l: 44, r: 8, t: 8, b: 22 };
function axis(g, maxY, label) {
  const h = H - PAD.t - PAD.b;
  for (let k = 0; k <= 4; k++) {
    const y = PAD.t + h - (h * k) / 4;
    g.append(svg("line", { x1: PAD.l, x2: W - PAD.r, y1: y, y2: y, stroke: "#e6e9ed" }));
    g.append(svg("text", { x: PAD.l - 4, y: y + 3, "text-anchor": "end" }, label((maxY * k) / 4)));
  }
}

function drawLatency(requests) {
  const box = $("chart-latency");
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "latency per request" });
  if (!requests.length) { box.replaceChildren(root); return; }
  const t0 = Math.min(...requests.map((r) => r.started_at_ms));
  const t1 = Math.max(...requests.map((r) => r.started_at_ms + r.total_ms));
  const span = Math.max(1, t1 - t0);
  const maxY = Math.max(1, ...requests.map((r) => r.total_ms));
  const w = W - PAD.l - PAD.r, h = H - PAD.t - PAD.b;
  const x = (t) => PAD.l + ((t - t0) / span) * w;
  const y = (v) => PAD.t + h - (v / maxY) * h;
  axis(root, maxY, (v) => ms(Math.round(v)));
  root.append(svg("text", { x: PAD.l, y: H - 6 }, clock(new Date(t0).toISOString())));
  root.append(svg("text", { x: W - PAD.r, y: H - 6, "text-anchor": "end" }, clock(new Date(t1).toISOString())));
  const bw = Math.max(3, Math.min(14, w / requests.length / 2));
  for (const r of requests) {
    const cx = x(r.started_at_ms);
    const tip = `#${r.n} ${r.model}: first byte ${ms(r.first_byte_ms)}, total ${ms(r.total_ms)}` + (r.error ? ` — ${r.diagnosis}` : "");
    const bar = svg("rect", { x: cx - bw / 2, y: y(r.total_ms), width: bw, height: Math.max(1, PAD.t + h - y(r.total_ms)), fill: r.error ? "#e57373" : "#9bb3da", "data-n": r.n });
    bar.append(svg("title", {}, tip));
    root.append(bar);
    if (r.first_byte_ms !== null) {
      root.append(svg("rect", { x: cx - bw / 2, y: y(r.first_byte_ms) - 1.5, width: bw, height: 3, fill: "#1f3f7a" }));
    }
    if (r.retries) {
      const m = svg("path", { d: `M${cx - 5},${PAD.t + 9} L${cx + 5},${PAD.t + 9} L${cx},${PAD.t} Z`, fill: "#e08a00" });
      m.append(svg("title", {}, `#${r.n}: ${r.retries} retr${r.retries === 1 ? "y" : "ies"}`));
      root.append(m);
    }
    if (r.error) {
      const m = svg("path", { d: `M${cx - 5},${PAD.t + h - 10} L${cx + 5},${PAD.t + h} M${cx + 5},${PAD.t + h - 10} L${cx - 5},${PAD.t + h}`, stroke: "#c62828", "stroke-width": 2.5, class: "error-mark" });
      m.append(svg("title", {}, `#${r.n}: ${r.diagnosis}`));
      root.append(m);
    }
  }
  box.replaceChildren(root);
}

function drawTokens(turns) {
  const box = $("chart-tokens");
  const root = svg("svg", { viewBox: `0 0 ${W / 2} ${H}`, role: "img", "aria-label": "tokens per turn" });
  const Wt = W / 2, w = Wt - PAD.l - PAD.r, h = H - PAD.t - PAD.b;
  const maxY = Math.max(1, ...turns.map((t) => Math.max(t.input_tokens, t.output_tokens)));
  const grid = svg("g");
  for (let k = 0; k <= 4; k++) {
    const yy = PAD.t + h - (h * k) / 4;
    grid.append(svg("line", { x1: PAD.l, x2: Wt - PAD.r, y1: yy, y2: yy, stroke: "#e6e9ed" }));
    grid.append(svg("text", { x: PAD.l - 4, y: yy + 3, "text-anchor": "end" }, num(Math.round((maxY * k) / 4))));
  }
  root.append(grid);
  const slot = w / Math.max(1, turns.length);
  turns.forEach((t, i) => {
    const bw = Math.max(2, slot * 0.38);
    const x0 = PAD.l + i * slot + slot * 0.1;
    for (const [k, v, color] of [[0, t.input_tokens, "#4a78c2"], [1, t.output_tokens, "#8e5cc2"]]) {
      const hh = (v / maxY) * h;
      const bar = svg("rect", { x: x0 + k * bw, y: PAD.t + h - hh, width: bw, height: Math.max(0.5, hh), fill: color });
      bar.append(svg("title", {}, `turn ${i + 1}: ${k ? "out" : "in"} ${v}`));
      root.append(bar);
    }
    if (t.outcome !== "completed") root.append(svg("text", { x: x0 + bw, y: H - 6, "text-anchor": "middle", fill: "#c62828" }, "✕"));
  });
  box.replaceChildren(root);
}

function drawModels(models) {
  const box = $("chart-models");
  const rowH = 44;
  const Hm = Math.max(40, models.length * rowH + 8);
  const Wm = W / 2;
  const root = svg("svg", { viewBox: `0 0 ${Wm} ${Hm}`, role: "img", "aria-label": "per-model totals" });
  const maxTokens = Math.max(1, ...models.map((m) => m.input_tokens + m.output_tokens));
  models.forEach((m, i) => {
    const y0 = 4 + i * rowH;
    root.append(svg("text", { x: 4, y: y0 + 10, fill: "#1d232b", "font-weight": 600 }, m.model));
    root.append(svg("text", { x: 4, y: y0 + 22 },
      `${m.requests} req · in ${num(m.input_tokens)} · out ${num(m.output_tokens)} · ${m.retries} retries · ${m.errors} errors · ${ms(m.total_ms)}`));
    const wIn = ((Wm - 8) * m.input_tokens) / maxTokens;
    const wOut = ((Wm - 8) * m.output_tokens) / maxTokens;
    root.append(svg("rect", { x: 4, y: y0 + 27, width: Math.max(0.5, wIn), height: 9, fill: "#4a78c2" }));
    root.append(svg("rect", { x: 4 + wIn, y: y0 + 27, width: Math.max(0.5, wOut), height: 9, fill: "#8e5cc2" }));
    if (m.errors) {
      const mark = svg("rect", { x: Wm - 4 - 6 * Math.min(m.errors, 20), y: y0 + 38, width: 6 * Math.min(m.errors, 20), height: 3, fill: "#c62828" });
      mark.append(svg("title", {}, `${m.errors} failed request${m.errors === 1 ? "" : "s"}`));
      root.append(mark);
    }
  });
  box.replaceChildren(root);
}

// ---- routing and live updates ----

function route() {
  const match = location.hash.match(/^#\/s\/(.+)$/);
  if (match) {
    state.current = decodeURIComponent(match[1]);
    $("list-view").hidden = true;
    $("session-view").hidden = false;
    loadSession(state.current, false);
  } else {
    state.current = null;
    state.view = null;
    $("list-view").hidden = false;
    $("session-view").hidden = true;
    renderList();
  }
}

function connect() {
  const source = new EventSource(api("/api/events"));
  source.onopen = () => { $("link").textContent = "live"; $("link").className = "link on"; loadList(); };
  source.onerror = () => { $("link").textContent = "reconnecting"; $("link").className = "link off"; };
  source.onmessage = (event) => {
    let change;
    try { change = JSON.parse(event.data); } catch (e) { return; }
    if (change.kind === "session") {
      state.sessions.set(change.name, change);
      addModels(change.models);
      if (!state.current) renderList(new Set([change.name]));
      else if (change.name === state.current && state.view) renderSession(null);
    } else if (change.kind === "removed") {
      state.sessions.delete(change.session);
      if (!state.current) renderList();
    } else if (change.kind === "request") {
      if (change.session === state.current) reloadSessionSoon();
    } else if (change.kind === "resync") {
      loadList();
      if (state.current) reloadSessionSoon();
    }
  };
}

let searchTimer = null;
document.addEventListener("DOMContentLoaded", () => {
  $("errors-only").addEventListener("change", () => (state.current ? renderSession(null) : renderList()));
  $("model").addEventListener("change", () => (state.current ? renderSession(null) : renderList()));
  $("search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => (state.current ? loadSession(state.current, false) : renderList()), 250);
  });
  window.addEventListener("hashchange", route);
  loadList().then(route);
  connect();
});
