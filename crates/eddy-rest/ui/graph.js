// The job graph as an SVG DAG: one node per vertex (name, parallelism, status, live
// rates), one edge per input labelled with its ship strategy.

import { s, replace } from './dom.js';
import { rate } from './format.js';
import { layout, NODE_W, NODE_H } from './layout.js';

/** The characters of a name that fit on a node. */
const NAME_CHARS = 28;

/** name, cut to fit with an ellipsis. */
export function truncate(name, max = NAME_CHARS) {
  return name.length <= max ? name : `${name.slice(0, max - 1)}…`;
}

function edgePath(a, b) {
  const x1 = a.x + NODE_W;
  const y1 = a.y + NODE_H / 2;
  const x2 = b.x;
  const y2 = b.y + NODE_H / 2;
  const bend = Math.max(30, (x2 - x1) / 2);
  return `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`;
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
  const { positions, width, height } = layout(nodes, edges);

  const svg = s('svg', {
    class: 'graph', width, height, viewBox: `0 0 ${width} ${height}`,
    role: 'group', 'aria-label': `Job graph: ${nodes.length} vertices`,
  });
  svg.append(s('defs', {}, s('marker', {
    id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse',
  }, s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow' }))));

  const edgeLayer = s('g', { class: 'edges' });
  for (const e of edges) {
    const a = positions.get(e.from);
    const b = positions.get(e.to);
    if (!a || !b) continue;
    const mx = (a.x + NODE_W + b.x) / 2;
    const my = (a.y + b.y + NODE_H) / 2;
    const w = e.label.length * 7 + 10;
    edgeLayer.append(s('g', { class: 'edge', 'data-from': e.from, 'data-to': e.to },
      s('path', { d: edgePath(a, b), 'marker-end': 'url(#arrow)' }),
      s('rect', { class: 'edge-label-bg', x: mx - w / 2, y: my - 9, width: w, height: 18, rx: 4 }),
      s('text', { class: 'edge-label', x: mx, y: my + 4, 'text-anchor': 'middle' }, e.label)));
  }
  svg.append(edgeLayer);

  const drawn = new Map();
  const nodeLayer = s('g', { class: 'nodes' });
  for (const node of nodes) {
    const p = positions.get(node.id);
    const name = node.description || node.id;
    const status = s('text', { class: 'node-meta', x: 14, y: 44 }, `parallelism ${node.parallelism}`);
    const rates = s('text', { class: 'node-rates', x: 14, y: 62 }, 'in – · out –');
    const stripe = s('rect', { class: 'node-stripe', x: 0, y: 0, width: 6, height: NODE_H, rx: 3 });
    const g = s('g', {
      class: 'node', transform: `translate(${p.x},${p.y})`, tabindex: 0, role: 'button',
      'data-vertex': node.id, 'aria-label': `${name}, parallelism ${node.parallelism}`,
    },
    s('title', {}, name),
    s('rect', { class: 'node-box', width: NODE_W, height: NODE_H, rx: 6 }),
    stripe,
    s('text', { class: 'node-name', x: 14, y: 22 }, truncate(name)),
    status, rates);
    const choose = () => onSelect(node.id);
    g.addEventListener('click', choose);
    g.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); choose(); }
    });
    nodeLayer.append(g);
    drawn.set(node.id, { g, status, rates, parallelism: node.parallelism });
  }
  svg.append(nodeLayer);
  replace(container, svg);

  return {
    /** Shows each vertex's status (from /jobs/:id) and rates ({in, out} by id). */
    update(vertices, rateById) {
      for (const v of vertices || []) {
        const d = drawn.get(v.id);
        if (!d) continue;
        d.g.dataset.status = v.status;
        d.status.textContent = `parallelism ${v.parallelism} · ${v.status}`;
        const r = rateById.get(v.id);
        if (r) d.rates.textContent = `in ${rate(r.in)} · out ${rate(r.out)}`;
      }
    },
    /** Marks the chosen vertex. */
    select(id) {
      for (const [key, d] of drawn) d.g.classList.toggle('selected', key === id);
    },
  };
}
