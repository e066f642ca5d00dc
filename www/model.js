// The model: fetched once from this site with progress, then kept in the Cache API (keyed by its content
// hash, so a new deploy never runs a stale copy).
import { CACHE, cacheKey, dropStale } from './store.js';

export const MODEL_PATH = 'model/transkun-v2.pscb';
const MODEL_URL = new URL(MODEL_PATH, import.meta.url).href;

// Resolves with the bundle's bytes (an ArrayBuffer); onProgress(fraction or null, loaded bytes, total bytes).
export async function loadModel(hash, onProgress = () => {}) {
  let cache = null;
  const key = cacheKey(MODEL_URL, hash);
  try {
    cache = await caches.open(CACHE);
    const hit = await cache.match(key);
    if (hit) {
      await dropStale(cache, MODEL_URL, key);
      return await hit.arrayBuffer();
    }
  } catch (err) {
    cache = null; // no Cache API (e.g. not a secure context): fetch every time
  }
  let response;
  try {
    response = await fetch(MODEL_URL);
  } catch (err) {
    throw new Error(`the model could not be downloaded (${err.message || err}); check the connection`);
  }
  if (!response.ok) throw new Error(`the model could not be downloaded (HTTP ${response.status})`);
  const total = Number(response.headers.get('content-length')) || 0;
  const reader = response.body.getReader();
  const parts = [];
  let got = 0;
  for (;;) {
    let step;
    try {
      step = await reader.read();
    } catch (err) {
      throw new Error(`the model download broke off after ${(got / 1e6).toFixed(1)} MB (${err.message || err})`);
    }
    if (step.done) break;
    parts.push(step.value);
    got += step.value.length;
    onProgress(total ? got / total : null, got, total);
  }
  if (total && got !== total) throw new Error(`the model download broke off after ${(got / 1e6).toFixed(1)} MB`);
  const bytes = new Uint8Array(got);
  let at = 0;
  for (const p of parts) { bytes.set(p, at); at += p.length; }
  if (cache) {
    try {
      await cache.put(key, new Response(bytes.slice(), { headers: { 'content-type': 'application/octet-stream' } }));
      await dropStale(cache, MODEL_URL, key);
    } catch (_) { /* quota: fine */ }
  }
  return bytes.buffer;
}
