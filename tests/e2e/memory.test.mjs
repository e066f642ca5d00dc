// The page's memory does not grow with the recording: a 1-minute and a 5-minute MP3 through the page, the
// browser's peak resident memory (all its processes) read every half second, and the engine's own (wasm)
// memory after each run. Before the page read files in pieces it held the whole recording several times,
// about 60 MB per minute of audio: 240 MB between these two. The browser's peak is noisy (its last runs had the
// 5-minute peak both above and below the 1-minute one), and 4 more minutes of 44.1 kHz stereo float (85 MB)
// would pass under its margin; the engine's memory only grows, by whole 64 kB pages, so a copy of the audio
// kept in the engine would show there at once: its margin is 16 MB.
// The model is the O&F parity network (tests/fixtures/oaf-tiny.pscb): what is measured is the page's reading,
// decoding and segment pipeline, which every model shares; with Transkun the same two files took 7 of CI's
// minutes, nearly all of it the network (its own memory is tests/long_input.rs's).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withBrowser, serve, openPage, loopedMp3, measuredRun, browserMemoryMb, offerTinyOaf } from './helpers.mjs';

const session = withBrowser();

test('memory: a 5-minute file peaks within 100 MB of a 1-minute one', { timeout: 1_800_000 }, async () => {
  const files = [loopedMp3(1), loopedMp3(5)];
  // Picked by the address, so that Transkun is never loaded: its memory would come and go during the runs.
  const { context, page, errors } = await openPage(session.browser, `${await serve()}?model=oaf-tiny.pscb`,
    { serviceWorkers: 'block' }, null, offerTinyOaf);
  assert.equal(await page.getAttribute('#engine-line', 'data-family'), 'onsets-frames');
  const idle = browserMemoryMb(session.browser);
  const runs = [];
  const engine = [];
  for (const f of files) {
    const r = await measuredRun(session.browser, page, f);
    assert.ok(r.midi, r.message);
    runs.push(r.peakMb);
    engine.push(Number(await page.getAttribute('body', 'data-engine-bytes')) / 2 ** 20);
  }
  console.log(`browser memory: idle ${idle.toFixed(0)} MB, peak with 1 min ${runs[0].toFixed(0)} MB, with 5 min ${runs[1].toFixed(0)} MB; `
    + `engine (wasm) memory after 1 min ${engine[0].toFixed(1)} MB, after 5 min ${engine[1].toFixed(1)} MB`);
  assert.ok(engine[0] > 0, 'the page reports the engine\'s memory');
  assert.ok(engine[1] - engine[0] < 16, `the engine's memory grew ${(engine[1] - engine[0]).toFixed(1)} MB with the 5-minute file`);
  assert.ok(runs[1] - runs[0] < 100, `the 5-minute file peaked ${(runs[1] - runs[0]).toFixed(0)} MB above the 1-minute one`);
  await context.close();
  assert.deepEqual(errors, []);
});
