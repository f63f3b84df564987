import { start } from "../lib/app.js";
import { api } from "../lib/api.js";
import { $, badge, fmtSeconds, fmtTime, h, notice, shortId, url } from "../lib/dom.js";
import { clearErrors, configFields, fillTrigger, readConfig, readSubmit, readTrigger, showErrors, wireChoices, wirePreview } from "../lib/form.js";
import { scheduleButtons } from "../lib/schedules.js";
import { poll } from "../lib/live.js";

const scheduleId = document.body.dataset.scheduleId;
const form = $("#schedule-form");
let workers = [];

function lateness(t) {
  return t.started_at ? (new Date(t.started_at) - new Date(t.execute_at)) / 1000 : null;
}

function showSummary(s) {
  $("#s-worker").textContent = s.worker;
  $("#s-status").replaceWith(Object.assign(badge(s.status), { id: "s-status" }));
  $("#s-next").textContent = fmtTime(s.next_run_at);
  $("#s-runs").textContent = s.runs;
  const active = document.activeElement && document.activeElement.dataset.action;
  $("#s-actions").replaceChildren(...scheduleButtons(s, onAction, (err) => notice(err.message)));
  if (active) $(`#s-actions [data-action="${active}"]:not([disabled])`)?.focus();
}

function onAction(action, body) {
  if (action === "delete") location.assign(url("/schedules"));
  else if (action === "run" && body) notice(`Fired: task ${body.task_id}`, "info");
  refresh();
}

async function refresh() {
  const [{ data: s }, { data: runs }] = await Promise.all([
    api(`/tasky/v1/schedules/${scheduleId}`),
    api(`/tasky/v1/tasks/?schedule_id=${scheduleId}&limit=10`),
  ]);
  showSummary(s);
  $("#runs tbody").replaceChildren(
    ...runs.tasks.map((t) =>
      h(
        "tr",
        {},
        h("th", { scope: "row" }, h("a", { href: url(`/tasks/${t.task_id}`), class: "id" }, shortId(t.task_id))),
        h("td", {}, badge(t.status)),
        h("td", {}, fmtTime(t.execute_at)),
        h("td", {}, fmtTime(t.started_at)),
        h("td", { class: "num" }, fmtSeconds(lateness(t))),
        h("td", { class: "num" }, fmtSeconds(t.duration)),
      ),
    ),
  );
  return s;
}

function workerOf(name) {
  return workers.find((w) => w.name === name);
}

async function save(event) {
  event.preventDefault();
  clearErrors(form);
  const general = $("#form-error");
  general.hidden = true;
  $("#form-result").replaceChildren();
  try {
    let data;
    if (scheduleId) {
      const body = { config: readConfig(form), ...readTrigger(form) };
      body.start_at = body.start_at ?? null;
      body.end_at = body.end_at ?? null;
      for (const name of ["timeout", "max_retries", "retry_backoff"]) {
        const v = form.elements[name].value.trim();
        if (v !== "") body[name] = Number(v);
      }
      ({ data } = await api(`/tasky/v1/schedules/${scheduleId}`, { method: "PATCH", body }));
      $("#form-result").textContent = `Saved. Next run: ${fmtTime(data.next_run_at)}.`;
      refresh();
    } else {
      const worker = form.elements.worker.value;
      ({ data } = await api(`/tasky/v1/workers/${encodeURIComponent(worker)}`, { method: "POST", body: readSubmit(form) }));
      $("#form-result").replaceChildren("Schedule created: ", h("a", { href: url(`/schedules/${data.schedule_id}`) }, data.schedule_id));
    }
  } catch (err) {
    if (!err.errors) throw err;
    const left = showErrors(form, err.errors);
    if (left.length || !Object.keys(err.errors).length) {
      general.textContent = [err.message, ...left].filter(Boolean).join(" ");
      general.hidden = false;
    }
  }
}

start(async () => {
  ({ data: workers } = await api("/tasky/v1/workers/"));
  if (scheduleId) {
    const s = await refresh();
    configFields($("#config-fields"), workerOf(s.worker)?.parameters || {}, s.config);
    fillTrigger(form, s);
    for (const name of ["timeout", "max_retries", "retry_backoff"]) form.elements[name].value = s[name] ?? "";
    $("#all-runs").href = url(`/tasks?schedule_id=${scheduleId}`);
    poll(refresh, 3000);
  } else {
    const select = form.elements.worker;
    const wanted = new URLSearchParams(location.search).get("worker");
    for (const w of workers.filter((w) => w.enabled)) select.append(h("option", { value: w.name, selected: w.name === wanted }, w.name));
    const pick = () => configFields($("#config-fields"), workerOf(select.value)?.parameters || {});
    select.addEventListener("change", pick);
    pick();
  }
  wireChoices(form);
  wirePreview(form, scheduleId);
  form.addEventListener("submit", save);
});
