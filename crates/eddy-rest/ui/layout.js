// A layered layout of a DAG, computed in the browser: every vertex goes to the layer
// of its longest path from a source (left to right); an edge that spans several
// layers gets a waypoint in each layer between, so it never runs through a vertex;
// the vertices and waypoints of a layer are ordered by the mean position of their
// neighbours to keep edges short.

/** The size of a drawn vertex and the gaps between them (px). */
export const NODE_W = 220;
export const NODE_H = 92;
const GAP_X = 96;
const GAP_Y = 26;
const PAD = 16;

/**
 * Places nodes ([{id}]) linked by edges ([{from, to}]).
 * Returns {positions: Map(id -> {x, y, layer}), waypoints, width, height}, where
 * waypoints[i] lists the {x, y} (top left of a node-sized slot) edges[i] passes.
 */
export function layout(nodes, edges) {
  const ids = nodes.map((n) => n.id);
  const known = new Set(ids);
  const inputs = new Map(ids.map((id) => [id, []]));
  const outputs = new Map(ids.map((id) => [id, []]));
  const link = (from, to) => {
    outputs.get(from).push(to);
    inputs.get(to).push(from);
  };
  const usable = (e) => known.has(e.from) && known.has(e.to) && e.from !== e.to;
  for (const e of edges) if (usable(e)) link(e.from, e.to);

  // Longest path from a source, in topological order; vertices on a cycle (a plan
  // should have none) stay in the layer reached so far.
  const layer = new Map(ids.map((id) => [id, 0]));
  const waiting = new Map(ids.map((id) => [id, inputs.get(id).length]));
  const ready = ids.filter((id) => waiting.get(id) === 0);
  while (ready.length) {
    const id = ready.shift();
    for (const next of outputs.get(id)) {
      layer.set(next, Math.max(layer.get(next), layer.get(id) + 1));
      waiting.set(next, waiting.get(next) - 1);
      if (waiting.get(next) === 0) ready.push(next);
    }
  }

  // Waypoints: edge i from layer a to layer b > a + 1 passes ~i.1 ... ~i.(b-a-1).
  const via = edges.map(() => []);
  edges.forEach((e, i) => {
    if (!usable(e)) return;
    const from = layer.get(e.from);
    const span = layer.get(e.to) - from;
    if (span <= 1) return;
    let previous = e.from;
    for (let k = 1; k < span; k += 1) {
      const point = `~${i}.${k}`;
      inputs.set(point, []);
      outputs.set(point, []);
      layer.set(point, from + k);
      link(previous, point);
      via[i].push(point);
      previous = point;
    }
    link(previous, e.to);
  });

  const layers = [];
  for (const id of layer.keys()) {
    const l = layer.get(id);
    while (layers.length <= l) layers.push([]);
    layers[l].push(id);
  }

  // Barycentre ordering: a few sweeps forwards (by inputs) and backwards (by outputs).
  const row = new Map();
  const number = () => layers.forEach((ls) => ls.forEach((id, i) => row.set(id, i)));
  number();
  const mean = (list, fallback) => (list.length
    ? list.reduce((sum, n) => sum + row.get(n), 0) / list.length : fallback);
  for (let sweep = 0; sweep < 4; sweep += 1) {
    const forward = sweep % 2 === 0;
    const order = forward ? layers.slice(1) : layers.slice(0, -1).reverse();
    for (const ls of order) {
      const key = new Map(ls.map((id) => [id, mean(forward ? inputs.get(id) : outputs.get(id), row.get(id))]));
      ls.sort((a, b) => key.get(a) - key.get(b) || row.get(a) - row.get(b));
      ls.forEach((id, i) => row.set(id, i));
    }
  }

  const tallest = Math.max(1, ...layers.map((ls) => ls.length));
  const height = PAD * 2 + tallest * NODE_H + (tallest - 1) * GAP_Y;
  const positions = new Map();
  layers.forEach((ls, l) => {
    const used = ls.length * NODE_H + (ls.length - 1) * GAP_Y;
    const top = PAD + (height - PAD * 2 - used) / 2;
    ls.forEach((id, i) => positions.set(id, {
      x: PAD + l * (NODE_W + GAP_X),
      y: top + i * (NODE_H + GAP_Y),
      layer: l,
    }));
  });
  const width = PAD * 2 + layers.length * NODE_W + Math.max(0, layers.length - 1) * GAP_X;
  const waypoints = via.map((points) => points.map((point) => positions.get(point)));
  for (const points of via) for (const point of points) positions.delete(point);
  return { positions, waypoints, width, height };
}
