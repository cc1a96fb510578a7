'use strict';
// Downloads through a local proxy: CONNECT tunnelling for an HTTPS release server
// (self-signed certificate made with openssl), absolute-URI requests for HTTP, proxy
// credentials, NO_PROXY.

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const http = require('node:http');
const net = require('node:net');
const { installBinary } = require('../lib/install');
const { VERSION, tmpdir, makeRelease, makePackageRoot, serve, serveHttps, selfSignedCert, releaseFiles } = require('./helpers');

const FAST = { retries: 2, retryDelayMs: 5, timeoutMs: 5000 };

// A forward proxy: CONNECT tunnels and absolute-URI GETs; requires `auth` when given.
function startProxy(t, auth) {
  const seen = { connect: [], get: [] };
  const sockets = new Set();
  const authorized = (req) => !auth || req.headers['proxy-authorization'] === `Basic ${Buffer.from(auth).toString('base64')}`;
  const proxy = http.createServer((req, res) => {
    if (!authorized(req)) { res.writeHead(407); return res.end(); }
    seen.get.push(req.url);
    const up = http.request(req.url, { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    up.end();
  });
  proxy.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  proxy.on('connect', (req, client, head) => {
    if (!authorized(req)) { client.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n'); return; }
    seen.connect.push(req.url);
    const [host, port] = req.url.split(':');
    const upstream = net.connect(Number(port), host === 'localhost' ? '127.0.0.1' : host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  t.after(() => new Promise((r) => { for (const s of sockets) s.destroy(); proxy.close(r); }));
  return new Promise((resolve) => proxy.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${proxy.address().port}`, seen })));
}

test('HTTPS_PROXY: the archive and its checksum come through a CONNECT tunnel', async (t) => {
  const dir = tmpdir(t);
  const rel = makeRelease(dir);
  const tlsOpts = selfSignedCert(dir);
  const base = await serveHttps(t, tlsOpts, releaseFiles(dir));
  const proxy = await startProxy(t);
  const root = makePackageRoot(dir, { baseUrl: base });
  const bin = await installBinary({ root, env: { HTTPS_PROXY: proxy.url }, ca: tlsOpts.cert, ...FAST });
  assert.match(execFileSync(bin, ['--version'], { encoding: 'utf8' }), /fake build for tests/);
  const authority = new URL(base).host;
  assert.deepEqual(proxy.seen.connect, [authority, authority]);
  assert.deepEqual(proxy.seen.get, []);
  assert.ok(rel.sha256);
});

test('proxy credentials are sent, and never shown in an error', async (t) => {
  const dir = tmpdir(t);
  makeRelease(dir);
  const tlsOpts = selfSignedCert(dir);
  const base = await serveHttps(t, tlsOpts, releaseFiles(dir));
  const proxy = await startProxy(t, 'user:s3cret');
  const good = `http://user:s3cret@${new URL(proxy.url).host}`;
  const root = makePackageRoot(dir, { baseUrl: base });
  await installBinary({ root, env: { https_proxy: good }, ca: tlsOpts.cert, ...FAST });
  assert.equal(proxy.seen.connect.length, 2);

  const root2 = makePackageRoot(dir, { baseUrl: base });
  const bad = `http://user:wrong-pass@${new URL(proxy.url).host}`;
  const err = await installBinary({ root: root2, env: { HTTPS_PROXY: bad }, ca: tlsOpts.cert, ...FAST }).catch((e) => e);
  assert.match(err.message, /refused to tunnel .* HTTP 407/);
  assert.ok(!err.message.includes('wrong-pass'), err.message);
});

test('HTTP_PROXY for an http:// mirror: absolute-URI requests through the proxy', async (t) => {
  const dir = tmpdir(t);
  const rel = makeRelease(dir);
  const srv = await serve(t, releaseFiles(dir));
  const proxy = await startProxy(t);
  const root = makePackageRoot(dir);
  await installBinary({ root, env: { HTTP_PROXY: proxy.url, CODEX_LITELLM_DOWNLOAD_BASE_URL: srv.url }, ...FAST });
  assert.deepEqual(proxy.seen.get, [`${srv.url}/v${VERSION}/${rel.archive}.sha256`, `${srv.url}/v${VERSION}/${rel.archive}`]);
});

test('NO_PROXY: a listed host is reached directly', async (t) => {
  const dir = tmpdir(t);
  makeRelease(dir);
  const tlsOpts = selfSignedCert(dir);
  const base = await serveHttps(t, tlsOpts, releaseFiles(dir));
  const proxy = await startProxy(t);
  const root = makePackageRoot(dir, { baseUrl: base });
  await installBinary({ root, env: { HTTPS_PROXY: proxy.url, NO_PROXY: 'example.com,.localhost,localhost' }, ca: tlsOpts.cert, ...FAST });
  assert.deepEqual(proxy.seen.connect, []);
});
