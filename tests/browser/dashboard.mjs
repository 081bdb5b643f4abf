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
//   IMAGE2         a second image for node 1 (version FLEET_VERSION), for the fleet update
//   BAD_IMAGE      a file that is no image, for a fleet update whose canary fails
//   FLEET_VERSION  the version node 1 must come back with after the fleet update
//   SCREENSHOT     optional: where to save a PNG of the live cluster (3 ACTIVE) at desktop size;
//                  the phone-sized one (390 px, dark) goes beside it as NAME-phone.png
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
const image2 = env('IMAGE2');
const badImage = env('BAD_IMAGE');
const fleetVersion = env('FLEET_VERSION');
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

  // 1. Three ACTIVE nodes, with their details filled in. Columns: status, hostname, uptime, IP,
  // last seen, latency, free memory, firmware.
  await waitFor('the members table shows 3 ACTIVE nodes', () =>
    document.querySelectorAll('#members tbody td.st.ACTIVE').length === 3);
  await waitFor('every row has an uptime, a last-seen age, free memory (B/KiB/MiB/GiB/TiB) and firmware version', () =>
    [...document.querySelectorAll('#members tbody tr')].every((tr) =>
      /^\d+ (s|min \d+ s)$/.test(tr.cells[2].textContent) &&
      / s ago$/.test(tr.cells[4].textContent) && /^\d+(\.\d)? (B|[KMGT]iB)$/.test(tr.cells[6].textContent) &&
      tr.cells[7].textContent !== '' && !tr.cells[7].textContent.startsWith('#')));
  await waitFor('the header shows this node\'s uptime', () => /^\d+ (s|min \d+ s)$/.test(document.getElementById('up').textContent));
  await waitFor('the detail panel lists the API as links', () =>
    [...document.querySelectorAll('#d-api a')].some((a) => a.textContent === 'GET /api/node/status'));
  // One id: the node id, and the chip id only where it differs (spored's chip id is its node id).
  const ids = await page.evaluate(() => [...document.querySelectorAll('#d-info dt')].map((dt) => dt.textContent));
  if (!ids.includes('Node id') || ids.includes('Chip id') || !ids.includes('Uptime') || ids.includes('WiFi')) {
    throw new Error(`the detail panel shows ${JSON.stringify(ids)}: want Node id and Uptime, no Chip id equal to it, no WiFi on Linux`);
  }
  // The unit rule (as the CLI's): under 1024 "N B", else the largest unit whose value is >= 1.
  const units = await page.evaluate(() => [0, 1023, 1024, 1536, 1048576, 5 * 2 ** 30, 3 * 2 ** 40, 2 ** 52].map(window.sporeBytes));
  const wantUnits = ['0 B', '1023 B', '1.0 KiB', '1.5 KiB', '1.0 MiB', '5.0 GiB', '3.0 TiB', '4096.0 TiB'];
  if (JSON.stringify(units) !== JSON.stringify(wantUnits)) throw new Error(`memory units ${JSON.stringify(units)}, want ${JSON.stringify(wantUnits)}`);
  // On a desktop screen the events log is beside the members, visible without scrolling.
  const evBox = await page.evaluate(() => { const r = document.getElementById('events').getBoundingClientRect(); return [r.left, r.top]; });
  if (evBox[0] < 600 || evBox[1] > 300) throw new Error(`the events log is at x ${evBox[0]}, y ${evBox[1]}: not beside the members`);
  log('ok: one id, uptime, memory units; the events log beside the members on a desktop screen');
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

  // Publish from the page (token kept in sessionStorage, sent as a request proof, never in a URL);
  // the event comes back through the SSE stream into the log.
  await page.fill('#token', token);
  await page.click('#auth button');
  await page.fill('#topic', 'doorbell');
  await page.fill('#data', 'ring');
  await page.click('#publish button');
  await waitFor('the events log shows the event published from the page', () =>
    [...document.querySelectorAll('#events li')].some((li) => /n1: doorbell ring$/.test(li.textContent)));
  const pub = sentAuth.find((s) => s.url.includes('/api/cluster/events'));
  if (!pub || !pub.auth.startsWith('Spore ') || pub.auth.includes(token) || pub.url.includes(token)) {
    throw new Error(`the publish did not carry a request proof: ${JSON.stringify(pub)}`);
  }
  const kept = await page.evaluate(() => [sessionStorage.getItem('spore.apiToken'), localStorage.getItem('spore.apiToken')]);
  if (kept[0] !== token || kept[1] !== null) throw new Error(`token kept as ${JSON.stringify(kept)}: want sessionStorage only`);

  // On a phone (390 px): nothing pushes the page sideways, each member is a card, and the first
  // one's status, name and uptime are in the first viewport. Dark by prefers-color-scheme.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.emulateMedia({ colorScheme: 'dark' });
  const phone = await page.evaluate(() => {
    const cells = [...document.querySelector('#members tbody tr').cells].slice(0, 3);
    const bg = getComputedStyle(document.body).backgroundColor.match(/\d+/g).map(Number);
    return {
      width: document.documentElement.scrollWidth, bg,
      first: cells.map((c) => { const r = c.getBoundingClientRect(); return { text: c.textContent, right: r.right, bottom: r.bottom }; }),
    };
  });
  if (phone.width > 390) throw new Error(`at 390 px the page is ${phone.width} px wide`);
  for (const c of phone.first) {
    if (!c.text || c.right > 390 || c.bottom > 844) throw new Error(`at 390 px a first-row cell is out of view: ${JSON.stringify(phone.first)}`);
  }
  if (phone.bg[0] + phone.bg[1] + phone.bg[2] > 150) throw new Error(`dark mode: body background is rgb(${phone.bg})`);
  if (process.env.SCREENSHOT) {
    const phoneShot = process.env.SCREENSHOT.replace(/\.png$/, '-phone.png');
    await page.screenshot({ path: phoneShot });
    log(`screenshot saved to ${phoneShot}`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  const lightBg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  if (lightBg !== 'rgb(244, 245, 247)') throw new Error(`light mode: body background is ${lightBg}`);
  await page.setViewportSize({ width: 1200, height: 900 });
  log(`ok: at 390 px status, name and uptime in view (${phone.first.map((c) => c.text).join(' | ')}); dark and light schemes`);

  // 2. A wrong token: the node cannot prove it holds it, so the page sends nothing and says so; the node stays.
  const incarnation = () => page.evaluate(async () => (await (await fetch('/api/node/status')).json()).incarnation);
  const before = await incarnation();
  await page.fill('#token', 'not-the-token');
  await page.click('#auth button');
  await page.click('#restart');
  await waitFor('a wrong token shows a clear error', () =>
    /Wrong API token/.test(document.getElementById('msg').textContent) && !document.getElementById('msg').hidden);
  if (!dialogs.some((m) => m.startsWith('Restart '))) throw new Error('restart did not ask for confirmation');
  const stored = await page.evaluate(() => sessionStorage.getItem('spore.apiToken'));
  if (stored !== 'not-the-token') throw new Error(`token not kept in sessionStorage (got ${stored})`);
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

  // 3b. Once DEAD, n3 can be forgotten from its detail panel (DELETE /api/cluster/members/{nodeId}).
  await page.fill('#token', token);
  await page.click('#auth button');
  const n3row = 'tr:has(td:nth-child(2):text-is("n3"))';
  await waitFor('n3 turns DEAD', () => [...document.querySelectorAll('#members tbody tr')].some((tr) =>
    tr.cells[1].textContent === 'n3' && tr.cells[0].textContent.startsWith('DEAD')), undefined, 45000);
  await page.click(`#members ${n3row}`);
  await page.click('#forget');
  if (!dialogs.some((m) => m.startsWith('Forget n3'))) throw new Error('forget did not ask for confirmation');
  await waitFor('n3 is forgotten: gone from the table, and the log says so', () =>
    ![...document.querySelectorAll('#members tbody tr')].some((tr) => tr.cells[1].textContent === 'n3') &&
    [...document.querySelectorAll('#events li')].some((li) => /n3 forgotten$/.test(li.textContent)));

  // 4. Upload a new firmware with the right token: progress to 100 %, node 1 back with it.
  await page.setInputFiles('#file', image);
  await page.click('#upload button');
  await waitFor('the upload progress reaches 100 %', () => /100 %/.test(document.getElementById('progress').textContent), undefined, 60000);
  const progress = await page.evaluate(() => window.__progress);
  if (!progress.some((p) => /^Uploading: \d+ %$/.test(p))) throw new Error(`no progress shown: ${JSON.stringify(progress)}`);
  log(`progress seen: ${[...new Set(progress)].slice(0, 6).join(', ')} ... ${progress[progress.length - 1]}`);
  await waitFor(`node 1 comes back with firmware ${newVersion}`, (v) => {
    const tr = document.querySelector('#members tbody tr');
    return tr && tr.cells[7].textContent === v && tr.cells[0].textContent.startsWith('ACTIVE');
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

  // 6. Fleet update, the CLI's rules: n2 (which shares n1's token) sorts before n1, and n1, the
  // page's node, goes last, so n2 is the canary. With a file that is no image the canary fails and
  // the rollout stops there: n1 is not reached (no upload to it). Then n1 alone: progress, back.
  const rollNote = (host) => page.evaluate((h) => {
    const li = [...document.querySelectorAll('#rnodes li')].find((x) => x.querySelector('label').textContent.trim() === h);
    return li ? li.querySelector('span').textContent : null;
  }, host);
  const uploadsToN1 = () => sentAuth.filter((s) => s.url === new URL('/api/node/update', url).href).length;
  const n1Uploads = uploadsToN1();
  await waitFor('the fleet list offers n1 and n2, chosen', () => {
    const boxes = [...document.querySelectorAll('#rnodes input')];
    return boxes.length === 2 && boxes.every((b) => b.checked);
  });
  await page.setInputFiles('#rfile', badImage);
  await page.click('#roll button');
  await waitFor('the canary n2 fails and the rollout stops, n1 not reached', () => {
    const t = [...document.querySelectorAll('#rnodes span')].map((s) => s.textContent);
    return t.some((x) => x.startsWith('failed: ')) && t.includes('not reached') &&
      /stopped at the first failure/.test(document.getElementById('msg').textContent);
  });
  if (!(await rollNote('n2')).startsWith('failed: ') || await rollNote('n1') !== 'not reached') {
    throw new Error(`fleet: n2 '${await rollNote('n2')}', n1 '${await rollNote('n1')}'`);
  }
  log(`ok: n2 ${await rollNote('n2')}`);
  if (uploadsToN1() !== n1Uploads) throw new Error('the stopped rollout sent an upload to n1');
  await page.setInputFiles('#rfile', image2);
  await page.evaluate(() => {
    window.__fleet = [];
    new MutationObserver(() => window.__fleet.push(...[...document.querySelectorAll('#rnodes span')].map((x) => x.textContent)))
      .observe(document.getElementById('rnodes'), { childList: true, characterData: true, subtree: true });
  });
  await page.click('#rnodes li:has-text("n2") input');
  await page.click('#roll button');
  await waitFor(`the fleet update brings n1 back with ${fleetVersion}`, () => /^updated in \d+ s$/.test(
    [...document.querySelectorAll('#rnodes li')].find((li) => li.textContent.includes('n1')).querySelector('span').textContent), undefined, 60000);
  if (uploadsToN1() !== n1Uploads + 1) throw new Error(`the fleet update sent ${uploadsToN1() - n1Uploads} uploads to n1, want 1`);
  const fleetSeen = [...new Set(await page.evaluate(() => window.__fleet))];
  if (!fleetSeen.some((t) => /^uploading \d+ %$/.test(t))) throw new Error(`no per-node progress: ${JSON.stringify(fleetSeen)}`);
  log(`fleet progress seen: ${fleetSeen.join(', ')}`);
  await waitFor(`node 1 lists itself with ${fleetVersion}`, (v) => document.querySelector('#members tbody tr').cells[7].textContent === v, fleetVersion, 30000);
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
