// SPORE dashboard. Polls this node's GET /api/cluster/members every second and redraws without
// reloading; membership changes it observes go to the events log through ingest(), and so do the
// cluster events of GET /api/cluster/events/stream (SSE, docs/events.md). Actions (upload, restart,
// publish, forget) go to the node that served the page; a fleet update also to the peers it lists
// (docs/dashboard.md). The token is kept in sessionStorage (this tab) and never leaves the browser:
// actions carry a one-use request proof (docs/security.md), after the node proved it holds the same token.
'use strict';
const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;
const TOKEN_KEY = 'spore.apiToken';
let members = [];       // last members list, this node first
let known = new Map();  // key -> {status, version} last seen, for change events
let selected = null;    // key of the node in the detail panel
let firstPoll = true;
const peeks = new Map();  // nodeId -> {at, inc, digest, s}: that node's own GET /api/node/status, read at `at`
const PEEK_MS = 10000;

// ---- SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) on Uint8Arrays. Hand-written because
// browsers give crypto.subtle only to secure contexts (https, localhost), and a node's page is
// plain HTTP on a LAN address. Round constants: first 32 bits of the fractional parts of the cube
// roots (K) and square roots (H0) of the first primes, as the standard defines them.
const PRIMES = [];
for (let n = 2; PRIMES.length < 64; n++) if (PRIMES.every((p) => n % p)) PRIMES.push(n);
const frac32 = (x) => ((x - Math.floor(x)) * 4294967296) >>> 0;
const K = PRIMES.map((p) => frac32(Math.cbrt(p)));
const H0 = PRIMES.slice(0, 8).map((p) => frac32(Math.sqrt(p)));
function sha256(bytes) {
  const n = bytes.length, padded = new Uint8Array(((n + 72) >> 6) << 6);
  padded.set(bytes);
  padded[n] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(n / 536870912));
  view.setUint32(padded.length - 4, n << 3);
  const h = H0.slice(), w = new Uint32Array(64);
  const rotr = (x, r) => (x >>> r) | (x << (32 - r));
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 64; i++) {
      if (i < 16) { w[i] = view.getUint32(off + 4 * i); continue; }
      const a = w[i - 15], b = w[i - 2];
      w[i] = (rotr(a, 7) ^ rotr(a, 18) ^ (a >>> 3)) + (rotr(b, 17) ^ rotr(b, 19) ^ (b >>> 10)) + w[i - 7] + w[i - 16];
    }
    let [a, b, c, d, e, f, g, k] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
      const t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      k = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
    }
    [a, b, c, d, e, f, g, k].forEach((v, i) => { h[i] = (h[i] + v) >>> 0; });
  }
  const out = new Uint8Array(32);
  h.forEach((v, i) => new DataView(out.buffer).setUint32(4 * i, v));
  return out;
}
function hmac(key, msg) {
  if (key.length > 64) key = sha256(key);
  const pad = (x) => { const p = new Uint8Array(64).fill(x); key.forEach((b, i) => { p[i] ^= b; }); return p; };
  const cat = (a, b) => { const r = new Uint8Array(a.length + b.length); r.set(a); r.set(b, a.length); return r; };
  return sha256(cat(pad(0x5c), sha256(cat(pad(0x36), msg))));
}
const utf8 = (s) => new TextEncoder().encode(s);
const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

// The Authorization header for METHOD PATH with a body hashing to `sha` (hex): asks the node for a
// nonce, checks that it proves it holds the saved token, answers with a one-use proof
// (core/spore/auth/request_auth.h has the byte format). PATH is one of the fixed ASCII paths below,
// already in canonical form. '' when no token is saved or the node has none; throws when the node
// cannot prove it holds the saved token (nothing is sent then).
// `origin` '' is this page's node, else another node's http://ip:port.
async function authorization(method, path, sha, origin = '') {
  if (sessionStorage.getItem(TOKEN_KEY) === null) {  // asked once per tab
    sessionStorage.setItem(TOKEN_KEY, (prompt('API token of this node (kept in this tab only)') || '').trim());
    $('token').value = token();
  }
  const t = token();
  if (!t) return '';
  const mine = hex(crypto.getRandomValues(new Uint8Array(16)));
  const res = await fetch(origin + '/api/node/challenge?client_nonce=' + mine, {cache: 'no-store'});
  // A busy node (503) or an old one (404) is an error, never "no token": nothing is sent then.
  if (!res.ok) throw new Error('The node did not give a challenge: ' + await why(res));
  const c = await res.json();
  if (c.auth === 'none') return '';
  if (c.auth !== 'proof') throw new Error('The node answered its challenge without a nonce.');
  const id = (c.nodeId >>> 0).toString(16).padStart(8, '0');
  // The node signs the address it was reached at: on a page opened by IP it must be this one.
  const at = new URL(origin || location.href);
  if (/^\d+\.\d+\.\d+\.\d+$/.test(at.hostname) && c.address !== at.hostname + ':' + (at.port || '80')) {
    throw new Error('The node answered for another address (' + c.address + '); nothing was sent.');
  }
  if (c.proof !== hex(hmac(utf8(t), utf8('SPORE-NODE-PROOF\n' + id + '\n' + c.nonce + '\n' + mine + '\n' + c.address)))) {
    throw new Error('Wrong API token: this node could not prove it holds the token saved here. Enter the node\'s API token above and save it.');
  }
  const text = 'SPORE-HMAC-SHA256\n' + method + '\n' + path + '\n' + id + '\n' + c.nonce + '\n' + sha;
  return 'Spore nonce=' + c.nonce + ', sha256=' + sha + ', proof=' + hex(hmac(utf8(t), utf8(text)));
}
window.sporeCrypto = {sha256, hmac, utf8, hex};  // for the browser test's known-answer checks

const key = (m) => m.hostname + '@' + m.ip;
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
const token = () => sessionStorage.getItem(TOKEN_KEY) || '';
const base = (m) => 'http://' + m.ip + ':' + (m.httpPort || 80);

function ago(ms) {
  const s = Math.round(ms / 1000);
  if (s < 60) return s + ' s ago';
  if (s < 3600) return Math.round(s / 60) + ' min ago';
  return Math.round(s / 3600) + ' h ago';
}
// The one unit rule (docs/api.md), as the CLI's format_bytes(): "N B" below 1024, else the largest
// of KiB..TiB whose value is >= 1, one decimal rounded half up (integer tenths, not toFixed()).
function formatBytes(bytes) {
  if (bytes == null) return '';
  if (bytes < 1024) return bytes + ' B';
  let unit = 0, size = 1024;
  while (unit < 3 && bytes >= size * 1024) { size *= 1024; unit++; }
  const tenths = Math.floor(bytes / size) * 10 + Math.floor(((bytes % size) * 10 + size / 2) / size);
  return Math.floor(tenths / 10) + '.' + (tenths % 10) + ' ' + ['KiB', 'MiB', 'GiB', 'TiB'][unit];
}
window.sporeBytes = formatBytes;  // for the browser test's unit checks
function dur(ms) {
  if (ms == null) return '';
  const s = Math.floor(ms / 1000), d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  return d ? d + ' d ' + h + ' h' : h ? h + ' h ' + m + ' min' : m ? m + ' min ' + (s % 60) + ' s' : s + ' s';
}

function message(text, ok) {
  const el = $('msg');
  el.textContent = text;
  el.className = ok ? 'ok' : '';
  el.hidden = !text;
}

// An answer the API refused: 401 means the token, anything else carries {"error", "code"}.
async function why(res) {
  if (res.status === 401 || res.status === 403) {
    let code = '';
    try { code = (await res.clone().json()).code || ''; } catch (e) { /* not JSON */ }
    if (code === 'auth_stale') return 'The node refused a stale request proof (it restarted?); try again.';
    return 'Wrong API token: this node refused it (HTTP ' + res.status + '). Enter the node\'s API token above and save it.';
  }
  try { return (await res.json()).error || 'HTTP ' + res.status; } catch (e) { return 'HTTP ' + res.status; }
}

// ---- events log: ingest({time, text}) from the poller and from the cluster event stream ----
function ingest(ev) {
  const li = document.createElement('li');
  li.textContent = new Date(ev.time || Date.now()).toLocaleTimeString() + '  ' + ev.text;
  const list = $('events');
  list.insertBefore(li, list.firstChild);
  while (list.children.length > 200) list.removeChild(list.lastChild);
}

// The stream is read with fetch (an EventSource's onmessage would do too: events are unnamed, the
// topic is in the data; fetch lets a 503 set the retry delay). Membership
// (node_*) is already in the log from the poller; everything else is shown as it arrives.
async function stream() {
  let wait = 2000;
  try {
    const res = await fetch('/api/cluster/events/stream', {cache: 'no-store'});
    if (res.status === 503) wait = 15000;  // every stream slot taken (other tabs): look again later
    if (res.ok && res.body) {
      const reader = res.body.getReader(), dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buf += dec.decode(value, {stream: true}).replace(/\r\n?/g, '\n');
        let end;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const lines = buf.slice(0, end).split('\n'), field = (f) => lines.filter((l) => l.startsWith(f + ':')).map((l) => l.slice(f.length + 1).trim());
          const data = field('data').join('\n');
          buf = buf.slice(end + 2);
          if (!data) continue;
          const e = JSON.parse(data);
          e.topic = e.topic || field('event')[0] || '';  // the topic is in the data; an older node also names it in `event:`
          if (!e.topic.startsWith('node_')) ingest({text: (e.hostname || e.nodeId) + ': ' + e.topic + (e.data ? ' ' + e.data : '')});
        }
      }
    }
  } catch (e) { /* the node restarted or the network dropped: retry below */ }
  setTimeout(stream, wait);
}

// What the members list lacks (a peer's version, uptime, WiFi signal) each node says in its own
// public GET /api/node/status: read every PEEK_MS and whenever it restarted or changed image.
const peek = (m) => { const p = peeks.get(m.nodeId); return p && p.s && p.inc === m.incarnation && p.digest === m.imageDigest ? p : null; };
function version(m) {
  if (m.self) return m.firmwareVersion || '';
  const p = peek(m);
  return (p && p.s.firmwareVersion) || (m.imageDigest ? '#' + m.imageDigest : '');
}
const uptime = (m) => { const p = peek(m); return p && m.status === 'ACTIVE' && p.s.uptimeMs != null ? p.s.uptimeMs + Date.now() - p.at : null; };
function fetchStatus(m) {
  const p = peeks.get(m.nodeId);
  if (m.status !== 'ACTIVE' || (p && (!p.s || (peek(m) && Date.now() - p.at < PEEK_MS)))) return;
  const entry = {at: Date.now(), inc: m.incarnation, digest: m.imageDigest, s: null};
  peeks.set(m.nodeId, entry);
  fetch((m.self ? '' : base(m)) + '/api/node/status', {cache: 'no-store'})
    .then((r) => r.json())
    .then((s) => { entry.s = s; entry.at = Date.now(); })
    .catch(() => peeks.delete(m.nodeId));
}

function observe(list) {
  const seen = new Set();
  for (const m of list) {
    const k = key(m), v = version(m), was = known.get(k);
    seen.add(k);
    if (!firstPoll) {
      if (!was) ingest({text: m.hostname + ' (' + m.ip + ') joined, ' + m.status});
      else if (was.status !== m.status) ingest({text: m.hostname + ' is ' + m.status + ' (was ' + was.status + ')'});
      if (was && was.version && v && was.version !== v && v.charAt(0) !== '#') ingest({text: m.hostname + ' runs firmware ' + v + ' (was ' + was.version + ')'});
    }
    known.set(k, {status: m.status, version: v && v.charAt(0) !== '#' ? v : (was && was.version) || ''});
  }
  for (const k of known.keys()) {
    if (!seen.has(k)) { ingest({text: k.split('@')[0] + ' is no longer listed'}); known.delete(k); }
  }
  if (firstPoll) ingest({text: 'watching ' + list.length + ' node(s) from ' + (list[0] ? list[0].hostname : '?')});
  firstPoll = false;
}

// Each cell carries its column's name (data-l): on a phone a row is a card with labelled cells.
const td = (label, html, cls) => '<td data-l="' + label + '"' + (cls ? ' class="' + cls + '"' : '') + '>' + html + '</td>';
function render() {
  const rows = members.map((m) => {
    const k = key(m);
    return '<tr data-k="' + esc(k) + '"' + (k === selected ? ' class="sel"' : '') + '>' +
      td('Status', esc(m.status) + (m.left ? ' (left)' : ''), 'st ' + esc(m.status)) +
      td('Hostname', esc(m.hostname) + (m.self ? ' <small>(this node)</small>' : '')) +
      td('Uptime', dur(uptime(m))) + td('IP', esc(m.ip)) + td('Last seen', ago(m.lastSeenAgoMs || 0)) +
      td('Latency', m.latency >= 0 ? m.latency + ' ms' : '&ndash;') +
      td('Free memory', formatBytes(m.resources && m.resources.freeHeap)) + td('Firmware', esc(version(m))) + '</tr>';
  });
  $('members').tBodies[0].innerHTML = rows.join('');
  const n = (s) => members.filter((m) => m.status === s).length;
  $('summary').textContent = members.length + ' nodes: ' + n('ACTIVE') + ' active, ' + n('INACTIVE') + ' inactive, ' + n('DEAD') + ' dead';
  renderDetail();
}

function renderDetail() {
  const m = members.find((x) => key(x) === selected);
  $('detail').hidden = !m;
  if (!m) return;
  const r = m.resources || {}, p = peek(m), rssi = p && p.s.wifiRssiDbm;
  $('d-name').textContent = m.hostname;
  // One id: the node id; the chip id only where it differs. WiFi only where the node reports it.
  const info = [['Status', m.status], ['Address', m.ip + ':' + m.httpPort], ['Node id', m.nodeId],
    r.chipId !== m.nodeId && ['Chip id', r.chipId], ['Uptime', dur(uptime(m))], rssi != null && ['WiFi', rssi + ' dBm'],
    ['Incarnation', m.incarnation], ['Firmware', version(m)], ['Image', m.imageDigest], ['Free memory', formatBytes(r.freeHeap)],
    ['SDK', r.sdkVersion], ['CPU', r.cpuFreqMHz + ' MHz'], ['Flash', formatBytes(r.flashChipSize)]].filter(Boolean);
  $('d-info').innerHTML = info.map((p) => '<dt>' + p[0] + '</dt><dd>' + esc(p[1] == null ? '' : p[1]) + '</dd>').join('');
  $('forget').hidden = m.self || m.status !== 'DEAD';
  // The service registry: GET endpoints open in the browser, the others are listed.
  $('d-api').innerHTML = (m.api || []).map((a) => a.method === 'GET'
    ? '<li><a href="' + esc(base(m) + a.uri) + '" target="_blank">GET ' + esc(a.uri) + '</a></li>'
    : '<li>' + esc(a.method + ' ' + a.uri) + '</li>').join('');
  $('d-actions').hidden = !m.self;
  $('d-remote').innerHTML = m.self ? '' : '<p>Update or restart this node from <a href="' + esc(base(m)) + '/">its own dashboard</a>.</p>';
}

async function poll() {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 3000);
  try {
    const res = await fetch('/api/cluster/members', {cache: 'no-store', signal: ctl.signal});
    if (!res.ok) throw new Error(await why(res));
    members = (await res.json()).members || [];
    if (members[0]) { $('node').textContent = members[0].hostname; $('up').textContent = dur(uptime(members[0])); }
    members.forEach(fetchStatus);
    observe(members);
    roster();
    if (!members.some((m) => key(m) === selected) && members[0]) selected = key(members[0]);  // none yet, or it was forgotten
    if ($('members').classList.contains('stale')) { $('members').classList.remove('stale'); message(''); }
    render();
  } catch (e) {
    $('members').classList.add('stale');
    message('This node does not answer (' + (e.name === 'AbortError' ? 'timeout' : e.message) + '); retrying every second.');
  } finally {
    clearTimeout(timer);
    setTimeout(poll, POLL_MS);
  }
}

// This node's "clusterAuth" (docs/security.md "Keys"), read once: open mode gets a warning badge.
fetch('/api/node/status', {cache: 'no-store'}).then((r) => r.json()).then((s) => {
  if (!s.clusterAuth) return;  // a node from before issue 20
  const open = s.clusterAuth !== 'keyed', b = $('cauth');
  b.textContent = open ? 'OPEN cluster: no key' : 'keyed';
  b.title = open ? 'No cluster key: anyone on this network can forge members and events (docs/security.md "Keys")'
    : 'Cluster datagrams carry a tag made with the cluster key';
  b.classList.toggle('warn', open);
  b.hidden = false;
}).catch(() => {});

$('members').addEventListener('click', (e) => {
  const tr = e.target.closest('tr[data-k]');
  if (tr) { selected = tr.dataset.k; render(); }
});

$('auth').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
  message('API token kept in this tab.', true);
});

// A protected request to this node with a request proof over `body`; `done` is logged on success.
async function act(method, path, body, done) {
  try {
    const auth = await authorization(method, path, hex(sha256(utf8(body))));
    const res = await fetch(path, {method, body: body || undefined, headers: auth ? {Authorization: auth} : {}});
    if (!res.ok) { message(await why(res)); return; }
    message(done, true);
    ingest({text: done});
  } catch (e) { message(/^(Wrong API token|The node)/.test(e.message) ? e.message : method + ' ' + path + ' failed: ' + e.message); }
}

$('restart').addEventListener('click', () => {
  const n = $('node').textContent;
  if (confirm('Restart ' + n + '? It leaves the cluster and comes back in a few seconds.')) act('POST', '/api/node/restart', '', n + ': restart requested');
});
$('forget').addEventListener('click', () => {
  const m = members.find((x) => key(x) === selected);
  if (m && confirm('Forget ' + m.hostname + ' (DEAD) on this node now?')) act('DELETE', '/api/cluster/members/' + m.nodeId, '', m.hostname + ' forgotten');
});
$('publish').addEventListener('submit', (e) => {
  e.preventDefault();
  const t = $('topic').value.trim();
  act('POST', '/api/cluster/events?topic=' + encodeURIComponent(t), $('data').value, 'published ' + t);
});

$('upload').addEventListener('submit', async (e) => {
  e.preventDefault();
  const file = $('file').files[0];
  if (!file) { message('Choose a firmware image first.'); return; }
  const show = (pct, text) => { $('bar').style.width = pct + '%'; $('progress').textContent = text; };
  let auth;
  try {
    // The proof covers the image file's SHA-256; the node checks it when the upload ends.
    auth = await authorization('POST', '/api/node/update', hex(sha256(new Uint8Array(await file.arrayBuffer()))));
  } catch (err) { message(err.message); return; }
  show(0, 'Uploading: 0 %');
  const xhr = await send('', auth, file, (p) => show(p, 'Uploading: ' + p + ' %'));
  if (xhr.status === 200) {
    show(100, 'Uploaded: 100 %, installed; the node restarts with the new firmware.');
    message('Firmware installed on ' + $('node').textContent + '; it is restarting.', true);
    ingest({text: $('node').textContent + ': firmware ' + file.name + ' installed, restarting'});
  } else {
    show(0, xhr.status ? 'Upload refused.' : 'Upload failed: the connection broke.');
    message(xhr.status ? await why(new Response(xhr.responseText, {status: xhr.status})) : 'Upload failed: the node closed the connection.');
  }
});

// POST origin/api/node/update (multipart field "firmware"), progress in % to onpct; resolves with
// the XMLHttpRequest when it ends (status 0: the connection broke or the browser refused it).
function send(origin, auth, file, onpct) {
  return new Promise((done) => {
    const form = new FormData(), xhr = new XMLHttpRequest();
    form.append('firmware', file, file.name);
    xhr.open('POST', origin + '/api/node/update');
    if (auth) xhr.setRequestHeader('Authorization', auth);
    xhr.upload.onprogress = (ev) => { if (ev.lengthComputable) onpct(Math.floor(ev.loaded * 100 / ev.total)); };
    xhr.onload = xhr.onerror = () => done(xhr);
    xhr.send(form);
  });
}

// ---- fleet update: the rules of `spore ota all` (apps/spore/rollout_logic.h, docs/ota.md) ----
// The chosen members that are not DEAD, by hostname (natural order), this node last (it keeps
// watching the others). First every one of them must prove it holds the token saved here: one that
// cannot is sent nothing and left out (the rollout then counts as failed). Then a canary wave,
// then waves of at most `wave`; a node counts as updated when this node lists it ACTIVE again with
// a new incarnation and the image's digest; the first failure stops the rollout (the nodes not
// reached keep their image).
let rolling = false;
const unpicked = new Set();
function roster() {
  if (rolling) return;
  const ids = members.filter((m) => m.status !== 'DEAD');
  const sig = ids.map((m) => m.nodeId + m.hostname).join();
  if ($('rnodes').dataset.sig === sig) return;
  $('rnodes').dataset.sig = sig;
  $('rnodes').innerHTML = ids.map((m) => '<li><label><input type="checkbox" value="' + m.nodeId + '"' +
    (unpicked.has(String(m.nodeId)) ? '' : ' checked') + '> ' + esc(m.hostname) + '</label> <span id="r' + m.nodeId + '"></span></li>').join('');
}
$('rnodes').addEventListener('change', (e) => { (e.target.checked ? unpicked.delete(e.target.value) : unpicked.add(e.target.value)); });
const note = (m, text) => { const el = $('r' + m.nodeId); if (el) el.textContent = text; };

async function updateOne(m, file, sha) {
  if (m.imageDigest === sha.slice(0, 8)) { note(m, 'up to date'); return true; }
  const origin = m.self ? '' : base(m), t0 = Date.now();
  try {
    const auth = await authorization('POST', '/api/node/update', sha, origin);
    const xhr = await send(origin, auth, file, (p) => note(m, 'uploading ' + p + ' %'));
    if (xhr.status !== 200) throw new Error(xhr.status ? await why(new Response(xhr.responseText, {status: xhr.status})) : 'the upload did not go through');
  } catch (e) { note(m, 'failed: ' + e.message); return false; }
  note(m, 'installed, waiting for it to come back');
  while (Date.now() - t0 < 90000) {
    await new Promise((r) => setTimeout(r, 500));
    const now = members.find((x) => x.nodeId === m.nodeId);
    if (now && now.status === 'ACTIVE' && now.incarnation !== m.incarnation && now.imageDigest === sha.slice(0, 8)) {
      note(m, 'updated in ' + Math.round((Date.now() - t0) / 1000) + ' s');
      return true;
    }
  }
  note(m, 'failed: not back ACTIVE with the new image within 90 s');
  return false;
}

$('roll').addEventListener('submit', async (e) => {
  e.preventDefault();
  const file = $('rfile').files[0];
  if (!file || rolling) { message(rolling ? 'A fleet update is running.' : 'Choose a firmware image first.'); return; }
  const chosen = members.filter((m) => m.status !== 'DEAD' && !unpicked.has(String(m.nodeId)))
    .sort((a, b) => (!!a.self - !!b.self) || a.hostname.localeCompare(b.hostname, undefined, {numeric: true}));
  const canary = Math.max(0, +$('canary').value | 0), wave = Math.max(1, +$('wave').value | 0);
  rolling = true;
  const sha = hex(sha256(new Uint8Array(await file.arrayBuffer())));
  chosen.forEach((m) => note(m, 'checking its proof of the token'));
  const refused = await Promise.all(chosen.map((m) => authorization('GET', '/', sha, m.self ? '' : base(m)).then(() => '', (e) => e.message)));
  const go = chosen.filter((m, i) => (refused[i] ? note(m, 'not sent (unverified): ' + refused[i]) : note(m, 'waiting'), !refused[i]));
  let at = 0, ok = true;
  for (let n = Math.min(canary, go.length) || Math.min(wave, go.length); ok && at < go.length; n = Math.min(wave, go.length - at)) {
    const results = await Promise.all(go.slice(at, at + n).map((m) => updateOne(m, file, sha)));
    at += n;
    ok = results.every(Boolean);
  }
  go.slice(at).forEach((m) => note(m, 'not reached'));
  const done = ok && go.length === chosen.length;
  message(done ? 'Fleet update done: ' + chosen.length + ' node(s).' : ok ? 'Fleet update done, but not every node could be sent the image.'
    : 'Fleet update stopped at the first failure; the nodes not reached keep their image.', done);
  ingest({text: 'fleet update of ' + file.name + (done ? ' done' : ok ? ' done in part' : ' stopped')});
  rolling = false;
});

$('token').value = token();
poll();
stream();
