// The Cache API store that the page (model) and the worker (wasm) keep their big files in for offline use.
// Entries are keyed by the file's content hash from build.json, so a new deploy never runs against a copy
// cached from an earlier one (a new model or engine next to an old cached one would fail to load).
export const CACHE = 'pianoscribe-v1';

// build.json (written by build.sh): { path within the site: sha256 }. {} when it cannot be read.
export async function buildHashes() {
  try {
    const r = await fetch(new URL('./build.json', import.meta.url), { cache: 'no-cache' });
    return r.ok ? await r.json() : {};
  } catch (_) {
    return {};
  }
}

export function cacheKey(url, hash) {
  return hash ? `${url}?v=${hash.slice(0, 16)}` : url;
}

// Drops the cached copies of `url` other than `key` (from earlier deploys).
export async function dropStale(cache, url, key) {
  for (const request of await cache.keys()) {
    if (request.url !== key && request.url.split('?')[0] === url) await cache.delete(request);
  }
}

// The response for `url` from the cache when this deploy's copy is there, else fetched and kept.
export async function cachedFetch(url, hash) {
  let cache;
  try {
    cache = await caches.open(CACHE);
  } catch (_) {
    return fetch(url); // no Cache API (e.g. not a secure context)
  }
  const key = cacheKey(url, hash);
  const hit = await cache.match(key);
  if (hit) {
    await dropStale(cache, url, key);
    return hit;
  }
  const response = await fetch(url);
  if (response.ok) {
    try {
      await cache.put(key, response.clone());
      await dropStale(cache, url, key);
    } catch (_) { /* quota: fine */ }
  }
  return response;
}
