// Sending a CSV: the API signs a PUT, the browser sends the file straight to
// S3 (the first half of the progress bar), csv-ingest reads it (the second
// half, from the upload's bytes_processed), then the outcome and row errors.

import { el, say } from './dom.js';

const FINAL = ['completed', 'completed_with_errors', 'failed', 'expired'];

/// PUTs `file` to a presigned URL with exactly the headers the API gave,
/// reporting the bytes sent.
function put(created, file, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open(created.upload_method, created.upload_url);
    for (const [name, value] of Object.entries(created.upload_headers)) request.setRequestHeader(name, value);
    request.upload.onprogress = (event) => onProgress(event.loaded, event.total || file.size);
    request.onload = () => (request.status < 300 ? resolve() : reject(new Error(`the storage refused the file (HTTP ${request.status})`)));
    request.onerror = () => reject(new Error('the file could not be sent to storage'));
    request.send(file);
  });
}

/// The upload panel: a drop zone, a progress bar, and the outcome.
export function uploadPanel(api, { onDone }) {
  const input = el('input', { type: 'file', id: 'file', accept: '.csv,text/csv', class: 'visually-hidden' });
  const progress = el('progress', { id: 'upload-progress', max: 100, value: 0, 'aria-labelledby': 'progress-label' });
  const label = el('div', { id: 'progress-label' }, 'Choose a CSV file to upload');
  const outcome = el('div', { id: 'upload-outcome', 'aria-live': 'polite' });
  const drop = el('div', { class: 'drop', tabindex: 0, role: 'button', 'aria-describedby': 'progress-label' },
    'Drop a CSV export here, or press Enter to pick one');
  const pick = () => input.click();
  drop.addEventListener('click', pick);
  drop.addEventListener('keydown', (event) => { if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); pick(); } });
  drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    if (event.dataTransfer.files[0]) send(event.dataTransfer.files[0]);
  });
  input.addEventListener('change', () => { if (input.files[0]) send(input.files[0]); input.value = ''; });

  const show = (value, text) => { progress.value = value; label.textContent = text; };

  async function send(file, retryOf = null) {
    outcome.replaceChildren();
    try {
      show(0, `Preparing ${file.name}…`);
      const created = retryOf
        ? await api.post(`/uploads/${retryOf}/url`)
        : await api.post('/uploads', { filename: file.name, size_bytes: file.size, content_type: 'text/csv' });
      await put(created, file, (sent, total) => show(Math.round((50 * sent) / total), `Uploading ${file.name}: ${Math.round((100 * sent) / total)} %`));
      show(50, `Reading ${file.name}…`);
      const upload = await follow(created.upload.id, (u) => {
        const read = u.size_bytes ? u.bytes_processed / u.size_bytes : 0;
        show(50 + Math.round(50 * read), `Reading ${file.name}: ${u.rows_total} rows read, ${u.rows_ingested} ingested`);
      });
      show(100, `${file.name}: ${upload.status.replaceAll('_', ' ')}`);
      outcome.replaceChildren(await outcomeOf(api, upload));
      onDone?.(upload);
    } catch (error) {
      show(0, `${file.name} was not uploaded`);
      outcome.replaceChildren(el('p', { class: 'error', role: 'alert' }, error.message));
    }
  }

  async function follow(id, onProgress) {
    for (;;) {
      const upload = await api.get(`/uploads/${id}`);
      if (FINAL.includes(upload.status)) return upload;
      onProgress(upload);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }

  return {
    node: el('section', { class: 'card', 'aria-labelledby': 'upload-title' },
      el('h2', { id: 'upload-title' }, 'Upload sales history'),
      el('label', { for: 'file' }, 'CSV file'), input, drop, label, progress, outcome),
    /// Sends a file again for an upload whose file never arrived.
    retry: (id) => {
      const again = el('input', { type: 'file', accept: '.csv,text/csv' });
      again.addEventListener('change', () => { if (again.files[0]) send(again.files[0], id); });
      again.click();
    },
  };
}

/// An upload's counters and its row errors, with a CSV export of them.
export async function outcomeOf(api, upload) {
  const counters = el('ul', { class: 'counters' },
    ...[['Rows', upload.rows_total], ['Ingested', upload.rows_ingested], ['Rejected', upload.rows_rejected],
      ['Duplicates', upload.rows_duplicate], ['Orders', upload.transactions_ingested]]
      .map(([name, value]) => el('li', {}, el('strong', {}, value), name)));
  const parts = [counters];
  if (upload.error) parts.push(el('p', { class: 'error', role: 'alert' }, upload.error));
  if (upload.rows_rejected > 0) {
    const errors = (await api.get(`/uploads/${upload.id}/errors?limit=200`)).items;
    parts.push(el('h3', {}, 'Rejected rows'),
      el('div', { class: 'scroll' }, el('table', { id: 'row-errors' },
        el('thead', {}, el('tr', {}, el('th', { class: 'num' }, 'Line'), el('th', {}, 'Column'), el('th', {}, 'Value'), el('th', {}, 'Problem'))),
        el('tbody', {}, errors.map((e) => el('tr', {},
          el('td', { class: 'num' }, e.line), el('td', {}, e.column ?? ''), el('td', {}, e.value ?? ''), el('td', {}, e.message)))))),
      el('button', { type: 'button', class: 'secondary', onclick: () => exportErrors(upload, errors) }, 'Download the errors as CSV'));
  }
  return el('div', {}, parts);
}

/// Row errors quote the file: untrusted text. A spreadsheet would run a
/// cell starting with = + - @ as a formula, so those are prefixed with '.
function exportErrors(upload, errors) {
  const cell = (value) => {
    let text = String(value ?? '');
    if (/^[=+\-@]/.test(text)) text = `'${text}`;
    return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  const lines = ['line,column,value,message', ...errors.map((e) => [e.line, e.column, e.value, e.message].map(cell).join(','))];
  const link = el('a', { href: URL.createObjectURL(new Blob([lines.join('\r\n')], { type: 'text/csv' })), download: `${upload.filename}-errors.csv` });
  link.click();
  say('Errors downloaded');
}
