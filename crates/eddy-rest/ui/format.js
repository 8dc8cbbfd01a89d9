// How numbers, times and states are shown.

import { h } from './dom.js';

/** A duration in ms as "1h 2m", "3m 4s", "42s", "1.5s" or "120 ms". */
export function duration(ms) {
  if (ms === undefined || ms === null || ms < 0 || Number.isNaN(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  let secs = Math.floor(ms / 1000);
  const days = Math.floor(secs / 86400); secs -= days * 86400;
  const hours = Math.floor(secs / 3600); secs -= hours * 3600;
  const mins = Math.floor(secs / 60); secs -= mins * 60;
  if (days) return `${days}d ${hours}h`;
  if (hours) return `${hours}h ${mins}m`;
  if (mins) return `${mins}m ${secs}s`;
  if (secs < 10) return `${(ms / 1000).toFixed(1)}s`;
  return `${secs}s`;
}

/** A timestamp in ms since the epoch as local date and time. */
export function time(ms) {
  if (!ms || ms < 0) return '–';
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} `
    + `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A byte count as "12.3 KiB". */
export function bytes(n) {
  if (n === undefined || n === null || n < 0) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

/** A count as "1,234,567" (or "1.2M" when short). */
export function count(n, short) {
  if (n === undefined || n === null || Number.isNaN(n)) return '–';
  if (short && n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (short && n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return Math.round(n).toLocaleString('en-US');
}

/** A per-second rate as "1.2k/s". */
export function rate(n) {
  if (n === undefined || n === null || Number.isNaN(n)) return '–';
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M/s`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k/s`;
  return `${n >= 10 ? Math.round(n) : n.toFixed(1)}/s`;
}

/** A job, task or checkpoint state as a coloured badge. */
export function badge(state) {
  const text = String(state || 'UNKNOWN');
  return h('span', { class: `badge state-${text.toLowerCase()}`, 'data-state': text }, text);
}

/** Whether a job in this state has ended. */
export function ended(state) {
  return ['FINISHED', 'CANCELED', 'FAILED', 'SUSPENDED'].includes(state);
}

/** A ratio (0 to 1) as "42%". */
export function percent(r) {
  if (r === undefined || r === null || Number.isNaN(r)) return '–';
  return `${Math.round(r * 100)}%`;
}

/**
 * A watermark (a BigInt of ms since the epoch, as the API gives it) as local
 * date and time with milliseconds; "none" before the first, "end of input"
 * after the last.
 */
export function watermark(w) {
  if (w === undefined) return '–';
  if (w === -9223372036854775808n) return 'none';
  if (w === 9223372036854775807n) return 'end of input';
  const ms = Number(w);
  if (ms <= 0) return `${ms} ms`;
  return `${time(ms)}.${String(((ms % 1000) + 1000) % 1000).padStart(3, '0')}`;
}
