// The models: the list of bundles this site ships (models.json, written by build.sh from models/models.json),
// and each bundle, fetched once from this site with progress, then kept in the Cache API (keyed by its path
// and content hash, so models are cached side by side and a new deploy never runs a stale copy).
import { CACHE, cacheKey, dropStale } from './store.js';

// [{ file, name, family, bytes, about }], the default first.
export async function listModels() {
  let response;
  try {
    response = await fetch(new URL('./models.json', import.meta.url), { cache: 'no-cache' });
  } catch (err) {
    throw new Error(`the list of models could not be downloaded (${err.message || err}); check the connection`);
  }
  if (!response.ok) throw new Error(`the list of models could not be downloaded (HTTP ${response.status})`);
  const list = (await response.json()).models;
  if (!Array.isArray(list) || !list.length) throw new Error('the list of models is empty');
  return list;
}

// The path of a model within the site.
export function modelPath(file) {
  return `model/${file}`;
}

// Resolves with the bundle's bytes (an ArrayBuffer); onProgress(fraction or null, loaded bytes, total bytes).
export async function loadModel(path, hash, onProgress = () => {}) {
  const url = new URL(path, import.meta.url).href;
  let cache = null;
  const key = cacheKey(url, hash);
  try {
    cache = await caches.open(CACHE);
    const hit = await cache.match(key);
    if (hit) {
      await dropStale(cache, url, key);
      return await hit.arrayBuffer();
    }
  } catch (err) {
    cache = null; // no Cache API (e.g. not a secure context): fetch every time
  }
  let response;
  try {
    response = await fetch(url);
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
      await dropStale(cache, url, key);
    } catch (_) { /* quota: fine */ }
  }
  return bytes.buffer;
}
