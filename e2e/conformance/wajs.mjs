// Conformance check: the whatsapp-api-js client library (MIT, an
// independent implementation of Meta's Cloud API) talks to waedge with only
// the base URL changed (through its fetch ponyfill), and verifies waedge's
// webhook signature and subscription handshake as it would Meta's, and
// uploads, describes, downloads and deletes media, and creates a QR code
// with its image.
//
// Environment: BASE (http://host:port), TOKEN, PNID, WABA, APP_SECRET,
// SIGNED_BODY (base64 of a webhook body signed by waedge), SIGNATURE,
// EXPECT_TEXT (the text inside that body).
import http from "node:http";
import { WhatsAppAPI } from "whatsapp-api-js";
import { Text, Template, Language, BodyComponent, BodyParameter } from "whatsapp-api-js/messages";
import { check, finish } from "./report.mjs";

const env = process.env;

const base = env.BASE;
const rewrite = (url, init) => fetch(String(url).replace("https://graph.facebook.com", base), init);
const api = new WhatsAppAPI({
  token: env.TOKEN,
  appSecret: env.APP_SECRET,
  webhookVerifyToken: "conformance-verify",
  v: "v21.0",
  ponyfill: { fetch: rewrite },
});

// A receiver built on the library: GET handshake and signed POSTs.
let received = null;
api.on.message = ({ message, name }) => {
  received = { text: message.text?.body, name };
};
const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  if (req.method === "GET") {
    try {
      res.end(api.get(Object.fromEntries(url.searchParams)));
    } catch {
      res.statusCode = 403;
      res.end();
    }
    return;
  }
  res.statusCode = 405;
  res.end();
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const port = server.address().port;

try {
  // 1. Subscription: waedge must complete the library's GET handshake.
  const sub = await fetch(`${base}/v21.0/${env.WABA}/subscribed_apps`, {
    method: "POST",
    headers: { Authorization: `Bearer ${env.TOKEN}`, "Content-Type": "application/json" },
    body: JSON.stringify({ override_callback_uri: `http://127.0.0.1:${port}/hook`, verify_token: "conformance-verify" }),
  });
  check("subscribed_apps handshake answered by the library", sub.status === 200, `${sub.status} ${await sub.text()}`);

  // 2. A template send through the library's sendMessage.
  const tpl = new Template("order_update", new Language("en"), new BodyComponent(new BodyParameter("Ana")));
  const r1 = await api.sendMessage(env.PNID, "15551234567", tpl);
  check("sendMessage(template) returns a wamid", r1?.messages?.[0]?.id?.startsWith("wamid.") && r1?.contacts?.[0]?.wa_id === "15551234567", JSON.stringify(r1));

  // 3. A free-form text outside the 24-hour window: accepted with a wamid, as by Meta
  // (the failure, 131047, follows as a status webhook).
  const r2 = await api.sendMessage(env.PNID, "15551234567", new Text("hello"));
  check("sendMessage(text) outside the window is accepted (131047 follows by webhook)", r2?.messages?.[0]?.id?.startsWith("wamid."), JSON.stringify(r2));

  // 4. Mark-as-read of an unknown message: a Graph error, not a crash.
  const r3 = await api.markAsRead(env.PNID, "wamid.unknown");
  check("markAsRead of an unknown id gets a Graph error", typeof r3?.error?.code === "number" && r3?.error?.fbtrace_id, JSON.stringify(r3));

  // 5. A webhook signed by waedge passes the library's signature check and parses.
  const raw = Buffer.from(env.SIGNED_BODY, "base64").toString("utf8");
  let err = null;
  try {
    await api.post(JSON.parse(raw), raw, env.SIGNATURE);
  } catch (e) {
    err = e;
  }
  await new Promise((r) => setTimeout(r, 50)); // the library offloads its emitter to the next tick
  check("webhook signature verified and message parsed", !err && received?.text === env.EXPECT_TEXT, `${err} ${JSON.stringify(received)}`);

  // 6. A tampered body is rejected by the library.
  let rejected = false;
  try {
    await api.post(JSON.parse(raw), raw.replace("15551234567", "15551234568"), env.SIGNATURE);
  } catch {
    rejected = true;
  }
  check("tampered webhook rejected", rejected, "accepted");

  // 7. Media upload through the library's uploadMedia (its own FormData
  // checks, messaging_product in the query, no type field: waedge takes the
  // file part's type).
  const png = new Uint8Array(300 * 1024 + 7);
  png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  for (let i = 8; i < png.length; i++) png[i] = (i * 31) & 0xff;
  const form = new FormData();
  form.append("file", new Blob([png], { type: "image/png" }), "pic.png");
  const up = await api.uploadMedia(env.PNID, form);
  check("uploadMedia returns a media id", /^[0-9]{15,16}$/.test(up?.id ?? ""), JSON.stringify(up));

  // 8. retrieveMedia: URL, type, size and hex sha256.
  const sha = Buffer.from(await crypto.subtle.digest("SHA-256", png)).toString("hex");
  const info = await api.retrieveMedia(up.id, env.PNID);
  check("retrieveMedia describes the upload",
    info?.id === up.id && info?.mime_type === "image/png" && Number(info?.file_size) === png.length && info?.sha256 === sha &&
      info?.messaging_product === "whatsapp" && typeof info?.url === "string",
    JSON.stringify(info));

  // 9. fetchMedia: the download (the library sends its bearer token).
  const dl = await api.fetchMedia(info.url);
  const got = new Uint8Array(await dl.arrayBuffer());
  check("fetchMedia downloads the same bytes",
    dl.status === 200 && dl.headers.get("content-type") === "image/png" && Buffer.compare(Buffer.from(got), Buffer.from(png)) === 0,
    `${dl.status} ${dl.headers.get("content-type")} ${got.length} bytes`);

  // 10. deleteMedia, after which the id is gone.
  const del = await api.deleteMedia(up.id, env.PNID);
  const gone = await api.retrieveMedia(up.id);
  check("deleteMedia deletes", del?.success === true && gone?.error?.code === 100, `${JSON.stringify(del)} ${JSON.stringify(gone)}`);

  // 11. createQR with an image (the library sends generate_qr_image=svg in
  // the query): qr_image_url serves the SVG without a token; retrieveQR
  // reads the code back.
  const qr = await api.createQR(env.PNID, "Hello", "svg");
  check("createQR returns a code, deep link and image URL",
    /^[A-Z0-9]{14}$/.test(qr?.code ?? "") && qr?.deep_link_url === `https://wa.me/message/${qr?.code}` &&
      typeof qr?.qr_image_url === "string",
    JSON.stringify(qr));
  const img = await fetch(qr.qr_image_url);
  const svg = await img.text();
  check("qr_image_url serves an SVG",
    img.status === 200 && img.headers.get("content-type") === "image/svg+xml" && svg.startsWith("<svg"),
    `${img.status} ${img.headers.get("content-type")} ${svg.slice(0, 80)}`);
  const back = await api.retrieveQR(env.PNID, qr.code);
  check("retrieveQR reads the code", back?.data?.[0]?.code === qr.code && back?.data?.[0]?.prefilled_message === "Hello",
    JSON.stringify(back));
} catch (e) {
  check("no exception", false, e?.stack ?? e);
} finally {
  server.close();
}
finish();
