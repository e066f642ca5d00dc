// End-to-end tests of the built page (www/) in headless Chromium: a real recording goes in, the MIDI download
// comes out and carries the native CLI's notes, note by note, from the relaxed-SIMD build and the plain one;
// with COOP/COEP the page is cross-origin isolated and threaded; without them it still works; Cancel stops a
// run and the page stays usable; no request ever leaves the page's origin or carries a body.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  cli, root, shared, withBrowser, serve, openPage, transcribeIn, cliNotes, midiNotes, assertSameNotes,
} from './helpers.mjs';

const audio = path.join(shared, 'data/stereo-44k/madmom_stereo_sample.wav');

const session = withBrowser();

// Transcribes the recording through the page; returns what the page showed and the requests it made.
// `offlineSecondVisit`: load once online, then go offline and load again before transcribing.
async function runPage(url, contextOptions = {}, offlineSecondVisit = false) {
  const context = await session.browser.newContext(contextOptions);
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
  const r = await transcribeIn(page, audio);
  assert.ok(r.midi, `the page did not transcribe it: ${r.message}`);
  const name = await page.getAttribute('#download', 'download');
  await context.close();
  assert.deepEqual(errors, []);
  return { isolated, threads, simd, name, ...r, requests, origin: new URL(url).origin };
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

// The page's MIDI must carry the CLI's notes, one by one.
function checkAgainstCli(midi, label) {
  assertSameNotes(label, midiNotes(midi), cliNotes(audio));
}

test('with COOP/COEP the page is isolated, threaded, and gives the CLI notes', { timeout: 900_000 }, async () => {
  const url = await serve();
  const r = await runPage(url);
  assert.equal(r.isolated, true);
  assert.ok(r.threads > 1, `expected a thread pool, got ${r.threads} thread(s)`);
  assert.equal(r.simd, 'relaxed', 'Chromium supports relaxed SIMD: the page should pick that build');
  assert.equal(r.name, 'madmom_stereo_sample.mid');
  assert.equal(r.how, 'engine', 'a WAV is read by the engine itself, in pieces');
  assert.match(r.message, /8 notes found/);
  checkAgainstCli(r.midi, 'isolated');
  checkRequests(r);
});

test('the plain-SIMD build (for browsers without relaxed SIMD) gives the same notes', { timeout: 900_000 }, async () => {
  const url = await serve();
  const r = await runPage(`${url}?simd=baseline`);
  assert.equal(r.simd, 'baseline');
  assert.ok(r.threads > 1);
  checkAgainstCli(r.midi, 'baseline');
  checkRequests(r);
});

test('a second visit works offline', { timeout: 900_000 }, async () => {
  const url = await serve();
  const r = await runPage(url, {}, true);
  assert.match(r.message, /8 notes found/);
  checkAgainstCli(r.midi, 'offline');
  checkRequests(r);
});

test('a copy cached by an earlier deploy is not used, and is dropped', { timeout: 900_000 }, async () => {
  const { context, page, errors } = await openPage(session.browser, await serve());
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
  const r = await transcribeIn(page, audio);
  assert.match(r.message, /8 notes found/);
  const left = await page.evaluate(async () => (await (await caches.open('pianoscribe-v1')).keys()).map((x) => x.url));
  await context.close();
  assert.deepEqual(errors, []);
  for (const k of stale) assert.ok(!left.includes(k), `stale cache entry kept: ${k}`);
});

test('without COOP/COEP headers the service worker isolates the page after one reload', { timeout: 900_000 }, async () => {
  const url = await serve(['--no-isolation']);
  const r = await runPage(url);
  assert.equal(r.isolated, true, 'the service worker should provide isolation');
  checkAgainstCli(r.midi, 'shim');
  checkRequests(r);
});

test('where isolation is impossible it falls back to one thread and still transcribes', { timeout: 900_000 }, async () => {
  const url = await serve(['--no-isolation']);
  const r = await runPage(url, { serviceWorkers: 'block' });
  assert.equal(r.isolated, false);
  assert.equal(r.threads, 1);
  checkAgainstCli(r.midi, 'single');
  checkRequests(r);
});

test('Cancel stops a long transcription, at once in the UI, and the next file transcribes', { timeout: 900_000 }, async () => {
  const { context, page, errors } = await openPage(session.browser, await serve());
  assert.ok(Number(await page.getAttribute('#engine-line', 'data-threads')) > 1);
  // 69 s of piano: several segments, far longer than the cancel may take.
  await page.setInputFiles('#file', path.join(shared, 'data/maps-dev/MAPS_MUS-chpn-p19_ENSTDkCl.flac'));
  await page.waitForSelector('#progress-bar:not([hidden])', { timeout: 120_000 });
  await page.click('#cancel');
  // Between pieces the worker stops at once; during a batch of segments it says so and finishes them first.
  // The message and the button are read together: the run may end between two separate reads.
  const [message, cancelDisabled] = await page.evaluate(
    () => [document.getElementById('message').textContent, document.getElementById('cancel').disabled]);
  if (message !== 'Cancelled.') {
    assert.match(message, /^Cancelling/);
    assert.equal(cancelDisabled, true);
  }
  await page.waitForFunction(() => document.getElementById('message').textContent === 'Cancelled.', null,
    { timeout: 300_000 });
  assert.equal(await page.isHidden('#download'), true, 'a cancelled run must not offer a MIDI file');
  assert.equal(await page.getAttribute('body', 'data-last-run-seconds'), null);
  // The engine is usable again.
  const r = await transcribeIn(page, audio);
  assert.match(r.message, /8 notes found/);
  checkAgainstCli(r.midi, 'after cancel');
  await context.close();
  assert.deepEqual(errors, []);
});

test('playback: the original plays from the file, the transcription on the sampled piano', { timeout: 900_000 }, async () => {
  const { context, page, errors } = await openPage(session.browser, await serve());
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  await transcribeIn(page, audio);
  assert.equal(requests.filter((u) => u.includes('/piano/')).length, 0, 'samples load only when played');
  await page.click('#play');
  await page.waitForFunction(() => document.getElementById('play').textContent.includes('Stop'), null, { timeout: 60_000 });
  await page.waitForFunction(() => document.getElementById('play-status').textContent === '', null, { timeout: 60_000 });
  const pianoRequests = requests.filter((u) => u.includes('/piano/') && u.endsWith('.mp3'));
  assert.equal(pianoRequests.length, 30, `expected the 30 piano samples, got ${pianoRequests.length}`);
  // The original plays from an object URL of the file (no decoded copy), and time moves.
  const t0 = await page.evaluate(() => document.getElementById('clock').textContent);
  await page.waitForTimeout(1500);
  const t1 = await page.evaluate(() => document.getElementById('clock').textContent);
  assert.notEqual(t0, t1, 'the playback clock should move');
  await page.click('#play');
  assert.match(await page.textContent('#play'), /Play/);
  // Kept for offline use.
  const cached = await page.evaluate(async () => (await (await caches.open('pianoscribe-v1')).keys()).filter((r) => r.url.includes('/piano/')).length);
  assert.equal(cached, 30);
  await context.close();
  assert.deepEqual(errors, []);
});

// The picker lists the site's models: Transkun V2 first, then the fast Onsets & Frames model trained here
// (models/oaf-small.pscb), each labelled with its size, its description (models/models.json) and the note F1 its
// bundle states (`pianoscribe info --json`). The O&F model must transcribe as the CLI does with it; the choice
// survives a reload, and Transkun comes back when picked.
test('the model picker offers the fast Onsets & Frames model, runs it like the CLI, and switches back', { timeout: 900_000 }, async () => {
  const context = await session.browser.newContext({ serviceWorkers: 'block' });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(await serve());
  await page.waitForSelector('#engine-line[data-family="transkun-v2"]', { timeout: 180_000 });
  assert.deepEqual(await page.$$eval('#model option', (os) => os.map((o) => o.value)),
    ['transkun-v2.pscb', 'oaf-small.pscb']);
  const listed = JSON.parse(fs.readFileSync(path.join(root, 'models/models.json'), 'utf8')).models;
  const label = (file) => {
    const m = listed.find((l) => l.file === file);
    const info = JSON.parse(execFileSync(cli, ['info', '--json', '--model', path.join(root, 'models', file)], { encoding: 'utf8' }));
    const f1 = (info.provenance.scores['maps-dev'].note * 100).toFixed(1);
    return `${m.name} (${(info.bytes / 1e6).toFixed(1)} MB; ${m.about}; ${f1}% of notes right on test recordings)`;
  };
  const transkun = label('transkun-v2.pscb');
  assert.equal(await page.textContent('#model option:first-child'), transkun);
  assert.match(transkun, /^Transkun V2 \(14\.9 MB; the most accurate; \d+\.\d% of notes right/);
  assert.equal(await page.textContent('#model option:nth-child(2)'), label('oaf-small.pscb'));
  await page.selectOption('#model', 'oaf-small.pscb');
  await page.waitForSelector('#engine-line[data-family="onsets-frames"]', { timeout: 180_000 });
  assert.ok(await page.isDisabled('#fast'), 'an Onsets & Frames model has no Faster mode');
  const r = await transcribeIn(page, audio);
  assert.ok(r.midi, `the page did not transcribe it: ${r.message}`);
  assertSameNotes('O&F', midiNotes(r.midi), cliNotes(audio, ['--model', path.join(root, 'models/oaf-small.pscb')]));
  await page.reload();
  await page.waitForSelector('#engine-line[data-family="onsets-frames"]', { timeout: 180_000 });
  await page.selectOption('#model', 'transkun-v2.pscb');
  await page.waitForSelector('#engine-line[data-family="transkun-v2"]', { timeout: 180_000 });
  assert.ok(!(await page.isDisabled('#fast')));
  const back = await transcribeIn(page, audio);
  assert.match(back.message, /8 notes found in 0:04 of audio/); // the clip's length, not its padded segment's
  checkAgainstCli(back.midi, 'Transkun after O&F');
  await context.close();
  assert.deepEqual(errors, []);
});

test('a model the address names that the site lacks is said, and the keyboard opens the file chooser', { timeout: 900_000 }, async () => {
  const { context, page, errors } = await openPage(session.browser, `${await serve()}?model=nonsense.pscb&threads=2`);
  // The default runs, the page says why, and the address no longer names the missing model.
  assert.equal(await page.getAttribute('#engine-line', 'data-family'), 'transkun-v2');
  assert.match(await page.textContent('#engine-line'), /^Ready: Transkun V2, using \d processor threads?\. /);
  assert.match(await page.textContent('#message'),
    /The address asked for the model “nonsense\.pscb”, which this page does not offer; running Transkun V2 instead\./);
  assert.equal(new URL(page.url()).search, '?threads=2');
  // Tab reaches the drop zone; Enter opens the chooser, and the chosen file transcribes.
  // (The chooser's opening is seen as the click on the file input that opens it: Playwright's filechooser
  // event proved flaky on a cold start.)
  await page.evaluate(() => document.getElementById('file').addEventListener('click', () => { window.chooserOpened = (window.chooserOpened || 0) + 1; }));
  await page.focus('#drop');
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'drop');
  await page.keyboard.press('Enter');
  await page.keyboard.press(' ');
  assert.equal(await page.evaluate(() => window.chooserOpened), 2, 'Enter and Space on the drop zone open the file chooser');
  // Every label the progress bar shows, to see the engine report inside the clip's one segment.
  await page.evaluate(() => {
    window.progressLabels = [];
    new MutationObserver(() => window.progressLabels.push(document.querySelector('#progress-bar span').textContent))
      .observe(document.querySelector('#progress-bar span'), { childList: true, characterData: true, subtree: true });
  });
  await page.setInputFiles('#file', audio);
  await page.waitForSelector('#progress-bar[aria-valuenow="100"]', { timeout: 600_000 });
  await page.waitForFunction(() => !document.body.dataset.busy, null, { timeout: 600_000 });
  assert.match(await page.textContent('#message'), /8 notes found in 0:04 of audio/);
  assert.equal(await page.getAttribute('#progress-bar', 'role'), 'progressbar');
  // Before the one segment was done, the bar said what the engine was doing: the network, then the notes.
  const labels = await page.evaluate(() => window.progressLabels);
  const at = (re) => labels.findIndex((l) => re.test(l));
  assert.ok(at(/^0% · listening to segment 1 of 1 · \d+:\d\d elapsed$/) >= 0, labels.join('\n'));
  assert.ok(at(/^0% · writing down the notes of segment 1 of 1/) > at(/listening to segment 1/), labels.join('\n'));
  assert.match(labels[labels.length - 1], /^done in/);
  // The roll is labelled: octaves, a time axis over the clip's 4 s, a name that says what it shows, a legend,
  // and the time and key under the pointer.
  assert.equal(await page.getAttribute('#roll', 'data-keys'), 'C1 C2 C3 C4 C5 C6 C7 C8');
  assert.equal(await page.getAttribute('#roll', 'data-ticks'), '0:00 0:01 0:02 0:03 0:04');
  assert.match(await page.getAttribute('#roll', 'aria-label'), /^Piano roll: 8 notes over 0:04, pitch from A0 \(bottom\) to C8 \(top\)/);
  assert.ok(await page.isVisible('.legend'));
  const box = await page.locator('#roll').boundingBox();
  // Middle C's row: 48 rows from the top of 88 in the 348 px above the pedal lane and the axis.
  await page.locator('#roll').hover({ position: { x: 30 + (box.width - 30) / 2, y: (48.5 * 348) / 88 } });
  assert.match(await page.textContent('#roll-readout'), /^(1\.9|2\.0|2\.1) s · C4$/); // the middle of 4 s, within a pixel
  if (process.env.PIANOSCRIBE_SCREENSHOTS) {
    await page.screenshot({ path: path.join(process.env.PIANOSCRIBE_SCREENSHOTS, 'desktop.png'), fullPage: true });
  }
  // On a phone's screen: nothing wider than it, and every control a finger can hit (44 px).
  await page.setViewportSize({ width: 390, height: 844 });
  const layout = await page.evaluate(() => {
    const small = [];
    for (const e of document.querySelectorAll('button, a, select, input')) {
      const r = e.getBoundingClientRect();
      if (!e.checkVisibility() || r.width === 0 || e.closest('footer') || e.type === 'file') continue;
      // A checkbox is hit through its label.
      const target = e.type === 'checkbox' ? e.closest('label').getBoundingClientRect() : r;
      if (target.height < 44 - 0.5) small.push(`${e.id || e.tagName} ${target.width.toFixed(0)}x${target.height.toFixed(0)}`);
    }
    return { width: document.documentElement.scrollWidth, small };
  });
  if (process.env.PIANOSCRIBE_SCREENSHOTS) {
    await page.screenshot({ path: path.join(process.env.PIANOSCRIBE_SCREENSHOTS, 'phone.png'), fullPage: true });
  }
  assert.ok(layout.width <= 390, `the page is ${layout.width} px wide on a 390 px screen`);
  assert.deepEqual(layout.small, [], 'controls under 44 px tall on a phone');
  await context.close();
  assert.deepEqual(errors, []);
});

test('the sample recording: one click, and every note it was rendered from', { timeout: 900_000 }, async () => {
  // The first visit's downloads say what they are: the model's bar, then the engine's.
  const watch = () => document.addEventListener('DOMContentLoaded', () => {
    window.loadingLabels = [];
    new MutationObserver(() => window.loadingLabels.push(document.querySelector('#model-bar span').textContent))
      .observe(document.querySelector('#model-bar span'), { childList: true, characterData: true, subtree: true });
  });
  const { context, page, errors } = await openPage(session.browser, await serve(), {}, watch);
  const loading = await page.evaluate(() => window.loadingLabels);
  assert.ok(loading.some((l) => /^Downloading the model: [\d.]+ of [\d.]+ MB/.test(l)), loading.join('\n'));
  assert.ok(loading.some((l) => /^Downloading the engine: [\d.]+ of [\d.]+ MB/.test(l)), loading.join('\n'));
  assert.ok(await page.isHidden('#model-bar'), 'the download bar goes once the engine is ready');
  assert.match(await page.textContent('header .tag'), /MIDI and sheet music out/);
  await page.click('#try-sample');
  await page.waitForFunction(() => document.body.dataset.busy, null, { timeout: 60_000 }).catch(() => {});
  await page.waitForFunction(() => !document.body.dataset.busy, null, { timeout: 600_000 });
  assert.match(await page.textContent('#message'), /^80 notes found in 0:21 of audio\./);
  const midi = Buffer.from(await page.evaluate(async () => {
    const r = await fetch(document.getElementById('download').href);
    return Array.from(new Uint8Array(await r.arrayBuffer()));
  }));
  // Against the notes it was rendered from: every one found (onset within 50 ms, same pitch), nothing else.
  const truth = fs.readFileSync(path.join(root, 'tests/fixtures/sample-notes.tsv'), 'utf8').trim().split('\n').slice(1)
    .map((l) => l.split('\t').map(Number));
  const found = midiNotes(midi);
  const unused = [...found];
  const missed = truth.filter(([on, , pitch]) => {
    const k = unused.findIndex((n) => n[2] === pitch && Math.abs(n[0] - on) <= 0.05);
    if (k >= 0) unused.splice(k, 1);
    return k < 0;
  });
  assert.deepEqual({ missed: missed.length, extra: unused.length }, { missed: 0, extra: 0 });
  await context.close();
  assert.deepEqual(errors, []);
});
