// Conformance check: Meta's own Node SDK (npm "whatsapp", Meta Platforms,
// github.com/WhatsApp/WhatsApp-Nodejs-SDK) sends through waedge. The SDK
// always speaks HTTPS to port 443 of WA_BASE_URL; this script points its
// https.request at waedge's plain HTTP listener (and raises the
// secureConnect event the SDK waits for), so the request bytes are the
// SDK's own.
//
// Environment: BASE (http://host:port), TOKEN, PNID, WABA.
import http from "node:http";
import https from "node:https";
import { createRequire } from "node:module";
import { check, finish } from "./report.mjs";

const env = process.env;
const target = new URL(env.BASE);
https.request = (opts) => {
  const req = http.request({ ...opts, hostname: target.hostname, port: target.port, agent: undefined });
  req.once("socket", (s) => s.once("connect", () => s.emit("secureConnect")));
  return req;
};
process.env.NODE_ENV = "production"; // the SDK would otherwise load dotenv
process.env.CLOUD_API_VERSION = "v21.0";
process.env.CLOUD_API_ACCESS_TOKEN = env.TOKEN;
process.env.WA_BUSINESS_ACCOUNT_ID = env.WABA;
const WhatsApp = createRequire(import.meta.url)("whatsapp");


// The SDK answers an HttpsClientResponse: status and JSON body.
async function call(p) {
  const r = await p;
  return { status: r.statusCode(), body: await r.responseBodyToJSON() };
}

// The id as a string: the SDK would parseInt WA_PHONE_NUMBER_ID, and ids
// of 16 digits do not survive that.
const wa = new WhatsApp(env.PNID);
const to = 15551234567; // the SDK takes numbers and calls toString()

try {
  // 1. hello_world, which every new WABA has (the SDK README's first send).
  const r1 = await call(wa.messages.template({ name: "hello_world", language: { code: "en_US" } }, to));
  check("template hello_world is accepted", r1.status === 200 && r1.body?.messages?.[0]?.id?.startsWith("wamid."), JSON.stringify(r1));

  // 2. A template with Meta's upper-case component types, as in its Postman collection.
  const r2 = await call(wa.messages.template({ name: "order_update", language: { code: "en", policy: "deterministic" },
    components: [{ type: "BODY", parameters: [{ type: "TEXT", text: "Ana" }] }] }, to));
  check("template with upper-case enums is accepted", r2.status === 200 && r2.body?.contacts?.[0]?.wa_id === "15551234567", JSON.stringify(r2));

  // 3. A free-form text outside the 24-hour window: accepted with a wamid,
  // as by Meta (the failure, 131047, follows as a status webhook).
  const r3 = await call(wa.messages.text({ body: "hello", preview_url: false }, to));
  check("text outside the window is accepted (131047 follows by webhook)", r3.status === 200 && r3.body?.messages?.[0]?.id?.startsWith("wamid."), JSON.stringify(r3));

  // 4. A location with string coordinates (what Python SDKs send) passes validation.
  const r4 = await call(wa.messages.location({ latitude: "37.4847", longitude: "-122.1477", name: "HQ" }, to));
  check("location with string coordinates passes validation", r4.status === 200 && r4.body?.messages?.[0]?.id?.startsWith("wamid."), JSON.stringify(r4));

  // 5. An invalid template (no language): the Graph envelope, code 131008.
  const r5 = await call(wa.messages.template({ name: "hello_world" }, to));
  check("template without language gets 131008", r5.status === 400 && r5.body?.error?.code === 131008 && r5.body?.error?.fbtrace_id, JSON.stringify(r5));

  // 6. Mark as read through messages.status.
  const r6 = await call(wa.messages.status({ status: "read", message_id: "wamid.unknown" }));
  check("status(read) of an unknown id gets a Graph error", typeof r6.body?.error?.code === "number", JSON.stringify(r6));

  // 7. Two-step verification PIN (POST /{pnid}/ with a trailing slash).
  const r7 = await call(wa.twoStepVerification.setPin(123456));
  check("twoStepVerification.setPin succeeds", r7.status === 200 && r7.body?.success === true, JSON.stringify(r7));
} catch (e) {
  check("no exception", false, e?.stack ?? e);
}
finish();
