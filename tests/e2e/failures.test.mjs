// No stuck states: each way a run can fail ends in a message that says what happened and what to try, the
// controls usable again, and the next file transcribed without a reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { shared, tmp, formatsDir, encodeFormats, withBrowser, serve, openPage, transcribeIn } from './helpers.mjs';

const audio = path.join(shared, 'data/stereo-44k/madmom_stereo_sample.wav');
const dir = formatsDir;

const session = withBrowser(encodeFormats);

// The page is usable again: controls enabled, nothing busy, and a real file transcribes.
async function usable(page) {
  assert.equal(await page.isEnabled('#file'), true);
  assert.equal(await page.isHidden('#cancel'), true);
  const r = await transcribeIn(page, audio);
  assert.match(r.message, /8 notes found/, 'the next file should transcribe');
}

function engineWorker(page) {
  const w = page.workers().find((x) => x.url().endsWith('/worker.js'));
  assert.ok(w, 'the engine worker is running');
  return w;
}

// Starts an 8 s MP3 (the worker waits for the browser's decoder between pieces), runs `force` once it is
// decoding, and returns the page's message when the run has ended.
async function failMidRun(page, force) {
  await page.setInputFiles('#file', path.join(dir, 'lame-cbr128.mp3'));
  await page.waitForSelector('body[data-decoding]', { timeout: 120_000 });
  await force();
  await page.waitForFunction(() => !document.body.dataset.busy, null, { timeout: 300_000 });
  return page.textContent('#message');
}

test('a worker that dies mid-run', { timeout: 900_000 }, async () => {
  const { context, page } = await openPage(session.browser, await serve());
  // The worker dies before it hands over its result, however fast it decodes: its next message is dropped and
  // an uncaught error follows.
  const message = await failMidRun(page, () => engineWorker(page).evaluate(() => {
    self.postMessage = () => setTimeout(() => { throw new Error('forced by the test'); }, 0);
  }));
  assert.match(message, /engine stopped unexpectedly \(.*forced by the test\)/);
  assert.match(message, /Faster mode, a shorter file, or closing other tabs/);
  await usable(page);
  await context.close();
});

test('the engine sends a message the page cannot read', { timeout: 900_000 }, async () => {
  // The page's Worker objects, kept where the test can reach them.
  const { context, page } = await openPage(session.browser, await serve(), {}, () => {
    const Original = window.Worker;
    window.Worker = class extends Original {
      constructor(...args) {
        super(...args);
        (window.testWorkers ||= []).push(this);
      }
    };
  });
  // What the browser does when a message cannot be deserialized: it calls the worker's handler. (Chromium
  // does not run the handler for a messageerror event dispatched from script.)
  const message = await failMidRun(page, () => page.evaluate(
    () => window.testWorkers.at(-1).onmessageerror(new MessageEvent('messageerror'))));
  assert.match(message, /engine sent a message the page could not read/);
  assert.match(message, /Faster mode, a shorter file, or closing other tabs/);
  await usable(page);
  await context.close();
});

test('the engine runs out of memory', { timeout: 900_000 }, async () => {
  const { context, page } = await openPage(session.browser, await serve());
  // Fill the engine's memory up to its 4 GB maximum, but for 16 MB: the next segment cannot be allocated.
  const left = await engineWorker(page).evaluate(() => {
    const m = self.pianoscribeMemory;
    m.grow(65536 - m.buffer.byteLength / 65536 - 256);
    return 65536 - m.buffer.byteLength / 65536;
  });
  assert.equal(left, 256);
  const r = await transcribeIn(page, path.join(dir, 'wav-s16.wav'));
  assert.equal(r.midi, undefined);
  assert.match(r.message, /ran out of memory/);
  assert.match(r.message, /Faster mode, a shorter file, or closing other tabs/);
  await usable(page);
  await context.close();
});

test('a file the browser cannot decode', { timeout: 900_000 }, async () => {
  const { context, page, errors } = await openPage(session.browser, await serve());
  const bogus = path.join(tmp, 'not-audio.mp3');
  fs.writeFileSync(bogus, 'this is a text file, not a recording\n'.repeat(200));
  const r = await transcribeIn(page, bogus);
  assert.equal(r.midi, undefined);
  assert.match(r.message, /“not-audio\.mp3” is not audio this page can read/);
  await usable(page);
  await context.close();
  assert.deepEqual(errors, []);
});

test('a model that fails to download, then comes back', { timeout: 900_000 }, async () => {
  const context = await session.browser.newContext({ serviceWorkers: 'block' });
  let failing = true;
  await context.route('**/model/*.pscb*', (route) => (failing ? route.fulfill({ status: 503, body: 'busy' }) : route.continue()));
  const page = await context.newPage();
  await page.goto(await serve());
  await page.waitForFunction(() => document.getElementById('message').classList.contains('error'), null, { timeout: 120_000 });
  const message = await page.textContent('#message');
  assert.match(message, /model could not be downloaded \(HTTP 503\)/);
  assert.match(message, /Choose a file to try again/);
  failing = false;
  await usable(page);
  await context.close();
});
