// The page's memory on long recordings: looped real piano as 44.1 kHz stereo MP3 (128 kbps) through the built
// page in headless Chromium (COOP/COEP, 2 threads), the resident memory of all of Chromium's processes read
// every half second. Prints the idle page's memory, then per file its length, time and peak, and the size of
// the engine's wasm memory (which only grows: its high-water mark).
//   node bench/page-memory.mjs [MINUTES ...]      (default: 5 20 60)  [--fast]
import { serve, launch, stopServers, openPage, loopedMp3, measuredRun, browserMemoryMb } from '../tests/e2e/helpers.mjs';

const args = process.argv.slice(2);
const fast = args.includes('--fast');
const minutes = args.filter((a) => /^\d+$/.test(a)).map(Number);
if (!minutes.length) minutes.push(5, 20, 60);
const files = minutes.map((m) => [m, loopedMp3(m)]);
const browser = await launch();
try {
  const { page } = await openPage(browser, `${await serve()}?threads=2`);
  await new Promise((r) => setTimeout(r, 2000));
  const idle = browserMemoryMb(browser);
  const wasmMb = async () => {
    const w = page.workers().find((x) => x.url().endsWith('/worker.js'));
    return (await w.evaluate(() => self.pianoscribeMemory.buffer.byteLength)) / 1048576;
  };
  console.log(`idle page, engine ready: ${idle.toFixed(0)} MB (engine's wasm memory ${(await wasmMb()).toFixed(0)} MB)`);
  for (const [m, file] of files) {
    const started = Date.now();
    const r = await measuredRun(browser, page, file, { fast, timeout: 4 * 3_600_000 });
    const seconds = (Date.now() - started) / 1000;
    console.log(`${m} min${fast ? ' (Faster)' : ''}: ${r.midi ? 'completed' : `FAILED (${r.message})`} in ${seconds.toFixed(0)} s, `
      + `peak ${r.peakMb.toFixed(0)} MB (${(r.peakMb - idle).toFixed(0)} MB above idle), engine's wasm memory ${(await wasmMb()).toFixed(0)} MB`);
  }
} finally {
  await browser.close();
  stopServers();
}
