// The backpressure tab: for each vertex, how much of the last seconds its
// subtasks spent waiting for room downstream (backpressured), waiting for input
// (idle) and working (busy), with Flink's level: ok up to 10% backpressured,
// low up to 50%, high above.

import { api, jobPath } from './api.js';
import { h, replace } from './dom.js';
import { percent } from './format.js';
import { vertexTable } from './vertextable.js';

/**
 * The backpressure of vertex id of job: {level, ratio, busy, idle, subtasks},
 * each ratio its worst subtask's; null while there are no figures yet.
 */
export async function vertexLoad(job, id) {
  const answer = await api(jobPath(job, `/vertices/${encodeURIComponent(id)}/backpressure`));
  if (answer.status !== 'ok' || !answer.subtasks || !answer.subtasks.length) return null;
  const max = (key) => Math.max(...answer.subtasks.map((t) => t[key]));
  return {
    level: answer['backpressure-level'],
    ratio: max('ratio'),
    busy: max('busyRatio'),
    idle: Math.min(...answer.subtasks.map((t) => t.idleRatio)),
    subtasks: answer.subtasks,
  };
}

/** A backpressure level as a badge. */
export function levelBadge(level) {
  return h('span', { class: `level level-${level}`, 'data-level': level }, String(level).toUpperCase());
}

/** Mounts the tab for job in panel; returns {refresh}. */
export function mountBackpressure(panel, job) {
  const box = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  replace(panel,
    h('h2', {}, 'Backpressure'),
    h('p', { class: 'muted' }, 'Share of the last five seconds each subtask spent waiting for room downstream, '
      + 'working, and waiting for input. A vertex shows its busiest subtask.'),
    box);
  const vertices = vertexTable(box, ['Level', 'Backpressured', 'Busy', 'Idle'], { class: 'backpressure' });

  async function refresh() {
    const details = await api(jobPath(job));
    const loads = await Promise.all(details.vertices.map((v) => vertexLoad(job, v.id).catch(() => null)));
    vertices.update(details.vertices.map((v, i) => {
      const load = loads[i];
      return {
        id: v.id,
        name: v.name,
        cells: load
          ? [levelBadge(load.level), percent(load.ratio), percent(load.busy), percent(load.idle)]
          : [h('span', { class: 'muted' }, 'no figures yet'), '–', '–', '–'],
        subtasks: {
          headers: ['Subtask', 'Level', 'Backpressured', 'Busy', 'Idle'],
          rows: (load ? load.subtasks : []).map((t) => [String(t.subtask), levelBadge(t['backpressure-level']),
            percent(t.ratio), percent(t.busyRatio), percent(t.idleRatio)]),
        },
      };
    }));
  }

  return { refresh };
}
