// One vertex: the rates of its subtasks and the panel that lists them.

import { api, jobPath } from './api.js';
import { h, replace, table } from './dom.js';
import { badge, bytes, count, duration, rate } from './format.js';

const RATES = ['numRecordsInPerSecond', 'numRecordsOutPerSecond'];

/**
 * The per-second rates of a vertex ({id, parallelism}): {in, out} summed over its
 * subtasks and subtasks: [{in, out}].
 */
export async function vertexRates(job, vertex) {
  const names = [];
  for (let i = 0; i < vertex.parallelism; i += 1) RATES.forEach((m) => names.push(`${i}.${m}`));
  const path = jobPath(job, `/vertices/${encodeURIComponent(vertex.id)}/metrics?get=${names.join(',')}`);
  const values = await api(path);
  const subtasks = Array.from({ length: vertex.parallelism }, () => ({ in: 0, out: 0 }));
  for (const { id, value } of values) {
    const [subtask, metric] = id.split('.');
    const entry = subtasks[Number(subtask)];
    if (!entry) continue;
    if (metric === RATES[0]) entry.in = Number(value);
    if (metric === RATES[1]) entry.out = Number(value);
  }
  return {
    in: subtasks.reduce((sum, t) => sum + t.in, 0),
    out: subtasks.reduce((sum, t) => sum + t.out, 0),
    subtasks,
  };
}

/**
 * Mounts the subtasks of vertex id of job into panel; onClose runs when the user
 * closes it. Returns {refresh}.
 */
export function mountVertex(panel, job, id, onClose) {
  const title = h('h3', { id: 'vertex-title' }, 'Vertex');
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading subtasks…'));
  const close = h('button', { type: 'button', class: 'secondary', onclick: onClose }, 'Close');
  replace(panel,
    h('div', { class: 'panel-head' }, title, close),
    body);
  panel.hidden = false;

  async function refresh() {
    const details = await api(jobPath(job, `/vertices/${encodeURIComponent(id)}`));
    const rates = await vertexRates(job, { id, parallelism: details.parallelism });
    title.textContent = `Subtasks of ${details.name}`;
    title.title = details.name;
    replace(body, table(
      ['Subtask', 'Status', 'TaskManager', 'Records in', 'Records out', 'Bytes in', 'Bytes out', 'In/s', 'Out/s', 'Duration', 'Attempt'],
      details.subtasks.map((t) => [
        String(t.subtask),
        badge(t.status),
        `${t['taskmanager-id']} (${t.endpoint})`,
        count(t.metrics['read-records']),
        count(t.metrics['write-records']),
        bytes(t.metrics['read-bytes']),
        bytes(t.metrics['write-bytes']),
        rate(rates.subtasks[t.subtask] ? rates.subtasks[t.subtask].in : undefined),
        rate(rates.subtasks[t.subtask] ? rates.subtasks[t.subtask].out : undefined),
        duration(t.duration),
        String(t.attempt),
      ]),
      { class: 'subtasks', 'aria-labelledby': 'vertex-title' }));
  }

  return { refresh };
}
