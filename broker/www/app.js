/*
 * app.js - the dashboard of a tern node: plain JavaScript, no framework,
 * nothing loaded from elsewhere (the page's Content-Security-Policy is
 * default-src 'self').
 *
 * The files are served without a token; the data is not. The page asks
 * for the token once, keeps it in sessionStorage (this tab only, gone
 * with it) and sends it as "Authorization: Bearer" on every fetch() of
 * /api/v1/. A 401 forgets it and asks again. Every 2 s it reads
 * /api/v1/status (the counters), the first page of /api/v1/clients and
 * /api/v1/cluster. Text from the node goes into the page as text
 * (textContent), never as markup.
 */
"use strict";

const KEY = "tern-token";
const POLL_MS = 2000;
let timer = null;

function $(id) {
  return document.getElementById(id);
}

function token() {
  return sessionStorage.getItem(KEY);
}

function message(text) {
  $("message").textContent = text;
}

class Unauthorized extends Error {}

async function api(path, method) {
  const r = await fetch("/api/v1/" + path, {
    method: method || "GET",
    headers: { "Authorization": "Bearer " + token() },
    cache: "no-store",
  });
  if (r.status === 401)
    throw new Unauthorized("the node refused the token");
  const body = await r.json();
  if (!r.ok)
    throw new Error(body.error || r.statusText);
  return body;
}

function showLogin(error) {
  if (timer !== null)
    clearTimeout(timer);
  timer = null;
  sessionStorage.removeItem(KEY);
  $("main").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = error || "";
  $("token").focus();
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (cls)
    td.className = cls;
  tr.appendChild(td);
  return td;
}

function ago(seconds) {
  if (seconds < 60)
    return seconds + " s";
  if (seconds < 3600)
    return Math.floor(seconds / 60) + " min";
  if (seconds < 86400)
    return Math.floor(seconds / 3600) + " h";
  return Math.floor(seconds / 86400) + " d";
}

function renderStatus(st) {
  $("node").textContent = st.node || "";
  $("version").textContent = "version " + st.version;
  $("draining").hidden = !st.draining;
  for (const k of ["connections", "sessions_online", "sessions_offline",
      "subscriptions", "retained", "queued"])
    $("c-" + k).textContent = st.counts[k];
  $("uptime").textContent = ago(st.uptime);
}

async function kick(id, button) {
  button.disabled = true;
  try {
    await api("clients/" + encodeURIComponent(id) + "/kick", "POST");
    message("kicked " + id);
  } catch (e) {
    if (e instanceof Unauthorized)
      return showLogin(e.message);
    message("kick " + id + ": " + e.message);
  }
  refresh();
}

function renderClients(page) {
  const tbody = $("clients").tBodies[0];
  const now = Date.now() / 1000;
  const rows = [];
  for (const c of page.items) {
    const tr = document.createElement("tr");
    tr.dataset.clientId = c.client_id;
    cell(tr, c.client_id, "id");
    cell(tr, c.user);
    cell(tr, c.protocol);
    cell(tr, c.peer);
    cell(tr, c.listener + (c.websockets ? " (ws)" : "") +
      (c.tls ? " (tls)" : ""));
    cell(tr, ago(Math.max(0, Math.round(now - c.connected_at))));
    cell(tr, c.queued);
    cell(tr, c.inflight);
    cell(tr, c.subscriptions);
    const b = document.createElement("button");
    b.type = "button";
    b.className = "kick";
    b.dataset.clientId = c.client_id;
    b.textContent = "Kick";
    b.addEventListener("click", () => kick(c.client_id, b));
    cell(tr, null).appendChild(b);
    rows.push(tr);
  }
  tbody.replaceChildren(...rows);
  $("clients-total").textContent = page.total > page.items.length ?
    "(first " + page.items.length + " of " + page.total + ")" :
    "(" + page.total + ")";
}

function renderCluster(cl) {
  const tbody = $("cluster").tBodies[0];
  const rows = [];
  $("cluster-none").hidden = cl.enabled;
  $("cluster").hidden = !cl.enabled;
  for (const p of cl.peers) {
    const tr = document.createElement("tr");
    tr.dataset.node = p.name;
    cell(tr, p.name, "id");
    cell(tr, p.up ? "up" : "down", p.up ? "up" : "down");
    cell(tr, p.link_in ? "up" : "down", p.link_in ? "up" : "down");
    cell(tr, p.routes);
    cell(tr, p.sent_bytes);
    cell(tr, p.received_bytes);
    cell(tr, p.forwarded);
    cell(tr, p.queued);
    rows.push(tr);
  }
  tbody.replaceChildren(...rows);
}

async function refresh() {
  if (timer !== null)
    clearTimeout(timer);
  timer = null;
  try {
    const [st, clients, cl] = await Promise.all([api("status"),
      api("clients?limit=1000"), api("cluster")]);
    renderStatus(st);
    renderClients(clients);
    renderCluster(cl);
    $("login").hidden = true;
    $("main").hidden = false;
    $("logout").hidden = false;
    document.body.dataset.updated = String(Date.now());
  } catch (e) {
    if (e instanceof Unauthorized)
      return showLogin(e.message);
    message("cannot read the node: " + e.message);
  }
  if (token() !== null)
    timer = setTimeout(refresh, POLL_MS);
}

function start() {
  $("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, $("token").value);
    $("token").value = "";
    refresh();
  });
  $("logout").addEventListener("click", () => showLogin(""));
  if (token() === null)
    showLogin("");
  else
    refresh();
}

start();
