// The watermarks tab: for each vertex the watermark its subtasks received and
// the one they emit, and how far that is behind the wall clock.

import { api, jobPath } from './api.js';
import { h, replace } from './dom.js';
import { duration, watermark } from './format.js';
import { vertexTable } from './vertextable.js';

/** No watermark yet (Flink's Long.MIN_VALUE). */
const NONE = -9223372036854775808n;

/** The watermarks of vertex id of job, by subtask: [{input, output}] (BigInt or undefined). */
export async function vertexWatermarks(job, id) {
  const entries = await api(jobPath(job, `/vertices/${encodeURIComponent(id)}/watermarks`));
  const subtasks = [];
  for (const { id: name, value } of entries) {
    const [subtask, metric] = name.split('.');
    const entry = subtasks[Number(subtask)] || (subtasks[Number(subtask)] = { subtask: Number(subtask) });
    const v = BigInt(value);
    if (metric === 'currentInputWatermark') entry.input = v;
    if (metric === 'currentOutputWatermark') entry.output = v;
  }
  return subtasks.filter(Boolean);
}

/** The lowest of values (a vertex is as far as its slowest subtask), ignoring unknowns. */
function lowest(values) {
  const known = values.filter((v) => v !== undefined);
  if (!known.length) return undefined;
  return known.reduce((a, b) => (b < a ? b : a));
}

/** How far watermark w is behind now, as text. */
function lag(w, now) {
  if (w === undefined || w === NONE || w > BigInt(now)) return '–';
  const ms = now - Number(w);
  return ms > 10 * 365 * 86400 * 1000 ? '–' : duration(ms);
}

/** Mounts the tab for job in panel; returns {refresh}. */
export function mountWatermarks(panel, job) {
  const box = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  replace(panel,
    h('h2', {}, 'Watermarks'),
    h('p', { class: 'muted' }, 'The event time each vertex has reached. A vertex shows its slowest subtask.'),
    box);
  const vertices = vertexTable(box, ['Input watermark', 'Output watermark', 'Lag'], { class: 'watermarks' });

  async function refresh() {
    const details = await api(jobPath(job));
    const marks = await Promise.all(details.vertices.map((v) => vertexWatermarks(job, v.id).catch(() => [])));
    const now = Date.now();
    vertices.update(details.vertices.map((v, i) => {
      const subtasks = marks[i];
      const input = lowest(subtasks.map((t) => t.input));
      const output = lowest(subtasks.map((t) => t.output));
      return {
        id: v.id,
        name: v.name,
        cells: [watermark(input), watermark(output), lag(output, now)],
        subtasks: {
          headers: ['Subtask', 'Input watermark', 'Output watermark', 'Lag'],
          rows: subtasks.map((t) => [String(t.subtask), watermark(t.input), watermark(t.output), lag(t.output, now)]),
        },
      };
    }));
  }

  return { refresh };
}
