import { start } from "../lib/app.js";
import { listPages } from "../lib/api.js";
import { $, badge, fmtTime, h, notice, shortId, url } from "../lib/dom.js";
import { scheduleButtons, triggerText } from "../lib/schedules.js";
import { poll } from "../lib/live.js";

let cursor = null;
let pages = 1;

function row(s) {
  return h(
    "tr",
    { "data-schedule-id": s.schedule_id, "data-status": s.status },
    h("th", { scope: "row" }, h("a", { href: url(`/schedules/${s.schedule_id}`), class: "id", title: s.schedule_id }, shortId(s.schedule_id))),
    h("td", {}, s.worker),
    h("td", {}, h("code", {}, triggerText(s))),
    h("td", {}, badge(s.status)),
    h("td", { class: "time" }, fmtTime(s.next_run_at)),
    h("td", {}, s.last_task_id ? h("a", { href: url(`/tasks/${s.last_task_id}`) }, fmtTime(s.last_run_at)) : "—"),
    h("td", { class: "num" }, s.runs),
    h(
      "td",
      { class: "row-actions" },
      scheduleButtons(s, () => refresh(), (err) => notice(err.message)),
      h("a", { class: "button small ghost", href: url(`/schedules/${s.schedule_id}`), "aria-label": `Edit schedule ${s.schedule_id}` }, "Edit"),
    ),
  );
}

async function refresh() {
  // the pages shown so far, again: new runs and states appear without a reload
  let rows;
  ({ items: rows, cursor } = await listPages("/tasky/v1/schedules/", "schedules", pages));
  const active = document.activeElement;
  const key = active && active.closest && active.closest("tr") && [active.closest("tr").dataset.scheduleId, active.dataset.action];
  $("#schedules tbody").replaceChildren(...rows.map(row));
  if (key) {
    const again = document.querySelector(`tr[data-schedule-id="${key[0]}"] [data-action="${key[1]}"]`);
    (again && !again.disabled ? again : document.querySelector(`tr[data-schedule-id="${key[0]}"] a`))?.focus();
  }
  $("#schedules-empty").hidden = rows.length > 0;
  $("#more").hidden = !cursor;
}

start(async () => {
  $("#more").addEventListener("click", () => {
    pages += 1;
    refresh();
  });
  poll(refresh, 3000);
});
