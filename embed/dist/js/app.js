// app.js — the console's shell: session, navigation by role, routing.
import { h, replace, field, toast } from "./dom.js";
import { api, setCSRF } from "./api.js";
import { pages } from "./pages.js";

const main = document.getElementById("main");
let session = null;
let leave = null; // the current page's clean-up (closes event streams)

// Pages by role: the server checks every call again; this only hides what
// a role could not use anyway.
const nav = [
  ["cluster", "Cluster", ["admin", "operator"]],
  ["businesses", "Businesses", ["admin", "operator", "business_admin"]],
  ["conversations", "Conversations", ["business_admin"]],
  ["webhooks", "Webhooks", ["admin", "business_admin"]],
  ["templates", "Templates", ["admin", "business_admin"]],
  ["sandbox", "Sandbox", ["admin", "business_admin"]],
  ["events", "Event monitor", ["admin", "operator", "business_admin"]],
  ["stats", "Statistics", ["admin", "operator"]],
  ["audit", "Audit log", ["admin", "operator"]],
  ["privacy", "Data & privacy", ["admin", "operator", "business_admin"]],
  ["explorer", "API explorer", ["admin", "operator", "business_admin"]],
  ["users", "Users", ["admin"]],
];

function allowed(role) { return nav.filter(([, , roles]) => roles.includes(role)); }

function renderNav() {
  const navEl = document.getElementById("nav");
  const who = document.getElementById("who");
  if (!session) { replace(navEl); replace(who); return; }
  const cur = location.hash.replace(/^#\/?/, "").split("/")[0];
  replace(navEl, allowed(session.user.role).map(([id, title]) =>
    h("a", { href: "#/" + id, "aria-current": id === cur ? "page" : null }, title)));
  replace(who, h("span", {}, session.user.name + " · " + session.user.role.replace("_", " ")),
    h("button", { class: "secondary", onclick: signOut }, "Sign out"));
}

async function signOut() {
  try { await api("POST", "/console/api/sign-out"); } catch (e) { /* ended anyway */ }
  session = null;
  setCSRF("");
  location.hash = "";
  route();
}

function signInPage(message) {
  const name = h("input", { autocomplete: "username", required: true });
  const pass = h("input", { type: "password", autocomplete: "current-password", required: true });
  const err = h("p", { class: "err", role: "alert" }, message || "");
  const form = h("form", { onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const s = await api("POST", "/console/api/sign-in", { name: name.value, password: pass.value });
      start(s);
    } catch (e) { replace(err, e.message); pass.value = ""; pass.focus(); }
  } }, field("User name", name), field("Password", pass), h("button", { type: "submit" }, "Sign in"), err);
  replace(main, h("section", {}, h("h1", {}, "Sign in to waedge"), form,
    h("p", { class: "muted" }, "No account yet? The first one is created with the setup link in ",
      h("code", {}, "<data-dir>/console-setup.url"), " (or ", h("code", {}, "waedge console setup-link"),
      "); further users are invited from the Users page.")));
  name.focus();
}

async function acceptPage(link) {
  let info;
  try { info = await api("POST", "/console/api/link", { link }); } catch (e) {
    history.replaceState(null, "", location.pathname);
    return signInPage("This invitation link is invalid, used or expired. Ask an admin for a new one.");
  }
  const name = h("input", { autocomplete: "username", required: true, maxlength: 64 });
  const pass = h("input", { type: "password", autocomplete: "new-password", required: true, minlength: 12 });
  const err = h("p", { class: "err", role: "alert" });
  replace(main, h("section", {}, h("h1", {}, "Create your console account"),
    h("p", {}, "This one-time link makes you a console user with the role ",
      h("strong", {}, info.role.replace("_", " ")), info.business_id ? " of business " + info.business_id : "", "."),
    h("form", { onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        const s = await api("POST", "/console/api/accept", { link, name: name.value, password: pass.value });
        history.replaceState(null, "", location.pathname + "#/");
        start(s);
      } catch (e) { replace(err, e.message); }
    } }, field("User name", name), field("Password (at least 12 characters)", pass),
    h("button", { type: "submit" }, "Create account"), err)));
  name.focus();
}

function start(s) {
  session = s;
  setCSRF(s.csrf_token);
  const first = allowed(s.user.role)[0][0];
  if (!location.hash || location.hash === "#/" || location.hash === "#") location.hash = "#/" + first;
  else route();
}

async function route() {
  if (leave) { leave(); leave = null; }
  const hash = location.hash;
  if (hash.startsWith("#accept=")) return acceptPage(hash.slice("#accept=".length));
  renderNav();
  if (!session) return signInPage();
  const [id, ...rest] = hash.replace(/^#\/?/, "").split("/");
  const page = allowed(session.user.role).find(([p]) => p === id);
  if (!page) {
    replace(main, h("section", {}, h("h1", {}, "Not available"),
      h("p", {}, "This page does not exist or your role may not open it.")));
    return;
  }
  replace(main, h("p", { class: "muted" }, "Loading…"));
  try {
    leave = await pages[id]({ main, session, args: rest.map(decodeURIComponent) });
  } catch (e) {
    replace(main, h("section", {}, h("h1", {}, page[1]), h("p", { class: "err", role: "alert" }, e.message)));
  }
  main.focus({ preventScroll: true });
}

window.addEventListener("hashchange", route);
window.addEventListener("waedge:signed-out", () => {
  if (!session) return;
  session = null;
  setCSRF("");
  toast("Your session ended; sign in again.", true);
  route();
});

(async () => {
  if (!location.hash.startsWith("#accept=")) {
    try {
      const s = await api("GET", "/console/api/session");
      if (s.signed_in) { session = s; setCSRF(s.csrf_token); }
    } catch (e) { /* shown as the sign-in page */ }
  }
  if (session && (!location.hash || location.hash === "#/")) return start(session);
  route();
})();
