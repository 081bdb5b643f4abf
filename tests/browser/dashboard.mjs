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

  // Every Authorization header the page sends, to replay them later as an attacker would.
  const sentAuth = [];
  page.on('request', (r) => {
    const a = r.headers().authorization;
    if (a) sentAuth.push({ url: r.url(), method: r.method(), auth: a });
  });

  // The page runs under its own Content-Security-Policy (tools/embed_asset.py: its inline script
  // and style by hash): every check below would fail if the policy blocked them, and a violation
  // report on the console fails the test outright.
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) { console.error(`CSP violation: ${m.text()}`); failed = true; }
  });
  const response = await page.goto(url, { waitUntil: 'load' });
  const headers = response.headers();
  const csp = headers['content-security-policy'] || '';
  if (!/script-src 'sha256-[A-Za-z0-9+/=]+'/.test(csp) || !/frame-ancestors 'none'/.test(csp)) {
    throw new Error(`the dashboard's Content-Security-Policy is missing or loose: '${csp}'`);
  }
  if (headers['x-frame-options'] !== 'DENY' || headers['x-content-type-options'] !== 'nosniff') {
    throw new Error(`the dashboard lacks X-Frame-Options: DENY or nosniff: ${JSON.stringify(headers)}`);
  }
  log('ok: served with its Content-Security-Policy, X-Frame-Options: DENY and nosniff');

  // The page's own SHA-256 / HMAC-SHA256 (no crypto.subtle on plain http) against published
  // vectors (FIPS 180-4, RFC 4231 case 2) and the node's request-proof known answer
  // (tests/unit/request_auth_test.cpp, KnownAnswers), so the browser and the node agree byte for byte.
  const kat = await page.evaluate(() => {
    const { sha256, hmac, utf8, hex } = window.sporeCrypto;
    const nonce = hex(Uint8Array.from({ length: 20 }, (_, i) => i));
    return {
      abc: hex(sha256(utf8('abc'))),
      long: hex(sha256(utf8('a'.repeat(1000)))),
      rfc4231: hex(hmac(utf8('Jefe'), utf8('what do ya want for nothing?'))),
      longKey: hex(hmac(new Uint8Array(131).fill(0xaa), utf8('Test Using Larger Than Block-Size Key - Hash Key First'))),
      restart: hex(hmac(utf8('3f9c2b7e0d4a41c6a5e8b1f2c3d4e5f6'), utf8('SPORE-HMAC-SHA256\nPOST\n/api/node/restart\n0a1b2c3d\n' +
        nonce + '\n' + hex(sha256(new Uint8Array(0)))))),
    };
  });
  const want = {
    abc: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    long: '41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3',
    rfc4231: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    longKey: '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
    restart: '399fad79552249ce4645fc732da4a6b830b7c76f64a624dae59d80b3e63a354b',
  };
  for (const k of Object.keys(want)) {
    if (kat[k] !== want[k]) throw new Error(`dashboard crypto ${k}: got ${kat[k]}, want ${want[k]}`);
  }
  log('ok: the page\'s SHA-256 and HMAC-SHA256 match FIPS 180-4, RFC 4231 and the node\'s proof vector');
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
      / s ago$/.test(tr.cells[3].textContent) && / (B|[KMGT]iB)$/.test(tr.cells[5].textContent) &&
      tr.cells[6].textContent !== '' && !tr.cells[6].textContent.startsWith('#')));
  await waitFor('the detail panel lists the API as links', () =>
    [...document.querySelectorAll('#d-api a')].some((a) => a.textContent === 'GET /api/node/status'));
  // The test's nodes run without a cluster key: the header warns (docs/security.md "Keys").
  await waitFor('an OPEN-mode warning badge in the header', () => {
    const b = document.getElementById('cauth');
    return !b.hidden && b.textContent === 'OPEN cluster: no key' && b.classList.contains('warn');
  });
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

  // 2. A wrong token: the node cannot prove it holds it, so the page sends nothing and says so; the node stays.
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
  if (sentAuth.some((s) => s.url.endsWith('/api/node/restart'))) {
    throw new Error('the page sent a restart request with a token the node could not prove it holds');
  }

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

  // 5. What the page sent for the upload is a one-use proof, not the token: replayed (as someone
  // who captured it on the LAN would), it is refused and nothing changes.
  const upload = sentAuth.find((s) => s.url.endsWith('/api/node/update'));
  if (!upload || !upload.auth.startsWith('Spore ')) throw new Error(`the upload carried no request proof: ${JSON.stringify(upload)}`);
  if (upload.auth.includes(token)) throw new Error('the upload request carried the token itself');
  const statusBefore = await (await fetch(new URL('/api/node/status', url))).json();
  const replay = await fetch(new URL('/api/node/update', url), {
    method: 'POST', headers: { Authorization: upload.auth, 'Content-Type': 'application/octet-stream' }, body: 'x',
  });
  const replayBody = await replay.json();
  if (replay.status !== 401 || replayBody.code !== 'auth_stale') {
    throw new Error(`a replayed upload proof answered ${replay.status} ${JSON.stringify(replayBody)}`);
  }
  const statusAfter = await (await fetch(new URL('/api/node/status', url))).json();
  if (statusAfter.incarnation !== statusBefore.incarnation || statusAfter.imageSha256 !== statusBefore.imageSha256) {
    throw new Error('the replay changed node 1');
  }
  log('ok: the upload carried a request proof, and its replay was refused (401 auth_stale)');
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
