// A TaskManager's page: its slots, hardware and process metrics, and its logs.

import { api } from './api.js';
import { facts, h, replace, table } from './dom.js';
import { bytes, count, duration, time } from './format.js';
import { mountLogs } from './logview.js';

/** Mounts the page of TaskManager id in view; returns {refresh}. */
export function mountTaskManager(view, id) {
  const head = h('div', {});
  const metrics = h('div', {});
  const logs = h('div', {});
  const path = `/taskmanagers/${encodeURIComponent(id)}`;
  replace(view,
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Overview'), ' / TaskManager'),
    h('h1', { class: 'tm-name', title: id }, `TaskManager ${id}`),
    head,
    h('h2', {}, 'Metrics'), metrics,
    h('h2', {}, 'Logs'), logs);
  const logView = mountLogs(logs, `${path}/logs`);

  async function refresh() {
    const tm = await api(path);
    replace(head, facts([
      ['Data address', tm.path],
      ['Slots', String(tm.slotsNumber)],
      ['Free slots', String(tm.freeSlots)],
      ['CPU cores', String(tm.hardware.cpuCores)],
      ['Physical memory', tm.hardware.physicalMemory > 0 ? bytes(tm.hardware.physicalMemory) : '–'],
      ['Free memory', tm.hardware.freeMemory > 0 ? bytes(tm.hardware.freeMemory) : '–'],
      ['Last heartbeat', time(tm.timeSinceLastHeartbeat)],
    ], { 'data-part': 'tm-facts' }));
    replace(metrics, table(['Metric', 'Value'], [
      ['CPU time', duration(tm.metrics.cpuTimeMs)],
      ['Resident memory', bytes(tm.metrics.residentMemory)],
      ['Threads', count(tm.metrics.threads)],
    ], { class: 'tm-metrics' }));
    await logView.refresh();
  }

  return { refresh };
}
