// The job graph as an SVG DAG: one node per vertex (name, parallelism, status, live
// rates, busy and backpressured time), one edge per input labelled with its ship
// strategy. A node is tinted as Flink's are: the busier, the redder; the more
// backpressured, the greyer.

import { s, replace } from './dom.js';
import { percent, rate } from './format.js';
import { layout, NODE_W, NODE_H } from './layout.js';

/** The characters of a name that fit on a node. */
const NAME_CHARS = 28;

/** The width a vertex's name may take on its node (px). */
const NAME_WIDTH = NODE_W - 22;

/** name, cut to fit with an ellipsis. */
export function truncate(name, max = NAME_CHARS) {
  return name.length <= max ? name : `${name.slice(0, max - 1)}…`;
}

/** Shortens the name in text (an SVG text element on the page) until it fits. */
function fit(text, name) {
  let shown = Math.min(name.length, NAME_CHARS);
  while (shown > 4 && text.getComputedTextLength() > NAME_WIDTH) {
    shown -= 1;
    text.textContent = truncate(name, shown);
  }
}

/**
 * The fill of a node under load ({busy, ratio}): light enough for its text. The
 * backpressured share greys it, else the busy share reddens it.
 */
function tint(load) {
  if (load.ratio > 0.1 && load.ratio >= load.busy) {
    return `hsl(215, 12%, ${Math.round(97 - 22 * load.ratio)}%)`;
  }
  return `hsl(5, 85%, ${Math.round(100 - 20 * load.busy)}%)`;
}

/** A curve from (x1, y1) to (x2, y2), leaving and arriving horizontally. */
function curve(x1, y1, x2, y2) {
  const bend = Math.max(30, (x2 - x1) / 2);
  return ` C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`;
}

/** The path of an edge from node a to node b through waypoint slots. */
function edgePath(a, b, waypoints) {
  let x = a.x + NODE_W;
  let y = a.y + NODE_H / 2;
  let d = `M${x},${y}`;
  for (const p of waypoints) {
    const cy = p.y + NODE_H / 2;
    d += curve(x, y, p.x, cy) + ` L${p.x + NODE_W},${cy}`;
    x = p.x + NODE_W;
    y = cy;
  }
  return d + curve(x, y, b.x, b.y + NODE_H / 2);
}

/**
 * Draws plan ({nodes: [{id, description, parallelism, inputs}]}) into container;
 * onSelect(id) runs when a vertex is clicked or chosen with Enter or Space.
 * Returns {update(vertices, rates), select(id)}.
 */
export function drawGraph(container, plan, onSelect) {
  const nodes = plan.nodes || [];
  const edges = [];
  for (const node of nodes) {
    for (const input of node.inputs || []) {
      edges.push({ from: input.id, to: node.id, label: input.ship_strategy || '' });
    }
  }
  const { positions, waypoints, width, height } = layout(nodes, edges);

  const svg = s('svg', {
    class: 'graph', width, height, viewBox: `0 0 ${width} ${height}`,
    role: 'group', 'aria-label': `Job graph: ${nodes.length} vertices`,
  });
  svg.append(s('defs', {}, s('marker', {
    id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse',
  }, s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow' }))));

  const edgeLayer = s('g', { class: 'edges' });
  edges.forEach((e, i) => {
    const a = positions.get(e.from);
    const b = positions.get(e.to);
    if (!a || !b) return;
    // The label sits on the last stretch, before the target.
    const points = waypoints[i];
    const last = points.length ? points[points.length - 1] : a;
    const mx = (last.x + NODE_W + b.x) / 2;
    const my = (last.y + b.y + NODE_H) / 2;
    const w = e.label.length * 7 + 10;
    edgeLayer.append(s('g', { class: 'edge', 'data-from': e.from, 'data-to': e.to },
      s('path', { d: edgePath(a, b, points), 'marker-end': 'url(#arrow)' }),
      s('rect', { class: 'edge-label-bg', x: mx - w / 2, y: my - 9, width: w, height: 18, rx: 4 }),
      s('text', { class: 'edge-label', x: mx, y: my + 4, 'text-anchor': 'middle' }, e.label)));
  });
  svg.append(edgeLayer);

  const drawn = new Map();
  const nodeLayer = s('g', { class: 'nodes' });
  for (const node of nodes) {
    const p = positions.get(node.id);
    const name = node.description || node.id;
    const status = s('text', { class: 'node-meta', x: 14, y: 44 }, `parallelism ${node.parallelism}`);
    const rates = s('text', { class: 'node-rates', x: 14, y: 62 }, 'in – · out –');
    const load = s('text', { class: 'node-load', x: 14, y: 80 }, 'busy – · backpressured –');
    const label = s('text', { class: 'node-name', x: 14, y: 22 }, truncate(name));
    const stripe = s('rect', { class: 'node-stripe', x: 0, y: 0, width: 6, height: NODE_H, rx: 3 });
    const box = s('rect', { class: 'node-box', width: NODE_W, height: NODE_H, rx: 6 });
    const g = s('g', {
      class: 'node', transform: `translate(${p.x},${p.y})`, tabindex: 0, role: 'button',
      'data-vertex': node.id, 'aria-label': `${name}, parallelism ${node.parallelism}`,
    },
    s('title', {}, name),
    box,
    stripe,
    label, status, rates, load);
    const choose = () => onSelect(node.id);
    g.addEventListener('click', choose);
    g.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); choose(); }
    });
    nodeLayer.append(g);
    drawn.set(node.id, { g, box, status, rates, load, label, name, fitted: false });
  }
  svg.append(nodeLayer);
  replace(container, svg);

  /** Fits the names once the graph is shown (a hidden graph measures nothing). */
  function fitNames() {
    for (const d of drawn.values()) {
      if (!d.fitted && d.label.getComputedTextLength() > 0) {
        fit(d.label, d.name);
        d.fitted = true;
      }
    }
  }
  fitNames();

  return {
    /**
     * Shows each vertex's status (from /jobs/:id), rates ({in, out} by id) and
     * load ({level, ratio, busy} by id, or null before there are figures).
     */
    update(vertices, rateById, loadById) {
      fitNames();
      for (const v of vertices || []) {
        const d = drawn.get(v.id);
        if (!d) continue;
        d.g.dataset.status = v.status;
        d.status.textContent = `parallelism ${v.parallelism} · ${v.status}`;
        const r = rateById.get(v.id);
        if (r) d.rates.textContent = `in ${rate(r.in)} · out ${rate(r.out)}`;
        const load = loadById && loadById.get(v.id);
        if (load) {
          d.g.dataset.backpressure = load.level;
          d.load.textContent = `busy ${percent(load.busy)} · backpressured ${percent(load.ratio)}`;
          d.box.style.fill = tint(load);
        } else {
          delete d.g.dataset.backpressure;
          d.load.textContent = 'busy – · backpressured –';
          d.box.style.fill = '';
        }
      }
    },
    /** Marks the chosen vertex. */
    select(id) {
      for (const [key, d] of drawn) d.g.classList.toggle('selected', key === id);
    },
  };
}
