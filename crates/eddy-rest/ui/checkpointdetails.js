// One checkpoint in detail, opened from the history: per vertex, how many
// subtasks acknowledged it, when, its duration and state size; a vertex opens
// its subtasks with the sync and async parts, alignment and start delay.

import { api, jobPath } from './api.js';
import { h, replace, table } from './dom.js';
import { badge, bytes, duration, time } from './format.js';

function subtaskTable(detail) {
  return table(
    ['Subtask', 'Status', 'Acknowledged', 'End to end', 'State size', 'Sync', 'Async', 'Alignment', 'Start delay'],
    detail.subtasks.map((t) => (t.status === 'completed'
      ? [String(t.index), 'completed', time(t.ack_timestamp), duration(t.end_to_end_duration),
        bytes(t.state_size), duration(t.checkpoint.sync), duration(t.checkpoint.async),
        duration(t.alignment.duration), duration(t.start_delay)]
      : [String(t.index), h('span', { class: 'muted' }, 'pending or failed'), '–', '–', '–', '–', '–', '–', '–'])),
    { class: 'checkpoint-subtasks' });
}

/**
 * Mounts the details of checkpoint id of job in box; names maps vertex ids to
 * names. Returns {id, refresh}.
 */
export function mountCheckpointDetails(box, job, id, names, onClose) {
  const title = h('h3', { id: 'checkpoint-detail-title', tabindex: '-1' }, `Checkpoint ${id}`);
  const close = h('button', { type: 'button', class: 'secondary', onclick: onClose }, 'Close');
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const opened = new Set();
  replace(box, h('div', { class: 'panel-head' }, title, close), body);
  box.hidden = false;
  title.focus();

  let final = false;

  /** Reads the details again (only while the checkpoint runs, unless forced). */
  async function refresh(force) {
    if (final && !force) return;
    const detail = await api(jobPath(job, `/checkpoints/details/${id}`));
    final = detail.status !== 'IN_PROGRESS';
    // In the job's order of vertices.
    const order = [...names.keys()];
    const vertices = Object.entries(detail.tasks)
      .sort(([a], [b]) => order.indexOf(a) - order.indexOf(b));
    const subtasks = new Map();
    await Promise.all([...opened].map(async (vertex) => {
      subtasks.set(vertex, await api(jobPath(job, `/checkpoints/details/${id}/subtasks/${vertex}`)));
    }));
    const rows = [];
    for (const [vertex, t] of vertices) {
      const name = names.get(vertex) || vertex;
      const open = opened.has(vertex);
      const toggle = h('button', {
        type: 'button', class: 'link', 'aria-expanded': String(open), 'data-vertex': vertex,
        onclick: async () => {
          if (opened.has(vertex)) opened.delete(vertex); else opened.add(vertex);
          try {
            await refresh(true);
            // The row was drawn again: the keyboard stays on its button.
            body.querySelector(`button[data-vertex="${vertex}"]`).focus();
          } catch (e) {
            replace(body, h('p', { class: 'error-text' }, e.message));
          }
        },
      }, `${open ? '▾' : '▸'} ${name}`);
      rows.push(h('tr', { 'data-vertex': vertex },
        h('td', {}, toggle),
        h('td', {}, `${t.num_acknowledged_subtasks}/${t.num_subtasks}`),
        h('td', {}, t.latest_ack_timestamp > 0 ? time(t.latest_ack_timestamp) : '–'),
        h('td', {}, duration(t.end_to_end_duration)),
        h('td', {}, bytes(t.state_size))));
      if (open && subtasks.has(vertex)) {
        rows.push(h('tr', { class: 'subtask-row' }, h('td', { colspan: 5 }, subtaskTable(subtasks.get(vertex)))));
      }
    }
    replace(body,
      h('p', {}, badge(detail.status), ` triggered ${time(detail.trigger_timestamp)}, `,
        `${detail.num_acknowledged_subtasks}/${detail.num_subtasks} tasks acknowledged`),
      h('div', { class: 'table-wrap' }, h('table', { class: 'checkpoint-vertices', 'aria-labelledby': 'checkpoint-detail-title' },
        h('thead', {}, h('tr', {}, ['Vertex', 'Acknowledged', 'Latest acknowledgement', 'End to end', 'State size']
          .map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, rows))));
  }

  return { id, refresh };
}
