import { start } from "../lib/app.js";
import { api } from "../lib/api.js";
import { $, badge, fmtSeconds, fmtTime, h, notice, shortId, url } from "../lib/dom.js";
import { actionButtons, enableFor, isTerminal } from "../lib/actions.js";
import { watchFeed } from "../lib/feed.js";

const taskId = document.body.dataset.taskId;
const base = `/tasky/v1/tasks/${encodeURIComponent(taskId)}`;
let task = null; // as last shown

function timeline(t, stats) {
  const rows = [
    ["Created", fmtTime(t.created_at)],
    ["Execute at", fmtTime(t.execute_at)],
    ["Started", fmtTime(t.started_at)],
    ["Finished", fmtTime(t.finished_at)],
    ["Lateness (first start − execute at)", fmtSeconds(stats.lateness)],
    ["Waited in queue", fmtSeconds(stats.queued_for)],
    ["Duration", fmtSeconds(t.duration)],
  ];
  $("#timeline").replaceChildren(...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function show(t, result, stats) {
  task = t;
  $("#t-worker").textContent = t.worker;
  $("#t-worker").href = url(`/tasks?worker=${encodeURIComponent(t.worker)}`);
  $("#t-status").replaceWith(Object.assign(badge(t.status), { id: "t-status" }));
  $("#t-attempts").textContent = `${t.attempts} of ${t.max_retries + 1}`;
  $("#t-schedule").replaceChildren(
    t.schedule_id ? h("a", { href: url(`/schedules/${t.schedule_id}`) }, t.schedule_id) : "—",
  );
  $("#t-chain-row").hidden = !t.chain_id;
  if (t.chain_id) {
    $("#t-chain").href = url(`/chains/${t.chain_id}`);
    $("#t-chain").textContent = `step ${t.step} of chain ${shortId(t.chain_id)}`;
  }
  const actions = $("#t-actions");
  if (!actions.children.length) {
    actions.append(
      ...actionButtons(t, onAction, (err) => notice(err.message)),
      h("a", { class: "button small ghost", href: url(`/workers/${encodeURIComponent(t.worker)}?clone=${t.task_id}`) }, "Clone and edit"),
    );
  }
  enableFor(actions, t.status);
  timeline(t, stats);
  $("#t-config").textContent = JSON.stringify(t.config, null, 2);
  const finished = isTerminal(t.status);
  $("#t-output").textContent = finished && result.output !== null ? JSON.stringify(result.output, null, 2) : "";
  $("#output-note").textContent = finished
    ? result.output_truncated ? "The output was truncated (TASKY_OUTPUT_LIMIT)." : result.output === null ? "No output." : ""
    : "The output appears when the task has finished.";
  $("#copy-output").disabled = !$("#t-output").textContent;
  $("#error-section").hidden = !(t.error || t.skip_reason);
  $("#t-error").textContent = t.error || (t.skip_reason ? `Skipped: ${t.skip_reason}` : "");
}

async function load() {
  const [{ data: t }, { data: result }, { data: stats }] = await Promise.all([
    api(base),
    api(`${base}/result`),
    api(`${base}/statistics`),
  ]);
  show(t, result, stats);
  return !isTerminal(t.status);
}

function onAction(action, body) {
  if (action === "delete") {
    location.assign(url("/tasks"));
  } else if (action === "run" && body && body.task_id !== taskId) {
    location.assign(url(`/tasks/${body.task_id}`));
  } else {
    live();
  }
}

let stop = null;
/** Load the task, then follow it through the live feed until it has finished. */
async function live() {
  if (stop) stop();
  if (!(await load())) return;
  stop = watchFeed(async (feed) => {
    const now = feed.tasks.find((t) => t.task_id === taskId);
    if (now && (now.status !== task.status || now.duration !== task.duration)) {
      return load();
    }
    return undefined;
  });
}

$("#copy-output").addEventListener("click", async () => {
  const text = $("#t-output").textContent;
  try {
    await navigator.clipboard.writeText(text);
    $("#output-note").textContent = "Copied.";
  } catch {
    const range = document.createRange();
    range.selectNodeContents($("#t-output"));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    $("#output-note").textContent = "Selected: press Ctrl+C to copy.";
  }
});

start(async () => live());
