// The actions of a job page: trigger a savepoint, stop with a savepoint, cancel.
// Savepoints and stops answer with a trigger id that is polled until it completes.

import { api, jobPath } from './api.js';
import { h, replace } from './dom.js';
import { ended } from './format.js';

const POLL_MS = 500;

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/** Polls a savepoint trigger of job until it completes; returns its location. */
async function awaitSavepoint(job, trigger) {
  for (;;) {
    const answer = await api(jobPath(job, `/savepoints/${encodeURIComponent(trigger)}`));
    if (answer.status && answer.status.id === 'COMPLETED') {
      const op = answer.operation || {};
      if (op['failure-cause']) throw new Error(op['failure-cause']['stack-trace'] || 'the savepoint failed');
      return op.location;
    }
    await sleep(POLL_MS);
  }
}

/**
 * Mounts the actions of job into box; changed() runs after a request was taken.
 * Returns {update(state)} to enable them while the job runs.
 */
export function mountActions(box, job, changed) {
  const dir = h('input', {
    id: 'savepoint-dir', type: 'text', name: 'savepoint-dir', placeholder: '/path/to/savepoints',
    autocomplete: 'off', spellcheck: 'false',
  });
  const drain = h('input', { id: 'drain', type: 'checkbox', name: 'drain' });
  const savepoint = h('button', { type: 'submit', 'data-action': 'savepoint' }, 'Trigger savepoint');
  const stop = h('button', { type: 'button', 'data-action': 'stop' }, 'Stop with savepoint');
  const cancel = h('button', { type: 'button', class: 'danger', 'data-action': 'cancel' }, 'Cancel job');
  const status = h('div', { class: 'action-status', role: 'status', 'aria-live': 'polite' });
  const form = h('form', { class: 'actions', 'aria-label': 'Job actions' },
    h('label', { for: 'savepoint-dir' }, 'Savepoint directory'),
    dir, savepoint,
    h('span', { class: 'stop-group' }, stop, h('label', { class: 'check' }, drain, ' drain')),
    h('span', { class: 'spacer' }), cancel);
  replace(box, form, status);

  let busy = false;
  let jobEnded = false;
  const buttons = [savepoint, stop, cancel];
  const sync = () => buttons.forEach((b) => { b.disabled = busy || jobEnded; });

  function say(kind, ...content) {
    status.className = `action-status ${kind}`;
    replace(status, ...content);
  }

  async function run(work) {
    if (busy) return;
    busy = true;
    sync();
    try {
      await work();
    } catch (e) {
      say('error', e.message);
    } finally {
      busy = false;
      sync();
      changed();
    }
  }

  const target = () => (dir.value.trim() ? dir.value.trim() : undefined);

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    run(async () => {
      say('pending', 'Savepoint triggered, waiting for it to complete…');
      const { 'request-id': trigger } = await api(jobPath(job, '/savepoints'), {
        method: 'POST', body: { 'target-directory': target(), 'cancel-job': false },
      });
      const location = await awaitSavepoint(job, trigger);
      say('ok', 'Savepoint completed: ', h('code', { class: 'path', 'data-part': 'savepoint-location' }, location));
    });
  });

  stop.addEventListener('click', () => run(async () => {
    say('pending', `Stopping with a savepoint${drain.checked ? ' (drain)' : ''}…`);
    const { 'request-id': trigger } = await api(jobPath(job, '/stop'), {
      method: 'POST', body: { targetDirectory: target(), drain: drain.checked },
    });
    const location = await awaitSavepoint(job, trigger);
    say('ok', 'Job stopped with savepoint: ', h('code', { class: 'path', 'data-part': 'savepoint-location' }, location));
  }));

  cancel.addEventListener('click', () => {
    if (!window.confirm(`Cancel job ${job}? Its state is lost unless a checkpoint is retained.`)) return;
    run(async () => {
      await api(jobPath(job, '?mode=cancel'), { method: 'PATCH' });
      say('ok', 'Cancellation requested.');
    });
  });

  api(jobPath(job, '/config')).then((config) => {
    const user = (config['execution-config'] || {})['user-config'] || {};
    const configured = user['execution.checkpointing.savepoint-dir'];
    if (configured && !dir.value) dir.value = configured;
  }).catch(() => {});

  return {
    update(state) {
      jobEnded = ended(state);
      sync();
    },
  };
}
