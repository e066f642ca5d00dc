// Drops the "name" custom section from .wasm files in place: function names for debuggers and stack traces,
// half of the engine's raw size (19.6 of 39.4 MB) and a third of its gzipped download. Nothing at run time
// reads it; panics still reach the console with their message. Idempotent.
//   node tools/strip-wasm-names.mjs FILE.wasm...
import { readFileSync, writeFileSync } from 'node:fs';

function leb128(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const b = bytes[at++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (b < 0x80) return [value, at];
  }
}

for (const file of process.argv.slice(2)) {
  const bytes = readFileSync(file);
  if (bytes.length < 8 || bytes.readUInt32LE(0) !== 0x6d736100) throw new Error(`${file}: not a wasm module`);
  const kept = [bytes.subarray(0, 8)];
  let at = 8;
  let dropped = 0;
  while (at < bytes.length) {
    const start = at;
    const id = bytes[at++];
    const [size, body] = leb128(bytes, at);
    const end = body + size;
    if (end > bytes.length) throw new Error(`${file}: section at byte ${start} runs past the end`);
    let name = null;
    if (id === 0) {
      const [len, text] = leb128(bytes, body);
      name = bytes.subarray(text, text + len).toString('utf8');
    }
    if (name === 'name') dropped += end - start;
    else kept.push(bytes.subarray(start, end));
    at = end;
  }
  writeFileSync(file, Buffer.concat(kept));
  console.log(`${file}: ${bytes.length} -> ${bytes.length - dropped} bytes (name section: ${dropped})`);
}
