import { start } from "../lib/app.js";
import { api } from "../lib/api.js";
import { $, badge, fmtTime, h, notice, url } from "../lib/dom.js";
import { poll } from "../lib/live.js";
import { allowed, countsOf, FINISHED } from "../lib/chains.js";
import { DEFAULT_RULE, drawChain, noteOf } from "../lib/graph.js";

const chainId = document.body.dataset.chainId;
const base = `/tasky/v1/chains/${encodeURIComponent(chainId)}`;
let shown = ""; // the answer drawn last, as text: an unchanged answer draws nothing

function stepRow(s) {
  return h(
    "tr",
    { "data-step": s.step, "data-status": s.status },
    h("th", { scope: "row" }, h("a", { href: url(`/tasks/${s.task_id}`), "data-step": s.step }, s.step)),
    h("td", {}, s.worker),
    h("td", {}, badge(s.status)),
    h("td", { class: "num" }, s.attempts),
    h("td", {}, s.depends_on.join(", ") || "—"),
    h("td", {}, s.depends_on.length ? s.run_if || DEFAULT_RULE : "—"),
    h("td", { class: "note" }, noteOf(s) || "—"),
  );
}

/** Which step link had the focus (in the graph or the table), to give it back after a redraw. */
function focused() {
  const el = document.activeElement;
  const link = el && el.closest && el.closest("a[data-step]");
  return link && [link.closest("#graph") ? "#graph" : "#steps", link.dataset.step];
}

function show(c) {
  const focus = focused();
  $("#c-name").textContent = c.name || "—";
  $("#c-status").replaceWith(Object.assign(badge(c.status), { id: "c-status" }));
  $("#c-policy").textContent = c.failure_policy;
  $("#c-created").textContent = fmtTime(c.created_at);
  $("#c-counts").replaceChildren(countsOf(c.counts));
  const can = allowed(c);
  $("#c-cancel").disabled = !can.cancel;
  $("#c-retry").disabled = !can.retry;
  const drawn = performance.now();
  $("#graph").replaceChildren(drawChain(c));
  $("#graph").dataset.drawMs = (performance.now() - drawn).toFixed(1);
  $("#steps tbody").replaceChildren(...c.steps.map(stepRow));
  if (focus) {
    const [where, step] = focus;
    document.querySelector(`${where} a[data-step="${CSS.escape(step)}"]`)?.focus();
  }
}

function draw(c) {
  const text = JSON.stringify(c);
  if (text !== shown) {
    shown = text;
    show(c);
  }
  return !FINISHED.includes(c.status);
}

let stop = null;
/** Poll the chain until it has finished (again after an action). */
function follow(immediate) {
  if (stop) stop();
  stop = poll(async () => draw((await api(base)).data), 2000, { immediate });
}

async function act(button, path, body) {
  button.disabled = true;
  try {
    const { data } = await api(path, { method: "POST", body });
    notice("");
    draw(data);
    follow(true);
  } catch (err) {
    notice(err.message);
    button.disabled = false;
  }
}

$("#c-cancel").addEventListener("click", (event) => act(event.currentTarget, `${base}/cancel`));
$("#c-retry").addEventListener("click", (event) => act(event.currentTarget, `${base}/actions`, { action: "retry" }));

start(async () => {
  const { data } = await api(base);
  if (draw(data)) follow(false);
});
