// The page's memory does not grow with the recording: a 1-minute and a 5-minute MP3 through the page, the
// browser's peak resident memory (all its processes) read every half second. Before the page read files in
// pieces it held the whole recording several times, about 60 MB per minute of audio: 240 MB between these two.
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
  for (const f of files) {
    const r = await measuredRun(session.browser, page, f);
    assert.ok(r.midi, r.message);
    runs.push(r.peakMb);
  }
  console.log(`browser memory: idle ${idle.toFixed(0)} MB, peak with 1 min ${runs[0].toFixed(0)} MB, with 5 min ${runs[1].toFixed(0)} MB`);
  assert.ok(runs[1] - runs[0] < 100, `the 5-minute file peaked ${(runs[1] - runs[0]).toFixed(0)} MB above the 1-minute one`);
  await context.close();
  assert.deepEqual(errors, []);
});
