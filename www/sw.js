// Service worker: keeps the app (page, wasm, model) in a cache so a second visit works offline, and adds the
// cross-origin isolation headers to same-origin responses, so that threads work on hosts that cannot send
// COOP/COEP headers themselves (the page reloads once after the worker first takes control).
const CACHE = 'pianoscribe-v1';

// The app shell is cached at install (the list is written by build.sh), so that even a first visit that
// was not yet controlled by this worker leaves everything needed offline; the model is cached by the page.
self.addEventListener('install', (event) => {
  self.skipWaiting();
  event.waitUntil((async () => {
    try {
      const list = await (await fetch('./precache.json', { cache: 'no-cache' })).json();
      const cache = await caches.open(CACHE);
      await cache.addAll(list.map((p) => new Request(p, { cache: 'no-cache' })));
    } catch (err) {
      // Offline use then starts with the next visit; nothing else depends on it.
    }
  })());
});
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

function isolated(response) {
  if (response.status === 0 || response.type === 'opaque') return response;
  const headers = new Headers(response.headers);
  headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
  headers.set('Cross-Origin-Resource-Policy', 'same-origin');
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  // Only same-origin reads: the app never talks to another origin, and never sends the user's audio.
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (request.cache === 'only-if-cached' && request.mode !== 'same-origin') return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const response = await fetch(request);
      if (response.ok && !request.headers.has('range')) await cache.put(request, response.clone());
      return isolated(response);
    } catch (err) {
      const cached = await cache.match(request, { ignoreSearch: true });
      if (cached) return isolated(cached);
      throw err;
    }
  })());
});
