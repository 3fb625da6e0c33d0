// The dashboard in a real browser (Debian's Chromium, driven by
// playwright-core) against a running local stack. The page is served from
// another origin than the API and the S3 endpoint, so CORS is real.
//
//   node run.mjs <api url> <screenshots dir>
//
// The stack must allow http://127.0.0.1:<PAGE_PORT> and issue access tokens
// that expire within seconds (TOKEN_TTL_SECS), as .ci/browser starts it.

import { createServer } from 'node:http';
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const [api, shots] = process.argv.slice(2);
const PAGE_PORT = Number(process.env.PAGE_PORT);
const OTHER_PORT = Number(process.env.OTHER_PORT);
const TOKEN_TTL_SECS = Number(process.env.TOKEN_TTL_SECS);
const dashboard = join(dirname(fileURLToPath(import.meta.url)), '../../local/dashboard');
await mkdir(shots, { recursive: true });

/// The dashboard's files, served as a static site on its own origin.
function site(port) {
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const file = path === '/' || path === '/index.html' ? 'index.html' : path.replace(/^\/dashboard\//, '');
    const types = { html: 'text/html', css: 'text/css', js: 'text/javascript' };
    try {
      const body = await readFile(join(dashboard, file.replaceAll('..', '')));
      res.writeHead(200, { 'content-type': `${types[file.split('.').pop()]}; charset=utf-8` });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

const servers = [await site(PAGE_PORT), await site(OTHER_PORT)];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || execFileSync('which', ['chromium']).toString().trim(),
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-sync',
    '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
const results = [];
const step = async (name, body) => {
  const started = Date.now();
  try {
    await body();
    results.push(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    results.push(`FAIL ${name}: ${error.stack || error}`);
    throw error;
  }
};
const csv = async (name, text) => {
  const path = join(shots, name);
  await writeFile(path, text);
  return path;
};

let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()); });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  const refreshes = [];
  page.on('response', (response) => {
    if (response.url().endsWith('/auth/refresh')) refreshes.push(response.status());
  });
  const shot = (name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  const email = `browser-${Date.now()}@flux.example`;

  await step('register', async () => {
    await page.goto(`http://127.0.0.1:${PAGE_PORT}/?api=${encodeURIComponent(api)}`);
    await page.fill('#register-restaurant', 'Chez Navigateur');
    await page.fill('#register-email', email);
    await page.fill('#register-password', 'violet-otter-juggles-42-plums');
    await page.selectOption('#register-timezone', 'Europe/Paris');
    await page.click('#register-form button[type=submit]');
    await page.waitForSelector('#restaurant-name:has-text("Chez Navigateur")');
    assert.equal(await page.textContent('#user-email'), email);
    await shot('1-registered');
  });

  await step('upload a clean file and watch the progress reach 100 %', async () => {
    await page.click('nav [data-view=uploads]');
    const clean = await csv('clean.csv', [
      'order_id,ordered_at,item_name,category,quantity,unit_price,discount,tax,payment_method',
      'A-1001,2026-01-29 19:05,Margherita,Pizza,2,12.50,0,2.10,card',
      'A-1001,2026-01-29 19:05,Tiramisu,Dessert,1,6.00,1.00,0.50,card',
      'A-1002,2026-01-29 19:17,"Soup, of the day",Starters,1,$7.25,,0.61,cash',
      'A-1003,2026-01-30 12:31,Diavola,Pizza,3,13.50,0,3.40,mobile',
      ...Array.from({ length: 3000 }, (_, i) => `B-${i},2026-01-${String(10 + (i % 18)).padStart(2, '0')} ${String(11 + (i % 10)).padStart(2, '0')}:15,Espresso,Drinks,1,2.00,,,cash`),
    ].join('\n') + '\n');
    const seen = new Set();
    const watch = setInterval(async () => {
      const value = await page.getAttribute('#upload-progress', 'value').catch(() => null);
      if (value) seen.add(Number(value));
    }, 20);
    await page.setInputFiles('#file', clean);
    await page.waitForSelector('#progress-label:has-text("completed")', { timeout: 30000 });
    clearInterval(watch);
    assert.equal(Number(await page.getAttribute('#upload-progress', 'value')), 100);
    assert.ok([...seen].some((v) => v > 0 && v < 100), `the bar moved: ${[...seen]}`);
    const counters = await page.textContent('#upload-outcome');
    assert.match(counters, /3004\s*Rows/);
    await shot('2-upload-completed');
  });

  await step('a file with bad rows shows its errors', async () => {
    const bad = await csv('bad.csv', [
      'order_id,ordered_at,item_name,quantity,unit_price',
      'C-1,2026-01-29 19:05,Soup,1,4.00',
      'C-2,someday,Soup,1,4.00',
      'C-3,2026-01-29 19:06,Soup,abc,4.00',
      'C-4,2026-01-29 19:07,"=HYPERLINK(""http://evil"")",1,4.00',
    ].join('\n') + '\n');
    await page.setInputFiles('#file', bad);
    await page.waitForSelector('#row-errors', { timeout: 30000 });
    const table = await page.textContent('#row-errors');
    assert.match(table, /someday/);
    assert.match(table, /is not a number/);
    assert.match(await page.textContent('#progress-label'), /completed with errors/);
    await shot('3-upload-with-errors');
  });

  await step('an expired access token is refreshed without the user noticing', async () => {
    await page.waitForTimeout((TOKEN_TTL_SECS + 31) * 1000);
    await page.click('nav [data-view=analytics]');
    await page.fill('#from', '2026-01-01');
    await page.fill('#to', '2026-01-31');
    await page.selectOption('#granularity', 'day');
    await page.click('form button[type=submit]');
    await page.waitForSelector('#top-items td:has-text("Margherita")');
    assert.ok(refreshes.includes(200), `a refresh happened: ${refreshes}`);
    assert.equal(await page.isVisible('#login-form'), false, 'still signed in');
  });

  await step('the analytics show the figures of the uploaded files', async () => {
    // 31.00 - 1.00 + 7.25 + 40.50 + 3000 × 2.00 (clean) + 2 × 4.00 (the bad file's valid rows)
    const totals = await page.textContent('#totals');
    assert.match(totals, /6,085\.75|6085\.75/, totals);
    assert.equal(await page.locator('#revenue-chart rect.bar').count(), 31);
    assert.match(await page.textContent('#payments'), /card/);
    assert.ok((await page.locator('#hours .heatmap > div').count()) >= 7 * 25);
    await shot('4-analytics');
    await page.click('#transactions tbody tr:has-text("A-1001")');
    await page.waitForSelector('#transaction-detail[open]');
    assert.match(await page.textContent('#transaction-detail'), /Tiramisu/);
    await shot('5-transaction-detail');
    await page.click('#transaction-detail button');
    await page.setViewportSize({ width: 390, height: 844 });
    await shot('6-analytics-phone');
    await page.setViewportSize({ width: 1200, height: 900 });
  });

  await step('uploads history filters by status', async () => {
    await page.click('nav [data-view=uploads]');
    await page.selectOption('#status-filter', 'completed_with_errors');
    await page.waitForFunction(() => document.querySelectorAll('#uploads tbody tr').length === 1);
    assert.match(await page.textContent('#uploads tbody'), /bad\.csv/);
    await shot('7-uploads-history');
  });

  await step('sign out', async () => {
    await page.click('#logout');
    await page.waitForSelector('#login-form');
    assert.equal(await page.isVisible('#top'), false);
    await shot('8-signed-out');
    // And back in, with the same account.
    await page.fill('#login-email', email);
    await page.fill('#login-password', 'violet-otter-juggles-42-plums');
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#restaurant-name:has-text("Chez Navigateur")');
  });

  await step('no console error on the way', async () => {
    assert.deepEqual(consoleErrors, []);
  });

  await step('a page from a disallowed origin cannot upload', async () => {
    const intruder = await context.newPage();
    await intruder.goto(`http://127.0.0.1:${OTHER_PORT}/?api=${encodeURIComponent(api)}`);
    await intruder.fill('#register-restaurant', 'Intruder');
    await intruder.fill('#register-email', 'intruder@flux.example');
    await intruder.fill('#register-password', 'violet-otter-juggles-42-plums');
    await intruder.click('#register-form button[type=submit]');
    await intruder.waitForSelector('#auth-error:not(:empty)');
    // Even with a good presigned URL, the storage refuses its PUT.
    const account = await (await fetch(`${api}/auth/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: 'violet-otter-juggles-42-plums' }),
    })).json();
    const created = await (await fetch(`${api}/uploads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${account.access_token}` },
      body: JSON.stringify({ filename: 'x.csv', size_bytes: 3 }),
    })).json();
    const outcome = await intruder.evaluate((created) => new Promise((resolve) => {
      const request = new XMLHttpRequest();
      request.open('PUT', created.upload_url);
      for (const [k, v] of Object.entries(created.upload_headers)) request.setRequestHeader(k, v);
      request.onload = () => resolve(`loaded ${request.status}`);
      request.onerror = () => resolve('blocked');
      request.send('a,b');
    }), created);
    assert.equal(outcome, 'blocked');
    const upload = await (await fetch(`${api}/uploads/${created.upload.id}`, {
      headers: { authorization: `Bearer ${account.access_token}` },
    })).json();
    assert.equal(upload.status, 'awaiting_upload', 'nothing arrived');
    await intruder.screenshot({ path: join(shots, '9-disallowed-origin.png'), fullPage: true });
  });
} catch {
  failed = true;
} finally {
  await browser.close();
  for (const server of servers) server.close();
  console.log(results.join('\n'));
  console.log(`screenshots: ${shots}`);
}
process.exit(failed ? 1 : 0);
