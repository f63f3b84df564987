// Small DOM and formatting helpers shared by the pages.

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** An element: h("a", {href: "x", class: "y"}, "text", child). Attributes only, never HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const root = document.body.dataset.scriptRoot || "";
/** A URL of this server (under its SCRIPT_NAME, if any). */
export const url = (path) => root + path;

export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  const thisYear = d.getFullYear() === new Date().getFullYear();
  return d.toLocaleString(undefined, {
    year: thisYear ? undefined : "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  });
}

export function fmtSeconds(s) {
  if (s === null || s === undefined) return "—";
  const abs = Math.abs(s);
  if (abs < 1) return `${(s * 1000).toFixed(abs < 0.01 ? 2 : 0)} ms`;
  if (abs < 120) return `${s.toFixed(abs < 10 ? 2 : 1)} s`;
  if (abs < 7200) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

export const shortId = (id) => (id ? id.slice(0, 8) + "…" + id.slice(-4) : "—");

export const badge = (status) => h("span", { class: `badge s-${status}` }, status);

/** Show a message in the page's alert area; empty hides it. */
export function notice(message, kind = "error") {
  const el = $("#notice");
  el.hidden = !message;
  el.textContent = message || "";
  el.dataset.kind = kind;
}

/** datetime-local value (browser time) -> ISO with Z; "" -> undefined. */
export function localToIso(value) {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : d.toISOString();
}

/** ISO instant -> a datetime-local value in browser time. */
export function isoToLocal(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
