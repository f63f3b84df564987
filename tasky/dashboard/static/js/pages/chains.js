import { start } from "../lib/app.js";
import { listPages } from "../lib/api.js";
import { $, badge, fmtTime, h, shortId, url } from "../lib/dom.js";
import { countsOf } from "../lib/chains.js";
import { poll } from "../lib/live.js";

let cursor = null;
let pages = 1;

function row(c) {
  return h(
    "tr",
    { "data-chain-id": c.chain_id, "data-status": c.status },
    h("th", { scope: "row" }, h("a", { href: url(`/chains/${c.chain_id}`), class: "id", title: c.chain_id }, shortId(c.chain_id))),
    h("td", {}, c.name || "—"),
    h("td", {}, badge(c.status)),
    h("td", {}, countsOf(c.counts)),
    h("td", {}, c.failure_policy),
    h("td", { class: "time" }, fmtTime(c.created_at)),
  );
}

async function refresh() {
  // the pages shown so far, again: new chains and states appear without a reload
  let rows;
  ({ items: rows, cursor } = await listPages("/tasky/v1/chains/", "chains", pages));
  const active = document.activeElement;
  const kept = active && active.closest && active.closest("tr[data-chain-id]")?.dataset.chainId;
  $("#chains tbody").replaceChildren(...rows.map(row));
  if (kept) document.querySelector(`tr[data-chain-id="${kept}"] a`)?.focus();
  $("#chains-empty").hidden = rows.length > 0;
  $("#more").hidden = !cursor;
}

start(async () => {
  $("#more").addEventListener("click", () => {
    pages += 1;
    refresh();
  });
  await refresh();
  poll(refresh, 3000, { immediate: false });
});
