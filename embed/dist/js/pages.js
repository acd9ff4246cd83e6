// pages.js — one function per console page. Each reads and writes through
// the admin API (the server checks the role of every call) and returns a
// clean-up function or nothing.
import { h, replace, table, when, pill, field, toast } from "./dom.js";
import { api, download, graph } from "./api.js";
import { stackedBars } from "./chart.js";

const isAdmin = (s) => s.user.role === "admin";

// flash is a shown-once secret to show on the next page rendered.
let flash = null;

function section(title, ...children) { return h("section", {}, h("h2", {}, title), children); }

// act runs an action and reports its outcome; the page is re-rendered by
// the caller's reload when it succeeds.
async function act(what, fn, reload) {
  try {
    const out = await fn();
    toast(what + ": done");
    if (reload) await reload();
    return out;
  } catch (e) {
    toast(what + ": " + e.message, true);
    return undefined;
  }
}

// businessesOf lists the businesses the session may see: [{id, name}].
async function businessesOf(session) {
  if (session.user.role === "business_admin") {
    const b = await api("GET", "/admin/v1/businesses/" + encodeURIComponent(session.user.business_id));
    return [{ id: b.id, name: b.name }];
  }
  const ts = await api("GET", "/admin/v1/tenants");
  const seen = new Map();
  for (const t of ts.data) if (!seen.has(t.business_id)) seen.set(t.business_id, { id: t.business_id, name: t.name });
  return [...seen.values()];
}

// businessPicker renders a select of the visible businesses; onpick(id).
async function businessPicker(session, current, onpick) {
  const bs = await businessesOf(session);
  if (bs.length === 0) return { el: h("p", { class: "muted" }, "No business yet."), id: "" };
  const id = bs.some((b) => b.id === current) ? current : bs[0].id;
  const sel = h("select", { onchange: () => onpick(sel.value) },
    bs.map((b) => h("option", { value: b.id, selected: b.id === id }, b.name + " (" + b.id + ")")));
  return { el: field("Business", sel), id };
}

function secretBox(label, value, note) {
  return h("div", { class: "secret", role: "alert" }, h("strong", {}, label), h("pre", { "data-secret": "" }, value),
    h("p", { class: "muted" }, note || "Shown once: copy it now."));
}

// ---- Cluster ----

function clusterView(st, session, reload) {
  const nodes = table([
    ["Node", (m) => [m.id, m.id === st.node_id ? h("span", { class: "muted" }, " (this node)") : ""]],
    ["Address", (m) => h("code", {}, m.address)],
    ["Role", (m) => [m.leader ? pill("leader", "lead") : pill(m.suffrage === "Voter" ? "follower" : m.suffrage.toLowerCase()), " ", m.suffrage]],
    ["Reachable", (m) => m.reachable ? pill("up" + (m.probe_rtt ? " · " + m.probe_rtt : ""), "ok") : pill("DEAD — unreachable", "bad")],
    ["Version", (m) => m.version ? h("code", { "data-testid": "version" }, m.version) : h("span", { class: "muted" }, m.reachable ? "older than this console" : "—")],
    ["", (m) => isAdmin(session) && m.id !== st.node_id ? h("button", { class: "danger", onclick: () => {
      if (confirm("Remove " + m.id + " from the cluster and revoke its certificate?")) {
        act("remove " + m.id, () => api("DELETE", "/admin/v1/cluster/nodes/" + encodeURIComponent(m.id)), reload);
      }
    } }, "Remove") : ""],
  ], st.members);
  return [
    h("div", { class: "kv", "data-testid": "raft" },
      h("span", {}, "This node"), h("span", {}, st.node_id + " · " + st.state),
      h("span", {}, "Leader"), h("span", {}, st.leader_id || "none (election or quorum lost)"),
      h("span", {}, "Term"), h("span", {}, String(st.term)),
      h("span", {}, "Commit / applied index"), h("span", {}, st.commit_index + " / " + st.applied_index +
        " (lag " + (st.commit_index - st.applied_index) + ")"),
      h("span", {}, "Last contact with leader"), h("span", {}, st.last_contact || (st.state === "Leader" ? "—" : "never")),
      h("span", {}, "Ready"), h("span", {}, st.ready ? "yes" : "no")),
    h("h2", {}, "Members"), nodes,
  ];
}

async function cluster({ main, session }) {
  const live = h("div", { "aria-live": "polite" }, h("p", { class: "muted" }, "Connecting…"));
  const status = h("p", { class: "muted" });
  let last = null;
  const reload = async () => { last = await api("GET", "/admin/v1/cluster"); replace(live, clusterView(last, session, reload)); };
  await reload();
  const es = new EventSource("/admin/v1/cluster/events");
  es.addEventListener("cluster", (ev) => {
    const st = JSON.parse(ev.data);
    if (st.error) { replace(status, "status unavailable: " + st.error); return; }
    last = st;
    replace(status, "live · updated " + new Date().toLocaleTimeString());
    replace(live, clusterView(st, session, reload));
  });
  es.onerror = () => replace(status, "live updates reconnecting…");

  const admin = [];
  if (isAdmin(session)) {
    const dataDir = h("input", { value: "./waedge-data-2" });
    const httpAddr = h("input", { value: "127.0.0.1:8090" });
    const clusterAddr = h("input", { value: "127.0.0.1:8091" });
    const relayAddr = h("input", { value: "127.0.0.1:8099" });
    const out = h("div");
    admin.push(section("Add a node",
      h("p", {}, "Mint a single-use join token (valid 24 h) and run the command on the new machine."),
      h("div", { class: "row" }, field("Data dir", dataDir), field("HTTP address", httpAddr),
        field("Cluster address", clusterAddr), field("Sandbox relay address", relayAddr)),
      h("button", { onclick: async () => {
        const jt = await act("join token", () => api("POST", "/admin/v1/cluster/join-tokens", {}));
        if (!jt) return;
        const joins = (last ? last.members.map((m) => m.address) : []).join(",");
        const cmd = ["waedge serve", "--data-dir", dataDir.value, "--http-addr", httpAddr.value,
          "--cluster-addr", clusterAddr.value, "--relay-addr", relayAddr.value,
          "--join", joins, "--join-token", jt.join_token].join(" ");
        replace(out, secretBox("Run on the new node:", cmd, "The token works once and expires " + when(jt.expires_at) + "."));
      } }, "Mint join token"), out));
    admin.push(section("Leadership",
      h("button", { class: "secondary", onclick: () => act("transfer leadership",
        () => api("POST", "/admin/v1/cluster/transfer-leadership"), reload) }, "Transfer leadership")));
    const pass = h("input", { type: "password", autocomplete: "new-password", minlength: 12 });
    admin.push(section("Backup",
      h("p", {}, "A consistent, encrypted copy of the whole state, taken while serving. Restore with ",
        h("code", {}, "waedge restore"), "."),
      field("Backup passphrase", pass),
      h("button", { onclick: () => act("backup", () => download("/admin/v1/backup", "waedge.backup",
        { "X-Waedge-Backup-Passphrase": btoa(unescape(encodeURIComponent(pass.value))) })) }, "Download backup")));
  }
  replace(main, h("h1", {}, "Cluster"), h("section", {}, status, live), admin);
  return () => es.close();
}

// ---- Businesses ----

async function businesses({ main, session, args }) {
  const render = async () => {
    const picker = await businessPicker(session, args[0], (id) => { location.hash = "#/businesses/" + encodeURIComponent(id); });
    const parts = [h("h1", {}, "Businesses and numbers"), flash];
    flash = null;
    if (isAdmin(session)) parts.push(createBusiness());
    parts.push(h("section", {}, picker.el));
    if (picker.id) parts.push(...await businessDetail(session, picker.id, render));
    replace(main, parts);
  };
  await render();
}

function createBusiness() {
  const name = h("input", { required: true });
  const phone = h("input", { required: true, placeholder: "+15551234567" });
  return section("New business",
    h("form", { onsubmit: async (ev) => {
      ev.preventDefault();
      const t = await act("create business", () => api("POST", "/admin/v1/tenants", { name: name.value, phone: phone.value }));
      if (!t) return;
      // Shown once, on the new business's page (navigating re-renders).
      flash = secretBox("Access token of " + t.business_id + " (Cloud API, phone number " + t.phone_number_id + "):", t.access_token);
      location.hash = "#/businesses/" + encodeURIComponent(t.business_id);
    } }, h("div", { class: "row" }, field("Name", name), field("Phone number (E.164)", phone)),
    h("button", { type: "submit" }, "Create")));
}

async function businessDetail(session, id, reload) {
  const b = await api("GET", "/admin/v1/businesses/" + encodeURIComponent(id));
  const phones = await Promise.all(b.phone_numbers.map(async (p) => {
    if (session.user.role === "business_admin") return p;
    try { return { ...p, integrity: await api("GET", "/admin/v1/integrity?phone=" + encodeURIComponent(p.id)) }; } catch (e) { return p; }
  }));
  const out = [section("Phone numbers of " + b.name, table([
    ["Number", (p) => [p.display_phone_number, h("div", { class: "muted" }, "id " + p.id + " · WABA " + p.waba_id)]],
    ["Registered", (p) => p.registered ? pill("registered", "ok") : pill("not registered")],
    ["Retention", (p) => p.retention_hours + " h"],
    ["Quality / tier", (p) => p.integrity ? [pill(p.integrity.quality_rating || "?"), " ", p.integrity.messaging_limit_tier || ""] : "—"],
    ["Official Business Account", (p) => p.oba_status === "APPROVED" ? pill("official", "ok") : (p.oba_status || "—").replace("_", " ").toLowerCase()],
    ["", (p) => isAdmin(session) ? phoneSettings(p, reload) : ""],
  ], phones))];
  if (session.user.role !== "operator") out.push(await tokens(session, id));
  return out;
}

function phoneSettings(p, reload) {
  const hours = h("input", { type: "number", min: 1, max: 720, value: p.retention_hours, "aria-label": "retention hours" });
  const tier = h("select", { "aria-label": "messaging tier" }, ["TIER_250", "TIER_1K", "TIER_10K", "TIER_100K", "TIER_UNLIMITED"].map((t) =>
    h("option", { value: t, selected: p.integrity && p.integrity.messaging_limit_tier === t }, t)));
  const mps = h("input", { type: "number", min: 1, placeholder: "msg/s", "aria-label": "throughput (messages per second)" });
  const base = "/admin/v1/phones/" + encodeURIComponent(p.id);
  return h("div", {},
    h("div", {}, hours, h("button", { class: "secondary", onclick: () => act("retention",
      () => api("POST", base + "/retention", { retention_hours: Number(hours.value) }), reload) }, "Set retention")),
    h("div", {}, tier, h("button", { class: "secondary", onclick: () => act("tier",
      () => api("POST", base + "/tier", { tier: tier.value }), reload) }, "Set tier")),
    h("div", {}, mps, h("button", { class: "secondary", onclick: () => act("throughput",
      () => api("POST", base + "/limits", { throughput_mps: Number(mps.value) }), reload) }, "Set throughput")),
    p.oba_status === "PENDING" ? h("div", {}, "Official Business Account request: ",
      h("button", { class: "secondary", onclick: () => act("approve OBA",
        () => api("POST", base + "/oba", { decision: "APPROVED" }), reload) }, "Approve"), " ",
      h("button", { class: "danger", onclick: () => act("reject OBA",
        () => api("POST", base + "/oba", { decision: "REJECTED" }), reload) }, "Reject")) : "");
}

async function tokens(session, id) {
  const box = h("section");
  const base = "/admin/v1/businesses/" + encodeURIComponent(id);
  const out = h("div");
  const render = async () => {
    const ts = await api("GET", base + "/tokens");
    replace(box, h("h2", {}, "Access tokens"), table([
      ["Token id", (t) => h("code", {}, t.token_id)],
      ["Kind", (t) => t.kind],
      ["Created", (t) => when(t.created_at)],
      ["", (t) => h("button", { class: "danger", onclick: () => {
        if (confirm("Revoke " + t.token_id + "? Clients using it stop working at once.")) {
          act("revoke", () => api("DELETE", base + "/tokens/" + encodeURIComponent(t.token_id)), render);
        }
      } }, "Revoke")],
    ], ts.data),
    h("button", { onclick: async () => {
      const t = await act("new access token", () => api("POST", base + "/tokens"), render);
      if (t) replace(out, secretBox("New Cloud API access token " + t.token_id + ":", t.token));
    } }, "New access token"),
    isAdmin(session) ? h("button", { class: "secondary", onclick: async () => {
      const t = await act("new business admin token", () => api("POST", base + "/admin-tokens"), render);
      if (t) replace(out, secretBox("New business admin token " + t.token_id + ":", t.token));
    } }, "New business admin token") : "", out);
  };
  await render();
  return box;
}

// ---- Webhooks ----

async function webhooks({ main, session, args }) {
  const picker = await businessPicker(session, args[0], (id) => { location.hash = "#/webhooks/" + encodeURIComponent(id); });
  if (!picker.id) { replace(main, h("h1", {}, "Webhooks"), h("section", {}, picker.el)); return; }
  const base = "/admin/v1/businesses/" + encodeURIComponent(picker.id);
  const subs = await api("GET", base + "/webhooks");
  const b = await api("GET", base);
  const wabas = new Set(b.wabas.map((w) => w.id));
  const state = h("select", { "aria-label": "delivery state" }, ["all", "pending", "delivered", "dropped"].map((s) => h("option", { value: s }, s)));
  const log = h("div");
  const loadLog = async () => {
    const o = await api("GET", "/admin/v1/webhooks/outbox?limit=200&state=" + state.value);
    replace(log, table([
      ["Event", (e) => h("code", {}, e.id)],
      ["WABA", (e) => e.waba_id],
      ["State", (e) => pill(e.state, e.state === "delivered" ? "ok" : e.state === "dropped" ? "bad" : "")],
      ["Created", (e) => when(e.created_at)],
      ["Attempts", (e) => String(e.attempts)],
      ["Last answer", (e) => e.last_status || ""],
      ["Next try", (e) => when(e.next_attempt_at)],
      ["", (e) => e.state === "pending" && e.attempts > 0 ? h("button", { class: "secondary", "aria-label": "retry event " + e.id,
        onclick: () => act("retry " + e.id, () => api("POST", base + "/webhooks/retry", { event_ids: [e.id] }), loadLog) }, "Retry now")
        : e.state !== "pending" && e.redeliverable ? h("button", { class: "secondary", "aria-label": "redeliver event " + e.id,
          onclick: () => act("redeliver " + e.id, () => api("POST", base + "/webhooks/redeliver", { event_ids: [e.id] }), loadLog) }, "Redeliver")
        : ""],
    ], o.data.filter((e) => wabas.has(e.waba_id)), "No deliveries in this state."));
  };
  const retryAll = h("button", { class: "secondary", onclick: () => act("retry every queued event",
    () => api("POST", base + "/webhooks/retry", {}), loadLog) }, "Retry all queued now");
  state.addEventListener("change", loadLog);
  await loadLog();
  const timer = setInterval(loadLog, 3000);
  replace(main, h("h1", {}, "Webhooks"), h("section", {}, picker.el),
    section("Subscriptions", table([
      ["WABA", (s) => s.waba_id], ["Callback URL", (s) => h("code", {}, s.callback_url)], ["Since", (s) => when(s.created_at)],
    ], subs.data, "No callback configured. Configure one with POST /{waba-id}/subscribed_apps (Cloud API)."),
    h("p", { class: "muted" }, "Callbacks are verified with the GET hub.challenge handshake when set.")),
    configureWebhook(b, () => webhooks({ main, session, args: [picker.id] })),
    testEvent(base, subs.data),
    section("Delivery log (attempts and next try; bodies are never shown here)", state, retryAll,
      h("p", { class: "muted" }, "A queued event that failed can be tried again now instead of after its back-off. ",
        "A delivered or dropped event can be redelivered: it is queued again as a new event with the same (sealed) body. ",
        "Events logged by an older version keep no body and cannot."), log));
  return () => clearInterval(timer);
}

// testEvent sends one signed test event to a WABA's callback (through the
// node's egress policy) and shows what the receiver answered.
function testEvent(base, subs) {
  if (subs.length === 0) return "";
  const waba = h("select", { "aria-label": "WABA of the test event" }, subs.map((s) => h("option", { value: s.waba_id }, s.waba_id)));
  const result = h("p", { "data-testid": "test-result", "aria-live": "polite" });
  return section("Send a test event", h("p", { class: "muted" },
    "POSTs one event of field \u201cwaedge_test\u201d, signed with the app secret, to the callback in effect. Nothing is queued."),
  h("form", { onsubmit: async (ev) => {
    ev.preventDefault();
    replace(result, "Sending…");
    try {
      const r = await api("POST", base + "/webhooks/test", { waba_id: waba.value });
      const what = /^[0-9]+$/.test(r.status) ? "HTTP " + r.status : r.status === "refused" ? "refused by the egress policy" : r.status;
      replace(result, pill(r.delivered ? "delivered" : "not delivered", r.delivered ? "ok" : "bad"), " " + what + " from ",
        h("code", {}, r.callback_url), " in " + r.duration_ms + " ms");
    } catch (e) {
      replace(result, pill("error", "bad"), " " + e.message);
    }
  } }, h("div", { class: "row" }, field("WABA", waba)), h("button", { type: "submit" }, "Send a test event")), result);
}

// configureWebhook sets a WABA's callback through the Cloud API (waedge
// verifies it with the hub.challenge handshake first).
function configureWebhook(b, reload) {
  const token = tokenField();
  const waba = h("select", {}, b.wabas.map((w) => h("option", { value: w.id }, w.id)));
  const url = h("input", { type: "url", required: true, placeholder: "https://example.com/webhook" });
  const verify = h("input", { required: true, autocomplete: "off" });
  return section("Configure (Cloud API)", h("form", { onsubmit: async (ev) => {
    ev.preventDefault();
    await act("configure webhook", () => graph("POST", "/" + encodeURIComponent(waba.value) + "/subscribed_apps", token.value,
      { override_callback_uri: url.value, verify_token: verify.value }), reload);
  } }, h("div", { class: "row" }, field("Access token of the business", token), field("WABA", waba),
    field("Callback URL", url), field("Verify token", verify)), h("button", { type: "submit" }, "Verify and save")));
}

// ---- Templates ----

function preview(tpl) {
  let comps = [];
  try { comps = typeof tpl.components === "string" ? JSON.parse(tpl.components) : (tpl.components || []); } catch (e) { comps = []; }
  const part = (type) => comps.find((c) => (c.type || "").toUpperCase() === type);
  const fill = (text, ex) => String(text || "").replace(/\{\{\s*([^}]+?)\s*\}\}/g, (m, k) => {
    const vals = ex && (ex.body_text ? ex.body_text[0] : null);
    const i = Number(k) - 1;
    return vals && vals[i] !== undefined ? vals[i] : "[" + k + "]";
  });
  const head = part("HEADER"), body = part("BODY"), foot = part("FOOTER"), btns = part("BUTTONS");
  return h("div", { class: "phone", "aria-label": "preview as a phone shows it" }, h("div", { class: "bubble" },
    head && head.text ? h("div", { class: "head" }, fill(head.text)) : "",
    body ? h("div", {}, fill(body.text, body.example)) : "",
    foot ? h("div", { class: "foot" }, foot.text) : "",
    btns ? (btns.buttons || []).map((b) => h("div", { class: "btn" }, b.text)) : ""));
}

// tokenField is the access token input of Cloud API forms.
function tokenField() {
  return h("input", { type: "password", autocomplete: "off", required: true, placeholder: "EAA…" });
}

// newTemplate is the form that submits a template through the Cloud API,
// with a live preview as a phone would show it.
function newTemplate(b, reload) {
  const token = tokenField();
  const waba = h("select", {}, b.wabas.map((w) => h("option", { value: w.id }, w.id)));
  const name = h("input", { required: true, pattern: "[a-z0-9_]+", placeholder: "order_update" });
  const lang = h("input", { required: true, value: "en_US" });
  const cat = h("select", {}, ["UTILITY", "MARKETING", "AUTHENTICATION"].map((c) => h("option", { value: c }, c)));
  const header = h("input", { placeholder: "optional" });
  const body = h("textarea", { required: true, placeholder: "Hello {{1}}, your order {{2}} has shipped." });
  const examples = h("input", { placeholder: "Ana, 1234 (one per {{n}}, comma-separated)" });
  const footer = h("input", { placeholder: "optional" });
  const shown = h("div");
  const components = () => {
    const out = [];
    if (header.value) out.push({ type: "HEADER", format: "TEXT", text: header.value });
    const bodyC = { type: "BODY", text: body.value };
    const ex = examples.value.split(",").map((x) => x.trim()).filter((x) => x);
    if (ex.length) bodyC.example = { body_text: [ex] };
    out.push(bodyC);
    if (footer.value) out.push({ type: "FOOTER", text: footer.value });
    return out;
  };
  const update = () => replace(shown, preview({ components: components() }));
  for (const el of [header, body, examples, footer]) el.addEventListener("input", update);
  update();
  return section("New template (Cloud API)",
    h("form", { onsubmit: async (ev) => {
      ev.preventDefault();
      await act("submit template", () => graph("POST", "/" + encodeURIComponent(waba.value) + "/message_templates", token.value,
        { name: name.value, language: lang.value, category: cat.value, components: components() }), reload);
    } }, h("div", { class: "row" }, field("Access token of the business", token), field("WABA", waba), field("Template name", name),
      field("Language", lang), field("Category", cat)),
    field("Header", header), field("Body", body), field("Examples", examples), field("Footer", footer),
    h("h2", {}, "Live preview"), shown, h("button", { type: "submit" }, "Submit template")));
}

async function templates({ main, session, args }) {
  const picker = await businessPicker(session, args[0], (id) => { location.hash = "#/templates/" + encodeURIComponent(id); });
  if (!picker.id) { replace(main, h("h1", {}, "Templates"), h("section", {}, picker.el)); return; }
  const render = async () => {
    const ts = await api("GET", "/admin/v1/businesses/" + encodeURIComponent(picker.id) + "/templates");
    const b = await api("GET", "/admin/v1/businesses/" + encodeURIComponent(picker.id));
    const shown = h("div", {}, ts.data.length ? preview(ts.data[0]) : "");
    const review = (t, status) => act(status.toLowerCase() + " " + t.name,
      () => api("POST", "/admin/v1/templates/" + encodeURIComponent(t.id) + "/status", { status }), render);
    replace(main, h("h1", {}, "Templates"), h("section", {}, picker.el),
      isAdmin(session) ? section("Review policy", table([
        ["WABA", (w) => w.id], ["New templates become", (w) => {
          const sel = h("select", { "aria-label": "review policy of " + w.id }, ["approve", "manual", "reject"].map((p) =>
            h("option", { value: p, selected: p === w.template_review }, p)));
          return [sel, h("button", { class: "secondary", onclick: () => act("review policy",
            () => api("POST", "/admin/v1/wabas/" + encodeURIComponent(w.id) + "/template-review", { policy: sel.value }), render) }, "Set")];
        }],
      ], b.wabas)) : "",
      newTemplate(b, render),
      section("Templates", table([
        ["Name", (t) => h("a", { href: "#", onclick: (ev) => { ev.preventDefault(); replace(shown, preview(t)); } }, t.name)],
        ["Language", (t) => t.language], ["Category", (t) => t.category],
        ["Status", (t) => pill(t.status, t.status === "APPROVED" ? "ok" : t.status === "REJECTED" ? "bad" : "")],
        ["", (t) => isAdmin(session) && t.status === "PENDING" ? [
          h("button", { onclick: () => review(t, "APPROVED") }, "Approve"),
          h("button", { class: "danger", onclick: () => review(t, "REJECTED") }, "Reject")] : ""],
      ], ts.data, "No templates. Create them with POST /{waba-id}/message_templates (Cloud API)."),
      h("h2", {}, "Preview"), shown));
  };
  await render();
}

// ---- Statistics and billing ----

async function stats({ main }) {
  const to = new Date().toISOString().slice(0, 10);
  const fromD = new Date(Date.now() - 29 * 86400e3).toISOString().slice(0, 10);
  const rows = (await api("GET", "/admin/v1/stats?from=" + fromD + "&to=" + to)).data;
  const days = [];
  for (let t = Date.parse(fromD); t <= Date.parse(to); t += 86400e3) days.push(new Date(t).toISOString().slice(0, 10));
  const by = (key) => {
    const out = {};
    for (const r of rows) { (out[r[key]] ||= {})[r.day] = (out[r[key]][r.day] || 0) + r.count; }
    return out;
  };
  const month = h("input", { type: "month", value: to.slice(0, 7), "aria-label": "month" });
  const bill = h("div");
  const loadBill = async () => {
    const r = await api("GET", "/admin/v1/billing?month=" + month.value);
    replace(bill, h("pre", {}, JSON.stringify(r, null, 2)));
  };
  month.addEventListener("change", () => loadBill().catch((e) => replace(bill, h("p", { class: "err" }, e.message))));
  await loadBill();
  replace(main, h("h1", {}, "Statistics and billing"),
    section("Messages per day, last 30 days (counts only)",
      stackedBars("By direction", days, by("direction")),
      stackedBars("By type", days, by("type")),
      stackedBars("By status", days, by("status"))),
    section("Bill", month, h("button", { class: "secondary", onclick: () => act("CSV",
      () => download("/admin/v1/billing?format=csv&month=" + month.value, "waedge-billing-" + month.value + ".csv")) }, "Download CSV"), bill));
}

// ---- Audit log ----

async function audit({ main }) {
  const all = [];
  let after = "";
  for (let i = 0; i < 20; i++) { // at most 20 000 records
    const page = await api("GET", "/admin/v1/audit?limit=1000" + (after ? "&after=" + after : ""));
    all.push(...page.data);
    if (!page.paging) break;
    after = page.paging.cursors.after;
  }
  all.reverse();
  const action = h("input", { placeholder: "e.g. tenant.create", "aria-label": "action" });
  const actor = h("input", { placeholder: "actor id", "aria-label": "actor" });
  const outcome = h("select", { "aria-label": "outcome" }, ["", "ok", "denied", "failed"].map((o) => h("option", { value: o }, o || "any outcome")));
  const list = h("div");
  const render = () => replace(list, table([
    ["When", (r) => when(r.at)], ["Actor", (r) => [r.actor_id, h("div", { class: "muted" }, r.actor_kind)]],
    ["Action", (r) => h("code", {}, r.action)],
    ["Targets", (r) => r.targets.map((t) => t.kind + " " + t.id).join(", ")],
    ["Outcome", (r) => pill(r.outcome + " " + r.status, r.outcome === "ok" ? "ok" : "bad")],
  ], all.filter((r) => r.action.includes(action.value) && r.actor_id.includes(actor.value) &&
    (!outcome.value || r.outcome === outcome.value)).slice(0, 500), "No matching records."));
  for (const el of [action, actor, outcome]) el.addEventListener("input", render);
  render();
  replace(main, h("h1", {}, "Audit log"), h("section", {}, h("div", { class: "row" }, action, actor, outcome), list));
}

// ---- Data and privacy ----

async function privacy({ main, session }) {
  const bs = await businessesOf(session);
  const phones = [];
  for (const b of bs) {
    const d = await api("GET", "/admin/v1/businesses/" + encodeURIComponent(b.id));
    for (const p of d.phone_numbers) phones.push({ ...p, business: d.name });
  }
  const data = [
    ["Message content and media", "sealed (AES-256-GCM, daily data key wrapped by the cluster key) before it enters Raft", "retention of the number", "business admin (export/erase); never the operator"],
    ["Consumer phone numbers", "stored only as keyed references and sealed copies", "retention of the number", "business admin (export/erase)"],
    ["Signal sessions and identities", "in the replicated state, per consumer", "30 days after the last message", "nobody through the API"],
    ["Webhook events", "sealed in the outbox; delivery log keeps attempts and states only", "delivered, or 7 days", "business admin sees its own attempts"],
    ["Statistics counters", "counts per day × number × type × status; no content, no consumer", "kept", "admin, operator"],
    ["Audit log", "who, what, when, outcome; ids only", "kept", "admin, operator"],
    ["Console users and sessions", "argon2id password hashes; sha256 of session secrets", "until disabled; sessions 12 h", "admin"],
  ];
  replace(main, h("h1", {}, "Data and privacy"),
    section("What waedge stores", table([["Data", (r) => r[0]], ["How", (r) => r[1]], ["How long", (r) => r[2]], ["Who can see it", (r) => r[3]]], data)),
    section("Retention per number (live)", table([
      ["Number", (p) => p.display_phone_number + " (" + p.id + ")"], ["Business", (p) => p.business],
      ["Messages, media, consumer numbers kept", (p) => p.retention_hours + " hours"],
    ], phones)));
}

// ---- Users ----

async function users({ main }) {
  const out = h("div");
  const render = async () => {
    const us = await api("GET", "/admin/v1/console/users");
    const role = h("select", { "aria-label": "role" }, ["operator", "business_admin", "admin"].map((r) => h("option", { value: r }, r.replace("_", " "))));
    const biz = h("input", { placeholder: "business id (business admins)", "aria-label": "business id" });
    replace(main, h("h1", {}, "Console users"),
      section("Invite", h("p", {}, "An invitation is a one-time link valid 24 hours; whoever opens it first chooses a name and password."),
        h("div", { class: "row" }, role, biz), h("button", { onclick: async () => {
          const l = await act("invite", () => api("POST", "/admin/v1/console/invites",
            { role: role.value, business_id: role.value === "business_admin" ? biz.value : "" }));
          if (l) replace(out, secretBox("Invitation link (" + l.role + "):", l.url, "Works once; expires " + when(l.expires_at) + "."));
        } }, "Create invitation link"), out),
      section("Users", table([
        ["Name", (u) => u.name], ["Role", (u) => u.role + (u.business_id ? " of " + u.business_id : "")],
        ["State", (u) => u.disabled ? pill("disabled", "bad") : pill("active", "ok")],
        ["Created", (u) => when(u.created_at)],
        ["", (u) => h("button", { class: u.disabled ? "secondary" : "danger", onclick: () => act(u.disabled ? "enable" : "disable",
          () => api("POST", "/admin/v1/console/users/" + encodeURIComponent(u.id), { disabled: !u.disabled }), render) },
        u.disabled ? "Enable" : "Disable")],
      ], us.data)));
  };
  await render();
}



// ---- API explorer ----

async function explorer({ main, session }) {
  const doc = await api("GET", "/openapi.json");
  const role = session.user.role;
  const ops = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const roles = op["x-waedge-roles"] || [];
      if (roles.includes(role) || roles.includes("api")) ops.push({ path, method: method.toUpperCase(), op, graph: roles.includes("api") });
    }
  }
  ops.sort((a, b) => (a.path + a.method).localeCompare(b.path + b.method));
  const sel = h("select", { "aria-label": "operation" }, ops.map((o, i) =>
    h("option", { value: i }, o.method + " " + o.path + (o.graph ? "  (Cloud API)" : ""))));
  const params = h("div", { class: "row" });
  const query = h("input", { placeholder: "a=1&b=2", "aria-label": "query string" });
  const body = h("textarea", { "aria-label": "JSON body", placeholder: "{}" });
  const token = h("input", { type: "password", autocomplete: "off", "aria-label": "access token",
    placeholder: "a business's access token (Cloud API calls)" });
  const result = h("div", { "aria-live": "polite" });
  const show = () => {
    const o = ops[Number(sel.value)];
    replace(params, (o.op.parameters || []).filter((p) => p.in === "path").map((p) =>
      field(p.name, h("input", { "data-param": p.name, pattern: p.schema.pattern ? p.schema.pattern.slice(1, -1) : null }))));
    token.disabled = !o.graph;
  };
  sel.addEventListener("change", show);
  show();
  const send = async () => {
    const o = ops[Number(sel.value)];
    let path = o.path;
    for (const input of params.querySelectorAll("input[data-param]")) {
      path = path.replace("{" + input.dataset.param + "}", encodeURIComponent(input.value));
    }
    if (query.value) path += "?" + query.value.replace(/^\?/, "");
    const headers = { };
    if (o.graph) headers.Authorization = "Bearer " + token.value;
    if (o.method !== "GET") headers["X-CSRF-Token"] = session.csrf_token;
    if (body.value.trim()) headers["Content-Type"] = "application/json";
    const started = performance.now();
    const resp = await fetch(path, { method: o.method, headers, credentials: "same-origin",
      body: o.method === "GET" || !body.value.trim() ? undefined : body.value });
    const text = await resp.text();
    let pretty = text;
    try { pretty = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
    replace(result, h("p", {}, pill(resp.status + " " + resp.statusText, resp.ok ? "ok" : "bad"), " in ",
      Math.round(performance.now() - started) + " ms"), h("pre", {}, pretty.slice(0, 200000)));
  };
  replace(main, h("h1", {}, "API explorer"),
    section("Try a call", h("p", { class: "muted" }, "Operations of ", h("a", { href: "/openapi.json" }, "/openapi.json"),
      " your role may call. Admin API calls use your session; Cloud API calls need a business's access token."),
    field("Operation", sel), params, field("Query string", query), field("Body (JSON)", body), field("Access token", token),
    h("button", { onclick: () => send().catch((e) => replace(result, h("p", { class: "err" }, e.message))) }, "Send"), result));
}


// ---- Event monitor ----

async function events({ main, session }) {
  const counts = h("div", { class: "kv", "aria-live": "polite" });
  const list = h("tbody");
  const status = h("p", { class: "muted" }, "Connecting…");
  const es = new EventSource("/admin/v1/webhooks/events");
  es.addEventListener("counts", (ev) => {
    const c = JSON.parse(ev.data);
    replace(counts, Object.entries(c).map(([k, v]) => [h("span", {}, k), h("span", {}, String(v))]));
    replace(status, "live · updated " + new Date().toLocaleTimeString());
  });
  es.addEventListener("webhook", (ev) => {
    const e = JSON.parse(ev.data);
    list.prepend(h("tr", {}, h("td", {}, new Date().toLocaleTimeString()), h("td", {}, h("code", {}, e.id)), h("td", {}, e.waba_id || ""),
      h("td", {}, pill(e.state, e.state === "delivered" ? "ok" : e.state === "dropped" ? "bad" : "")),
      h("td", {}, String(e.attempts)), h("td", {}, e.last_status || ""),
      h("td", {}, e.body ? h("pre", {}, JSON.stringify(e.body, null, 2)) : "")));
    while (list.children.length > 300) list.lastChild.remove();
  });
  es.onerror = () => replace(status, "live updates reconnecting…");
  const who = session.user.role === "operator" ? "Counts and states only (your role never sees events' contents)."
    : session.user.role === "business_admin" ? "Your business's events, with the body of those still queued."
      : "Every business's events, without bodies.";
  replace(main, h("h1", {}, "Event monitor"), section("Webhook events and delivery outcomes", h("p", { class: "muted" }, who), status,
    h("h2", {}, "In this stream"), counts,
    session.user.role === "operator" ? "" : h("table", {}, h("thead", {}, h("tr", {},
      ["Seen", "Event", "WABA", "State", "Attempts", "Last answer", "Body"].map((t) => h("th", { scope: "col" }, t)))), list)));
  return () => es.close();
}


// ---- Conversations (business admins) ----

// textOf finds the words of a message's content, whatever its type.
function textOf(content) {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  for (const k of ["body", "caption", "text"]) {
    const v = content[k];
    if (typeof v === "string") return v;
    if (v && typeof v === "object" && typeof v.body === "string") return v.body;
  }
  for (const v of Object.values(content)) {
    if (v && typeof v === "object") { const t = textOf(v); if (t) return t; }
  }
  return "";
}

const ticks = { sent: "✓", delivered: "✓✓", read: "✓✓ read", failed: "✗ failed", accepted: "…" };

async function conversations({ main, session, args }) {
  const biz = session.user.business_id;
  const bizPath = "/admin/v1/businesses/" + encodeURIComponent(biz);
  const b = await api("GET", bizPath);
  const who = h("input", { inputmode: "tel", placeholder: "15551234567", value: args[0] || "" });
  const thread = h("div", { "aria-live": "polite" });
  const token = tokenField();
  const reply = h("input", { placeholder: "Type a reply" });
  const phone = h("select", { "aria-label": "business number" }, b.phone_numbers.map((p) => h("option", { value: p.id }, p.display_phone_number)));
  const listPhone = h("select", { "aria-label": "number whose conversations to list" },
    b.phone_numbers.map((p) => h("option", { value: p.id }, p.display_phone_number)));
  const list = h("div", { "data-testid": "conversation-list" });
  const cursors = [""]; // the cursor of each page shown so far
  let pageNo = 0;
  const load = async () => {
    if (!who.value) return;
    const ex = await api("GET", bizPath + "/consumers/export?wa_id=" + encodeURIComponent(who.value));
    const msgs = ex.phone_numbers.flatMap((n) => n.messages.map((m) => ({ ...m, phone: n.phone_number_id })))
      .sort((x, y) => x.created_at - y.created_at);
    replace(thread, msgs.length === 0 ? h("p", { class: "muted" }, "No messages with this number (or they are past retention).") :
      h("div", { class: "phone" }, msgs.map((m) => h("div", { class: "bubble " + (m.direction === "out" ? "out" : "in"), "data-direction": m.direction },
        h("div", {}, m.unreadable ? "(expired: the key is destroyed)" : textOf(m.content) || "[" + m.type + "]"),
        h("div", { class: "foot" }, when(m.created_at), m.direction === "out" ? " " + (ticks[m.status] || m.status) : "")))));
  };
  const open = (waID) => { who.value = waID; load().catch((e) => toast(e.message, true)); };
  const loadList = async () => {
    if (!listPhone.value) return;
    const q = "?limit=20&phone_number_id=" + encodeURIComponent(listPhone.value) + (cursors[pageNo] ? "&after=" + encodeURIComponent(cursors[pageNo]) : "");
    const page = await api("GET", bizPath + "/conversations" + q);
    const next = page.paging && page.paging.cursors ? page.paging.cursors.after : "";
    cursors.length = pageNo + 1;
    if (next) cursors.push(next);
    replace(list, table([
      ["Consumer", (c) => h("button", { class: "link", "data-wa-id": c.wa_id, onclick: () => open(c.wa_id) }, "+" + c.wa_id)],
      ["Messages", (c) => String(c.messages)],
      ["Last", (c) => [when(c.last_at), " ", c.last_direction === "out" ? "sent " + (ticks[c.last_status] || c.last_status) : "received"]],
    ], page.data, "No conversations with messages still retained."),
    h("div", { class: "row" },
      pageNo > 0 ? h("button", { onclick: () => { pageNo--; loadList().catch(() => {}); } }, "Newer") : "",
      next ? h("button", { onclick: () => { pageNo++; loadList().catch(() => {}); } }, "Older") : ""));
  };
  listPhone.addEventListener("change", () => { pageNo = 0; cursors.length = 1; loadList().catch((e) => toast(e.message, true)); });
  const timer = setInterval(() => { load().catch(() => {}); loadList().catch(() => {}); }, 2000);
  replace(main, h("h1", {}, "Conversations"),
    section("Conversations of a number", h("p", { class: "muted" }, "Consumers with messages still retained, newest first. Open one to read it."),
      h("div", { class: "row" }, field("Business number", listPhone)), list),
    section("A consumer's conversation", h("p", { class: "muted" }, "Messages are kept for each number's retention; this page reads them live."),
      h("div", { class: "row" }, field("Consumer number", who), h("button", { onclick: () => load().catch((e) => toast(e.message, true)) }, "Open")),
      thread),
    section("Reply (Cloud API)", h("form", { onsubmit: async (ev) => {
      ev.preventDefault();
      await act("reply", () => graph("POST", "/" + encodeURIComponent(phone.value) + "/messages", token.value,
        { messaging_product: "whatsapp", to: who.value, type: "text", text: { body: reply.value } }), load);
      reply.value = "";
    } }, h("div", { class: "row" }, field("Access token of the business", token), field("From", phone), field("Message", reply)),
    h("button", { type: "submit" }, "Send"))));
  await Promise.all([load(), loadList().catch(() => {})]);
  return () => clearInterval(timer);
}

// ---- Sandbox ----

async function sandboxPage({ main, args }) {
  let list;
  try { list = await api("GET", "/admin/v1/sandbox/phones"); } catch (e) {
    replace(main, h("h1", {}, "Sandbox"), section("Simulated phones", h("p", { class: "muted" }, e.message)));
    return undefined;
  }
  const phones = list.phones || [];
  const number = h("input", { inputmode: "tel", placeholder: "4917600000001" });
  const name = h("input", { placeholder: "Mia" });
  const current = args[0] || (phones[0] && phones[0].number) || "";
  const to = h("input", { inputmode: "tel", placeholder: "business number, digits (15551234567)" });
  const text = h("input", { placeholder: "Type a message" });
  const thread = h("div", { "aria-live": "polite" });
  const base = "/admin/v1/sandbox/phones/" + encodeURIComponent(current);
  const load = async () => {
    if (!current) return;
    const [inbox, sent] = await Promise.all([api("GET", base + "/inbox"), api("GET", base + "/sent")]);
    const msgs = [...inbox.messages, ...sent.messages].filter((m) => !to.value || m.from === to.value || m.to === to.value)
      .sort((x, y) => (x.received_at || x.timestamp) - (y.received_at || y.timestamp));
    replace(thread, msgs.length === 0 ? h("p", { class: "muted" }, "No messages yet.") :
      h("div", { class: "phone" }, msgs.map((m) => h("div", { class: "bubble " + (m.direction === "out" ? "out" : "in"), "data-direction": m.direction },
        h("div", {}, textOf(m.content) || "[" + ((m.content && m.content.type) || "message") + "]"),
        h("div", { class: "foot" }, when(m.timestamp), m.direction === "out" ? " " + (ticks[m.status] || m.status) : "")))));
  };
  const timer = setInterval(() => load().catch(() => {}), 2000);
  replace(main, h("h1", {}, "Sandbox"),
    section("Simulated phones", h("p", { class: "muted" }, "Consumers of the sandbox network that waedge serves next to this node. ",
      "Their chats are stored as a phone would keep them."),
      table([["Number", (p) => h("a", { href: "#/sandbox/" + encodeURIComponent(p.number) }, p.number)], ["Name", (p) => p.name],
        ["Online", (p) => p.online ? pill("online", "ok") : pill("offline")]], phones, "No simulated phone yet."),
      h("form", { onsubmit: async (ev) => {
        ev.preventDefault();
        const n = number.value;
        const ok = await act("create phone", () => api("POST", "/admin/v1/sandbox/phones", { number: n, name: name.value }));
        if (ok) location.hash = "#/sandbox/" + encodeURIComponent(n);
      } }, h("div", { class: "row" }, field("New phone number", number), field("Profile name", name)), h("button", { type: "submit" }, "Create phone"))),
    current ? section("Chat as " + current, h("div", { class: "row" }, field("Business number", to)), thread,
      h("form", { onsubmit: async (ev) => {
        ev.preventDefault();
        await act("send", () => api("POST", base + "/send", { to: to.value, type: "text", text: text.value }), load);
        text.value = "";
      } }, h("div", { class: "row" }, field("Message", text)), h("button", { type: "submit" }, "Send as the phone"))) : "");
  await load().catch(() => {});
  return () => clearInterval(timer);
}

export const pages = { cluster, businesses, webhooks, templates, stats, audit, privacy, users, explorer, events, conversations, sandbox: sandboxPage };
