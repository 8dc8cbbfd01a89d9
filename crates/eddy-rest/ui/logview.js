// A log viewer: the log files of a process, and the chosen one's tail, read
// again on every refresh and kept scrolled to the end while the user is there.

import { api, ApiError, authHeaders } from './api.js';
import { h, replace } from './dom.js';
import { bytes, time } from './format.js';

/** The most of a log shown at once (bytes from its end). */
const TAIL = 64 * 1024;

/** Reads path as text; rejects with an ApiError. */
async function text(path) {
  const response = await fetch(path, { headers: authHeaders() });
  const body = await response.text();
  if (!response.ok) throw new ApiError(`GET ${path}: HTTP ${response.status}`, response.status);
  return body;
}

/**
 * Mounts a viewer into box for the logs listed at listPath (files served at
 * `${listPath}/<name>`). Returns {refresh}.
 */
export function mountLogs(box, listPath) {
  const files = h('div', {});
  const title = h('h3', { id: 'log-title' }, 'Log');
  const follow = h('input', { type: 'checkbox', id: 'log-follow', checked: true });
  const view = h('pre', { class: 'log', tabindex: 0, 'aria-labelledby': 'log-title', 'data-part': 'log' });
  const viewer = h('section', { class: 'log-viewer', hidden: true },
    h('div', { class: 'panel-head' }, title,
      h('label', { for: 'log-follow', class: 'follow' }, follow, ' Follow the end')),
    view);
  replace(box, files, viewer);
  let chosen = null;

  async function showTail() {
    if (!chosen) return;
    const body = await text(`${listPath}/${encodeURIComponent(chosen)}?tail=${TAIL}`);
    if (view.textContent !== body) {
      view.textContent = body;
      if (follow.checked) view.scrollTop = view.scrollHeight;
    }
  }

  async function refresh() {
    let listed;
    try {
      listed = await api(listPath);
    } catch (e) {
      if (e.status !== 404) throw e;
      replace(files, h('p', { class: 'muted' }, 'This process cannot show these logs: they are in the log directory of the TaskManager.'));
      return;
    }
    if (!listed.logs.length) {
      replace(files, h('p', { class: 'muted', 'data-part': 'no-logs' }, 'No log files: set env.log.dir to write them.'));
      return;
    }
    replace(files, h('ul', { class: 'log-files' }, listed.logs.map((f) => h('li', {},
      h('button', {
        type: 'button', class: 'link', 'data-log': f.name, 'aria-pressed': String(f.name === chosen),
        onclick: () => { chosen = f.name; title.textContent = f.name; viewer.hidden = false; refresh().catch(() => {}); },
      }, f.name),
      h('span', { class: 'muted' }, ` ${bytes(f.size)}, ${time(f.mtime)}`)))));
    await showTail();
  }

  return { refresh };
}
