// The drawing of a chain: each step a box in the layer the server placed it in (the chain's
// `layers`, left to right), each edge a curve from a step to one that depends on it. Plain
// SVG built here, no library; colours come from the stylesheet's state classes (both themes).
import { svg } from "./chart.js";
import { url } from "./dom.js";

const NODE_W = 200;
const NODE_H = 60;
const COL = NODE_W + 76; // from one layer to the next
const ROW = NODE_H + 20; // room for a rule's name above a box
const PAD = 16;
export const DEFAULT_RULE = "all_success";

const clip = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** What is said of a step beside its state: why it was skipped, or its error. */
export const noteOf = (step) => step.skip_reason || step.error || "";

/** Top left corner of each step's box: layers side by side, each centred on the tallest. */
function positions(layers) {
  const tallest = Math.max(1, ...layers.map((layer) => layer.length));
  const at = new Map();
  layers.forEach((layer, i) => {
    const top = PAD + ((tallest - layer.length) * ROW) / 2;
    layer.forEach((name, j) => at.set(name, { x: PAD + i * COL, y: top + j * ROW }));
  });
  const width = 2 * PAD + Math.max(1, layers.length) * COL - (COL - NODE_W);
  const height = 2 * PAD + tallest * ROW - (ROW - NODE_H);
  return { at, width, height };
}

function edges(chain, at) {
  const group = svg("g", { class: "edges" });
  for (const child of chain.steps) {
    const to = at.get(child.step);
    const rule = child.run_if || DEFAULT_RULE;
    const parents = child.depends_on.filter((name) => at.has(name)); // not a pruned one
    if (!to || !parents.length) continue;
    const x2 = to.x - 3; // the arrowhead ends on the box
    const y2 = to.y + NODE_H / 2;
    for (const parent of parents) {
      const from = at.get(parent);
      const x1 = from.x + NODE_W;
      const y1 = from.y + NODE_H / 2;
      const dx = Math.max(24, (x2 - x1) / 2);
      const path = svg("path", {
        d: `M${x1} ${y1} C${x1 + dx} ${y1} ${x2 - dx} ${y2} ${x2} ${y2}`,
        class: `edge rule-${rule}`,
        "marker-end": "url(#chain-arrow)",
        "data-from": parent,
        "data-to": child.step,
        "data-rule": rule,
      });
      path.append(svg("title", {}, `${parent} → ${child.step}: runs if ${rule}`));
      group.append(path);
    }
    if (rule !== DEFAULT_RULE) {
      group.append(svg("text", { x: to.x + 4, y: to.y - 5, class: "rule", "data-step": child.step }, `if ${rule}`));
    }
  }
  return group;
}

function node(step, { x, y }) {
  const attempts = plural(step.attempts, "attempt");
  const note = noteOf(step);
  const link = svg("a", {
    href: url(`/tasks/${step.task_id}`),
    class: `node s-${step.status}`,
    "data-step": step.step,
    "data-status": step.status,
  });
  link.append(
    // the link's name (and its tooltip), in full where the box's lines are clipped
    svg("title", {}, [step.step, `${step.status} · ${step.worker} · ${attempts}`, note].filter(Boolean).join("\n")),
    svg("rect", { x, y, width: NODE_W, height: NODE_H, rx: 6 }),
    svg("text", { x: x + 10, y: y + 19, class: "name" }, clip(step.step, 24)),
    svg("text", { x: x + 10, y: y + 36, class: "meta" }, clip(`${step.worker} · ${attempts}`, 29)),
    svg("text", { x: x + 10, y: y + 52, class: "state" }, clip(note ? `${step.status}: ${note}` : step.status, 26)),
  );
  return link;
}

/** The chain (as `GET /tasky/v1/chains/<id>` answers it) as an SVG element: one link per
 * step to its task page, one path per edge. */
export function drawChain(chain) {
  const { at, width, height } = positions(chain.layers);
  const label = `The chain's ${plural(chain.steps.length, "step")} in ${plural(chain.layers.length, "layer")}`;
  const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "group", "aria-label": label, class: "chain-svg" });
  const marker = svg("marker", { id: "chain-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" });
  marker.append(svg("path", { d: "M0 0 L10 5 L0 10 z" }));
  const defs = svg("defs");
  defs.append(marker);
  const nodes = svg("g", { class: "nodes" });
  for (const step of chain.steps) {
    if (at.has(step.step)) nodes.append(node(step, at.get(step.step)));
  }
  root.append(defs, edges(chain, at), nodes);
  return root;
}
