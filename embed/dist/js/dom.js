// dom.js — building the page from values without ever parsing them as
// HTML: every string becomes a text node or an attribute value.

// h(tag, attrs, ...children): attrs keys starting with "on" are event
// listeners; children are nodes, strings (text), numbers, arrays or null.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG = "http://www.w3.org/2000/svg";

// s(tag, attrs, ...children) is h for SVG elements.
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// replace puts children in place of el's content.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

// table(columns, rows): columns are [title, row => cell] pairs.
export function table(columns, rows, empty = "Nothing yet.") {
  if (!rows || rows.length === 0) return h("p", { class: "muted" }, empty);
  return h("table", {},
    h("thead", {}, h("tr", {}, columns.map(([t]) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, columns.map(([, f]) => h("td", {}, f(r)))))));
}

// when formats unix seconds (or ms when > 1e12) as local date and time.
export function when(t) {
  if (!t) return "";
  const ms = t > 1e12 ? t : t * 1000;
  return new Date(ms).toLocaleString();
}

export function pill(text, kind = "") {
  return h("span", { class: "pill " + kind }, text);
}

// field(label, input) labels an input for screen readers and keyboards.
let fieldSeq = 0;
export function field(label, input) {
  const id = input.id || "f" + ++fieldSeq;
  input.id = id;
  return h("div", {}, h("label", { for: id }, label), input);
}

export function toast(msg, err = false) {
  const box = document.getElementById("toast");
  const d = h("div", { class: err ? "err" : "" }, msg);
  box.append(d);
  setTimeout(() => d.remove(), err ? 8000 : 4000);
}
