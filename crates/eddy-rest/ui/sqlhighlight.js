// SQL syntax highlighting for the editor: a small tokenizer (keywords,
// strings, quoted names, numbers, comments) that draws the text as spans, and
// marks the token at an error's position.

import { h } from './dom.js';

const KEYWORDS = new Set(`
  ADD ALL ALTER AND ANY ARRAY AS ASC BETWEEN BIGINT BOOLEAN BY BYTES CASCADE CASE CAST CATALOG
  CHAR COLUMN COMMENT COMPUTED CONSTRAINT CREATE CROSS CUBE CUMULATE CURRENT DATABASE DATE
  DECIMAL DELETE DESC DESCRIBE DISTINCT DOUBLE DRAIN DROP ELSE END ENFORCED ESCAPE EXCEPT
  EXECUTE EXISTS EXPLAIN FALSE FETCH FILTER FIRST FLOAT FOLLOWING FOR FROM FULL FUNCTION
  GROUP GROUPING HAVING HOP IF IN INNER INSERT INT INTEGER INTERSECT INTERVAL INTO IS JOB JOBS
  JOIN KEY LAST LATERAL LEFT LIKE LIMIT LOAD MAP MATCH_RECOGNIZE METADATA MINUTE MODULE MULTISET
  NATURAL NOT NULL NULLS OF OFFSET ON OR ORDER OUTER OVER OVERWRITE PARTITION PARTITIONED PRECEDING
  PRIMARY PROCTIME RANGE RESET RIGHT ROLLUP ROW ROWS SAVEPOINT SECOND SELECT SESSION SET SETS
  SHOW SMALLINT STATEMENT STOP STRING SYSTEM_TIME TABLE TABLES TEMPORARY THEN TIME TIMESTAMP
  TIMESTAMP_LTZ TINYINT TO TRUE TUMBLE UNBOUNDED UNION UNNEST UPDATE USE USING VALUES VARCHAR
  VIEW VIRTUAL WATERMARK WHEN WHERE WINDOW WITH WITHOUT YEAR DAY HOUR MONTH BEGIN
`.trim().split(/\s+/));

/** Splits text into tokens: {type, text}, types keyword, string, name, number, comment, word, other. */
export function tokenize(text) {
  const tokens = [];
  const rules = [
    ['comment', /--[^\n]*|\/\*[\s\S]*?(\*\/|$)/y],
    ['string', /'(?:[^']|'')*('|$)/y],
    ['name', /`(?:[^`]|``)*(`|$)/y],
    ['number', /\d+(\.\d+)?([eE][+-]?\d+)?/y],
    ['word', /[A-Za-z_][A-Za-z0-9_$]*/y],
    ['other', /\s+|[^\sA-Za-z0-9_'`/-]+|-|\//y],
  ];
  let at = 0;
  while (at < text.length) {
    let matched = false;
    for (const [type, rule] of rules) {
      rule.lastIndex = at;
      const m = rule.exec(text);
      if (m && m[0].length) {
        const kind = type === 'word' && KEYWORDS.has(m[0].toUpperCase()) ? 'keyword' : type;
        tokens.push({ type: kind, text: m[0] });
        at += m[0].length;
        matched = true;
        break;
      }
    }
    if (!matched) {
      tokens.push({ type: 'other', text: text[at] });
      at += 1;
    }
  }
  return tokens;
}

/** The offset in text of 1-based line and column, or -1. */
export function offsetOf(text, line, column) {
  let at = 0;
  for (let l = 1; l < line; l += 1) {
    at = text.indexOf('\n', at);
    if (at < 0) return -1;
    at += 1;
  }
  const offset = at + column - 1;
  return offset <= text.length ? offset : -1;
}

/**
 * The highlighted text as nodes for a <code>; the token at offset errorAt
 * (if >= 0) is wrapped in <mark class="sql-error">.
 */
export function highlight(text, errorAt = -1) {
  const nodes = [];
  let at = 0;
  for (const token of tokenize(text)) {
    const end = at + token.text.length;
    const node = token.type === 'other' || token.type === 'word'
      ? document.createTextNode(token.text)
      : h('span', { class: `sql-${token.type}` }, token.text);
    if (errorAt >= at && errorAt < end && !/^\s+$/.test(token.text)) {
      nodes.push(h('mark', { class: 'sql-error', title: 'The error is here' }, node));
    } else {
      nodes.push(node);
    }
    at = end;
  }
  if (errorAt >= text.length) nodes.push(h('mark', { class: 'sql-error' }, ' '));
  // A last empty line still takes its height, as in the textarea.
  nodes.push('\n');
  return nodes;
}
