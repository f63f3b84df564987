import { start } from "../lib/app.js";
import { api } from "../lib/api.js";
import { $, h, url } from "../lib/dom.js";

start(async () => {
  const { data: workers } = await api("/tasky/v1/workers/");
  $("#workers tbody").replaceChildren(
    ...workers.map((w) =>
      h(
        "tr",
        { "data-worker": w.name },
        h("th", { scope: "row" }, h("code", {}, w.name)),
        h("td", {}, w.description),
        h("td", {}, Object.keys(w.parameters).join(", ") || "—"),
        h("td", { class: "num" }, w.max_num_tasks),
        h("td", {}, w.enabled ? "enabled" : "disabled"),
        h(
          "td",
          { class: "row-actions" },
          w.enabled
            ? h("a", { class: "button small", href: url(`/workers/${encodeURIComponent(w.name)}`), "aria-label": `Submit to ${w.name}` }, "Submit…")
            : null,
          h("a", { class: "button small ghost", href: url(`/tasks?worker=${encodeURIComponent(w.name)}`), "aria-label": `Tasks of ${w.name}` }, "Tasks"),
        ),
      ),
    ),
  );
});
