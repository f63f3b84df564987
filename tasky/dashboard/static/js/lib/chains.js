// What the chain list and the chain page share: the steps' counts by state, and which
// chain actions a chain's status allows.
import { h } from "./dom.js";

const ORDER = ["blocked", "scheduled", "queued", "paused", "running", "canceling", "completed", "failed", "canceled", "skipped"];
export const FINISHED = ["completed", "failed", "canceled"];

/** "2 completed · 1 skipped", each count in its state's colour. */
export function countsOf(counts) {
  const states = Object.keys(counts).sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b));
  return h(
    "span",
    { class: "counts" },
    states.map((state) => h("span", { class: `count s-${state}`, "data-state": state }, `${counts[state]} ${state}`)),
  );
}

/** Cancel fits a running chain; retry a finished one with a failed, canceled or skipped step. */
export function allowed(chain) {
  const counts = chain.counts || {};
  return {
    cancel: chain.status === "running",
    retry: FINISHED.includes(chain.status) && Boolean(counts.failed || counts.canceled || counts.skipped),
  };
}
