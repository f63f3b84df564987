// Webhook endpoints, and the deliveries of the one picked (?webhook=<id>), with a retry button.
import { start } from "../lib/app.js";
import { api } from "../lib/api.js";
import { $, badge, fmtSeconds, fmtTime, h, notice } from "../lib/dom.js";
import { poll } from "../lib/live.js";

const picked = () => new URLSearchParams(location.search).get("webhook");

async function refreshEndpoints() {
  const { data: { webhooks } } = await api("/tasky/v1/webhooks/?limit=1000", { etag: true });
  $("#webhooks tbody").replaceChildren(
    ...webhooks.map((w) =>
      h(
        "tr",
        { "data-webhook-id": w.webhook_id, "aria-selected": w.webhook_id === picked() ? "true" : null },
        h("th", { scope: "row" }, h("a", { href: `?webhook=${w.webhook_id}` }, w.description || w.webhook_id)),
        h("td", {}, h("code", {}, w.url)),
        h("td", {}, w.events.join(", ")),
        h("td", {}, badge(w.enabled ? "enabled" : "disabled"), w.disabled_reason ? ` ${w.disabled_reason}` : ""),
        h("td", {}, fmtTime(w.created_at)),
      ),
    ),
  );
  $("#webhooks-empty").hidden = webhooks.length > 0;
}

async function retry(deliveryId) {
  try {
    await api(`/tasky/v1/webhook-deliveries/${deliveryId}/retry`, { method: "POST" });
    await refreshDeliveries();
  } catch (err) {
    notice(err.message || String(err));
  }
}

async function refreshDeliveries() {
  const id = picked();
  if (!id) return;
  $("#deliveries-section").hidden = false;
  const { data: { deliveries } } = await api(`/tasky/v1/webhooks/${id}/deliveries?limit=100`, { etag: true });
  $("#deliveries tbody").replaceChildren(
    ...deliveries.map((d) =>
      h(
        "tr",
        { "data-delivery-id": d.delivery_id },
        h("th", { scope: "row" }, h("code", {}, d.delivery_id)),
        h("td", {}, d.event),
        h("td", { class: "status" }, badge(d.status)),
        h("td", { class: "num" }, d.attempts),
        h("td", { class: "num" }, d.last_status ?? "—"),
        h("td", { class: "num" }, d.last_latency === null ? "—" : fmtSeconds(d.last_latency)),
        h("td", {}, d.last_error || d.last_answer || "—"),
        h("td", {}, fmtTime(d.created_at)),
        h("td", {}, h("button", { type: "button", "data-action": "retry", onclick: () => retry(d.delivery_id) }, "Retry")),
      ),
    ),
  );
  $("#deliveries-empty").hidden = deliveries.length > 0;
}

start(async () => {
  await poll(refreshEndpoints, 5000);
  await poll(refreshDeliveries, 3000);
});
