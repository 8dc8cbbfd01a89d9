// A table with one row per vertex that opens to a table of its subtasks, and
// stays open across the live refreshes of the page.

import { h, replace, table } from './dom.js';
import { truncate } from './graph.js';

/**
 * Mounts the table into box. columns are the headers after "Vertex"; attrs go
 * on the table. Returns {update(entries)}, where each entry is {id, name,
 * cells: [...], subtasks: {headers, rows}}.
 */
export function vertexTable(box, columns, attrs) {
  const open = new Set();
  let last = [];

  function render() {
    const body = [];
    for (const entry of last) {
      const expanded = open.has(entry.id);
      const toggle = h('button', {
        type: 'button', class: 'link', title: entry.name, 'aria-expanded': String(expanded),
        onclick: () => {
          if (open.has(entry.id)) open.delete(entry.id); else open.add(entry.id);
          render();
        },
      }, `${expanded ? '▾' : '▸'} ${truncate(entry.name, 60)}`);
      body.push(h('tr', { 'data-vertex': entry.id }, h('td', {}, toggle), entry.cells.map((c) => h('td', {}, c))));
      if (expanded) {
        body.push(h('tr', { class: 'subtask-row', 'data-subtasks-of': entry.id },
          h('td', { colspan: columns.length + 1 },
            table(entry.subtasks.headers, entry.subtasks.rows, { class: 'subtasks' }))));
      }
    }
    replace(box, h('div', { class: 'table-wrap' }, h('table', attrs || {},
      h('thead', {}, h('tr', {}, ['Vertex', ...columns].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, body))));
  }

  return {
    update(entries) {
      last = entries;
      render();
    },
  };
}
