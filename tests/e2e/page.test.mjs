// End-to-end tests of the built page (www/) in headless Chromium (Debian's, driven by playwright-core):
// a real recording goes in, the MIDI download comes out and carries the native CLI's notes, from the
// relaxed-SIMD build and the plain one; with COOP/COEP the page is cross-origin isolated and threaded; without them it
// still works; Cancel stops a run and the page stays usable; no request ever leaves the
// page's origin or carries a body.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const shared = path.resolve(root, '../shared');
const audio = path.join(shared, 'data/stereo-44k/madmom_stereo_sample.wav');
const cli = path.join(root, 'target/release/pianoscribe');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pianoscribe-e2e-'));
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];
const PREFIX = '/apps/pianoscribe/'; // a sub-path, as on a shared static host

let browser;
const servers = [];

function serve(port, extra = []) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(root, 'tools/serve.mjs'), '--dir', path.join(root, 'www'),
      '--port', String(port), '--prefix', PREFIX, ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
    servers.push(p);
    p.stdout.on('data', (d) => {
      const m = /serving .* at (\S+)/.exec(String(d));
      if (m) resolve(m[1]);
    });
    p.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

before(async () => {
  assert.ok(fs.existsSync(path.join(root, 'www/pkg/pianoscribe_bg.wasm')), 'build the site first: ./build.sh web');
  assert.ok(fs.existsSync(cli), 'build the CLI first: cargo build --release');
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});

after(async () => {
  if (browser) await browser.close();
  for (const s of servers) s.kill();
});

// Transcribes the recording through the page; returns what the page showed and the requests it made.
// `offlineSecondVisit`: load once online, then go offline and load again before transcribing.
async function runPage(url, contextOptions = {}, offlineSecondVisit = false) {
  const context = await browser.newContext(contextOptions);
  const requests = [];
  context.on('request', (r) => requests.push({ url: r.url(), method: r.method(), body: r.postDataBuffer() }));
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  if (offlineSecondVisit) {
    await page.waitForSelector('#engine-line[data-threads]', { timeout: 180_000 });
    await page.evaluate(async () => { await navigator.serviceWorker.ready; });
    await context.setOffline(true);
    await page.reload();
  }
  // Ready: the engine line names its thread count (after at most one reload by the service worker).
  await page.waitForSelector('#engine-line[data-threads]', { timeout: 180_000 });
  const isolated = await page.evaluate(() => self.crossOriginIsolated);
  const threads = Number(await page.getAttribute('#engine-line', 'data-threads'));
  const simd = await page.getAttribute('#engine-line', 'data-simd');
  await page.setInputFiles('#file', audio);
  await page.waitForSelector('#download:not([hidden])', { timeout: 600_000 });
  const name = await page.getAttribute('#download', 'download');
  const midi = Buffer.from(await page.evaluate(async () => {
    const r = await fetch(document.getElementById('download').href);
    return Array.from(new Uint8Array(await r.arrayBuffer()));
  }));
  const message = await page.textContent('#message');
  await context.close();
  assert.deepEqual(errors, []);
  return { isolated, threads, simd, name, midi, message, requests, origin: new URL(url).origin };
}

// A fresh context with the page open and its engine ready; errors thrown in the page are collected.
async function openPage(url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForSelector('#engine-line[data-threads]', { timeout: 180_000 });
  return { context, page, errors };
}

function checkRequests({ requests, origin }) {
  assert.ok(requests.length > 0);
  for (const r of requests) {
    const u = new URL(r.url);
    if (u.protocol === 'blob:' || u.protocol === 'data:') continue;
    assert.equal(u.origin, origin, `request to another origin: ${r.url}`);
    assert.ok(!r.body || r.body.length === 0, `request with a body: ${r.method} ${r.url}`);
  }
}

// The page's MIDI must carry the CLI's notes (onsets within 1 ms, same pitches and velocities).
function checkAgainstCli(midi, label) {
  const pageMid = path.join(tmp, `${label}.mid`);
  fs.writeFileSync(pageMid, midi);
  const cliMid = path.join(tmp, 'cli.mid');
  if (!fs.existsSync(cliMid)) execFileSync(cli, ['transcribe', audio, '-o', cliMid], { stdio: 'ignore' });
  const json = path.join(tmp, `${label}.json`);
  execFileSync(cli, ['eval', pageMid, cliMid, '--onset-tolerance', '0.001', '--json', json], { stdio: 'ignore' });
  const s = JSON.parse(fs.readFileSync(json, 'utf8')).mean;
  assert.equal(s.note.f1, 1, `${label}: notes differ from the CLI's: ${JSON.stringify(s)}`);
  assert.equal(s.note_offset_velocity.f1, 1, `${label}: offsets or velocities differ from the CLI's: ${JSON.stringify(s)}`);
}

test('with COOP/COEP the page is isolated, threaded, and gives the CLI notes', { timeout: 900_000 }, async () => {
  const url = await serve(0);
  const r = await runPage(url);
  assert.equal(r.isolated, true);
  assert.ok(r.threads > 1, `expected a thread pool, got ${r.threads} thread(s)`);
  assert.equal(r.simd, 'relaxed', 'Chromium supports relaxed SIMD: the page should pick that build');
  assert.equal(r.name, 'madmom_stereo_sample.mid');
  assert.match(r.message, /8 notes found/);
  checkAgainstCli(r.midi, 'isolated');
  checkRequests(r);
});

test('the plain-SIMD build (for browsers without relaxed SIMD) gives the same notes', { timeout: 900_000 }, async () => {
  const url = await serve(0);
  const r = await runPage(`${url}?simd=baseline`);
  assert.equal(r.simd, 'baseline');
  assert.ok(r.threads > 1);
  checkAgainstCli(r.midi, 'baseline');
  checkRequests(r);
});

test('a second visit works offline', { timeout: 900_000 }, async () => {
  const url = await serve(0);
  const r = await runPage(url, {}, true);
  assert.match(r.message, /8 notes found/);
  checkAgainstCli(r.midi, 'offline');
  checkRequests(r);
});

test('a copy cached by an earlier deploy is not used, and is dropped', { timeout: 900_000 }, async () => {
  const { context, page, errors } = await openPage(await serve(0));
  // Earlier deploys' model and wasm (garbage here) in the cache, under their keys: another version's, and the
  // plain URL that deploys before content keys used.
  const stale = await page.evaluate(async () => {
    const cache = await caches.open('pianoscribe-v1');
    const urls = ['model/transkun-v2.pscb', 'pkg-relaxed/pianoscribe_bg.wasm'].map((p) => String(new URL(p, location.href)));
    const keys = [...urls, ...urls.map((u) => `${u}?v=0123456789abcdef`)];
    for (const k of keys) await cache.put(k, new Response(new Uint8Array(64)));
    return keys;
  });
  await page.reload();
  await page.waitForSelector('#engine-line[data-threads]', { timeout: 180_000 });
  await page.setInputFiles('#file', audio);
  await page.waitForSelector('#download:not([hidden])', { timeout: 600_000 });
  assert.match(await page.textContent('#message'), /8 notes found/);
  const left = await page.evaluate(async () => (await (await caches.open('pianoscribe-v1')).keys()).map((r) => r.url));
  await context.close();
  assert.deepEqual(errors, []);
  for (const k of stale) assert.ok(!left.includes(k), `stale cache entry kept: ${k}`);
});

test('without COOP/COEP headers the service worker isolates the page after one reload', { timeout: 900_000 }, async () => {
  const url = await serve(0, ['--no-isolation']);
  const r = await runPage(url);
  assert.equal(r.isolated, true, 'the service worker should provide isolation');
  checkAgainstCli(r.midi, 'shim');
  checkRequests(r);
});

test('where isolation is impossible it falls back to one thread and still transcribes', { timeout: 900_000 }, async () => {
  const url = await serve(0, ['--no-isolation']);
  const r = await runPage(url, { serviceWorkers: 'block' });
  assert.equal(r.isolated, false);
  assert.equal(r.threads, 1);
  checkAgainstCli(r.midi, 'single');
  checkRequests(r);
});

test('Cancel stops a long transcription at once in the UI, and the next file transcribes', { timeout: 900_000 }, async () => {
  const { context, page, errors } = await openPage(await serve(0));
  assert.ok(Number(await page.getAttribute('#engine-line', 'data-threads')) > 1);
  // 69 s of piano: ten segments, far longer than the cancel may take.
  await page.setInputFiles('#file', path.join(shared, 'data/maps-dev/MAPS_MUS-chpn-p19_ENSTDkCl.flac'));
  await page.waitForSelector('#cancel:not([hidden])', { timeout: 120_000 });
  await page.click('#cancel');
  assert.match(await page.textContent('#message'), /^Cancelling/);
  assert.equal(await page.isDisabled('#cancel'), true);
  await page.waitForFunction(() => document.getElementById('message').textContent === 'Cancelled.', null,
    { timeout: 300_000 });
  assert.equal(await page.isHidden('#download'), true, 'a cancelled run must not offer a MIDI file');
  assert.equal(await page.getAttribute('body', 'data-last-run-seconds'), null);
  // The engine is usable again.
  await page.setInputFiles('#file', audio);
  await page.waitForSelector('#download:not([hidden])', { timeout: 600_000 });
  assert.match(await page.textContent('#message'), /8 notes found/);
  assert.equal(await page.isEnabled('#cancel'), true);
  await context.close();
  assert.deepEqual(errors, []);
});
