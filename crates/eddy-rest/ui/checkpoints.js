// The checkpoints tab: counts, the latest ones, the history (a checkpoint's id
// opens its details per vertex and subtask) and the configuration.

import { api, jobPath } from './api.js';
import { facts, h, replace, table } from './dom.js';
import { badge, bytes, duration, time } from './format.js';
import { mountCheckpointDetails } from './checkpointdetails.js';

function latest(label, record, restored) {
  if (!record) return [label, h('span', { class: 'muted' }, 'none')];
  const when = restored ? record.restore_timestamp : record.trigger_timestamp;
  const path = record.external_path ? h('code', { class: 'path' }, record.external_path) : '';
  const failure = record.failure_message ? h('span', { class: 'error-text' }, ` ${record.failure_message}`) : '';
  return [label, h('span', {}, `#${record.id} at ${time(when)} `, path, failure)];
}

function configFacts(config) {
  return facts([
    ['Mode', config.mode],
    ['Interval', duration(config.interval)],
    ['Timeout', duration(config.timeout)],
    ['Minimum pause', duration(config.min_pause)],
    ['Maximum concurrent', String(config.max_concurrent)],
    ['Tolerable failures', String(config.tolerable_failed_checkpoints)],
    ['Storage', config.checkpoint_storage],
    ['Directory', config.checkpoint_directory || '–'],
    ['Retained on cancel', config.externalization && !config.externalization.delete_on_cancellation ? 'yes' : 'no'],
    ['State backend', config.state_backend],
  ], { 'data-part': 'checkpoint-config' });
}

/** Mounts the tab for job in panel; returns {refresh}. */
export function mountCheckpoints(panel, job) {
  const counts = h('div', {});
  const latestBox = h('div', {});
  const history = h('div', {});
  const detailBox = h('section', { class: 'checkpoint-panel', 'aria-labelledby': 'checkpoint-detail-title', hidden: true });
  const configBox = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  replace(panel,
    h('h2', {}, 'Checkpoints'), counts,
    h('h3', {}, 'Latest'), latestBox,
    h('h3', { id: 'history-title' }, 'History'), history, detailBox,
    h('h3', {}, 'Configuration'), configBox);
  let configLoaded = false;
  let shown = '';
  let names = null;
  let details = null;

  function closeDetails() {
    details = null;
    detailBox.hidden = true;
    replace(detailBox);
  }

  function openDetails(id) {
    details = mountCheckpointDetails(detailBox, job, id, names, closeDetails);
    details.refresh(true).catch((e) => replace(detailBox, h('p', { class: 'error-text' }, e.message)));
  }

  async function refresh() {
    if (!names) {
      const job_ = await api(jobPath(job));
      names = new Map(job_.vertices.map((v) => [v.id, v.name]));
    }
    if (details) await details.refresh();
    const stats = await api(jobPath(job, '/checkpoints'));
    if (!configLoaded) {
      try {
        replace(configBox, configFacts(await api(jobPath(job, '/checkpoints/config'))));
      } catch (e) {
        replace(configBox, h('p', { class: 'muted' }, e.message));
      }
      configLoaded = true;
    }
    const key = JSON.stringify([stats.counts, stats.latest, stats.history.map((r) => [r.id, r.status])]);
    if (key === shown) return;
    shown = key;
    const c = stats.counts;
    replace(counts, facts([
      ['Total', String(c.total)], ['Completed', String(c.completed)], ['In progress', String(c.in_progress)],
      ['Failed', String(c.failed)], ['Restored', String(c.restored)],
    ], { class: 'facts inline', 'data-part': 'checkpoint-counts' }));
    const l = stats.latest;
    replace(latestBox, facts([
      latest('Completed', l.completed), latest('Savepoint', l.savepoint),
      latest('Failed', l.failed), latest('Restored', l.restored, true),
    ]));
    if (stats.history.length === 0) {
      replace(history, h('p', { class: 'muted' }, 'No checkpoint yet.'));
      return;
    }
    replace(history, table(
      ['ID', 'Status', 'Type', 'Acknowledged', 'Trigger time', 'Duration', 'Size', 'Full size', 'Path'],
      stats.history.map((r) => [
        h('button', {
          type: 'button', class: 'link', 'data-checkpoint': r.id, title: `Details of checkpoint ${r.id}`,
          onclick: () => openDetails(r.id),
        }, String(r.id)),
        badge(r.status), r.is_savepoint ? 'Savepoint' : 'Checkpoint',
        `${r.num_acknowledged_subtasks}/${r.num_subtasks}`,
        time(r.trigger_timestamp), duration(r.end_to_end_duration), bytes(r.checkpointed_size),
        bytes(r.state_size),
        r.external_path ? h('code', { class: 'path', title: r.external_path }, r.external_path)
          : h('span', { class: r.failure_message ? 'error-text' : 'muted' }, r.failure_message || '–'),
      ]),
      { class: 'checkpoint-history', 'aria-labelledby': 'history-title' }));
  }

  return { refresh };
}
