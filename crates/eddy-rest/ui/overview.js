// The overview page: the TaskManagers and slots, job counts by state, the job list.

import { api } from './api.js';
import { h, replace, table } from './dom.js';
import { badge, bytes, duration, time } from './format.js';

function card(label, value, state) {
  return h('div', { class: 'card', 'data-card': label },
    h('div', { class: `card-value${state ? ` state-text-${state}` : ''}` }, String(value)),
    h('div', { class: 'card-label' }, label));
}

/** Tasks by state as small coloured counts; states with no task are left out. */
export function taskCounts(tasks) {
  const shown = Object.entries(tasks || {})
    .filter(([state, n]) => state !== 'total' && n > 0);
  if (shown.length === 0) return h('span', { class: 'muted' }, 'no tasks');
  return h('span', { class: 'task-counts' },
    shown.map(([state, n]) => h('span', {
      class: `task-count state-${state.toLowerCase()}`,
      title: `${n} ${state.toUpperCase()}`,
    }, `${n} ${state.toUpperCase()}`)));
}

/** Mounts the overview in view; returns the page with its refresh. */
export function mountOverview(view) {
  const cards = h('div', { class: 'cards' });
  const jobs = h('div', {}, h('p', { class: 'muted' }, 'Loading jobs…'));
  const managers = h('div', {});
  replace(view,
    h('h1', {}, 'Overview'),
    h('section', { 'aria-label': 'Cluster' }, cards),
    h('section', { 'aria-labelledby': 'jobs-title' }, h('h2', { id: 'jobs-title' }, 'Jobs'), jobs),
    h('section', { 'aria-labelledby': 'tms-title' },
      h('h2', { id: 'tms-title' }, 'TaskManagers'), managers));

  async function refresh() {
    const [overview, list, tms] = await Promise.all(
      [api('/overview'), api('/jobs/overview'), api('/taskmanagers')]);
    replace(managers, table(
      ['TaskManager', 'Data address', 'Slots', 'Free slots', 'CPU cores', 'Memory', 'Last heartbeat'],
      tms.taskmanagers.map((tm) => [
        h('a', { class: 'tm-id', title: tm.id, href: `#/taskmanagers/${encodeURIComponent(tm.id)}` }, tm.id),
        tm.path,
        String(tm.slotsNumber),
        String(tm.freeSlots),
        String(tm.hardware.cpuCores),
        tm.hardware.physicalMemory > 0 ? bytes(tm.hardware.physicalMemory) : '–',
        time(tm.timeSinceLastHeartbeat),
      ]),
      { class: 'taskmanagers', 'aria-labelledby': 'tms-title' }));
    replace(cards,
      card('TaskManagers', overview.taskmanagers),
      card('Slots total', overview['slots-total']),
      card('Slots available', overview['slots-available']),
      card('Running jobs', overview['jobs-running'], 'running'),
      card('Finished', overview['jobs-finished'], 'finished'),
      card('Cancelled', overview['jobs-cancelled'], 'canceled'),
      card('Failed', overview['jobs-failed'], 'failed'));
    if (list.jobs.length === 0) {
      replace(jobs, h('p', { class: 'muted' }, 'No jobs yet. Run one with eddy sql and -D rest.port.'));
      return;
    }
    replace(jobs, table(
      ['Name', 'Start time', 'Duration', 'Status', 'Tasks'],
      list.jobs.map((job) => [
        h('a', { href: `#/jobs/${encodeURIComponent(job.jid)}`, class: 'job-link', title: job.name }, job.name),
        time(job['start-time']),
        duration(job.duration),
        badge(job.state),
        taskCounts(job.tasks),
      ]),
      { class: 'jobs', 'aria-labelledby': 'jobs-title' }));
    for (const [i, row] of Array.from(jobs.querySelectorAll('tbody tr')).entries()) {
      row.dataset.job = list.jobs[i].jid;
    }
  }

  return { refresh };
}
