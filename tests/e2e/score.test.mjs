// The Score view end to end: a maps-dev recording (its first 20 s, as FLAC) transcribed in the page, then the
// Score view: the renderer loads from the site itself only when the view opens, draws two staves, the
// "Download MusicXML" file is byte for byte what the CLI writes for the same recording (`transcribe
// --score`) and valid against the MusicXML 4.0 XSD, several bars go to a line, on a phone the score is drawn
// smaller within the screen and Play stays in reach, and during playback the cursor moves through the score.
// A screenshot of the view is left in the test's temporary folder (its path is printed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { root, shared, tmp, cli, withBrowser, serve, openPage, transcribeIn } from './helpers.mjs';

const session = withBrowser();

// 20 s of a maps-dev recording (the page transcribes whole files; a shorter file keeps the test short).
function excerpt() {
  const out = path.join(tmp, 'MAPS_MUS-chpn-p19_ENSTDkCl.flac');
  if (!fs.existsSync(out)) {
    execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-i', path.join(shared, 'data/maps-dev/MAPS_MUS-chpn-p19_ENSTDkCl.flac'),
      '-t', '20', out]);
  }
  return out;
}

function cliScore(file) {
  const xml = path.join(tmp, 'cli-score.musicxml');
  execFileSync(cli, ['transcribe', file, '-o', path.join(tmp, 'cli-score.mid'), '--score', xml], { stdio: 'ignore' });
  return fs.readFileSync(xml, 'utf8');
}

function validate(file) {
  const dir = path.join(root, 'tests/musicxml-4.0');
  execFileSync('xmllint', ['--nonet', '--noout', '--schema', path.join(dir, 'musicxml.xsd'), file],
    { env: { ...process.env, XML_CATALOG_FILES: path.join(dir, 'catalog.xml') }, stdio: 'pipe' });
}

test('a recording becomes a two-staff score with the CLI\'s MusicXML, and the cursor follows playback', { timeout: 1_800_000 }, async () => {
  const url = await serve();
  const file = excerpt();
  const { context, page, errors } = await openPage(session.browser, url);
  const renderer = [];
  page.on('request', (r) => { if (r.url().includes('opensheetmusicdisplay')) renderer.push(r.url()); });
  const r = await transcribeIn(page, file);
  assert.ok(r.midi, `the page did not transcribe it: ${r.message}`);
  assert.equal(renderer.length, 0, 'the score renderer loads only when the Score view opens');

  await page.click('#view-score');
  await page.waitForSelector('#score[data-measures]', { timeout: 300_000 });
  assert.ok(renderer.length >= 1 && renderer.every((u) => new URL(u).origin === new URL(url).origin),
    `the renderer comes from the site itself: ${renderer}`);
  const measures = Number(await page.getAttribute('#score', 'data-measures'));
  assert.ok(measures >= 4, `${measures} measures drawn`);
  assert.equal(await page.getAttribute('#score', 'data-staves'), '2', 'two staves per system');
  const drawn = await page.evaluate(() => document.querySelectorAll('#score svg path, #score svg rect').length);
  assert.ok(drawn > 100, `the score's drawing has ${drawn} shapes`);
  const status = await page.textContent('#score-status');
  assert.match(status, /\d+ bars of \d+\/\d+/);

  // The download is the CLI's MusicXML for the same recording, and valid.
  const xml = await page.evaluate(async () => (await fetch(document.getElementById('download-xml').href)).text());
  assert.equal(await page.getAttribute('#download-xml', 'download'), 'MAPS_MUS-chpn-p19_ENSTDkCl.musicxml');
  const saved = path.join(tmp, 'page-score.musicxml');
  fs.writeFileSync(saved, xml);
  validate(saved);
  assert.ok(xml.includes('<staves>2</staves>'));
  assert.equal(xml, cliScore(file), 'the page and the CLI write the same score');

  const shot = path.join(process.env.PIANOSCRIBE_SCREENSHOTS || tmp, 'score-view.png');
  await page.locator('#result').screenshot({ path: shot });
  console.log(`screenshot of the Score view: ${shot}`);
  // Several bars to a line on the desktop.
  const systems = Number(await page.getAttribute('#score', 'data-systems'));
  console.log(`desktop: ${measures} bars in ${systems} systems`);
  assert.ok(systems > 0 && measures / systems >= 2, `${measures} bars in ${systems} systems`);
  // On a phone: drawn smaller, nothing wider than the screen, and Play stays on screen while the score scrolls.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForFunction(() => Number(document.getElementById('score').dataset.zoom) <= 0.5, null, { timeout: 60_000 });
  const phone = await page.evaluate(() => {
    const score = document.getElementById('score');
    const svg = score.querySelector('svg').getBoundingClientRect();
    return { page: document.documentElement.scrollWidth, score: score.clientWidth, svg: svg.width, zoom: Number(score.dataset.zoom) };
  });
  console.log(`phone: ${JSON.stringify(phone)}`);
  assert.ok(phone.page <= 390 && phone.svg <= phone.score + 1, JSON.stringify(phone));
  await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
  const play = await page.locator('#play').boundingBox();
  assert.ok(play.y >= 0 && play.y + play.height <= 844, `Play is off screen at ${play.y}`);
  if (process.env.PIANOSCRIBE_SCREENSHOTS) {
    await page.screenshot({ path: path.join(process.env.PIANOSCRIBE_SCREENSHOTS, 'score-phone.png') });
  }
  await page.setViewportSize({ width: 1280, height: 720 });

  // Playback moves the cursor forward through the score.
  await page.click('#play');
  await page.waitForFunction(() => Number(document.getElementById('score').dataset.cursor || 0) > 0.5, null, { timeout: 60_000 });
  await page.click('#play');
  await context.close();
  assert.deepEqual(errors, []);
});
