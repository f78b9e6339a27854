// keeper web: the page. Plain JavaScript, no build step. It talks to the
// server's JSON API (/api/...) and listens to its event stream.
"use strict";

const PAGE = 200; // children per page of the tree

const $ = (sel) => document.querySelector(sel);
const el = (tag, props, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(e.dataset, v);
    else e.setAttribute(k, v);
  }
  for (const kid of kids) if (kid != null) e.append(kid);
  return e;
};

const S = {
  info: null,
  ens: "",
  readOnly: false,
  open: new Map(),    // expanded path -> {offset, filter, total, children}
  selected: "",
  node: null,         // {path, data (Uint8Array|null), stat}
  acl: null,
  dirty: false,
  events: null,
  state: "Connecting",
  view: "tree",
  pending: new Set(), // paths whose listing must be re-read
  serverTimer: 0,
};

// ---- API ----

class APIError extends Error {
  constructor(status, body) {
    super((body && body.error) || "HTTP " + status);
    this.status = status;
    this.body = body || {};
  }
}

function url(path, params) {
  const q = new URLSearchParams({ ens: S.ens, ...params });
  return path + "?" + q.toString();
}

async function api(method, path, params, body) {
  const opts = { method, credentials: "same-origin", headers: {} };
  if (method !== "GET") opts.headers["X-Keeper-Request"] = "1";
  if (body !== undefined) {
    if (typeof body === "string") {
      opts.body = body;
    } else {
      opts.body = JSON.stringify(body);
    }
    opts.headers["Content-Type"] = "application/json";
  }
  const resp = await fetch(url(path, params), opts);
  let out = null;
  const ct = resp.headers.get("Content-Type") || "";
  if (ct.startsWith("application/json")) out = await resp.json();
  if (resp.status === 401) {
    location.href = "/";
  }
  if (!resp.ok) throw new APIError(resp.status, out);
  return out;
}

// ---- messages ----

let msgTimer = 0;
function say(text, isError) {
  const m = $("#msg");
  m.textContent = text;
  m.className = "show" + (isError ? " error" : "");
  clearTimeout(msgTimer);
  if (!isError) msgTimer = setTimeout(() => { m.textContent = ""; m.className = ""; }, 4000);
}
function fail(err) { say(err.message || String(err), true); }

// ---- data formats ----

const enc = new TextEncoder();
function b64decode(s) {
  if (s == null) return null;
  const bin = atob(s);
  const b = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) b[i] = bin.charCodeAt(i);
  return b;
}
function b64encode(b) {
  if (b == null) return null;
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode.apply(null, b.subarray(i, i + 0x8000));
  return btoa(s);
}
function utf8(b) {
  try { return new TextDecoder("utf-8", { fatal: true }).decode(b); } catch { return null; }
}
function toHex(b) {
  const lines = [];
  for (let i = 0; i < b.length; i += 16) {
    lines.push(Array.from(b.subarray(i, i + 16), (x) => x.toString(16).padStart(2, "0")).join(" "));
  }
  return lines.join("\n");
}
function fromHex(s) {
  const t = s.replace(/\s+/g, "");
  if (!/^([0-9a-fA-F]{2})*$/.test(t)) throw new Error("hex: want pairs of hex digits");
  const b = new Uint8Array(t.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(t.substr(2 * i, 2), 16);
  return b;
}
function guessFormat(b) {
  if (b == null || b.length === 0) return "text";
  const t = utf8(b);
  if (t == null || /[\x00-\x08\x0e-\x1f]/.test(t)) return "hex";
  try { const v = JSON.parse(t); if (typeof v === "object" && v !== null) return "json"; } catch {}
  return "text";
}
function render(b, fmt) {
  if (b == null) return "";
  switch (fmt) {
    case "hex": return toHex(b);
    case "base64": return b64encode(b);
    case "json": {
      const t = utf8(b);
      try { return JSON.stringify(JSON.parse(t), null, 2); } catch { return t == null ? toHex(b) : t; }
    }
    default: { const t = utf8(b); return t == null ? toHex(b) : t; }
  }
}
// parse turns the editor's text back into bytes; it throws on bad input.
function parse(text, fmt) {
  switch (fmt) {
    case "hex": return fromHex(text);
    case "base64": {
      try { return b64decode(text.replace(/\s+/g, "")); } catch { throw new Error("base64: not valid base64"); }
    }
    case "json":
      try { JSON.parse(text); } catch (e) { throw new Error("JSON: " + e.message); }
      return enc.encode(text);
    default: return enc.encode(text);
  }
}

// ---- paths ----

const parentOf = (p) => (p === "/" ? "" : p.slice(0, p.lastIndexOf("/")) || "/");
const join = (p, name) => (p === "/" ? "/" + name : p + "/" + name);
const baseOf = (p) => (p === "/" ? "/" : p.slice(p.lastIndexOf("/") + 1));

// ---- the tree ----

async function loadChildren(path) {
  const o = S.open.get(path);
  if (!o) return;
  const params = { path, offset: o.offset, limit: PAGE };
  if (o.filter) params.filter = o.filter;
  try {
    const r = await api("GET", "/api/children", params);
    o.total = r.total;
    o.children = r.children;
    o.error = "";
    if (o.offset > 0 && o.offset >= r.total) { o.offset = Math.max(0, Math.floor((r.total - 1) / PAGE) * PAGE); return loadChildren(path); }
  } catch (e) {
    if (e.status === 404) { S.open.delete(path); } else { o.error = e.message; }
  }
  drawTree();
}

function expand(path) {
  if (!S.open.has(path)) S.open.set(path, { offset: 0, filter: "", total: 0, children: null });
  return loadChildren(path);
}
function collapse(path) {
  for (const p of [...S.open.keys()]) if (p === path || p.startsWith(path === "/" ? "/" : path + "/")) S.open.delete(p);
  drawTree();
}

function drawTree() {
  const root = $("#tree");
  const scroll = root.scrollTop;
  root.replaceChildren(treeRow("/", "/", 0, null));
  root.scrollTop = scroll;
}

function treeRow(path, name, depth, info) {
  const open = S.open.get(path);
  const hasKids = info == null || info.numChildren > 0;
  const row = el("div", { class: "row" + (path === S.selected ? " selected" : "") + (info && info.ephemeral ? " ephemeral" : ""), dataset: { path } },
    el("span", { class: "twisty", text: hasKids ? (open ? "▾" : "▸") : "" }),
    el("span", { class: "name", text: name }),
    info && info.numChildren > 0 ? el("span", { class: "count", text: "(" + info.numChildren.toLocaleString() + ")" }) : null);
  row.style.paddingLeft = 8 + depth * 14 + "px";
  row.addEventListener("click", (ev) => {
    if (ev.target.classList.contains("twisty")) {
      if (open) collapse(path); else expand(path);
      return;
    }
    select(path);
  });
  row.addEventListener("dblclick", () => (open ? collapse(path) : expand(path)));
  const frag = document.createDocumentFragment();
  frag.append(row);
  if (open) {
    if (open.error) frag.append(indent(el("div", { class: "pager error", text: open.error }), depth + 1));
    if (open.total > PAGE || open.filter) frag.append(pager(path, open, depth + 1));
    for (const k of open.children || []) {
      if (k.gone) continue;
      frag.append(treeRow(join(path, k.name), k.name, depth + 1, k));
    }
  }
  return frag;
}

function indent(e, depth) { e.style.paddingLeft = 8 + depth * 14 + "px"; return e; }

function pager(path, o, depth) {
  const last = Math.min(o.offset + PAGE, o.total);
  const filter = el("input", { placeholder: "filter names", value: o.filter, "aria-label": "filter children" });
  filter.addEventListener("change", () => { o.filter = filter.value.trim(); o.offset = 0; loadChildren(path); });
  const p = el("div", { class: "pager", dataset: { pager: path } },
    el("button", { class: "prev", text: "‹", title: "previous page", onclick: () => { o.offset = Math.max(0, o.offset - PAGE); loadChildren(path); } }),
    el("span", { class: "range", text: (o.total ? o.offset + 1 : 0).toLocaleString() + "–" + last.toLocaleString() + " of " + o.total.toLocaleString() }),
    el("button", { class: "next", text: "›", title: "next page", onclick: () => { if (o.offset + PAGE < o.total) { o.offset += PAGE; loadChildren(path); } } }),
    filter);
  return indent(p, depth);
}

// reveal opens every ancestor of path, with the page holding each step.
async function reveal(path) {
  const parts = path.split("/").filter(Boolean);
  let p = "/";
  for (const part of parts) {
    if (!S.open.has(p)) S.open.set(p, { offset: 0, filter: "", total: 0, children: null });
    const o = S.open.get(p);
    await loadChildren(p);
    if (o.children && !o.children.some((k) => k.name === part) && o.total > PAGE) {
      o.filter = part;
      o.offset = 0;
      await loadChildren(p);
    }
    p = join(p, part);
  }
}

// ---- the node view ----

async function select(path, keepDirty) {
  if (S.dirty && !keepDirty && path !== S.selected && !confirm("Drop your unsaved edit of " + S.selected + "?")) return;
  S.selected = path;
  $("#path").value = path;
  history.replaceState(null, "", "#" + encodeURIComponent(S.ens) + ":" + path);
  drawTree();
  $("#results").hidden = true;
  await loadNode(true);
}

// loadNode reads the selected node; pickFormat chooses the editor's format
// from the data (for a newly selected node).
async function loadNode(pickFormat) {
  const path = S.selected;
  try {
    const n = await api("GET", "/api/node", { path, acl: "true" });
    const a = n.acl;
    if (path !== S.selected) return;
    if (S.dirty && !pickFormat) {
      // The user started editing while this was read: keep the edit, and
      // the version it was started from.
      notice(path + " was changed by another client while you edit it: saving will show both versions.");
      return;
    }
    S.node = { path: n.path, data: b64decode(n.data), stat: n.stat };
    S.acl = a;
    S.dirty = false;
    $("#conflict").hidden = true;
    $("#notice").hidden = true;
    showNode(pickFormat);
  } catch (e) {
    if (e.status === 404) {
      S.node = null;
      $("#node-view").hidden = true;
      $("#node-empty").hidden = false;
      $("#node-empty").textContent = path + " does not exist.";
      return;
    }
    fail(e);
  }
}

function showNode(pickFormat) {
  const n = S.node;
  $("#node-empty").hidden = true;
  $("#node-view").hidden = false;
  $("#node-path").textContent = n.path;
  if (pickFormat) $("#format").value = guessFormat(n.data);
  const ta = $("#data");
  ta.value = render(n.data, $("#format").value);
  ta.placeholder = n.data == null ? "(no data)" : "";
  ta.classList.remove("dirty");
  $("#data-error").textContent = "";
  $("#export").href = url("/api/export", { path: n.path });
  drawStat(n.stat);
  drawACL();
}

function fmtTime(ms) { return ms ? new Date(ms).toLocaleString() + " (" + ms + ")" : "0"; }

function drawStat(st) {
  const rows = [
    ["version", st.version], ["data length", st.dataLength.toLocaleString() + " bytes"],
    ["children", st.numChildren.toLocaleString()], ["created", fmtTime(st.ctime)], ["modified", fmtTime(st.mtime)],
    ["czxid", st.czxid], ["mzxid", st.mzxid], ["pzxid", st.pzxid],
    ["cversion", st.cversion], ["aversion", st.aversion],
  ];
  const t = $("#stat");
  t.replaceChildren();
  for (const [k, v] of rows) t.append(el("tr", null, el("td", { text: k }), el("td", { class: "mono", text: String(v) })));
  if (st.ephemeralOwner) {
    const link = el("a", { class: "session mono", text: st.ephemeralOwner, title: "show the session", onclick: () => showSession(st.ephemeralOwner) });
    t.append(el("tr", null, el("td", { text: "ephemeral owner" }), el("td", null, link)));
  }
}

function drawACL() {
  const body = $("#acl tbody");
  body.replaceChildren();
  const a = S.acl;
  if (!a || a.error) {
    body.append(el("tr", null, el("td", { colspan: "4", class: "error", text: a ? a.error : "" })));
    $("#aversion").textContent = "";
    return;
  }
  $("#aversion").textContent = "(aversion " + a.aversion + ")";
  for (const e of a.acl) body.append(aclRow(e));
}

function aclRow(e) {
  const ro = S.readOnly ? { readonly: "" } : {};
  return el("tr", { class: "acl-entry" },
    el("td", null, el("input", { class: "scheme", value: e.scheme, "aria-label": "scheme", ...ro })),
    el("td", null, el("input", { class: "id", value: e.id, "aria-label": "id", ...ro })),
    el("td", null, el("input", { class: "perms", value: e.perms, "aria-label": "perms", ...ro })),
    el("td", null, el("button", { class: "write", text: "✕", title: "remove", onclick: (ev) => ev.target.closest("tr").remove() })));
}

async function saveACL() {
  const acl = [...document.querySelectorAll("#acl tbody tr.acl-entry")].map((tr) => ({
    scheme: tr.querySelector(".scheme").value.trim(), id: tr.querySelector(".id").value.trim(), perms: tr.querySelector(".perms").value.trim(),
  }));
  const recursive = $("#acl-recursive").checked;
  if (recursive && !(await dialog("Set the ACL of the whole subtree", [el("p", { id: "acl-confirm", text: "Set this ACL on " + S.selected + " and every node below it?" })], "Set ACL"))) return;
  try {
    const r = await api("PUT", "/api/acl", {}, { path: S.selected, acl, aversion: S.acl.aversion, recursive });
    say("ACL saved on " + r.changed + " node" + (r.changed === 1 ? "" : "s"));
    await loadNode();
  } catch (e) { fail(e); }
}

function editorBytes() {
  return parse($("#data").value, $("#format").value);
}

async function save(version) {
  let data;
  try { data = editorBytes(); } catch (e) { $("#data-error").textContent = e.message + ": not saved"; return; }
  $("#data-error").textContent = "";
  const n = S.node;
  try {
    const r = await api("PUT", "/api/node", {}, { path: n.path, data: b64encode(data), version: version ?? n.stat.version });
    S.node = { path: r.path, data: b64decode(r.data), stat: r.stat };
    S.dirty = false;
    $("#conflict").hidden = true;
    $("#notice").hidden = true;
    showNode(false);
    say("Saved " + n.path + " (version " + r.stat.version + ")");
  } catch (e) {
    if (e.status === 409 && e.body.current) { showConflict(e.body.current, data); return; }
    fail(e);
  }
}

function showConflict(cur, mine) {
  const theirs = b64decode(cur.data);
  const fmt = $("#format").value;
  $("#conflict-text").textContent = e_msg(cur) + " Choose which to keep.";
  $("#theirs").textContent = render(theirs, fmt);
  $("#yours").textContent = render(mine, fmt);
  $("#conflict").hidden = false;
  S.conflict = { cur, mine };
}
function e_msg(cur) {
  return cur.path + " was changed by another client since you read it (now version " + cur.stat.version + ", you read version " + S.node.stat.version + ").";
}

// ---- dialogs ----

function dialog(title, fields, okText) {
  const d = $("#dialog");
  $("#dialog-title").textContent = title;
  $("#dialog-body").replaceChildren(...fields);
  $("#dialog-error").textContent = "";
  $("#dialog-ok").textContent = okText || "OK";
  d.returnValue = "";
  d.showModal();
  return new Promise((resolve) => {
    const done = (ok) => { d.removeEventListener("close", onClose); resolve(ok); };
    const onClose = () => done(d.returnValue === "ok");
    d.addEventListener("close", onClose);
  });
}
const field = (label, input) => el("label", null, label, input);

async function createDialog() {
  const name = el("input", { type: "text", id: "create-name", placeholder: "name, or a path relative to " + S.selected });
  const mode = el("select", { id: "create-mode" }, ...["persistent", "ephemeral", "sequential", "ephemeral-sequential", "container", "ttl", "ttl-sequential"].map((m) => el("option", { value: m, text: m })));
  const ttl = el("input", { type: "text", id: "create-ttl", placeholder: "TTL in ms (ttl modes; the server needs extendedTypesEnabled)" });
  const data = el("textarea", { id: "create-data", rows: "4" });
  if (!(await dialog("New node under " + S.selected, [field("Name", name), field("Mode", mode), field("TTL", ttl), field("Data (text)", data)], "Create"))) return;
  const rel = name.value.trim();
  if (!rel) return say("no name given", true);
  const path = rel.startsWith("/") ? rel : join(S.selected, rel);
  try {
    const r = await api("POST", "/api/node", {}, { path, data: b64encode(enc.encode(data.value)), mode: mode.value, ttl: Number(ttl.value) || 0, parents: true });
    say("Created " + r.path);
    await expand(parentOf(r.path));
    await select(r.path);
  } catch (e) { fail(e); }
}

async function deleteDialog() {
  const path = S.selected;
  if (path === "/") return say("the root cannot be deleted", true);
  let below = S.node.stat.numChildren;
  if (below > 0) {
    try { const c = await api("GET", "/api/count", { path }); if (c.descendants >= 0) below = c.descendants; } catch (e) { fail(e); return; }
  }
  const text = below > 0
    ? "Delete " + path + " and the " + below.toLocaleString() + " node" + (below === 1 ? "" : "s") + " below it (" + (below + 1).toLocaleString() + " in all)?"
    : "Delete " + path + "?";
  if (!(await dialog("Delete", [el("p", { id: "delete-text", text })], "Delete"))) return;
  try {
    if (below > 0) await api("DELETE", "/api/node", { path, recursive: "true" });
    else await api("DELETE", "/api/node", { path, version: String(S.node.stat.version) });
    say("Deleted " + path);
    S.dirty = false;
    await select(parentOf(path));
    refresh(parentOf(path));
  } catch (e) { fail(e); }
}

async function copyDialog(move) {
  const from = S.selected;
  const to = el("input", { type: "text", id: "copy-to", value: from + (move ? "-moved" : "-copy") });
  if (!(await dialog((move ? "Move " : "Copy ") + from + " (and everything below it)", [field("To", to)], move ? "Move" : "Copy"))) return;
  try {
    const r = await api("POST", "/api/copy", {}, { from, to: to.value.trim(), move });
    say((move ? "Moved " : "Copied ") + from + " to " + r.to + (r.message ? ": " + r.message : ""));
    await reveal(r.to);
    await select(r.to, true);
  } catch (e) { fail(e); }
}

async function importDialog() {
  const file = el("input", { type: "file", id: "import-file", accept: ".json,application/json" });
  const dest = el("input", { type: "text", id: "import-path", placeholder: "(the dumped path)", value: S.selected === "/" ? "" : S.selected });
  const force = el("input", { type: "checkbox", id: "import-force" });
  if (!(await dialog("Import a dump (keeper dump's format)", [field("Dump file", file), field("Into", dest), el("label", null, force, " overwrite the data of existing nodes")], "Import"))) return;
  if (!file.files.length) return say("no file chosen", true);
  const body = await file.files[0].text();
  const params = {};
  if (dest.value.trim()) params.path = dest.value.trim();
  if (force.checked) params.force = "true";
  try {
    const r = await api("POST", "/api/import", params, body);
    say(r.message || "imported");
    refreshAll();
  } catch (e) { fail(e); }
}

// ---- search ----

let search = null;
function startSearch(ev) {
  ev.preventDefault();
  if (search) search.close();
  const pattern = $("#search").value;
  const by = $("#search-by").value;
  const root = S.selected || "/";
  const list = $("#results-list");
  list.replaceChildren();
  $("#results").hidden = false;
  $("#results-title").textContent = "Searching " + root + " by " + by + " for " + pattern + "…";
  let n = 0;
  search = new EventSource(url("/api/search", { path: root, by, pattern }));
  search.addEventListener("match", (e) => {
    const line = JSON.parse(e.data);
    n++;
    const p = by === "data" ? line.slice(0, line.indexOf(":")) : line;
    list.append(el("li", null, el("a", { class: "mono", text: line, onclick: async () => { await reveal(p); select(p); } })));
  });
  search.addEventListener("done", (e) => {
    const d = JSON.parse(e.data);
    $("#results-title").textContent = n + " match" + (n === 1 ? "" : "es") + " below " + root + (d.truncated ? " (stopped at " + d.matches + ")" : "");
    search.close();
  });
  search.addEventListener("error", (e) => {
    if (e.data) $("#results-title").textContent = "Search failed: " + JSON.parse(e.data);
    else if (search.readyState !== EventSource.CLOSED) $("#results-title").textContent = "Search failed (bad pattern?)";
    search.close();
  });
}

// ---- live updates ----

function connectEvents() {
  if (S.events) S.events.close();
  delete document.body.dataset.live;
  const es = new EventSource(url("/api/events", { path: "/" }));
  S.events = es;
  es.addEventListener("state", (e) => setState(JSON.parse(e.data)));
  es.addEventListener("nodes", (e) => { for (const c of JSON.parse(e.data)) changed(c.path, c.type); });
  es.addEventListener("resync", () => refreshAll());
  es.addEventListener("watching", () => { document.body.dataset.live = "on"; refreshAll(); });
  es.addEventListener("nowatch", (e) => say("No live updates: " + JSON.parse(e.data), true));
  es.addEventListener("open", () => { if (S.state === "Unreachable") refreshAll(); });
  es.addEventListener("error", () => { if (es.readyState !== EventSource.OPEN) setState({ state: "Unreachable" }); });
}

function setState(s) {
  const was = S.state;
  S.state = s.state;
  const pill = $("#state");
  pill.dataset.state = s.state;
  pill.textContent = s.state === "ConnectedReadOnly" ? "Read-only server" : s.state;
  pill.title = s.server ? "connected to " + s.server : s.error || "";
  const b = $("#banner");
  const texts = {
    Connecting: "Connecting to ZooKeeper…",
    Suspended: "Suspended: the connection to ZooKeeper dropped; reconnecting. What you see may be stale.",
    Lost: "Lost: the ZooKeeper session ended" + (s.error ? " (" + s.error + ")" : "") + "; a new one is being made.",
    ConnectedReadOnly: "Connected to a read-only server: writes will fail.",
    Unreachable: "keeper web itself is unreachable; retrying.",
    Closed: "The client is closed.",
  };
  if (texts[s.state]) {
    b.hidden = false; b.dataset.state = s.state; b.textContent = texts[s.state];
  } else if (S.readOnly) {
    b.hidden = false; b.dataset.state = "ReadOnlyUI"; b.textContent = "Read-only: keeper web was started with --read-only.";
  } else {
    b.hidden = true; b.dataset.state = s.state; b.textContent = "";
  }
  if (s.state === "Connected" && was !== "Connected" && was !== "Connecting") refreshAll();
}

// changed handles one event of the recursive watch.
function changed(path, type) {
  const parent = parentOf(path);
  if (type !== "NodeDataChanged" && S.open.has(parent)) refresh(parent);
  if (type !== "NodeDataChanged" && parent && S.open.has(parentOf(parent))) refresh(parentOf(parent)); // child counts
  if (path === S.selected) {
    if (type === "NodeDeleted") {
      notice(path + " was deleted by another client.");
    } else if (S.dirty) {
      notice(path + " was changed by another client while you edit it: saving will show both versions.");
    } else {
      loadNode().then(() => flash(path));
    }
  }
}

function notice(text) { const n = $("#notice"); n.textContent = text; n.hidden = false; }

function flash(path) {
  const r = document.querySelector('.row[data-path="' + CSS.escape(path) + '"]');
  if (r) { r.classList.remove("flash"); void r.offsetWidth; r.classList.add("flash"); }
}

let refreshTimer = 0;
function refresh(path) {
  S.pending.add(path);
  if (!refreshTimer) refreshTimer = setTimeout(flushRefresh, 150);
}
function flushRefresh() {
  refreshTimer = 0;
  const ps = [...S.pending];
  S.pending.clear();
  for (const p of ps) if (S.open.has(p)) loadChildren(p);
}
function refreshAll() {
  for (const p of S.open.keys()) refresh(p);
  if (S.selected && !S.dirty) loadNode();
}

// ---- servers and sessions ----

const METRICS = [
  ["latencyAvg", "avg latency (ms)"], ["outstanding", "outstanding requests"], ["connections", "connections"],
  ["znodes", "znodes"], ["watches", "watches"],
];

async function pollServers() {
  clearTimeout(S.serverTimer);
  if (S.view !== "servers") return;
  try {
    const r = await api("GET", "/api/servers");
    drawServers(r.samples || []);
  } catch (e) { fail(e); }
  S.serverTimer = setTimeout(pollServers, 2000);
}

function drawServers(samples) {
  const body = $("#servers tbody");
  body.replaceChildren();
  const last = samples.length ? samples[samples.length - 1].rows : [];
  for (const r of last) {
    if (r.error) { body.append(el("tr", { class: "server-row" }, el("td", { text: r.server }), el("td", { colspan: "7", class: "error", text: r.error }))); continue; }
    body.append(el("tr", { class: "server-row" }, ...[r.server, r.mode, r.latencyMin + "/" + r.latencyAvg + "/" + r.latencyMax, r.outstanding, r.znodes, r.watches < 0 ? "-" : r.watches, r.connections, r.source].map((v) => el("td", { text: String(v) }))));
  }
  const charts = $("#charts");
  charts.replaceChildren();
  const servers = last.map((r) => r.server);
  const colors = ["#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b83280", "#2c7a7b", "#975a16"];
  for (const [key, title] of METRICS) {
    const W = 260, H = 70;
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("width", W); svg.setAttribute("height", H); svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    let max = 0;
    for (const s of samples) for (const r of s.rows) if (!r.error && r[key] > max) max = r[key];
    max = max || 1;
    const t0 = samples.length ? samples[0].time : 0, t1 = samples.length ? samples[samples.length - 1].time : 1;
    servers.forEach((srv, i) => {
      const pts = [];
      for (const s of samples) {
        const r = s.rows.find((x) => x.server === srv);
        if (!r || r.error || r[key] < 0) continue;
        const x = t1 > t0 ? ((s.time - t0) / (t1 - t0)) * (W - 4) + 2 : W - 2;
        pts.push(x.toFixed(1) + "," + (H - 2 - (r[key] / max) * (H - 6)).toFixed(1));
      }
      const pl = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
      pl.setAttribute("points", pts.join(" "));
      pl.setAttribute("fill", "none");
      pl.setAttribute("stroke", colors[i % colors.length]);
      pl.setAttribute("stroke-width", "1.5");
      svg.append(pl);
    });
    const span = samples.length > 1 ? Math.round((t1 - t0) / 1000) + "s" : "";
    charts.append(el("div", { class: "chart", dataset: { metric: key } }, el("h4", { text: title + " (max " + max.toLocaleString() + ")" }), svg,
      el("div", { class: "legend", text: servers.map((s, i) => "■ " + s).join("  ") + (span ? "  · last " + span : "") })));
  }
}

async function loadSessions(highlight) {
  try {
    const r = await api("GET", "/api/sessions");
    const body = $("#sessions tbody");
    body.replaceChildren();
    const seen = new Set();
    for (const c of r.connections) {
      const eph = (c.session && r.ephemerals[c.session]) || [];
      if (c.session) seen.add(c.session);
      const tr = el("tr", { dataset: { session: c.session || "" } }, ...[c.session || "-", c.server, c.client, c.lastOp || "-", c.received, c.sent, c.latencyAvg].map((v) => el("td", { class: "mono", text: String(v) })),
        el("td", null, ...eph.map((p) => el("div", null, el("a", { class: "session mono", text: p, onclick: async () => { showView("tree"); await reveal(p); select(p); } })))));
      if (highlight && c.session === highlight) tr.classList.add("highlight");
      body.append(tr);
    }
    for (const [id, paths] of Object.entries(r.ephemerals)) {
      if (seen.has(id)) continue;
      const tr = el("tr", { dataset: { session: id } }, el("td", { class: "mono", text: id }), el("td", { colspan: "6", class: "note", text: "(connected elsewhere)" }),
        el("td", null, ...paths.map((p) => el("div", { class: "mono", text: p }))));
      if (highlight === id) tr.classList.add("highlight");
      body.append(tr);
    }
    const errs = Object.entries(r.errors || {}).map(([h, e]) => h + ": " + e);
    $("#sessions-note").textContent = (errs.length ? errs.join("; ") + ". " : "") + "Ephemeral nodes come from the dump four-letter word, where the server allows it.";
    if (highlight) { const h = document.querySelector("#sessions tr.highlight"); if (h) h.scrollIntoView({ block: "center" }); }
  } catch (e) { fail(e); }
}

function showSession(id) { showView("sessions", id); }

function showView(v, arg) {
  S.view = v;
  for (const t of document.querySelectorAll(".tab")) t.classList.toggle("active", t.dataset.view === v);
  for (const s of document.querySelectorAll(".view")) s.hidden = s.id !== "view-" + v;
  if (v === "servers") pollServers();
  if (v === "sessions") loadSessions(arg);
}

// ---- start ----

async function switchEnsemble(name) {
  S.ens = name;
  S.open.clear();
  S.selected = "";
  S.node = null;
  S.dirty = false;
  $("#node-view").hidden = true;
  $("#node-empty").hidden = false;
  connectEvents();
  await expand("/");
  const h = decodeURIComponent(location.hash.slice(1));
  const want = h.startsWith(name + ":") ? h.slice(name.length + 1) : "/";
  await reveal(want);
  await select(want, true);
  if (S.view !== "tree") showView(S.view);
}

async function start() {
  S.info = await api("GET", "/api/info");
  S.readOnly = S.info.readOnly;
  document.body.classList.toggle("readonly", S.readOnly);
  const sel = $("#ensemble");
  for (const e of S.info.ensembles) sel.append(el("option", { value: e.name, text: e.name + " (" + e.servers + ")" }));
  sel.hidden = S.info.ensembles.length < 2;
  sel.addEventListener("change", () => switchEnsemble(sel.value));
  for (const t of document.querySelectorAll(".tab")) t.addEventListener("click", () => showView(t.dataset.view));
  $("#pathbar").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    let p = $("#path").value.trim() || "/";
    if (p.length > 1) p = p.replace(/\/+$/, "");
    showView("tree");
    await reveal(p);
    select(p);
  });
  $("#searchbar").addEventListener("submit", startSearch);
  $("#format").addEventListener("change", () => {
    if (!S.node) return;
    // Re-render what is in the editor (edited or not) in the new format.
    const prev = $("#format").dataset.prev || "text";
    let b = S.node.data;
    if (S.dirty) { try { b = parse($("#data").value, prev); } catch (e) { $("#format").value = prev; $("#data-error").textContent = e.message; return; } }
    $("#data").value = render(b, $("#format").value);
    $("#format").dataset.prev = $("#format").value;
  });
  $("#format").addEventListener("focus", () => { $("#format").dataset.prev = $("#format").value; });
  $("#data").addEventListener("input", () => { S.dirty = true; $("#data").classList.add("dirty"); });
  $("#save").addEventListener("click", () => save());
  $("#reload").addEventListener("click", () => { S.dirty = false; loadNode(); });
  $("#create").addEventListener("click", createDialog);
  $("#delete").addEventListener("click", deleteDialog);
  $("#copy").addEventListener("click", () => copyDialog(false));
  $("#move").addEventListener("click", () => copyDialog(true));
  $("#import").addEventListener("click", importDialog);
  $("#acl-add").addEventListener("click", () => $("#acl tbody").append(aclRow({ scheme: "world", id: "anyone", perms: "r" })));
  $("#acl-save").addEventListener("click", saveACL);
  $("#keep-mine").addEventListener("click", () => {
    const { cur, mine } = S.conflict;
    S.node.stat = cur.stat;
    $("#data").value = render(mine, $("#format").value);
    save(cur.stat.version);
  });
  $("#take-theirs").addEventListener("click", () => {
    const { cur } = S.conflict;
    S.node = { path: cur.path, data: b64decode(cur.data), stat: cur.stat };
    S.dirty = false;
    $("#conflict").hidden = true;
    $("#notice").hidden = true;
    showNode(false);
  });
  window.addEventListener("beforeunload", (e) => { if (S.dirty) e.preventDefault(); });
  setState({ state: "Connecting" });
  const h = decodeURIComponent(location.hash.slice(1));
  const first = S.info.ensembles.find((e) => h.startsWith(e.name + ":")) || S.info.ensembles[0];
  sel.value = first.name;
  await switchEnsemble(first.name);
}

start().catch(fail);
