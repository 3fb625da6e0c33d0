// The restaurant's uploads, newest first, filtered by status, with what can
// be done to each: see its outcome, send an abandoned file again, undo it.

import { el, say } from './dom.js';
import { outcomeOf } from './upload.js';

const STATUSES = ['awaiting_upload', 'processing', 'completed', 'completed_with_errors', 'failed', 'expired'];

export function uploadsView(api, panel) {
  const filter = el('select', { id: 'status-filter' },
    el('option', { value: '' }, 'All'), STATUSES.map((s) => el('option', { value: s }, s.replaceAll('_', ' '))));
  const body = el('tbody', {});
  const more = el('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  const detail = el('div', { id: 'upload-detail' });
  let cursor = null;
  let generation = 0;

  async function load(reset) {
    if (reset) { body.replaceChildren(); cursor = null; generation += 1; }
    const mine = generation;
    const query = new URLSearchParams({ limit: '20' });
    if (filter.value) query.set('status', filter.value);
    if (cursor) query.set('cursor', cursor);
    const page = await api.get(`/uploads?${query}`);
    // An answer for a list since replaced (another filter) is dropped.
    if (mine !== generation) return;
    for (const upload of page.items) body.append(row(upload));
    cursor = page.next_cursor;
    more.hidden = !cursor;
  }

  function row(upload) {
    const actions = [el('button', { type: 'button', class: 'secondary', onclick: async () => detail.replaceChildren(el('h3', {}, upload.filename), await outcomeOf(api, upload)) }, 'Details')];
    if (['awaiting_upload', 'expired'].includes(upload.status)) {
      actions.push(el('button', { type: 'button', onclick: () => panel.retry(upload.id) }, 'Send the file again'));
    }
    if (upload.status !== 'processing') {
      actions.push(el('button', {
        type: 'button', class: 'secondary',
        onclick: async () => {
          if (!confirm(`Undo ${upload.filename}? Its sales leave every figure.`)) return;
          await api.delete(`/uploads/${upload.id}`);
          say(`${upload.filename} undone`);
          load(true);
        },
      }, 'Undo'));
    }
    return el('tr', {},
      el('td', {}, upload.filename), el('td', {}, upload.status.replaceAll('_', ' ')),
      el('td', { class: 'num' }, upload.rows_ingested), el('td', { class: 'num' }, upload.rows_rejected),
      el('td', {}, new Date(upload.created_at).toLocaleString()), el('td', {}, el('div', { class: 'row' }, actions)));
  }

  filter.addEventListener('change', () => load(true));
  more.addEventListener('click', () => load(false));
  load(true).catch((error) => say(error.message));
  return el('section', { class: 'card', 'aria-labelledby': 'uploads-title' },
    el('h2', { id: 'uploads-title' }, 'Uploads'),
    el('label', { for: 'status-filter' }, 'Status'), filter,
    el('div', { class: 'scroll' }, el('table', { id: 'uploads' },
      el('thead', {}, el('tr', {}, ['File', 'Status', 'Ingested', 'Rejected', 'Uploaded', ''].map((h) => el('th', {}, h)))), body)),
    more, detail);
}
