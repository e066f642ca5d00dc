// Shared by the page tests and the page benchmarks: the site's server, Debian's Chromium (never a downloaded
// browser), the CLI's notes, MIDI files read back, and note comparisons.
import { spawn, execFileSync } from 'node:child_process';
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const shared = path.resolve(root, '../shared');
export const cli = path.join(root, 'target/release/pianoscribe');
export const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pianoscribe-e2e-'));
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];
export const PREFIX = '/apps/pianoscribe/'; // a sub-path, as on a shared static host

const servers = [];

// Serves www/ on a free port; resolves with the site's URL. `extra`: tools/serve.mjs flags.
export function serve(extra = []) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(root, 'tools/serve.mjs'), '--dir', path.join(root, 'www'),
      '--port', '0', '--prefix', PREFIX, ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
    servers.push(p);
    p.stdout.on('data', (d) => {
      const m = /serving .* at (\S+)/.exec(String(d));
      if (m) resolve(m[1]);
    });
    p.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

// Launches Chromium with a marker switch of its own, by which browserMemoryMb finds its processes.
export async function launch() {
  assert.ok(fs.existsSync(path.join(root, 'www/pkg/pianoscribe_bg.wasm')), 'build the site first: ./build.sh web');
  assert.ok(fs.existsSync(cli), 'build the CLI first: cargo build --release');
  const marker = `--pianoscribe-test=${process.pid}-${Math.random().toString(36).slice(2)}`;
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [...CHROMIUM_ARGS, marker] });
  browser.marker = marker;
  return browser;
}

export function stopServers() {
  for (const s of servers) s.kill();
}

// For a test file: Chromium launched before its tests (after `setup`), closed after them with the servers.
// Returns an object whose `browser` is set once launched.
export function withBrowser(setup = () => {}) {
  const shared = {};
  before(async () => {
    setup();
    shared.browser = await launch();
  });
  after(async () => {
    if (shared.browser) await shared.browser.close();
    stopServers();
  });
  return shared;
}

// The format matrix (tests/formats/encode.sh) in target/formats, made once.
export const formatsDir = path.join(root, 'target/formats');
export function encodeFormats() {
  execFileSync('bash', [path.join(root, 'tests/formats/encode.sh'), formatsDir], { stdio: 'ignore' });
}

// A fresh context with the page open and its engine ready; errors thrown in the page are collected. `init`
// runs in the page before its own scripts; `setup(context)` before the page opens (routes, say).
export async function openPage(browser, url, contextOptions = {}, init = null, setup = null) {
  const context = await browser.newContext(contextOptions);
  if (init) await context.addInitScript(init);
  if (setup) await setup(context);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForSelector('#engine-line[data-threads]', { timeout: 180_000 });
  return { context, page, errors };
}

// The O&F parity network (seeded weights, a few hundred kB) added to the page's model picker as
// 'oaf-tiny.pscb', served by the test. The context must block service workers, or the routes miss the page's
// requests.
export const tinyOaf = path.join(root, 'tests/fixtures/oaf-tiny.pscb');
export async function offerTinyOaf(context) {
  await context.route('**/models.json', async (route) => {
    const response = await route.fetch();
    const json = await response.json();
    json.models.push({ file: 'oaf-tiny.pscb', name: 'O&F parity network', family: 'onsets-frames',
      bytes: fs.statSync(tinyOaf).size, about: 'seeded weights, for tests' });
    await route.fulfill({ response, json });
  });
  await context.route('**/model/oaf-tiny.pscb*', (route) => route.fulfill({
    body: fs.readFileSync(tinyOaf), contentType: 'application/octet-stream' }));
}

// Transcribes `file` in an open page: the page's message, how it decoded the file, and the MIDI bytes (none
// when it failed).
export async function transcribeIn(page, file, { fast = false, timeout = 1_800_000 } = {}) {
  await page.setChecked('#fast', fast);
  await page.setInputFiles('#file', file);
  await page.waitForFunction(() => !document.body.dataset.busy, null, { timeout });
  const message = await page.textContent('#message');
  const how = await page.getAttribute('body', 'data-decoding');
  if (await page.isHidden('#download')) return { message, how };
  const midi = Buffer.from(await page.evaluate(async () => {
    const r = await fetch(document.getElementById('download').href);
    return Array.from(new Uint8Array(await r.arrayBuffer()));
  }));
  return { message, how, midi };
}

// The CLI's notes for a file, [[onset, offset, pitch, velocity], ...] (cached per file and flags).
const cliCache = new Map();
export function cliNotes(file, flags = []) {
  const key = [file, ...flags].join(' ');
  if (!cliCache.has(key)) {
    const out = path.join(tmp, `cli-${cliCache.size}.mid`);
    execFileSync(cli, ['transcribe', file, '-o', out, '--tsv', ...flags], { stdio: 'ignore' });
    const rows = fs.readFileSync(out.replace(/\.mid$/, '.tsv'), 'utf8').trim().split('\n').slice(1);
    cliCache.set(key, rows.map((l) => l.split('\t').map(Number)));
  }
  return cliCache.get(key);
}

// Notes of a standard MIDI file: [[onset, offset, pitch, velocity], ...] by onset (tempo map followed).
export function midiNotes(bytes) {
  const b = Buffer.from(bytes);
  const division = b.readUInt16BE(12);
  const events = []; // [tick, order, kind, a, b]
  for (let at = 14; at + 8 <= b.length;) {
    const len = b.readUInt32BE(at + 4);
    if (b.toString('latin1', at, at + 4) === 'MTrk') {
      let o = at + 8, tick = 0, status = 0;
      const vlq = () => { let v = 0, c; do { c = b[o++]; v = (v << 7) | (c & 0x7f); } while (c & 0x80); return v; };
      while (o < at + 8 + len) {
        tick += vlq();
        if (b[o] & 0x80) status = b[o++];
        if (status === 0xff) {
          const type = b[o++], n = vlq();
          if (type === 0x51) events.push([tick, 0, 'tempo', b.readUIntBE(o, 3)]);
          o += n;
        } else if (status === 0xf0 || status === 0xf7) {
          o += vlq();
        } else {
          const kind = status & 0xf0;
          const d1 = b[o++], d2 = kind === 0xc0 || kind === 0xd0 ? 0 : b[o++];
          if (kind === 0x90 && d2 > 0) events.push([tick, 2, 'on', d1, d2]);
          else if (kind === 0x80 || kind === 0x90) events.push([tick, 1, 'off', d1]);
        }
      }
    }
    at += 8 + len;
  }
  events.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let tempo = 500000, lastTick = 0, seconds = 0;
  const open = new Map(), notes = [];
  for (const [tick, , kind, a, v] of events) {
    seconds += ((tick - lastTick) * tempo) / division / 1e6;
    lastTick = tick;
    if (kind === 'tempo') tempo = a;
    else if (kind === 'on') open.set(a, [seconds, v]);
    else if (open.has(a)) { const [on, vel] = open.get(a); open.delete(a); notes.push([on, seconds, a, vel]); }
  }
  return notes.sort((x, y) => x[0] - y[0] || x[2] - y[2]);
}

// The same notes, one by one: each note of `want` has one in `got` of the same pitch and velocity whose onset and
// offset are within 1 ms of its (MIDI ticks are 0.52 ms), and there are no others.
export function assertSameNotes(label, got, want) {
  assert.equal(got.length, want.length, `${label}: ${got.length} notes, expected ${want.length}`);
  const used = new Set();
  for (const w of want) {
    const i = got.findIndex((g, j) => !used.has(j) && g[2] === w[2] && Math.abs(g[0] - w[0]) <= 1e-3);
    assert.ok(i >= 0, `${label}: no note like ${JSON.stringify(w)}`);
    used.add(i);
    const g = got[i];
    assert.ok(Math.abs(g[1] - w[1]) <= 1e-3 && g[3] === w[3], `${label}: note ${JSON.stringify(g)}, expected ${JSON.stringify(w)}`);
  }
}

// Median onset shift of `est` against `ref` (same pitch, onsets within 50 ms), and the share of `ref` matched.
export function onsetShift(ref, est) {
  const used = new Set();
  const d = [];
  for (const r of ref) {
    let best = -1;
    for (let i = 0; i < est.length; i++) {
      if (used.has(i) || est[i][2] !== r[2] || Math.abs(est[i][0] - r[0]) > 0.05) continue;
      if (best < 0 || Math.abs(est[i][0] - r[0]) < Math.abs(est[best][0] - r[0])) best = i;
    }
    if (best >= 0) { used.add(best); d.push(est[best][0] - r[0]); }
  }
  d.sort((a, b) => a - b);
  return { shift: d.length ? d[Math.floor(d.length / 2)] : NaN, matched: d.length / ref.length };
}

// Resident memory (MB) of a browser's processes together: the browser process and all its descendants.
export function browserMemoryMb(browser) {
  const children = new Map();
  let pid = null;
  for (const d of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const ppid = Number(/PPid:\s+(\d+)/.exec(fs.readFileSync(`/proc/${d}/status`, 'utf8'))[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(d));
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (cmd.includes(browser.marker) && !cmd.some((a) => a.startsWith('--type='))) pid = Number(d);
    } catch (_) { /* gone */ }
  }
  assert.ok(pid, 'the browser process was not found in /proc');
  let kb = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop();
    try { kb += Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))[1]); } catch (_) { /* gone */ }
    stack.push(...(children.get(p) || []));
  }
  assert.ok(kb > 0, 'could not read the browser\'s memory from /proc');
  return kb / 1024;
}

// A real recording looped to `minutes` as 44.1 kHz stereo MP3 (128 kbps), made once into target/page-memory.
export function loopedMp3(minutes) {
  const dir = path.join(root, 'target/page-memory');
  const out = path.join(dir, `looped-${minutes}min.mp3`);
  if (!fs.existsSync(out)) {
    fs.mkdirSync(dir, { recursive: true });
    const src = path.join(shared, 'data/maps-dev/MAPS_MUS-chpn-p19_ENSTDkCl.flac');
    execFileSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-stream_loop', '-1', '-i', src, '-t', String(minutes * 60),
      '-ar', '44100', '-ac', '2', '-c:a', 'libmp3lame', '-b:a', '128k', `${out}.part.mp3`]);
    fs.renameSync(`${out}.part.mp3`, out);
  }
  return out;
}

// Transcribes a file in an open page while reading the browser's memory every half second: the page's result
// and the peak (MB, all of the browser's processes).
export async function measuredRun(browser, page, file, options = {}) {
  let peak = browserMemoryMb(browser);
  const timer = setInterval(() => { peak = Math.max(peak, browserMemoryMb(browser)); }, 500);
  try {
    const r = await transcribeIn(page, file, options);
    return { ...r, peakMb: Math.max(peak, browserMemoryMb(browser)) };
  } finally {
    clearInterval(timer);
  }
}
