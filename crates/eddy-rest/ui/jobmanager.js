// The JobManager's page: this process's metrics, its configuration and its logs.

import { api } from './api.js';
import { h, replace, table } from './dom.js';
import { bytes, count, duration, percent } from './format.js';
import { mountLogs } from './logview.js';

const METRICS = [
  ['Status.Process.CPU.Time', 'CPU time', duration],
  ['Status.JVM.CPU.Load', 'CPU load', percent],
  ['Status.Process.Memory.Resident', 'Resident memory', bytes],
  ['Status.Process.Threads.Count', 'Threads', count],
  ['numRunningJobs', 'Running jobs', count],
  ['numJobs', 'Jobs', count],
];

/** Mounts the JobManager page in view; returns {refresh}. */
export function mountJobManager(view) {
  const metrics = h('div', {});
  const config = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const logs = h('div', {});
  replace(view,
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Overview'), ' / JobManager'),
    h('h1', {}, 'JobManager'),
    h('h2', {}, 'Metrics'), metrics,
    h('h2', { id: 'jm-config-title' }, 'Configuration'), config,
    h('h2', {}, 'Logs'), logs);
  const logView = mountLogs(logs, '/jobmanager/logs');
  let configShown = false;

  async function refresh() {
    const values = await api(`/jobmanager/metrics?get=${METRICS.map(([k]) => k).join(',')}`);
    const byId = new Map(values.map((m) => [m.id, Number(m.value)]));
    replace(metrics, table(['Metric', 'Value'],
      METRICS.map(([key, label, show]) => [label, show(byId.get(key))]), { class: 'jm-metrics' }));
    if (!configShown) {
      const entries = await api('/jobmanager/config');
      entries.sort((a, b) => a.key.localeCompare(b.key));
      replace(config, table(['Key', 'Value'], entries.map((e) => [h('code', {}, e.key), e.value]),
        { class: 'config jm-config', 'aria-labelledby': 'jm-config-title' }));
      configShown = true;
    }
    await logView.refresh();
  }

  return { refresh };
}
