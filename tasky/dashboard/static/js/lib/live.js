// Live updates by polling: no request at all while the tab is hidden (Page Visibility API),
// and an indicator in the header that says live, reconnecting or paused.
import { $ } from "./dom.js";

const pollers = new Set();

function indicator(state) {
  const el = $("#live");
  if (!el || el.dataset.state === state) return;
  el.dataset.state = state;
  el.textContent = state;
}

/**
 * Call `tick()` now and every `intervalMs` while the tab is visible. A tick that throws
 * (network down, server 5xx) shows "reconnecting" and the next one waits longer (up to 30 s).
 * `tick` may return false to stop polling (a finished task). Answers a stop function.
 * With `immediate: false` the first call is one interval away (the page has just loaded).
 */
export function poll(tick, intervalMs = 2000, { immediate = true } = {}) {
  const poller = { timer: null, stopped: false, failures: 0, running: false };
  const schedule = (ms) => {
    clearTimeout(poller.timer);
    if (!poller.stopped && document.visibilityState === "visible") {
      poller.timer = setTimeout(run, ms);
    }
  };
  async function run() {
    if (poller.stopped || poller.running) return;
    poller.running = true;
    try {
      const more = await tick();
      poller.failures = 0;
      indicator("live");
      if (more === false) poller.stopped = true;
    } catch (err) {
      if (err && err.status && err.status < 500) throw err; // a client error is not an outage
      poller.failures += 1;
      indicator("reconnecting");
    } finally {
      poller.running = false;
    }
    schedule(Math.min(30000, intervalMs * 2 ** poller.failures));
  }
  poller.resume = () => {
    if (!poller.stopped) schedule(0);
  };
  poller.pause = () => clearTimeout(poller.timer);
  pollers.add(poller);
  if (immediate) run();
  else {
    indicator("live"); // the page has just loaded its data
    schedule(intervalMs);
  }
  return () => {
    poller.stopped = true;
    clearTimeout(poller.timer);
    pollers.delete(poller);
  };
}

document.addEventListener("visibilitychange", () => {
  const visible = document.visibilityState === "visible";
  if (pollers.size) indicator(visible ? "live" : "paused");
  for (const poller of pollers) (visible ? poller.resume : poller.pause)();
});
