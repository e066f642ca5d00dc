// Times the page in headless Chromium on one recording: node bench/browser.mjs FILE THREADS [fast|baseline|
// model=BUNDLE] (baseline: the plain-SIMD build instead of the relaxed-SIMD one Chromium gets; model: a
// bundle the site does not ship, added to its list of models and picked).
// Prints one JSON line: {"threads": n, "simd": build, "seconds": s, "isolated": bool}.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [file, threads = '2', mode] = process.argv.slice(2);
const server = spawn(process.execPath, [path.join(root, 'tools/serve.mjs'), '--dir', path.join(root, 'www'), '--port', '0'],
  { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolve) => server.stdout.on('data', (d) => {
  const m = /serving .* at (\S+)/.exec(String(d));
  if (m) resolve(m[1]);
}));
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu',
  '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage'] });
try {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  const bundle = mode && mode.startsWith('model=') ? mode.slice(6) : null;
  const name = bundle && path.basename(bundle);
  if (bundle) {
    await context.route('**/models.json', async (route) => {
      const response = await route.fetch();
      const json = await response.json();
      // A bundle the site already ships is picked as it is, not listed twice.
      if (!json.models.some((m) => m.file === name)) json.models.push({ file: name, name, bytes: fs.statSync(bundle).size });
      await route.fulfill({ response, json });
    });
    await context.route(`**/model/${name}*`, (route) => route.fulfill({ body: fs.readFileSync(bundle) }));
  }
  const page = await context.newPage();
  await page.goto(`${url}?threads=${threads}${mode === 'baseline' ? '&simd=baseline' : ''}${name ? `&model=${name}` : ''}`);
  await page.waitForSelector('#engine-line[data-threads]', { timeout: 300_000 });
  const used = Number(await page.getAttribute('#engine-line', 'data-threads'));
  const simd = await page.getAttribute('#engine-line', 'data-simd');
  // The page runs its default when it lacks the asked model: time nothing rather than the wrong model.
  if (name && (await page.inputValue('#model')) !== name) throw new Error(`the page did not pick ${name}`);
  if (mode === 'fast') await page.check('#fast');
  await page.setInputFiles('#file', file);
  await page.waitForSelector('body[data-last-run-seconds]', { timeout: 3_600_000 });
  const seconds = Number(await page.getAttribute('body', 'data-last-run-seconds'));
  console.log(JSON.stringify({ threads: used, simd, seconds, isolated: await page.evaluate(() => self.crossOriginIsolated) }));
} finally {
  await browser.close();
  server.kill();
}
