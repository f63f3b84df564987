// Schedule actions: pause, resume, run now, delete (SPEC: pause only an active one, resume
// only a paused one).
import { api } from "./api.js";
import { h } from "./dom.js";

const ALLOWED = { pause: ["active"], resume: ["paused"], run: ["active", "paused"], delete: ["active", "paused"] };
const LABELS = { pause: "Pause", resume: "Resume", run: "Run now", delete: "Delete" };

export async function scheduleAct(id, action) {
  if (action === "delete") {
    await api(`/tasky/v1/schedules/${id}`, { method: "DELETE" });
    return null;
  }
  const { data } = await api(`/tasky/v1/schedules/${id}/actions`, { method: "POST", body: { action } });
  return data;
}

export function scheduleButtons(schedule, onDone, onError) {
  return Object.keys(ALLOWED).map((action) =>
    h(
      "button",
      {
        type: "button",
        class: `small${action === "delete" ? " danger" : ""}`,
        "data-action": action,
        "aria-label": `${LABELS[action]} schedule ${schedule.schedule_id}`,
        disabled: !ALLOWED[action].includes(schedule.status),
        onclick: async (event) => {
          const button = event.currentTarget;
          if (action === "delete" && !confirm(`Delete schedule ${schedule.schedule_id}? Its waiting runs are canceled.`)) return;
          button.disabled = true;
          try {
            onDone(action, await scheduleAct(schedule.schedule_id, action));
          } catch (err) {
            button.disabled = false;
            onError(err);
          }
        },
      },
      LABELS[action],
    ),
  );
}

export const triggerText = (s) => (s.cron ? `cron ${s.cron} (${s.timezone})` : `every ${s.interval} s`);
