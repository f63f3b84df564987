import { start } from "../lib/app.js";
import { api } from "../lib/api.js";
import { $, $$, h, url } from "../lib/dom.js";
import { finishedChart, latenessChart } from "../lib/chart.js";
import { poll } from "../lib/live.js";

const RANGES = ["15m", "1h", "24h", "7d"];
const STATES = ["scheduled", "queued", "paused", "running", "canceling", "completed", "failed", "canceled"];
const params = new URLSearchParams(location.search);
const range = RANGES.includes(params.get("range")) ? params.get("range") : "1h";

function showCounts(counts) {
  if (!counts) {
    $("#counts-note").textContent = "Counting the tasks (the first count of this server process)…";
    setTimeout(() => refresh().catch(() => {}), 1000); // sooner than the next poll
    return;
  }
  const note = counts.estimated
    ? `Estimated counts, as of ${new Date(counts.counted_at).toLocaleTimeString()}`
    : `Counted at ${new Date(counts.counted_at).toLocaleTimeString()}`;
  $("#counts-note").textContent = `${note}; recounted every ${Math.round(counts.max_age)} s or more.`;
  $("#state-counts").replaceChildren(
    ...STATES.filter((state) => state in counts.by_status).map((state) => [state, counts.by_status[state]]).map(([state, n]) =>
      h("li", { class: `tile s-${state}` }, h("a", { href: url(`/tasks?status=${state}`) }, h("span", { class: "count" }, n.toLocaleString()), h("span", { class: "what" }, state))),
    ),
  );
  $("#worker-counts tbody").replaceChildren(
    ...Object.entries(counts.by_worker).map(([worker, c]) =>
      h(
        "tr",
        {},
        h("th", { scope: "row" }, h("a", { href: url(`/tasks?worker=${encodeURIComponent(worker)}`) }, worker)),
        h("td", { class: "num" }, c.waiting.toLocaleString()),
        h("td", { class: "num" }, c.running.toLocaleString()),
        h("td", { class: "num" }, c.finished.toLocaleString()),
        h("td", { class: "num" }, c.total.toLocaleString()),
      ),
    ),
  );
}

async function refresh() {
  const { data, notModified } = await api(`/tasky/v1/overview?range=${range}`, { etag: true });
  if (notModified) return;
  showCounts(data.counts);
  finishedChart($("#finished-chart"), data.series.points, data.series.bucket_seconds);
  latenessChart($("#lateness-chart"), data.series.points);
}

start(async () => {
  for (const link of $$("[data-range]")) {
    if (link.dataset.range === range) link.setAttribute("aria-current", "true");
  }
  await refresh();
  poll(refresh, 5000, { immediate: false });
});
