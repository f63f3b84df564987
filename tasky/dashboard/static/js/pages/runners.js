import { start } from "../lib/app.js";
import { api } from "../lib/api.js";
import { $, badge, fmtTime, h } from "../lib/dom.js";
import { poll } from "../lib/live.js";

async function refresh() {
  let runners;
  try {
    ({ data: { runners } } = await api("/tasky/v1/runners", { etag: true }));
  } catch (err) {
    if (err.status !== 404) throw err;
    $("#runners-empty").hidden = false;
    $("#runners-empty").textContent = "This server does not list its runners.";
    return false;
  }
  $("#runners tbody").replaceChildren(
    ...runners.map((r) =>
      h(
        "tr",
        {},
        h("th", { scope: "row" }, h("code", {}, r.runner_id)),
        h("td", {}, r.host),
        h("td", { class: "num" }, r.pid),
        h("td", {}, badge(r.status)),
        h("td", {}, fmtTime(r.started_at)),
        h("td", {}, fmtTime(r.heartbeat_at)),
        h("td", {}, (r.workers || []).join(", ")),
        h("td", {}, Object.entries(r.running || {}).map(([w, n]) => `${w}: ${n}`).join(", ") || "—"),
      ),
    ),
  );
  $("#runners-empty").hidden = runners.length > 0;
}

start(async () => poll(refresh, 3000));
