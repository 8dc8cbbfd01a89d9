// The configuration tab: the job's execution configuration and its keys.

import { api, jobPath } from './api.js';
import { facts, h, replace, table } from './dom.js';

/** Mounts the tab for job in panel; returns {refresh} (it reads once). */
export function mountJobConfig(panel, job) {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  replace(panel, h('h2', {}, 'Configuration'), body);
  let loaded = false;

  async function refresh() {
    if (loaded) return;
    const config = await api(jobPath(job, '/config'));
    const exec = config['execution-config'] || {};
    const user = Object.entries(exec['user-config'] || {}).sort(([a], [b]) => a.localeCompare(b));
    replace(body,
      facts([
        ['Execution mode', exec['execution-mode']],
        ['Restart strategy', exec['restart-strategy']],
        ['Parallelism', String(exec['job-parallelism'])],
      ]),
      h('h3', { id: 'config-keys' }, 'Keys'),
      user.length ? table(['Key', 'Value'], user.map(([k, v]) => [h('code', {}, k), h('code', {}, v)]),
        { class: 'config', 'aria-labelledby': 'config-keys' })
        : h('p', { class: 'muted' }, 'No keys set.'));
    loaded = true;
  }

  return { refresh };
}
