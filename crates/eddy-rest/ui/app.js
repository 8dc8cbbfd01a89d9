// The entry point: hash routing between the pages and the 2-second refresh loop.
//
//   #/                    the overview (overview.js)
//   #/jobs/<id>[/<tab>]   a job (job.js): tabs overview, checkpoints, watermarks,
//                         backpressure, exceptions, configuration
//   #/taskmanagers/<id>   a TaskManager (taskmanager.js)
//   #/jobmanager          the JobManager (jobmanager.js)
//   #/sql                 the SQL editor (sql.js)

import { api, setToken } from './api.js';
import { h, replace } from './dom.js';
import { mountOverview } from './overview.js';
import { mountJob } from './job.js';
import { mountTaskManager } from './taskmanager.js';
import { mountJobManager } from './jobmanager.js';
import { mountSql } from './sql.js';

/** How often a page's running numbers are read again (ms). */
const REFRESH_MS = 2000;

const main = document.getElementById('main');
const banner = document.getElementById('banner');
const live = document.getElementById('live');

let current = null; // { key, page }
let timer = null;
let generation = 0;

function showError(error) {
  if (!error) {
    banner.hidden = true;
    banner.textContent = '';
    return;
  }
  banner.hidden = false;
  banner.textContent = error.message || String(error);
}

function parse(hash) {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'jobs' && parts[1]) return { key: `job:${parts[1]}`, job: parts[1], tab: parts[2] || 'overview' };
  if (parts[0] === 'taskmanagers' && parts[1]) return { key: `tm:${parts[1]}`, taskmanager: parts[1] };
  if (parts[0] === 'jobmanager') return { key: 'jobmanager', jobmanager: true };
  if (parts[0] === 'sql') return { key: 'sql', sql: true };
  return { key: 'overview' };
}

/**
 * Shows the sign-in form: the server wants a token. rejected tells that the
 * one given was refused.
 */
function askForToken(rejected) {
  generation += 1;
  clearTimeout(timer);
  current = null;
  showError(rejected ? { message: 'The server refused this token.' } : null);
  live.textContent = '';
  const input = h('input', {
    type: 'password', id: 'token', name: 'token', autocomplete: 'current-password', required: true,
  });
  const form = h('form', { class: 'login', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'Sign in'),
    h('p', { class: 'muted' }, 'This server needs its REST token (rest.auth.token).'),
    h('label', { for: 'token' }, 'Token'), input,
    h('button', { type: 'submit', 'data-action': 'login' }, 'Sign in'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    setToken(input.value.trim());
    signingIn = true;
    route();
  });
  replace(main, form);
  input.focus();
}

/** Whether the page was just signed in (a 401 then means a wrong token). */
let signingIn = false;

async function refresh(gen) {
  if (!current || gen !== generation) return;
  try {
    await current.page.refresh();
    signingIn = false;
    showError(null);
    live.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    live.classList.remove('stale');
  } catch (e) {
    if (e.status === 401) {
      setToken(null);
      askForToken(signingIn);
      signingIn = false;
      return;
    }
    showError(e);
    live.textContent = 'Not updated';
    live.classList.add('stale');
  }
  if (gen === generation) timer = setTimeout(() => refresh(gen), REFRESH_MS);
}

async function route() {
  const target = parse(location.hash);
  if (current && current.key === target.key && current.page.setTab) {
    current.page.setTab(target.tab);
    generation += 1;
    clearTimeout(timer);
    await refresh(generation);
    return;
  }
  const initial = current === null;
  generation += 1;
  clearTimeout(timer);
  if (current && current.page.dispose) current.page.dispose();
  const view = replace(main);
  let page;
  if (target.job) {
    page = mountJob(view, target.job, target.tab);
    document.title = `eddy · job ${target.job}`;
  } else if (target.taskmanager) {
    page = mountTaskManager(view, target.taskmanager);
    document.title = `eddy · TaskManager ${target.taskmanager}`;
  } else if (target.jobmanager) {
    page = mountJobManager(view);
    document.title = 'eddy · JobManager';
  } else if (target.sql) {
    page = mountSql(view);
    document.title = 'eddy · SQL';
  } else {
    page = mountOverview(view);
    document.title = 'eddy · overview';
  }
  current = { key: target.key, page };
  // After a click on a link that is now gone, the keyboard continues from the page.
  if (!initial && (!document.activeElement || document.activeElement === document.body)) {
    main.focus({ preventScroll: true });
  }
  await refresh(generation);
}

window.addEventListener('hashchange', () => {
  route();
});

// The skip link moves the focus; following its href would change the route.
document.querySelector('[data-skip]').addEventListener('click', (ev) => {
  ev.preventDefault();
  main.focus();
});

api('/config').then((config) => {
  document.getElementById('version').textContent = config['flink-version'] || '';
}).catch(() => {});

route();
