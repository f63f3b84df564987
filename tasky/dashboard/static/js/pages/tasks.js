import { start } from "../lib/app.js";
import { api } from "../lib/api.js";
import { $, badge, fmtSeconds, fmtTime, h, notice, shortId, url } from "../lib/dom.js";
import { actionButtons, enableFor } from "../lib/actions.js";
import { watchFeed } from "../lib/feed.js";

const FILTERS = ["status", "worker", "schedule_id"];
const PAGE = 50;
const form = $("#filters");
const query = new URLSearchParams(location.search);

function filterOf(params) {
  return Object.fromEntries(FILTERS.filter((k) => params.get(k)).map((k) => [k, params.get(k)]));
}

function listPath() {
  const params = new URLSearchParams({ ...filterOf(query), limit: String(PAGE) });
  if (query.get("cursor")) params.set("cursor", query.get("cursor"));
  return `/tasky/v1/tasks/?${params}`;
}

function row(task) {
  return h(
    "tr",
    { "data-task-id": task.task_id, "data-status": task.status },
    h("th", { scope: "row" }, h("a", { href: url(`/tasks/${task.task_id}`), class: "id", title: task.task_id }, shortId(task.task_id))),
    h("td", {}, task.worker),
    h("td", { class: "status" }, badge(task.status)),
    h("td", { class: "time" }, fmtTime(task.created_at)),
    h("td", { class: "time" }, fmtTime(task.execute_at)),
    h("td", { class: "time" }, fmtTime(task.started_at)),
    h("td", { class: "time" }, fmtTime(task.finished_at)),
    h("td", { class: "num" }, fmtSeconds(task.duration)),
    h("td", { class: "row-actions" }, actionButtons(task, () => refresh(), (err) => notice(err.message))),
  );
}

function render(page) {
  const tbody = $("#tasks tbody");
  const active = document.activeElement;
  const focusRow = active && active.closest && active.closest("tr[data-task-id]");
  const focusKey = focusRow && [focusRow.dataset.taskId, active.dataset.action];
  tbody.replaceChildren(...page.tasks.map(row));
  if (focusKey) {
    const again = tbody.querySelector(`tr[data-task-id="${focusKey[0]}"] [data-action="${focusKey[1]}"]`);
    if (again && !again.disabled) again.focus();
    else if (again) again.closest("tr").querySelector("a").focus();
  }
  $("#tasks-empty").hidden = page.tasks.length > 0;
  const older = $("#page-older");
  older.hidden = !page.next_cursor;
  if (page.next_cursor) {
    const params = new URLSearchParams({ ...filterOf(query), cursor: page.next_cursor });
    older.href = url(`/tasks?${params}`);
  }
  const newest = new URLSearchParams(filterOf(query));
  $("#page-newest").href = url(`/tasks?${newest}`);
}

let shown = { tasks: [] };
let seenNewest = null; // the feed's newest task id at the last look

async function refresh() {
  shown = (await api(listPath())).data;
  render(shown);
}

/** Apply the live feed to the rows shown: new states in place; a new task on the first
 * page (or a shown task gone from the filter) refetches the page, one request. */
async function onFeed(feed) {
  const status = query.get("status");
  // a task created since the page was read may belong on the first page
  let stale = !query.get("cursor") && seenNewest !== null && feed.newest_task_id !== seenNewest;
  seenNewest = feed.newest_task_id;
  const byId = new Map(feed.tasks.map((t) => [t.task_id, t]));
  for (const task of shown.tasks) {
    const now = byId.get(task.task_id);
    if (!now || now.status === task.status && now.duration === task.duration) continue;
    if (status && now.status !== status) stale = true;
    Object.assign(task, now);
    const tr = document.querySelector(`#tasks tr[data-task-id="${task.task_id}"]`);
    if (!tr) continue;
    tr.dataset.status = task.status;
    tr.querySelector(".status").replaceChildren(badge(task.status));
    const cells = tr.children;
    cells[5].textContent = fmtTime(task.started_at);
    cells[6].textContent = fmtTime(task.finished_at);
    cells[7].textContent = fmtSeconds(task.duration);
    enableFor(tr, task.status);
  }
  if (stale) await refresh();
}

// -- bulk actions on the filtered query ---------------------------------------------------

let counted = null; // the dry run's answer: what "Confirm" acts on

function resetBulk(message = "") {
  counted = null;
  $("#bulk-confirm").hidden = true;
  $("#bulk-abort").hidden = true;
  $("#bulk-count").hidden = false;
  $("#bulk-status").textContent = message;
}

function describeFilter(filter) {
  const parts = Object.entries(filter).map(([k, v]) => `${k} = ${v}`);
  return parts.length ? parts.join(", ") : "no filter: every task";
}

async function countBulk() {
  const action = $("#bulk-action").value;
  const filter = filterOf(query);
  const { data } = await api("/tasky/v1/tasks/actions", {
    method: "POST",
    body: { action, filter, dry_run: true },
  });
  counted = data;
  const label = $("#bulk-action").selectedOptions[0].textContent;
  $("#bulk-status").textContent =
    `${data.matched} task(s) match (${describeFilter(filter)}); ${data.eligible} of them ` +
    `in a state that allows "${label}" (${data.states.join(", ")}). ` +
    "Tasks created after this count are left alone.";
  $("#bulk-count").hidden = true;
  $("#bulk-confirm").hidden = false;
  $("#bulk-confirm").disabled = data.eligible === 0;
  $("#bulk-confirm").textContent = `${label}: ${data.eligible} task(s)`;
  $("#bulk-abort").hidden = false;
  $(data.eligible ? "#bulk-confirm" : "#bulk-abort").focus();
}

async function confirmBulk() {
  const { action, max_id: maxId, matched } = counted;
  const filter = filterOf(query);
  $("#bulk-confirm").disabled = true;
  try {
    const { data } = await api("/tasky/v1/tasks/actions", {
      method: "POST",
      body: { action, filter, max_id: maxId ?? undefined, counted: matched },
    });
    const skipped = Object.entries(data.skipped || {}).map(([why, n]) => `${why}: ${n}`);
    resetBulk(
      `Done: ${data.acted} acted on, ${data.skipped_total || 0} skipped` +
        (skipped.length ? ` (${skipped.join("; ")})` : "") + ".",
    );
    $("#bulk-count").focus();
    await refresh();
  } finally {
    $("#bulk-confirm").disabled = false;
  }
}

start(async () => {
  for (const name of FILTERS) if (query.get(name)) form.elements[name].value = query.get(name);
  const { data: workers } = await api("/tasky/v1/workers/");
  const select = form.elements.worker;
  for (const w of workers) select.append(h("option", { value: w.name, selected: query.get("worker") === w.name }, w.name));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const name of FILTERS) if (form.elements[name].value.trim()) params.set(name, form.elements[name].value.trim());
    location.assign(url(`/tasks${params.size ? `?${params}` : ""}`));
  });
  $("#bulk-count").addEventListener("click", () => countBulk().catch((err) => resetBulk(`Count failed: ${err.message}`)));
  $("#bulk-confirm").addEventListener("click", () => confirmBulk().catch((err) => resetBulk(`Failed: ${err.message}`)));
  $("#bulk-abort").addEventListener("click", () => resetBulk());
  $("#bulk-action").addEventListener("change", () => resetBulk());
  await refresh();
  watchFeed(onFeed);
});
