// Drives the web dashboard in Debian's Chromium (headless) with playwright-core, against the
// 3-node loopback cluster tests/integration/dashboard_browser_test.sh started. Every wait is
// bounded; the first failed check exits 1 with a sentence saying what the page showed.
//
// Environment (set by the shell test):
//   DASHBOARD_URL  the page of node 1 (http://IP:PORT/)
//   TOKEN          node 1's API token
//   VICTIM_PID     pid of node 3's spored, killed (SIGKILL) to see it turn INACTIVE
//   IMAGE          a firmware image for node 1 whose version slot says NEW_VERSION
//   NEW_VERSION    the version node 1 must come back with
//   SCREENSHOT     optional: where to save a PNG of the live cluster (3 ACTIVE)
//   CHROMIUM       browser executable (default /usr/bin/chromium)
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) { console.error(`dashboard.mjs: set ${name}`); process.exit(2); }
  return v;
};
const url = env('DASHBOARD_URL');
const token = env('TOKEN');
const victimPid = Number(env('VICTIM_PID'));
const image = env('IMAGE');
const newVersion = env('NEW_VERSION');
const t0 = Date.now();
const log = (s) => console.log(`[browser +${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`);

// Chromium's sandbox needs user namespaces it does not get as root (CI runs as root).
const args = process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args, timeout: 30000,
});
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.setDefaultTimeout(30000);
  page.on('pageerror', (e) => { console.error(`page error: ${e.message}`); failed = true; });
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.accept(); });

  await page.goto(url, { waitUntil: 'load' });
  // Proves "without reload": a navigation would drop this marker and the recorded progress.
  await page.evaluate(() => {
    window.__sporeMarker = 42;
    window.__progress = [];
    new MutationObserver(() => window.__progress.push(document.getElementById('progress').textContent))
      .observe(document.getElementById('progress'), { childList: true, characterData: true, subtree: true });
  });
  const table = () => page.evaluate(() => [...document.querySelectorAll('#members tbody tr')]
    .map((tr) => [...tr.cells].map((c) => c.textContent).join(' | ')).join('\n'));
  const waitFor = async (what, fn, arg, timeout = 30000) => {
    try {
      await page.waitForFunction(fn, arg, { timeout, polling: 200 });
    } catch (e) {
      throw new Error(`timed out waiting for: ${what}\nmembers table:\n${await table()}\nmessage: ${await page.textContent('#msg')}`);
    }
    log(`ok: ${what}`);
  };

  // 1. Three ACTIVE nodes, with their details filled in.
  await waitFor('the members table shows 3 ACTIVE nodes', () =>
    document.querySelectorAll('#members tbody td.st.ACTIVE').length === 3);
  await waitFor('every row has a last-seen age, free heap and firmware version', () =>
    [...document.querySelectorAll('#members tbody tr')].every((tr) =>
      / s ago$/.test(tr.cells[3].textContent) && / [KM]B$/.test(tr.cells[5].textContent) &&
      tr.cells[6].textContent !== '' && !tr.cells[6].textContent.startsWith('#')));
  await waitFor('the detail panel lists the API as links', () =>
    [...document.querySelectorAll('#d-api a')].some((a) => a.textContent === 'GET /api/node/status'));
  log(`table:\n${await table()}`);
  if (process.env.SCREENSHOT) {
    await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
    log(`screenshot saved to ${process.env.SCREENSHOT}`);
  }

  // Cluster events reach the log through the SSE stream: publish one from the page's origin.
  const published = await page.evaluate(async (t) => (await fetch('/api/cluster/events?topic=doorbell', {
    method: 'POST', headers: { Authorization: 'Bearer ' + t }, body: 'ring',
  })).status, token);
  if (published !== 202) throw new Error(`publishing an event answered ${published}`);
  await waitFor('the events log shows the published cluster event', () =>
    [...document.querySelectorAll('#events li')].some((li) => /n1: doorbell ring$/.test(li.textContent)));

  // Usable on a phone: at 390 px nothing pushes the page sideways (the table scrolls inside).
  await page.setViewportSize({ width: 390, height: 844 });
  const phoneWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  if (phoneWidth > 390) throw new Error(`at 390 px the page is ${phoneWidth} px wide`);
  await page.setViewportSize({ width: 1200, height: 900 });
  log('ok: fits a 390 px phone screen');

  // 2. A wrong token: restart (confirmed) is refused with a clear message; the node stays.
  const incarnation = () => page.evaluate(async () => (await (await fetch('/api/node/status')).json()).incarnation);
  const before = await incarnation();
  await page.fill('#token', 'not-the-token');
  await page.click('#auth button');
  await page.click('#restart');
  await waitFor('a wrong token shows a clear error', () =>
    /Wrong API token/.test(document.getElementById('msg').textContent) && !document.getElementById('msg').hidden);
  if (!dialogs.some((m) => m.startsWith('Restart '))) throw new Error('restart did not ask for confirmation');
  const stored = await page.evaluate(() => localStorage.getItem('spore.apiToken'));
  if (stored !== 'not-the-token') throw new Error(`token not kept in localStorage (got ${stored})`);
  await page.waitForTimeout(1000);
  if (await incarnation() !== before) throw new Error('node 1 restarted although the token was wrong');

  // 3. A node dies: its row turns INACTIVE without a reload, and the events log says so.
  process.kill(victimPid, 'SIGKILL');
  log(`killed node 3 (pid ${victimPid})`);
  await waitFor('n3 turns INACTIVE on the page', () => {
    for (const tr of document.querySelectorAll('#members tbody tr')) {
      if (tr.cells[1].textContent.startsWith('n3') && tr.cells[0].textContent.startsWith('INACTIVE')) return true;
    }
    return false;
  }, undefined, 45000);
  await waitFor('the events log records it', () =>
    [...document.querySelectorAll('#events li')].some((li) => /n3 is INACTIVE/.test(li.textContent)));

  // 4. Upload a new firmware with the right token: progress to 100 %, node 1 back with it.
  await page.fill('#token', token);
  await page.click('#auth button');
  await page.setInputFiles('#file', image);
  await page.click('#upload button');
  await waitFor('the upload progress reaches 100 %', () => /100 %/.test(document.getElementById('progress').textContent), undefined, 60000);
  const progress = await page.evaluate(() => window.__progress);
  if (!progress.some((p) => /^Uploading: \d+ %$/.test(p))) throw new Error(`no progress shown: ${JSON.stringify(progress)}`);
  log(`progress seen: ${[...new Set(progress)].slice(0, 6).join(', ')} ... ${progress[progress.length - 1]}`);
  await waitFor(`node 1 comes back with firmware ${newVersion}`, (v) => {
    const tr = document.querySelector('#members tbody tr');
    return tr && tr.cells[6].textContent === v && tr.cells[0].textContent.startsWith('ACTIVE');
  }, newVersion, 60000);
  await waitFor('the events log records the new version', (v) =>
    [...document.querySelectorAll('#events li')].some((li) => li.textContent.includes('runs firmware ' + v)), newVersion);
  if (await page.evaluate(() => window.__sporeMarker) !== 42) throw new Error('the page was reloaded');
  log(`table:\n${await table()}`);
  log(`events:\n${await page.evaluate(() => [...document.querySelectorAll('#events li')].map((li) => li.textContent).reverse().join('\n'))}`);
} catch (e) {
  console.error(`FAIL: ${e.message}`);
  failed = true;
} finally {
  await browser.close();
}
if (failed) process.exit(1);
log('all dashboard checks passed');
