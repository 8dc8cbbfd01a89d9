// The SQL page: an editor with syntax highlighting whose statements run in
// this server's SQL Gateway. An INSERT becomes a job and its page opens; a
// query's changelog rows stream into a table as they come, until it ends or
// is cancelled; an error marks its position in the editor.

import { h, replace } from './dom.js';
import { errorPosition, Operation } from './gateway.js';
import { highlight, offsetOf } from './sqlhighlight.js';

/** Where the editor's text is kept for this tab. */
const TEXT_KEY = 'eddy-sql-text';
/** Result rows kept on the page; older ones give way. */
const MAX_ROWS = 1000;

const EXAMPLE = `-- Statements run in this server's SQL Gateway (Ctrl+Enter runs them).
-- An INSERT becomes a job and its page opens; a query's rows stream below.
SHOW TABLES;
`;

/** Flink's short names of the row kinds. */
const KINDS = { INSERT: '+I', UPDATE_BEFORE: '-U', UPDATE_AFTER: '+U', DELETE: '-D' };

/** The editor: a textarea over its highlighted copy. Returns {textarea, mark(offset)}. */
function mountEditor(box, onRun) {
  const code = h('code', {});
  const pre = h('pre', { class: 'sql-highlight', 'aria-hidden': 'true' }, code);
  const textarea = h('textarea', {
    id: 'sql-text', name: 'sql', rows: 12, wrap: 'off', spellcheck: 'false',
    autocomplete: 'off', autocapitalize: 'off', 'aria-label': 'SQL statements',
    'aria-describedby': 'sql-help',
  });
  textarea.value = sessionStorage.getItem(TEXT_KEY) ?? EXAMPLE;
  let errorAt = -1;
  const draw = () => replace(code, ...highlight(textarea.value, errorAt));
  const follow = () => {
    pre.scrollTop = textarea.scrollTop;
    pre.scrollLeft = textarea.scrollLeft;
  };
  textarea.addEventListener('input', () => {
    sessionStorage.setItem(TEXT_KEY, textarea.value);
    errorAt = -1; // the text the error was about is gone
    draw();
    follow();
  });
  textarea.addEventListener('scroll', follow);
  textarea.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      onRun();
    }
  });
  replace(box, pre, textarea);
  draw();
  return {
    textarea,
    /** Marks the token at offset (-1: none). */
    mark(offset) {
      errorAt = offset;
      draw();
      follow();
    },
  };
}

/** A table that rows are appended to as they come: op column first. */
function resultTable(columns) {
  const body = h('tbody', {});
  const wrap = h('div', { class: 'table-wrap sql-rows' },
    h('table', { class: 'sql-result', 'aria-label': 'Result rows' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'op'),
        columns.map((c) => h('th', { scope: 'col' }, c)))),
      body));
  return {
    wrap,
    append(rows) {
      const fragment = document.createDocumentFragment();
      for (const row of rows) {
        const kind = KINDS[row.kind] || row.kind;
        fragment.append(h('tr', { 'data-kind': kind },
          h('td', { class: 'row-kind' }, kind),
          (row.fields || []).map((v) => (v === null
            ? h('td', { class: 'muted' }, 'NULL')
            : h('td', {}, String(v))))));
      }
      body.append(fragment);
      while (body.childElementCount > MAX_ROWS) body.firstElementChild.remove();
    },
  };
}

/** Mounts the SQL page in view; returns {refresh, dispose}. */
export function mountSql(view) {
  const editorBox = h('div', { class: 'sql-editor' });
  const runButton = h('button', { type: 'button', 'data-action': 'run-sql' }, 'Run');
  const cancelButton = h('button', {
    type: 'button', class: 'secondary', 'data-action': 'cancel-sql', disabled: true,
  }, 'Cancel');
  const status = h('span', { class: 'sql-status', role: 'status', 'aria-live': 'polite' });
  const errorBox = h('div', { class: 'sql-error-box', role: 'alert', hidden: true });
  const result = h('div', { class: 'sql-result-box' });
  replace(view,
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Overview'), ' / SQL'),
    h('h1', {}, 'SQL'),
    h('p', { id: 'sql-help', class: 'muted' },
      'Statements run one after another in a session of this server\'s SQL Gateway; tables ',
      'created here stay for the next run. Ctrl+Enter runs them.'),
    editorBox,
    h('div', { class: 'actions sql-actions' }, runButton, cancelButton, status),
    errorBox, result);

  let running = null;
  const editor = mountEditor(editorBox, () => run());

  function showError(e) {
    const message = e.message || String(e);
    const at = errorPosition(message);
    if (!at) {
      replace(errorBox, h('strong', {}, 'Error: '), message);
      errorBox.hidden = false;
      return;
    }
    const text = editor.textarea.value;
    const offset = offsetOf(text, at.line, at.column);
    editor.mark(offset);
    const goTo = h('button', { type: 'button', class: 'link', 'data-action': 'error-position' },
      `Line ${at.line}, column ${at.column}`);
    goTo.addEventListener('click', () => {
      editor.textarea.focus();
      if (offset >= 0) editor.textarea.setSelectionRange(offset, offset);
    });
    replace(errorBox, h('strong', {}, 'Error at '), goTo, ': ', at.message);
    errorBox.hidden = false;
  }

  async function run() {
    if (running) return;
    const text = editor.textarea.value;
    if (!text.trim()) return;
    errorBox.hidden = true;
    editor.mark(-1);
    replace(result);
    let table = null;
    let rows = 0;
    let job = null;
    const progress = () => {
      status.textContent = `Running… ${rows} row${rows === 1 ? '' : 's'}`;
    };
    const op = new Operation(text, (event) => {
      if (event.columns) {
        table = resultTable(event.columns);
        replace(result, table.wrap);
      }
      if (event.job) job = event.job;
      if (event.rows && table) {
        rows += event.rows.length;
        table.append(event.rows);
      }
      if (op === running) progress();
    });
    running = op;
    runButton.disabled = true;
    cancelButton.disabled = false;
    status.textContent = 'Running…';
    try {
      const outcome = await op.done;
      if (op !== running) return; // the page was left
      if (job) {
        status.textContent = `Job ${job} submitted`;
        location.hash = `#/jobs/${encodeURIComponent(job)}`;
        return;
      }
      const what = `${rows} row${rows === 1 ? '' : 's'}`;
      status.textContent = outcome === 'CANCELED' ? `Cancelled after ${what}` : `Finished: ${what}`;
      if (!table) replace(result, h('p', { class: 'muted' }, 'OK'));
    } catch (e) {
      if (op !== running) return;
      status.textContent = 'Failed';
      showError(e);
    } finally {
      if (op === running) {
        running = null;
        runButton.disabled = false;
        cancelButton.disabled = true;
      }
    }
  }

  runButton.addEventListener('click', () => run());
  cancelButton.addEventListener('click', () => {
    if (!running) return;
    cancelButton.disabled = true;
    status.textContent = 'Cancelling…';
    running.cancel();
  });

  return {
    refresh: async () => {},
    dispose() {
      if (running) {
        const op = running;
        running = null;
        op.abandon();
      }
    },
  };
}
