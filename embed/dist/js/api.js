// api.js — calls to this node's admin API and the console's endpoints with
// the session cookie; state-changing calls carry the session's CSRF token.

let csrf = "";

export function setCSRF(token) { csrf = token || ""; }

// ApiError carries the Graph error envelope's code and message.
export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    const details = e.error_data && e.error_data.details;
    super(details || e.message || "HTTP " + status);
    this.status = status;
    this.code = e.code;
  }
}

// api(method, path, body?) returns the decoded JSON answer or throws ApiError.
export async function api(method, path, body, headers = {}) {
  const h = { ...headers };
  if (body !== undefined) h["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD") h["X-CSRF-Token"] = csrf;
  const resp = await fetch(path, {
    method, headers: h, credentials: "same-origin", cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const ct = resp.headers.get("Content-Type") || "";
  const data = ct.includes("json") ? await resp.json() : await resp.blob();
  if (!resp.ok) {
    const err = new ApiError(resp.status, data);
    if (resp.status === 401 && !path.startsWith("/console/api/")) {
      window.dispatchEvent(new CustomEvent("waedge:signed-out"));
    }
    throw err;
  }
  return data;
}

// download saves a blob answer (CSV, backup) under name.
export async function download(path, name, headers = {}) {
  const blob = await api("GET", path, undefined, headers);
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

// graph calls the Cloud API with a business's access token (the console
// session does not stand for one: a console user cannot send messages or
// change a business's Cloud API objects without its token).
export async function graph(method, path, token, body) {
  const resp = await fetch(path, {
    method, credentials: "omit", cache: "no-store",
    headers: { Authorization: "Bearer " + token, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await resp.json();
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}
