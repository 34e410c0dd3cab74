// Storefleet dashboard: plain JavaScript, no build step. The token lives in sessionStorage and
// travels only in the Authorization header (the live updates use fetch, not EventSource, so it
// never appears in a URL).
"use strict";

const $ = (id) => document.getElementById(id);
const stores = new Map();
let token = sessionStorage.getItem("storefleet-token") || "";
let watchAbort = null;
let selected = null;

async function api(method, path, body) {
  const headers = { Authorization: "Bearer " + token };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const data = text ? JSON.parse(text) : {};
  if (!res.ok) {
    const err = new Error((data.error && data.error.message) || res.statusText);
    err.status = res.status;
    throw err;
  }
  return data;
}

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function render() {
  const body = $("stores").querySelector("tbody");
  body.replaceChildren();
  const names = [...stores.keys()].sort();
  $("empty").hidden = names.length > 0;
  for (const name of names) {
    const s = stores.get(name);
    const shop = s.url ? el("a", { href: s.url, target: "_blank", rel: "noopener" }, s.url) : "";
    const actions = el("div", { class: "actions" },
      el("button", { class: "secondary", "data-action": "details", onclick: () => select(name) }, "Details"));
    if (s.phase === "Failed") actions.append(el("button", { class: "secondary", "data-action": "retry", onclick: () => retry(name) }, "Retry"));
    if (!s.deleting) actions.append(el("button", { class: "danger", "data-action": "delete", onclick: () => askDelete(name) }, "Delete"));
    body.append(el("tr", { "data-store": name },
      el("td", {}, name),
      el("td", {}, s.plan),
      el("td", { class: "phase phase-" + s.phase, "data-phase": s.phase }, s.phase),
      el("td", {}, s.message || ""),
      el("td", {}, shop),
      el("td", {}, actions)));
  }
  if (selected && !stores.has(selected)) { selected = null; $("detail").hidden = true; }
}

async function select(name) {
  selected = name;
  try {
    const s = await api("GET", "/api/v1/stores/" + encodeURIComponent(name));
    const rows = [["Phase", s.phase], ["Status", s.message || ""], ["Engine", s.engine], ["Plan", s.plan]];
    if (s.url) rows.push(["Shop", el("a", { href: s.url, target: "_blank", rel: "noopener" }, s.url)]);
    if (s.adminUrl) rows.push(["Admin", el("a", { href: s.adminUrl, target: "_blank", rel: "noopener" }, s.adminUrl)]);
    if (s.credentials) {
      rows.push(["Admin user", el("code", {}, s.credentials.username)]);
      rows.push(["Admin password", el("code", { id: "admin-password" }, s.credentials.password)]);
    }
    const dl = el("dl");
    for (const [k, v] of rows) dl.append(el("dt", {}, k), el("dd", {}, v));
    $("detail-title").textContent = name;
    $("detail-body").replaceChildren(dl);
    const ev = await api("GET", "/api/v1/stores/" + encodeURIComponent(name) + "/events");
    $("events").replaceChildren(...(ev.events.length ? ev.events.map((e) =>
      el("li", {}, (e.time ? e.time + " " : "") + e.type + " " + e.reason + ": " + e.message)) : [el("li", {}, "No events yet.")]));
    $("detail").hidden = false;
  } catch (e) { showError(e.message); }
}

async function retry(name) {
  try { await api("POST", "/api/v1/stores/" + encodeURIComponent(name) + "/retry"); showError(""); }
  catch (e) { showError(e.message); }
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
      $("live").classList.add("on");
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
    $("live").classList.remove("on");
    await new Promise((r) => setTimeout(r, 2000));
  }
}

async function login(newToken) {
  token = newToken.trim();
  try {
    await api("GET", "/api/v1/stores");
  } catch (e) {
    token = "";
    alertLogin(e.status === 401 ? "That token is not valid." : e.message);
    return;
  }
  sessionStorage.setItem("storefleet-token", token);
  $("login-view").hidden = true;
  $("stores-view").hidden = false;
  $("logout").hidden = false;
  showError("");
  watch();
}

function alertLogin(message) {
  let p = $("login-error");
  if (!p) { p = el("p", { id: "login-error", class: "error", role: "alert" }); $("login-form").after(p); }
  p.textContent = message;
}

function logout(message) {
  if (watchAbort) watchAbort.abort();
  sessionStorage.removeItem("storefleet-token");
  token = "";
  stores.clear();
  render();
  $("stores-view").hidden = true;
  $("login-view").hidden = false;
  $("logout").hidden = true;
  if (message) alertLogin(message);
}

$("login-form").addEventListener("submit", (e) => { e.preventDefault(); login($("token").value); });
$("logout").addEventListener("click", () => logout());
$("create-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await api("POST", "/api/v1/stores", { name: $("new-name").value.trim(), plan: $("new-plan").value });
    $("new-name").value = "";
    showError("");
  } catch (err) { showError(err.message); }
});

if (token) login(token);
