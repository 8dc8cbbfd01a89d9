// The exceptions tab: the job's failures, newest first.

import { api, jobPath } from './api.js';
import { h, replace } from './dom.js';
import { time } from './format.js';

/** Mounts the tab for job in panel; returns {refresh}. */
export function mountExceptions(panel, job) {
  const list = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  replace(panel, h('h2', {}, 'Exceptions'), list);
  let shown = null;

  async function refresh() {
    const answer = await api(jobPath(job, '/exceptions'));
    const entries = answer.exceptionHistory.entries;
    const key = JSON.stringify(entries.map((e) => e.timestamp));
    if (key === shown) return;
    shown = key;
    if (entries.length === 0) {
      replace(list, h('p', { class: 'muted', 'data-part': 'no-exceptions' }, 'No exceptions: the job has not failed.'));
      return;
    }
    replace(list, entries.map((e, i) => h('details', { class: 'exception', open: i === 0 },
      h('summary', {}, `${time(e.timestamp)} · ${e.exceptionName}`,
        e.failureLabels && e.failureLabels.restarted === 'true' ? ' · restarted' : ''),
      h('pre', {}, e.stacktrace))),
    answer.exceptionHistory.truncated ? h('p', { class: 'muted' }, 'Older exceptions are not kept.') : '');
  }

  return { refresh };
}
