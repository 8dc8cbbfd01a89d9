// The tab bar of a job page: links to #/jobs/<id>/<tab>, so a tab can be bookmarked.

import { h } from './dom.js';

/** The tabs of a job page: [key, label]. */
export const JOB_TABS = [
  ['overview', 'Overview'],
  ['checkpoints', 'Checkpoints'],
  ['watermarks', 'Watermarks'],
  ['backpressure', 'Backpressure'],
  ['exceptions', 'Exceptions'],
  ['configuration', 'Configuration'],
];

/** A tab bar for job; returns {element, show(tab)}. */
export function tabBar(job) {
  const links = new Map(JOB_TABS.map(([key, label]) => [key, h('a', {
    href: `#/jobs/${encodeURIComponent(job)}/${key}`, class: 'tab', 'data-tab': key,
  }, label)]));
  const element = h('nav', { class: 'tabs', 'aria-label': 'Job sections' }, Array.from(links.values()));
  return {
    element,
    show(tab) {
      for (const [key, link] of links) {
        if (key === tab) link.setAttribute('aria-current', 'page');
        else link.removeAttribute('aria-current');
      }
    },
  };
}
