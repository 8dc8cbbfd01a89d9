// A client of this server's SQL Gateway resources (/v1/sessions/...): one
// session per browser tab, kept while the page is open, so a table created by
// one run is there for the next.

import { api, ApiError } from './api.js';

const POLL_MS = 300;

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/** The open session's handle (a promise), or null. */
let session = null;

function openSession() {
  if (!session) {
    session = api('/v1/sessions', { method: 'POST', body: { properties: {} } })
      .then((answer) => answer.sessionHandle)
      .catch((e) => { session = null; throw e; });
  }
  return session;
}

/** Whether e says the session is gone (the server restarted, or closed it). */
function sessionGone(e) {
  return e instanceof ApiError && e.status === 404 && /Session '.*' does not exist/.test(e.message);
}

/** "line 3, column 14: message" split into its position and message. */
export function errorPosition(message) {
  const m = /^line (\d+), column (\d+): ([\s\S]*)$/.exec(message || '');
  return m ? { line: Number(m[1]), column: Number(m[2]), message: m[3] } : null;
}

/**
 * A statement submitted to the gateway. on(event) is called with
 *   {columns}            the result's column names,
 *   {rows}               more rows, each {kind, fields},
 *   {job}                the id of the job the statement submitted,
 * and the promise `done` resolves to 'FINISHED' or 'CANCELED', or rejects
 * with the statement's error.
 */
export class Operation {
  constructor(statement, on) {
    this.on = on;
    this.cancelled = false;
    this.stopped = false;
    this.done = this.run(statement);
  }

  async run(statement) {
    let handle;
    try {
      handle = await this.submit(await openSession(), statement);
    } catch (e) {
      if (!sessionGone(e)) throw e;
      session = null;
      handle = await this.submit(await openSession(), statement);
    }
    return this.fetch(handle);
  }

  async submit(sessionHandle, statement) {
    const answer = await api(`/v1/sessions/${sessionHandle}/statements`, {
      method: 'POST', body: { statement },
    });
    this.path = `/v1/sessions/${sessionHandle}/operations/${answer.operationHandle}`;
    if (this.cancelled) this.cancel();
    return answer.operationHandle;
  }

  async fetch() {
    let next = `${this.path}/result/0?rowFormat=JSON`;
    let columnsShown = false;
    let jobShown = false;
    while (next && !this.stopped) {
      const page = await api(next);
      const results = page.results || {};
      if (!columnsShown && results.columns && results.columns.length) {
        columnsShown = true;
        this.on({ columns: results.columns.map((c) => c.name) });
      }
      if (page.jobID && !jobShown) {
        jobShown = true;
        this.on({ job: page.jobID });
      }
      if (results.data && results.data.length) this.on({ rows: results.data });
      if (page.resultType === 'NOT_READY') await sleep(POLL_MS);
      next = page.nextResultUri;
    }
    return this.cancelled ? 'CANCELED' : 'FINISHED';
  }

  /** Cancels what still runs of the statement; its rows so far stay. */
  cancel() {
    this.cancelled = true;
    if (!this.path) return Promise.resolve();
    return api(`${this.path}/cancel`, { method: 'POST' }).catch(() => {});
  }

  /** Stops reading the results and cancels the statement (the page is left). */
  abandon() {
    this.stopped = true;
    return this.cancel();
  }
}
