// Plain SVG charts: stacked bars of finished tasks, lines of lateness percentiles. Colours
// come from the stylesheet (classes), so both themes apply.
const NS = "http://www.w3.org/2000/svg";
const W = 720;
const H = 200;
const PAD = { left: 48, right: 12, top: 12, bottom: 28 };

/** An SVG element with attributes (and text). */
export function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

function frame(label, summary) {
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, class: "chart-svg" });
  root.append(svg("title", {}, label), svg("desc", {}, summary));
  return root;
}

function axes(root, maxY, points, format) {
  const plotH = H - PAD.top - PAD.bottom;
  for (const f of [0, 0.5, 1]) {
    const y = PAD.top + plotH * (1 - f);
    root.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: "grid" }));
    root.append(svg("text", { x: PAD.left - 6, y: y + 4, class: "tick", "text-anchor": "end" }, format(maxY * f)));
  }
  const labels = [0, Math.floor((points.length - 1) / 2), points.length - 1];
  for (const i of new Set(labels)) {
    if (!points[i]) continue;
    const x = PAD.left + ((i + 0.5) * (W - PAD.left - PAD.right)) / points.length;
    const d = new Date(points[i].at);
    const text = d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false });
    root.append(svg("text", { x, y: H - 8, class: "tick", "text-anchor": "middle" }, text));
  }
}

const KINDS = ["completed", "failed", "canceled"];

/** Stacked bars of finished tasks per minute, by outcome. */
export function finishedChart(container, points, bucketSeconds) {
  const perMin = (n) => (n * 60) / bucketSeconds;
  const totals = points.map((p) => KINDS.reduce((s, k) => s + (p[k] || 0), 0));
  const maxY = Math.max(1, ...totals.map(perMin));
  const sum = KINDS.map((k) => `${points.reduce((s, p) => s + (p[k] || 0), 0)} ${k}`).join(", ");
  const root = frame("Finished tasks per minute, by outcome", `Over the range: ${sum}.`);
  axes(root, maxY, points, (v) => (v >= 10 ? v.toFixed(0) : v.toFixed(1)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const barW = Math.max(1, plotW / Math.max(1, points.length) - 1);
  points.forEach((p, i) => {
    let y = PAD.top + plotH;
    for (const kind of KINDS) {
      const hgt = (perMin(p[kind] || 0) / maxY) * plotH;
      if (hgt <= 0) continue;
      y -= hgt;
      const rect = svg("rect", { x: PAD.left + (i * plotW) / points.length, y, width: barW, height: hgt, class: `bar ${kind}` });
      rect.append(svg("title", {}, `${new Date(p.at).toLocaleString()}: ${p[kind]} ${kind}`));
      root.append(rect);
    }
  });
  container.replaceChildren(root, legend(KINDS));
}

/** Lines of start lateness p50 and p95 (seconds). */
export function latenessChart(container, points) {
  const values = points.flatMap((p) => [p.lateness_p50, p.lateness_p95]).filter((v) => v !== null && v !== undefined);
  const maxY = Math.max(0.001, ...values);
  const worst = values.length ? Math.max(...values) : null;
  const root = frame("Start lateness p50 and p95, in seconds", worst === null ? "No task started in the range." : `Worst p95: ${worst.toFixed(3)} s.`);
  axes(root, maxY, points, (v) => (v >= 1 ? `${v.toFixed(1)}s` : `${(v * 1000).toFixed(0)}ms`));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  for (const key of ["lateness_p50", "lateness_p95"]) {
    let d = "";
    points.forEach((p, i) => {
      const v = p[key];
      if (v === null || v === undefined) return;
      const x = PAD.left + ((i + 0.5) * plotW) / points.length;
      const y = PAD.top + plotH * (1 - v / maxY);
      d += `${d ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`;
    });
    if (d) root.append(svg("path", { d, class: `line ${key.replace("lateness_", "")}` }));
  }
  container.replaceChildren(root, legend(["p50", "p95"]));
}

function legend(kinds) {
  const ul = document.createElement("ul");
  ul.className = "legend";
  for (const kind of kinds) {
    const li = document.createElement("li");
    const sw = document.createElement("span");
    sw.className = `swatch ${kind}`;
    sw.setAttribute("aria-hidden", "true");
    li.append(sw, kind);
    ul.append(li);
  }
  return ul;
}
