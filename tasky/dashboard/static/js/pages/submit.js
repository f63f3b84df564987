import { start } from "../lib/app.js";
import { api } from "../lib/api.js";
import { $, h, url } from "../lib/dom.js";
import { clearErrors, configFields, readSubmit, showErrors, wireChoices, wirePreview } from "../lib/form.js";

const name = document.body.dataset.worker;
const form = $("#submit-form");

start(async () => {
  const { data: worker } = await api(`/tasky/v1/workers/${encodeURIComponent(name)}/info`);
  $("#worker-description").textContent = worker.description;
  let values = {};
  const clone = new URLSearchParams(location.search).get("clone");
  if (clone) {
    const { data: task } = await api(`/tasky/v1/tasks/${encodeURIComponent(clone)}`);
    values = task.config || {};
    for (const key of ["timeout", "max_retries", "retry_backoff"]) {
      if (task[key] !== null && task[key] !== undefined) form.elements[key].value = task[key];
    }
    $("#form-result").textContent = `Prefilled from task ${task.task_id}.`;
  }
  configFields($("#config-fields"), worker.parameters, values);
  wireChoices(form);
  wirePreview(form);
  form.addEventListener("submit", onSubmit);
});

async function onSubmit(event) {
  event.preventDefault();
  const result = $("#form-result");
  const general = $("#form-error");
  general.hidden = true;
  result.replaceChildren();
  clearErrors(form);
  let body;
  try {
    body = readSubmit(form);
  } catch (err) {
    if (err.errors) return showErrors(form, err.errors);
    throw err;
  }
  const button = $("#submit-button");
  button.disabled = true;
  try {
    const { data } = await api(`/tasky/v1/workers/${encodeURIComponent(name)}`, { method: "POST", body });
    if (data.schedule_id) {
      result.replaceChildren("Schedule created: ", h("a", { href: url(`/schedules/${data.schedule_id}`) }, data.schedule_id));
    } else {
      result.replaceChildren(
        `Task ${data.status}: `,
        h("a", { href: url(`/tasks/${data.task_id}`), "data-task-id": data.task_id }, data.task_id),
        " · ",
        h("a", { href: url(`/tasks?worker=${encodeURIComponent(data.worker)}`) }, "see it in the list"),
      );
    }
  } catch (err) {
    if (err.status !== 422 && err.status !== 403 && err.status !== 400) throw err;
    const left = showErrors(form, err.errors);
    if (left.length || !Object.keys(err.errors).length) {
      general.textContent = [err.message, ...left].join(" ");
      general.hidden = false;
    }
  } finally {
    button.disabled = false;
  }
}
