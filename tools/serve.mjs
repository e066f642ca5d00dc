// Static server for the built site (www/), for development and the page tests.
//   node tools/serve.mjs [--dir www] [--port 8080] [--host 127.0.0.1] [--prefix /] [--no-isolation]
// Sends COOP/COEP (cross-origin isolation, needed for threads) unless --no-isolation, serves .wasm as
// application/wasm, and can mount the site under a sub-path to check that it works there.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const root = path.resolve(opt('--dir', 'www'));
const port = Number(opt('--port', '8080'));
const host = opt('--host', '127.0.0.1');
let prefix = opt('--prefix', '/');
if (!prefix.endsWith('/')) prefix += '/';
const isolation = !args.includes('--no-isolation');

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.wasm': 'application/wasm',
  '.pscb': 'application/octet-stream', '.mid': 'audio/midi', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8', '.ts': 'text/plain; charset=utf-8', '.mp3': 'audio/mpeg',
};

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  const headers = { 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' };
  if (isolation) {
    headers['Cross-Origin-Opener-Policy'] = 'same-origin';
    headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
    headers['Cross-Origin-Resource-Policy'] = 'same-origin';
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, headers).end();
    return;
  }
  if (url.pathname + '/' === prefix) {
    res.writeHead(301, { ...headers, Location: prefix }).end();
    return;
  }
  if (!url.pathname.startsWith(prefix)) {
    res.writeHead(404, headers).end('not found');
    return;
  }
  let rel = decodeURIComponent(url.pathname.slice(prefix.length)) || 'index.html';
  if (rel.endsWith('/')) rel += 'index.html';
  const file = path.resolve(root, rel);
  if (!file.startsWith(root + path.sep)) {
    res.writeHead(403, headers).end();
    return;
  }
  fs.stat(file, (err, st) => {
    if (err || !st.isFile()) {
      res.writeHead(404, headers).end('not found');
      return;
    }
    headers['Content-Type'] = TYPES[path.extname(file)] || 'application/octet-stream';
    headers['Content-Length'] = st.size;
    res.writeHead(200, headers);
    if (req.method === 'HEAD') res.end();
    else fs.createReadStream(file).pipe(res);
  });
});

server.listen(port, host, () => {
  const addr = server.address();
  console.log(`pianoscribe: serving ${root} at http://${host === '0.0.0.0' ? 'localhost' : host}:${addr.port}${prefix}` +
    (isolation ? ' (cross-origin isolated)' : ' (no isolation headers)'));
});
