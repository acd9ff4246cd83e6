// chart.js — stacked bar charts drawn as SVG by the console itself.
import { h, s } from "./dom.js";

const palette = ["#128c7e", "#0969da", "#bf8700", "#cf222e", "#8250df", "#1a7f37", "#57606a", "#e16f24"];

// stackedBars(title, days, series): days are x labels; series maps a name
// to {day: count}. Returns a figure with the chart, a legend and a text
// table for screen readers.
export function stackedBars(title, days, series) {
  const names = Object.keys(series).sort();
  const W = 720, H = 220, left = 40, bottom = 40, top = 10;
  const totals = days.map((d) => names.reduce((sum, n) => sum + (series[n][d] || 0), 0));
  const max = Math.max(1, ...totals);
  const bw = Math.max(2, Math.min(40, (W - left - 10) / Math.max(1, days.length) - 4));
  const step = (W - left - 10) / Math.max(1, days.length);
  const y = (v) => top + (H - top - bottom) * (1 - v / max);
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title });
  for (const t of new Set([0, Math.round(max / 2), max])) { // whole counts only
    svg.append(s("line", { x1: left, x2: W - 5, y1: y(t), y2: y(t), stroke: "#eaeef2" }),
      s("text", { x: left - 4, y: y(t) + 4, "text-anchor": "end" }, String(t)));
  }
  days.forEach((d, i) => {
    let acc = 0;
    const x = left + i * step + (step - bw) / 2;
    names.forEach((n, j) => {
      const v = series[n][d] || 0;
      if (!v) return;
      svg.append(s("rect", { x, y: y(acc + v), width: bw, height: y(acc) - y(acc + v), fill: palette[j % palette.length] },
        s("title", {}, `${d} ${n}: ${v}`)));
      acc += v;
    });
    if (days.length <= 16 || i % Math.ceil(days.length / 16) === 0) {
      svg.append(s("text", { x: x + bw / 2, y: H - bottom + 14, "text-anchor": "middle" }, d.slice(5)));
    }
  });
  const legend = h("div", { class: "legend" }, names.map((n, j) => {
    const el = h("span", {}, n);
    el.style.setProperty("--c", palette[j % palette.length]);
    return el;
  }));
  return h("figure", {}, h("figcaption", {}, h("strong", {}, title)), svg, legend);
}
