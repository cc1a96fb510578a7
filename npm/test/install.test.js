'use strict';
// lib/install.js against a local HTTP server serving a fake release (see helpers.js).

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { InstallError, findBinary, installBinary, parseChecksum } = require('../lib/install');
const { detectTarget, UnsupportedPlatformError } = require('../lib/platform');
const {
  VERSION, TARGET, tmpdir, makeRelease, makePackageRoot, serve, serveHttps, selfSignedCert, releaseFiles, filesUnder, entriesUnder,
} = require('./helpers');

const FAST = { retries: 3, retryDelayMs: 5, timeoutMs: 5000 };

// A clean environment: no proxy or override from the developer's shell.
function env(extra = {}) {
  return { HOME: '/nonexistent', CODEX_LITELLM_CACHE_DIR: '/nonexistent/cache', ...extra };
}

async function rejectsWith(promise, ...texts) {
  const err = await promise.then(() => null, (e) => e);
  assert.ok(err, 'expected the install to fail');
  assert.ok(err instanceof InstallError, `not an InstallError: ${err && err.stack}`);
  for (const t of texts) assert.ok(err.message.includes(t), `message lacks ${JSON.stringify(t)}:\n${err.message}`);
  return err;
}

test('installs a verified release: binary runs, nothing else is left in the package', async (t) => {
  const dir = tmpdir(t);
  const rel = makeRelease(dir);
  const srv = await serve(t, releaseFiles(dir));
  const root = makePackageRoot(dir, { baseUrl: srv.url });
  const bin = await installBinary({ root, env: env(), ...FAST });
  assert.equal(bin, path.join(root, 'vendor', TARGET, 'codex-litellm'));
  assert.equal(execFileSync(bin, ['--version'], { encoding: 'utf8' }), `codex-litellm ${VERSION} (fake build for tests)\n`);
  assert.deepEqual(filesUnder(path.join(root, 'vendor')), [path.join(TARGET, 'codex-litellm')]);
  assert.equal(findBinary({ root, env: env() }), bin);
  assert.equal(srv.hits[`/v${VERSION}/${rel.archive}`], 1);
  assert.equal(srv.hits[`/v${VERSION}/${rel.archive}.sha256`], 1);
});

test('a wrong .sha256 stops before anything is unpacked', async (t) => {
  const dir = tmpdir(t);
  const rel = makeRelease(dir);
  fs.writeFileSync(`${rel.file}.sha256`, `${'0'.repeat(64)}  ${rel.archive}\n`);
  const srv = await serve(t, releaseFiles(dir));
  const root = makePackageRoot(dir, { baseUrl: srv.url });
  await rejectsWith(installBinary({ root, env: env(), ...FAST }),
    'checksum mismatch', `expected SHA-256 ${'0'.repeat(64)}, got ${rel.sha256}`, 'not unpacked', 'build it from source', './build.sh');
  assert.deepEqual(filesUnder(path.join(root, 'vendor')), []);
  assert.equal(srv.hits[`/v${VERSION}/${rel.archive}`], 1, 'a mismatch is not retried');
});

test('checksums.json shipped in the package wins over the server: a mirror serving another file is refused', async (t) => {
  const dir = tmpdir(t);
  const rel = makeRelease(dir);
  const other = makeRelease(fs.mkdtempSync(path.join(dir, 'other-')), { script: '#!/bin/sh\necho evil\n' });
  const srv = await serve(t, releaseFiles(path.dirname(other.file)));
  const root = makePackageRoot(dir, { checksums: { [rel.archive]: rel.sha256 } });
  await rejectsWith(installBinary({ root, env: env({ CODEX_LITELLM_DOWNLOAD_BASE_URL: `${srv.url}/` }), ...FAST }),
    'checksum mismatch', `expected SHA-256 ${rel.sha256}, got ${other.sha256}`, 'a mirror');
  assert.deepEqual(filesUnder(path.join(root, 'vendor')), []);
  assert.equal(srv.hits[`/v${VERSION}/${rel.archive}.sha256`], undefined, 'the shipped checksum is used');
});

test('the mirror base URL serves the archive checked against the shipped checksum', async (t) => {
  const dir = tmpdir(t);
  const rel = makeRelease(dir);
  fs.rmSync(`${rel.file}.sha256`);
  const srv = await serve(t, releaseFiles(dir));
  const root = makePackageRoot(dir, { baseUrl: 'http://127.0.0.1:9/unused', checksums: { [rel.archive]: rel.sha256 } });
  const bin = await installBinary({ root, env: env({ CODEX_LITELLM_DOWNLOAD_BASE_URL: srv.url }), ...FAST });
  assert.match(execFileSync(bin, ['--version'], { encoding: 'utf8' }), /fake build for tests/);
});

test('a 404 for the archive stops at once with what to do', async (t) => {
  const dir = tmpdir(t);
  const rel = makeRelease(dir);
  fs.rmSync(rel.file);
  const srv = await serve(t, releaseFiles(dir));
  const root = makePackageRoot(dir, { baseUrl: srv.url });
  await rejectsWith(installBinary({ root, env: env(), ...FAST }),
    `${srv.url}/v${VERSION}/${rel.archive} does not exist (HTTP 404)`, 'CODEX_LITELLM_DOWNLOAD_BASE_URL', 'CODEX_LITELLM_BINARY', './build.sh');
  assert.equal(srv.hits[`/v${VERSION}/${rel.archive}`], 1, 'a 404 is not retried');
  assert.deepEqual(filesUnder(path.join(root, 'vendor')), []);
});

test('a 404 for the checksum file stops before the archive is fetched', async (t) => {
  const dir = tmpdir(t);
  const rel = makeRelease(dir);
  fs.rmSync(`${rel.file}.sha256`);
  const srv = await serve(t, releaseFiles(dir));
  const root = makePackageRoot(dir, { baseUrl: srv.url });
  await rejectsWith(installBinary({ root, env: env(), ...FAST }), 'could not get the published checksum', 'HTTP 404');
  assert.equal(srv.hits[`/v${VERSION}/${rel.archive}`], undefined);
});

// Answers with the full Content-Length but sends only half the body, then drops the connection.
function truncated(rel) {
  return (req, res) => {
    if (req.url.endsWith('.sha256')) return releaseFiles(path.dirname(rel.file))(req, res);
    res.writeHead(200, { 'Content-Length': rel.bytes.length });
    res.write(rel.bytes.subarray(0, rel.bytes.length >> 1), () => res.socket.destroy());
  };
}

test('a body cut short is retried, then reported; no partial file is left', async (t) => {
  const dir = tmpdir(t);
  const rel = makeRelease(dir);
  const srv = await serve(t, truncated(rel));
  const root = makePackageRoot(dir, { baseUrl: srv.url });
  await rejectsWith(installBinary({ root, env: env(), ...FAST }),
    'was cut short', `of ${rel.bytes.length} bytes`, 'gave up after 3 attempts');
  assert.equal(srv.hits[`/v${VERSION}/${rel.archive}`], 3);
  assert.deepEqual(filesUnder(path.join(root, 'vendor')), []);
});

test('a flaky download (503, then a cut-short body) succeeds on the third attempt', async (t) => {
  const dir = tmpdir(t);
  const rel = makeRelease(dir);
  const good = releaseFiles(dir);
  const cut = truncated(rel);
  const srv = await serve(t, (req, res, hits) => {
    const n = hits[req.url];
    if (req.url.endsWith('.tar.gz') && n === 1) { res.writeHead(503); res.end('busy'); return; }
    if (req.url.endsWith('.tar.gz') && n === 2) return cut(req, res);
    return good(req, res);
  });
  const root = makePackageRoot(dir, { baseUrl: srv.url });
  const logs = [];
  const bin = await installBinary({ root, env: env(), ...FAST, log: (l) => logs.push(l) });
  assert.match(execFileSync(bin, ['--version'], { encoding: 'utf8' }), /fake build/);
  assert.equal(srv.hits[`/v${VERSION}/${rel.archive}`], 3);
  assert.ok(logs.some((l) => l.includes('HTTP 503') && l.includes('retrying')), logs.join('\n'));
});

test('redirects are followed (relative and absolute, as release downloads do)', async (t) => {
  const dir = tmpdir(t);
  const rel = makeRelease(dir);
  const files = releaseFiles(dir);
  let base;
  const srv = await serve(t, (req, res) => {
    if (req.url.startsWith('/releases/download/')) {
      res.writeHead(302, { Location: `/cdn/${req.url.slice('/releases/download/'.length)}` });
      return res.end();
    }
    if (req.url.startsWith('/cdn/')) {
      res.writeHead(301, { Location: `${base}/${req.url.slice('/cdn/'.length)}` });
      return res.end();
    }
    return files(req, res);
  });
  base = srv.url;
  const root = makePackageRoot(dir, { baseUrl: `${srv.url}/releases/download` });
  const bin = await installBinary({ root, env: env(), ...FAST });
  assert.match(execFileSync(bin, ['--version'], { encoding: 'utf8' }), /fake build/);
  assert.equal(srv.hits[`/cdn/v${VERSION}/${rel.archive}`], 1);
});

test('a redirect loop stops with a clear message', async (t) => {
  const dir = tmpdir(t);
  const srv = await serve(t, (req, res) => { res.writeHead(302, { Location: req.url }); res.end(); });
  const root = makePackageRoot(dir, { baseUrl: srv.url });
  await rejectsWith(installBinary({ root, env: env(), ...FAST }), 'more than 5 redirects');
});

test('an https download redirected to http:// is refused, with what to do', async (t) => {
  const dir = tmpdir(t);
  const rel = makeRelease(dir);
  const plain = await serve(t, releaseFiles(dir));
  const tlsOpts = selfSignedCert(dir);
  const base = await serveHttps(t, tlsOpts, (req, res) => { res.writeHead(302, { Location: `${plain.url}${req.url}` }); res.end(); });
  const root = makePackageRoot(dir, { baseUrl: base, checksums: { [rel.archive]: rel.sha256 } });
  await rejectsWith(installBinary({ root, env: env(), ca: tlsOpts.cert, ...FAST }),
    `${base}/v${VERSION}/${rel.archive} redirects to ${plain.url}/v${VERSION}/${rel.archive}`, 'plain HTTP',
    'CODEX_LITELLM_DOWNLOAD_BASE_URL');
  assert.deepEqual(plain.hits, {}, 'nothing is fetched over http');
  assert.deepEqual(filesUnder(path.join(root, 'vendor')), []);
});

test('the redirect to http:// is refused for the .sha256 too', async (t) => {
  const dir = tmpdir(t);
  makeRelease(dir);
  const plain = await serve(t, releaseFiles(dir));
  const tlsOpts = selfSignedCert(dir);
  const base = await serveHttps(t, tlsOpts, (req, res) => { res.writeHead(301, { Location: `${plain.url}${req.url}` }); res.end(); });
  const root = makePackageRoot(dir, { baseUrl: base });
  await rejectsWith(installBinary({ root, env: env(), ca: tlsOpts.cert, ...FAST }), 'could not get the published checksum', 'plain HTTP');
  assert.deepEqual(plain.hits, {});
});

test('a Content-Length over the 512 MiB cap is refused before the body is read, and not retried', async (t) => {
  const dir = tmpdir(t);
  const rel = makeRelease(dir);
  const srv = await serve(t, (req, res) => {
    res.writeHead(200, { 'Content-Length': 600 * 1024 * 1024 });
    res.write(Buffer.alloc(1024), () => res.socket.destroy());
  });
  const root = makePackageRoot(dir, { baseUrl: srv.url, checksums: { [rel.archive]: rel.sha256 } });
  await rejectsWith(installBinary({ root, env: env(), ...FAST }),
    `${srv.url}/v${VERSION}/${rel.archive} is 629145600 bytes`, 'over the 512 MiB cap', 'CODEX_LITELLM_DOWNLOAD_BASE_URL');
  assert.equal(srv.hits[`/v${VERSION}/${rel.archive}`], 1);
  assert.deepEqual(filesUnder(path.join(root, 'vendor')), []);
});

test('a body without Content-Length that grows past the cap is cut off, and not retried', async (t) => {
  const dir = tmpdir(t);
  const rel = makeRelease(dir);
  const total = 64 << 20;
  let sent = 0;
  const srv = await serve(t, (req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' }); // chunked
    const chunk = Buffer.alloc(64 << 10, 7);
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!res.write(chunk)) return res.once('drain', pump);
      }
      return res.end();
    };
    pump();
  });
  const root = makePackageRoot(dir, { baseUrl: srv.url, checksums: { [rel.archive]: rel.sha256 } });
  await rejectsWith(installBinary({ root, env: env(), ...FAST, maxBytes: 1 << 20 }),
    `${srv.url}/v${VERSION}/${rel.archive} sent more than 1 MiB`, 'over the 1 MiB cap');
  assert.ok(sent < total, `the download went on to the end (${sent} bytes sent)`);
  assert.equal(srv.hits[`/v${VERSION}/${rel.archive}`], 1);
  assert.deepEqual(filesUnder(path.join(root, 'vendor')), []);
});

// `installs` installBinary calls at once in a child process whose downloads never finish;
// once all are receiving, the test sends `sig`. Resolves with the package roots and the exit.
async function interruptedInstalls(t, sig, installs) {
  const dir = tmpdir(t);
  const rel = makeRelease(dir);
  let receiving;
  const started = new Promise((r) => { receiving = r; });
  let count = 0;
  const srv = await serve(t, (req, res) => {
    res.writeHead(200, { 'Content-Length': rel.bytes.length });
    // Half the body, and then nothing more.
    res.write(rel.bytes.subarray(0, rel.bytes.length >> 1), () => { if (++count === installs) receiving(); });
  });
  const roots = Array.from({ length: installs }, () =>
    makePackageRoot(dir, { baseUrl: srv.url, checksums: { [rel.archive]: rel.sha256 } }));
  const calls = roots.map((root) => JSON.stringify({ root, env: env(), retries: 1, timeoutMs: 60000 }));
  const code = `const { installBinary } = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'install.js'))});
    for (const opts of [${calls.join(', ')}]) {
      installBinary(opts).then(() => console.log('installed'), (e) => console.log('failed: ' + e.message));
    }`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((r) => child.on('exit', (status, signal) => r({ status, signal, out })));
  await started;
  for (const root of roots) {
    assert.equal(entriesUnder(path.join(root, 'vendor', TARGET)).filter((e) => e.startsWith('.download-')).length, 1,
      'the download runs in a temp folder');
  }
  child.kill(sig);
  return { roots, exit: await exited };
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  test(`${sig} during the download: the temp folder is removed and the process dies of ${sig}`, { timeout: 30000 }, async (t) => {
    const { roots, exit } = await interruptedInstalls(t, sig, 1);
    assert.equal(exit.signal, sig, `exit ${exit.status}: ${exit.out}`);
    assert.deepEqual(entriesUnder(path.join(roots[0], 'vendor')), [TARGET], 'nothing but the empty target folder is left');
  });
}

test('SIGINT during two downloads at once: both temp folders go, the signal is not swallowed', { timeout: 30000 }, async (t) => {
  const { roots, exit } = await interruptedInstalls(t, 'SIGINT', 2);
  assert.equal(exit.signal, 'SIGINT', `exit ${exit.status}: ${exit.out}`);
  for (const root of roots) assert.deepEqual(entriesUnder(path.join(root, 'vendor')), [TARGET]);
});

test('a read-only package directory: the binary goes to the cache directory', async (t) => {
  const dir = tmpdir(t);
  makeRelease(dir);
  const srv = await serve(t, releaseFiles(dir));
  const root = makePackageRoot(dir, { baseUrl: srv.url });
  fs.writeFileSync(path.join(root, 'vendor'), 'not a directory');
  const cache = path.join(dir, 'cache');
  const bin = await installBinary({ root, env: env({ CODEX_LITELLM_CACHE_DIR: cache }), ...FAST });
  assert.equal(bin, path.join(cache, VERSION, TARGET, 'codex-litellm'));
  assert.equal(findBinary({ root, env: env({ CODEX_LITELLM_CACHE_DIR: cache }) }), bin);
});

test('a package without a download address says how to get the binary', async (t) => {
  const dir = tmpdir(t);
  const root = makePackageRoot(dir);
  await rejectsWith(installBinary({ root, env: env(), ...FAST }),
    'was not made by the release workflow', 'CODEX_LITELLM_DOWNLOAD_BASE_URL', 'CODEX_LITELLM_BINARY');
});

test('a release without a build for this target (checksums.json) says so', async (t) => {
  const dir = tmpdir(t);
  const root = makePackageRoot(dir, { baseUrl: 'http://127.0.0.1:9', checksums: { 'codex-litellm-x-other.tar.gz': 'a'.repeat(64) } });
  await rejectsWith(installBinary({ root, env: env(), ...FAST }), `has no build for ${TARGET}`, './build.sh');
});

test('unsupported platforms are named, with what is supported', () => {
  assert.throws(() => detectTarget({ platform: 'freebsd', arch: 'x64' }),
    (e) => e instanceof UnsupportedPlatformError && /freebsd-x64/.test(e.message) && /linux-x64/.test(e.message));
  assert.throws(() => detectTarget({ platform: 'linux', arch: 'x64', libc: 'musl' }), /musl/);
  assert.throws(() => detectTarget({ platform: 'win32', arch: 'arm64' }), /win32-arm64/);
  assert.equal(detectTarget({ platform: 'darwin', arch: 'arm64' }), 'aarch64-apple-darwin');
  assert.equal(detectTarget({ platform: 'linux', arch: 'x64', libc: 'glibc' }), 'x86_64-unknown-linux-gnu');
});

test('CODEX_LITELLM_BINARY is used as is, and a wrong one is refused', (t) => {
  const dir = tmpdir(t);
  const root = makePackageRoot(dir);
  const bin = path.join(dir, 'mine');
  fs.writeFileSync(bin, '#!/bin/sh\n', { mode: 0o755 });
  assert.equal(findBinary({ root, env: env({ CODEX_LITELLM_BINARY: bin }) }), bin);
  assert.throws(() => findBinary({ root, env: env({ CODEX_LITELLM_BINARY: path.join(dir, 'missing') }) }),
    /is not an executable file/);
});

test('checksum lines: sha256sum format, bare hash; another file name is refused', () => {
  const h = 'ab'.repeat(32);
  assert.equal(parseChecksum(`${h}  a.tar.gz\n`, 'a.tar.gz'), h);
  assert.equal(parseChecksum(`${h.toUpperCase()} *dist/a.tar.gz`, 'a.tar.gz'), h);
  assert.equal(parseChecksum(h, 'a.tar.gz'), h);
  assert.equal(parseChecksum(`${h}  b.tar.gz`, 'a.tar.gz'), null);
  assert.equal(parseChecksum('<html>not found</html>', 'a.tar.gz'), null);
});

test('an archive that unpacks past the cap is refused, not unpacked into memory', async (t) => {
  const dir = tmpdir(t);
  const rel = makeRelease(dir);
  const srv = await serve(t, releaseFiles(dir));
  const root = makePackageRoot(dir, { baseUrl: srv.url });
  await rejectsWith(installBinary({ root, env: env(), ...FAST, maxUnpackedBytes: 100 }),
    `${rel.archive} passed its checksum but unpacks to more than`, 'CODEX_LITELLM_BINARY');
  assert.deepEqual(filesUnder(path.join(root, 'vendor')), []);
});
