// Storefleet dashboard: plain JavaScript, no build step. The token lives in sessionStorage and
// travels only in the Authorization header (the live updates use fetch, not EventSource, so it
// never appears in a URL). Passwords are shown only on request and never logged.
"use strict";

const $ = (id) => document.getElementById(id);
const stores = new Map();
let token = sessionStorage.getItem("storefleet-token") || "";
let watchAbort = null;
let selected = null;
let revealed = false;
let credentials = null;
let loaded = false;
let slowNotice = false;

// A request that gets no answer within this long is reported instead of waiting forever.
const TIMEOUT_MS = 10000;
const STEPS = [
  ["NamespaceReady", "Namespace, quota and network policies"],
  ["DatabaseReady", "Database"],
  ["StorefrontReady", "Storefront"],
  ["SetupComplete", "Setup: shop, products, test order"],
  ["RouteAccepted", "Route accepted by the Gateway"],
];
// Day-2 health, shown where the store has the condition: each with its own words when not True.
const HEALTH = [
  ["Hibernated", "Asleep"],
  ["CheckoutHealthy", "Checkout works (watched)"],
  ["WorkerHealthy", "Background worker"],
  ["CronHealthy", "Scheduled work (cron)"],
  ["BackupReady", "Backups"],
  ["BackupVerified", "Restore proven by a drill"],
];

async function api(method, path, body) {
  const headers = { Authorization: "Bearer " + token };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  let res;
  try {
    res = await fetch(path, { method, headers, signal: abort.signal, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    const err = new Error(abort.signal.aborted
      ? "The server did not answer within " + TIMEOUT_MS / 1000 + " s. It may not reach Kubernetes right now; try again in a moment."
      : "Cannot reach the Storefleet API. Check your connection and try again.");
    err.status = 0;
    throw err;
  } finally {
    clearTimeout(timer);
  }
  const text = await res.text();
  let data = {};
  try { data = text ? JSON.parse(text) : {}; } catch (e) { data = {}; }
  if (!res.ok) {
    const err = new Error((data.error && data.error.message) || res.statusText || "Request failed");
    err.status = res.status;
    throw err;
  }
  return data;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
  if (message) showNotice("");
}

function showNotice(message) {
  const box = $("notice");
  box.textContent = message || "";
  box.hidden = !message;
}

// "just now", "5 min ago", "3 h ago", "yesterday", "4 days ago"; the exact time is the tooltip.
function relativeTime(iso) {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "";
  const s = Math.round((Date.now() - then) / 1000);
  if (s < 45) return "just now";
  const m = Math.round(s / 60);
  if (m < 60) return m + " min ago";
  const h = Math.round(m / 60);
  if (h < 24) return h + " h ago";
  const d = Math.round(h / 24);
  return d === 1 ? "yesterday" : d + " days ago";
}

function time(iso) {
  if (!iso) return el("span", { class: "muted" }, "—");
  return el("time", { datetime: iso, title: new Date(iso).toLocaleString(), "data-time": iso }, relativeTime(iso));
}

setInterval(() => {
  for (const t of document.querySelectorAll("[data-time]")) t.textContent = relativeTime(t.getAttribute("data-time"));
}, 30000);

function badge(phase) {
  return el("span", { class: "badge phase-" + phase }, phase);
}

function shopLink(s, cls) {
  if (s.phase === "Ready" && s.url) {
    return el("a", { href: s.url, target: "_blank", rel: "noopener", class: cls, title: s.url, onclick: (e) => e.stopPropagation() }, "Visit shop ↗");
  }
  if (s.hibernate && !s.deleting) return el("span", { class: "pending-link" }, "Asleep: wake it to open the shop");
  return el("span", { class: "pending-link" }, s.deleting ? "Being removed" : "Available when ready");
}

function render() {
  const body = $("stores").querySelector("tbody");
  body.replaceChildren();
  const names = [...stores.keys()].sort();
  $("empty").hidden = !loaded || names.length > 0;
  $("stores").hidden = !loaded || names.length === 0;
  $("count").textContent = names.length ? "(" + names.length + ")" : "";
  for (const name of names) {
    const s = stores.get(name);
    const stop = (fn) => (e) => { e.stopPropagation(); fn(); };
    const actions = el("div", { class: "actions" },
      el("button", { class: "small", type: "button", "data-action": "details", onclick: stop(() => select(name)) }, "Details"));
    if (s.phase === "Failed") actions.append(el("button", { class: "small", type: "button", "data-action": "retry", onclick: stop(() => retry(name)) }, "Retry"));
    if (s.phase === "Ready" && hasBackups(s)) {
      actions.append(el("button", { class: "small", type: "button", "data-action": "backup", onclick: stop(() => backUp(name)) }, "Back up"));
      if (s.backup && s.backup.last) actions.append(el("button", { class: "small", type: "button", "data-action": "clone", onclick: stop(() => cloneStore(s)) }, "Clone"));
    }
    if (!s.deleting && s.hibernate) actions.append(el("button", { class: "small", type: "button", "data-action": "wake", onclick: stop(() => setHibernate(name, false)) }, "Wake"));
    else if (!s.deleting) actions.append(el("button", { class: "small", type: "button", "data-action": "hibernate", title: "Stop every pod of the shop; its data and address are kept", onclick: stop(() => setHibernate(name, true)) }, "Hibernate"));
    if (!s.deleting) actions.append(el("button", { class: "small danger", type: "button", "data-action": "delete", onclick: stop(() => askDelete(name)) }, "Delete"));
    body.append(el("tr", { "data-store": name, class: name === selected ? "selected" : "", onclick: () => select(name) },
      el("td", {}, el("div", { class: "store-title" }, s.displayName || name), el("div", { class: "store-name" }, name)),
      el("td", { class: "plan col-plan" }, s.plan),
      el("td", { class: "phase", "data-phase": s.phase }, badge(s.phase), s.message && s.phase !== "Ready" ? el("div", { class: "status-message" }, s.message) : null),
      el("td", { class: "col-created" }, time(s.createdAt)),
      el("td", { class: "shop" }, shopLink(s)),
      el("td", {}, actions)));
  }
  if (selected && !stores.has(selected)) closeDetail();
}

function closeDetail() {
  selected = null;
  credentials = null;
  $("detail").hidden = true;
  $("stores-view").classList.remove("with-detail");
  for (const tr of document.querySelectorAll("tr.selected")) tr.classList.remove("selected");
}

async function select(name) {
  if (name !== selected) { revealed = false; credentials = null; }
  selected = name;
  for (const tr of document.querySelectorAll("tr[data-store]")) tr.classList.toggle("selected", tr.getAttribute("data-store") === name);
  try {
    const s = await api("GET", "/api/v1/stores/" + encodeURIComponent(name));
    if (selected !== name) return;
    credentials = s.credentials || null;
    $("detail-title").textContent = s.displayName || name;
    $("detail-name").textContent = name + " · " + s.engine + " · " + s.plan + " plan";
    const parts = [];
    parts.push(el("div", {}, badge(s.phase), s.message ? el("p", { class: "muted small" }, s.message) : null));
    const conditions = new Map((s.conditions || []).map((c) => [c.type, c]));
    const steps = el("ul", { class: "steps" });
    for (const [type, label] of STEPS) {
      const c = conditions.get(type);
      if (!c && type === "RouteAccepted") continue;
      const done = c && c.status === "True";
      steps.append(el("li", { class: done ? "done" : "" }, el("span", { class: "mark" }, done ? "✓" : "•"), label));
    }
    parts.push(steps);
    const health = el("ul", { class: "steps", id: "health" });
    for (const [type, label] of HEALTH) {
      const c = conditions.get(type);
      if (!c) continue;
      const ok = c.status === "True";
      health.append(el("li", { class: ok ? "done" : "", "data-condition": type }, el("span", { class: "mark" }, ok ? "✓" : "•"), label,
        ok ? null : el("div", { class: "muted small" }, c.message)));
    }
    if (health.childElementCount) parts.push(health);
    const facts = el("dl", { class: "facts" });
    const fact = (k, v) => facts.append(el("dt", {}, k), el("dd", {}, v));
    fact("Created", time(s.createdAt));
    if (s.readyAt) fact("Ready since", time(s.readyAt));
    if (s.phase === "Ready" && s.url) {
      fact("Shop", el("span", {}, el("a", { href: s.url, target: "_blank", rel: "noopener", id: "shop-link" }, "Open the shop ↗"), el("div", { class: "url" }, s.url)));
      if (s.adminUrl) fact("Admin", el("span", {}, el("a", { href: s.adminUrl, target: "_blank", rel: "noopener", id: "admin-link" }, ADMIN_LABEL[s.engine] || "Admin ↗"), el("div", { class: "url" }, s.adminUrl)));
    } else {
      fact("Shop", el("span", { class: "muted" }, "The links appear when the store is ready."));
    }
    if (credentials) {
      fact("Admin user", el("span", { class: "secret" }, el("code", {}, credentials.username), copyButton("copy-username", () => credentials.username)));
      const password = el("code", { id: "admin-password" }, revealed ? credentials.password : "••••••••••••");
      const reveal = el("button", { class: "small", type: "button", id: "reveal-password", "aria-pressed": revealed ? "true" : "false" }, revealed ? "Hide" : "Reveal");
      reveal.addEventListener("click", () => {
        revealed = !revealed;
        password.textContent = revealed ? credentials.password : "••••••••••••";
        reveal.textContent = revealed ? "Hide" : "Reveal";
        reveal.setAttribute("aria-pressed", revealed ? "true" : "false");
      });
      fact("Admin password", el("span", { class: "secret" }, password, reveal, copyButton("copy-password", () => credentials.password)));
    }
    const v = s.versions || {};
    const runs = [["WordPress", v.wordpress], ["WooCommerce", v.woocommerce], ["Medusa", v.medusa], ["database", v.database]]
      .filter(([, value]) => value).map(([label, value]) => label + " " + value).join(" · ");
    if (runs) fact("Runs", el("span", { id: "versions" }, runs));
    if (hasBackups(s)) {
      const c = conditions.get("BackupReady");
      const last = s.backup && s.backup.last;
      fact("Last backup", last
        ? el("span", { id: "last-backup" }, time(last.finishedAt), last.snapshot ? el("div", { class: "url" }, "snapshot " + last.snapshot + (last.orders != null ? " · " + last.orders + " orders" : "")) : null)
        : el("span", { class: "muted", id: "last-backup" }, c && c.status === "False" ? c.message : "None yet"));
      const proven = s.backup && s.backup.lastVerifiedRestore;
      fact("Restore proven", proven
        ? el("span", { id: "last-drill" }, time(proven.finishedAt), el("div", { class: "url" }, "snapshot " + (proven.snapshot || "?") + (proven.seconds != null ? " · restored in " + proven.seconds + " s" : "")))
        : el("span", { class: "muted", id: "last-drill" }, "No drill yet"));
    }
    parts.push(facts);
    $("detail-body").replaceChildren(...parts);
    $("detail").hidden = false;
    $("stores-view").classList.add("with-detail");
    const ev = await api("GET", "/api/v1/stores/" + encodeURIComponent(name) + "/events");
    if (selected !== name) return;
    $("events").replaceChildren(...(ev.events.length ? ev.events.map((e) =>
      el("li", { class: e.type }, el("div", {}, el("strong", {}, e.reason), " ", e.message), el("div", { class: "when" }, time(e.time)))) : [el("li", { class: "muted" }, "No events yet.")]));
  } catch (e) { showError(e.message); }
}

function copyButton(id, value) {
  const button = el("button", { class: "small", type: "button", id }, "Copy");
  button.addEventListener("click", async () => {
    const text = value();
    let ok = false;
    try { await navigator.clipboard.writeText(text); ok = true; } catch (e) {
      // Without clipboard permission: a hidden text area and the copy command.
      const area = el("textarea", { class: "sr-only", readonly: "" });
      area.value = text;
      document.body.append(area);
      area.select();
      try { ok = document.execCommand("copy"); } catch (err) { ok = false; }
      area.remove();
    }
    button.textContent = ok ? "Copied" : "Copy failed";
    setTimeout(() => { button.textContent = "Copy"; }, 1500);
  });
  return button;
}

async function retry(name) {
  try { await api("POST", "/api/v1/stores/" + encodeURIComponent(name) + "/retry"); showError(""); }
  catch (e) { showError(e.message); }
}

// Hibernate (every pod of the shop stopped, its data and address kept) or wake a store.
async function setHibernate(name, hibernate) {
  try {
    await api("POST", "/api/v1/stores/" + encodeURIComponent(name) + (hibernate ? "/hibernate" : "/wake"));
    showError("");
    showNotice(hibernate
      ? name + " is going to sleep: its pods stop, its data and address are kept."
      : name + " is waking up: it is Ready again once the shop serves.");
  } catch (e) { showError(e.message); }
}

// Stores whose platform has a backup target carry the BackupReady condition.
function hasBackups(s) {
  return (s.conditions || []).some((c) => c.type === "BackupReady");
}

async function backUp(name) {
  try {
    await api("POST", "/api/v1/stores/" + encodeURIComponent(name) + "/backups");
    showError("");
    showNotice("Backup of " + name + " requested: the Last backup line shows it once it has run.");
  } catch (e) { showError(e.message); }
}

// A staging clone: a new store restored from this one's newest backup (it mails no one and takes
// no online payment).
async function cloneStore(s) {
  const name = window.prompt("Name of the staging clone, restored from the newest backup of " + s.name + ":", s.name + "-staging");
  if (!name) return;
  try {
    await api("POST", "/api/v1/stores", { name: name.trim(), engine: s.engine, plan: s.plan, restoreFrom: { store: s.name, snapshot: "latest" } });
    showError("");
    showNotice("Store " + name.trim() + " is being restored from the newest backup of " + s.name + ".");
  } catch (e) { showError(e.message); }
}

function askDelete(name) {
  $("confirm-text").textContent = "Delete store " + name + "? Its shop and data are removed.";
  const dialog = $("confirm");
  $("confirm-ok").onclick = async () => {
    dialog.close();
    try { await api("DELETE", "/api/v1/stores/" + encodeURIComponent(name)); showError(""); }
    catch (e) { showError(e.message); }
  };
  $("confirm-cancel").onclick = () => dialog.close();
  dialog.showModal();
}

function setLive(on) {
  $("live").classList.toggle("on", on);
  $("live").querySelector(".live-label").textContent = on ? "Live" : "Reconnecting…";
}

// Live updates: Server-Sent Events read with fetch so the token stays in a header.
async function watch() {
  if (watchAbort) watchAbort.abort();
  watchAbort = new AbortController();
  const signal = watchAbort.signal;
  while (!signal.aborted) {
    try {
      const res = await fetch("/api/v1/watch", { headers: { Authorization: "Bearer " + token }, signal });
      if (res.status === 401) { logout("Your token is no longer valid."); return; }
      if (!res.ok) throw new Error("watch failed: " + res.status);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      const fresh = new Map();
      let synced = false;
      if (!loaded) $("loading").hidden = false;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const chunk = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let type = "message", data = "";
          for (const line of chunk.split("\n")) {
            if (line.startsWith("event:")) type = line.slice(6).trim();
            else if (line.startsWith("data:")) data += line.slice(5).trim();
          }
          if (type === "store") {
            const s = JSON.parse(data);
            (synced ? stores : fresh).set(s.name, s);
            if (synced) render();
            if (synced && s.name === selected) select(s.name);
          } else if (type === "deleted") {
            stores.delete(JSON.parse(data).name);
            render();
          } else if (type === "synced") {
            synced = true;
            loaded = true;
            $("loading").hidden = true;
            if (slowNotice) { showError(""); slowNotice = false; }
            setLive(true);
            stores.clear();
            for (const [k, v] of fresh) stores.set(k, v);
            render();
          } else if (type === "resync") {
            break;
          }
        }
      }
    } catch (e) {
      if (signal.aborted) return;
    }
    setLive(false);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function setBusy(busy, status) {
  const button = $("login");
  button.disabled = busy;
  button.classList.toggle("busy", busy);
  button.querySelector(".label").textContent = busy ? "Signing in…" : "Sign in";
  $("login-status").textContent = status || "";
}

async function login(newToken) {
  token = newToken.trim();
  const error = $("login-error");
  if (error) error.remove();
  if (!token) { alertLogin("Paste your API token first."); return; }
  setBusy(true, "Checking your token…");
  const slow = setTimeout(() => { $("login-status").textContent = "Still waiting for the server…"; }, 3000);
  let me;
  try {
    me = await api("GET", "/api/v1/me");
  } catch (e) {
    token = "";
    sessionStorage.removeItem("storefleet-token");
    alertLogin(e.status === 401 ? "That token is not valid." : e.message);
    return;
  } finally {
    clearTimeout(slow);
    setBusy(false);
  }
  sessionStorage.setItem("storefleet-token", token);
  $("who").textContent = me.user;
  $("role").textContent = me.role;
  $("avatar").textContent = (me.user || "?").slice(0, 1).toUpperCase();
  $("demo-banner").hidden = !me.demo;
  $("account").hidden = false;
  $("login-view").hidden = true;
  $("stores-view").hidden = false;
  showError("");
  setLive(false);
  $("live").querySelector(".live-label").textContent = "Connecting…";
  loaded = false;
  $("loading").hidden = false;
  $("empty").hidden = true;
  $("stores").hidden = true;
  // The list comes from the live stream; say so when it is slow instead of waiting silently.
  setTimeout(() => {
    if (!loaded && token) {
      slowNotice = true;
      showError("The server did not answer within " + TIMEOUT_MS / 1000 + " s. It may not reach Kubernetes right now; still trying…");
    }
  }, TIMEOUT_MS);
  watch();
}

function alertLogin(message) {
  let p = $("login-error");
  if (!p) { p = el("p", { id: "login-error", class: "alert", role: "alert" }); $("login-form").after(p); }
  p.textContent = message;
}

function logout(message) {
  if (watchAbort) watchAbort.abort();
  sessionStorage.removeItem("storefleet-token");
  token = "";
  stores.clear();
  closeDetail();
  render();
  $("stores-view").hidden = true;
  $("login-view").hidden = false;
  $("account").hidden = true;
  $("demo-banner").hidden = true;
  $("token").value = "";
  if (message) alertLogin(message);
}

$("login-form").addEventListener("submit", (e) => { e.preventDefault(); login($("token").value); });
$("logout").addEventListener("click", () => logout());
$("detail-close").addEventListener("click", () => closeDetail());
document.addEventListener("keydown", (e) => { if (e.key === "Escape" && selected) closeDetail(); });
// The admin of each engine: WordPress's /wp-admin/, Medusa's /app.
const ADMIN_LABEL = { woocommerce: "WordPress admin ↗", medusa: "Medusa admin ↗" };

$("create-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const button = $("create");
  const request = { name: $("new-name").value.trim(), engine: $("new-engine").value, plan: $("new-plan").value };
  const title = $("new-display").value.trim();
  if (title) request.displayName = title;
  button.disabled = true;
  try {
    await api("POST", "/api/v1/stores", request);
    $("new-name").value = "";
    $("new-display").value = "";
    showError("");
  } catch (err) { showError(err.message); }
  finally { button.disabled = false; }
});

if (token) login(token);
