// A job's page: the header, the actions, and the tabs (graph and vertices,
// checkpoints, watermarks, backpressure, exceptions, configuration).

import { api, jobPath } from './api.js';
import { facts, h, replace } from './dom.js';
import { badge, bytes, count, duration, rate, time } from './format.js';
import { mountActions } from './actions.js';
import { drawGraph, truncate } from './graph.js';
import { mountVertex, vertexRates } from './vertex.js';
import { tabBar } from './tabs.js';
import { mountCheckpoints } from './checkpoints.js';
import { mountExceptions } from './exceptions.js';
import { mountWatermarks } from './watermarks.js';
import { mountBackpressure, vertexLoad } from './backpressure.js';
import { mountJobConfig } from './jobconfig.js';
import { taskCounts } from './overview.js';

/** Mounts the page of job id in view, showing tab; returns {refresh, setTab}. */
export function mountJob(view, id, tab) {
  const title = h('h1', { class: 'job-name' }, 'Job');
  const head = h('div', { class: 'job-facts' });
  const actionsBox = h('section', { class: 'actions-box', 'aria-label': 'Actions' });
  const tabs = tabBar(id);
  const panels = {
    overview: h('section', { class: 'panel', 'data-panel': 'overview' }),
    checkpoints: h('section', { class: 'panel', 'data-panel': 'checkpoints' }),
    watermarks: h('section', { class: 'panel', 'data-panel': 'watermarks' }),
    backpressure: h('section', { class: 'panel', 'data-panel': 'backpressure' }),
    exceptions: h('section', { class: 'panel', 'data-panel': 'exceptions' }),
    configuration: h('section', { class: 'panel', 'data-panel': 'configuration' }),
  };
  replace(view,
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Overview'), ' / job'),
    title, head, actionsBox, tabs.element, Object.values(panels));

  const actions = mountActions(actionsBox, id, () => refresh().catch(() => {}));

  // The overview tab: graph, vertex table, subtasks of the chosen vertex.
  const graphBox = h('div', { class: 'graph-box' }, h('p', { class: 'muted' }, 'Loading the job graph…'));
  const vertexBody = h('tbody', {});
  const subtasks = h('section', { class: 'vertex-panel', 'aria-labelledby': 'vertex-title', hidden: true });
  replace(panels.overview,
    h('h2', { class: 'visually-hidden' }, 'Job graph'), graphBox,
    h('h2', { id: 'vertices-title' }, 'Vertices'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'vertices', 'aria-labelledby': 'vertices-title' },
      h('thead', {}, h('tr', {}, ['Name', 'Parallelism', 'Status', 'Records in', 'Records out', 'Bytes in', 'Bytes out', 'In/s', 'Out/s', 'Tasks']
        .map((t) => h('th', { scope: 'col' }, t)))),
      vertexBody)),
    subtasks);

  const tabPages = {
    checkpoints: mountCheckpoints(panels.checkpoints, id),
    watermarks: mountWatermarks(panels.watermarks, id),
    backpressure: mountBackpressure(panels.backpressure, id),
    exceptions: mountExceptions(panels.exceptions, id),
    configuration: mountJobConfig(panels.configuration, id),
  };
  let graph = null;
  let rows = null;
  let vertexPage = null;
  let selected = null;

  function select(vertex) {
    selected = vertex;
    if (graph) graph.select(vertex);
    if (!vertex) {
      subtasks.hidden = true;
      vertexPage = null;
      return;
    }
    vertexPage = mountVertex(subtasks, id, vertex, () => select(null));
    vertexPage.refresh().catch((e) => replace(subtasks, h('p', { class: 'error-text' }, e.message)));
  }

  function buildRows(vertices) {
    rows = new Map();
    replace(vertexBody, vertices.map((v) => {
      const cells = Array.from({ length: 9 }, () => h('td', {}));
      const open = h('button', { type: 'button', class: 'link', title: v.name, onclick: () => select(v.id) }, truncate(v.name, 60));
      rows.set(v.id, cells);
      return h('tr', { 'data-vertex': v.id }, h('td', {}, open), cells);
    }));
  }

  async function refreshOverview(details) {
    if (!graph) {
      const { plan } = await api(jobPath(id, '/plan'));
      graph = drawGraph(graphBox, plan, select);
      graph.select(selected);
    }
    const rates = new Map();
    const loads = new Map();
    await Promise.all(details.vertices.map(async (v) => {
      try {
        rates.set(v.id, await vertexRates(id, v));
        loads.set(v.id, await vertexLoad(id, v.id));
      } catch (e) {
        // A vertex of an ended job has no metrics: its rates stay unknown.
      }
    }));
    graph.update(details.vertices, rates, loads);
    if (!rows) buildRows(details.vertices);
    for (const v of details.vertices) {
      const cells = rows.get(v.id);
      if (!cells) continue;
      const r = rates.get(v.id);
      replace(cells[0], String(v.parallelism));
      replace(cells[1], badge(v.status));
      replace(cells[2], count(v.metrics['read-records']));
      replace(cells[3], count(v.metrics['write-records']));
      replace(cells[4], bytes(v.metrics['read-bytes']));
      replace(cells[5], bytes(v.metrics['write-bytes']));
      replace(cells[6], r ? rate(r.in) : '–');
      replace(cells[7], r ? rate(r.out) : '–');
      replace(cells[8], taskCounts(v.tasks));
    }
    if (vertexPage) await vertexPage.refresh();
  }

  async function refresh() {
    const details = await api(jobPath(id));
    title.textContent = details.name;
    title.title = details.name;
    replace(head, facts([
      ['State', badge(details.state)],
      ['ID', h('code', {}, details.jid)],
      ['Start time', time(details['start-time'])],
      ['Duration', duration(details.duration)],
      ['End time', time(details['end-time'])],
    ], { 'data-part': 'job-facts' }));
    actions.update(details.state);
    if (tab === 'overview') await refreshOverview(details);
    else if (tabPages[tab]) await tabPages[tab].refresh();
  }

  function setTab(next) {
    tab = panels[next] ? next : 'overview';
    tabs.show(tab);
    for (const [key, panel] of Object.entries(panels)) panel.hidden = key !== tab;
  }
  setTab(tab);

  return { refresh, setTab };
}
