// Task actions and the states SPEC allows each in: one home for the rule, used by the
// task rows, the task page and the bulk bar.
import { api } from "./api.js";
import { h } from "./dom.js";

const TERMINAL = ["completed", "failed", "canceled", "skipped"];
export const ALLOWED = {
  cancel: ["blocked", "scheduled", "queued", "paused", "running"],
  pause: ["scheduled", "queued"],
  resume: ["paused"],
  run: ["scheduled", "paused", ...TERMINAL],
  delete: TERMINAL,
};
export const LABELS = { cancel: "Cancel", pause: "Pause", resume: "Resume", run: "Run", delete: "Delete" };
export const isTerminal = (status) => TERMINAL.includes(status);

/** Do `action` on one task; answers the API's body (null for a delete). */
export async function act(taskId, action) {
  if (action === "delete") {
    await api(`/tasky/v1/tasks/${taskId}`, { method: "DELETE" });
    return null;
  }
  const { data } = await api(`/tasky/v1/tasks/${taskId}/actions`, {
    method: "POST",
    body: { action },
  });
  return data;
}

/** The action buttons of a task, each enabled only in the states that allow it. */
export function actionButtons(task, onDone, onError) {
  return Object.keys(ALLOWED).map((action) =>
    h(
      "button",
      {
        type: "button",
        class: `small action-${action}${action === "delete" || action === "cancel" ? " danger" : ""}`,
        "data-action": action,
        "aria-label": `${LABELS[action]} task ${task.task_id}`,
        disabled: !ALLOWED[action].includes(task.status),
        onclick: async (event) => {
          const button = event.currentTarget;
          button.disabled = true;
          try {
            onDone(action, await act(task.task_id, action));
          } catch (err) {
            onError(err);
            button.disabled = false;
          }
        },
      },
      LABELS[action],
    ),
  );
}

/** Refresh which of the buttons are enabled for a new status. */
export function enableFor(container, status) {
  for (const button of container.querySelectorAll("button[data-action]")) {
    button.disabled = !ALLOWED[button.dataset.action].includes(status);
  }
}
