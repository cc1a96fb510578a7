'use strict';
// Test helpers: a fake codex-litellm release (a shell script that prints a version,
// packed the way build.sh packs the real binary), a package root, and local servers.

const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const { archiveName, binaryName, detectTarget } = require('../lib/platform');

const VERSION = '0.1.0-litellm.7';
const TARGET = detectTarget();

function tmpdir(t, prefix = 'codex-litellm-npm-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// The fake binary: prints its version for --version, else its arguments and stdin.
const FAKE_BINARY = `#!/bin/sh
if [ "$1" = --version ]; then echo "codex-litellm ${VERSION} (fake build for tests)"; exit 0; fi
printf 'arg:%s\\n' "$@"
exit 0
`;

// makeRelease(dir): dir/codex-litellm-<version>-<target>.tar.gz (+ .sha256), packed
// with build.sh's tar options; returns { archive, file, sha256, bytes }.
function makeRelease(dir, { version = VERSION, target = TARGET, script = FAKE_BINARY } = {}) {
  const stage = fs.mkdtempSync(path.join(dir, 'stage-'));
  fs.writeFileSync(path.join(stage, binaryName(target)), script, { mode: 0o755 });
  const archive = archiveName(version, target);
  const file = path.join(dir, archive);
  const tar = execFileSync('tar', ['-C', stage, '--sort=name', '--owner=0', '--group=0', '--numeric-owner',
    '--mtime=@1700000000', '-cf', '-', binaryName(target)]);
  fs.writeFileSync(file, execFileSync('gzip', ['-n'], { input: tar }));
  fs.rmSync(stage, { recursive: true });
  const bytes = fs.readFileSync(file);
  const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
  fs.writeFileSync(`${file}.sha256`, `${sha256}  ${archive}\n`);
  return { archive, file, sha256, bytes };
}

// makePackageRoot(dir, {baseUrl, checksums}): a package dir holding only package.json
// (and checksums.json), which is all lib/install.js reads from it.
function makePackageRoot(dir, { version = VERSION, baseUrl = '', checksums } = {}) {
  const root = fs.mkdtempSync(path.join(dir, 'pkg-'));
  fs.writeFileSync(path.join(root, 'package.json'),
    JSON.stringify({ name: 'codex-litellm', version, codexLitellm: { releaseBaseUrl: baseUrl } }));
  if (checksums) fs.writeFileSync(path.join(root, 'checksums.json'), JSON.stringify(checksums));
  return root;
}

// serve(t, handler): a local HTTP server; handler(req, res, hits) where hits counts
// requests per path. Resolves with { url, hits }.
function serve(t, handler) {
  const hits = {};
  const server = http.createServer((req, res) => {
    hits[req.url] = (hits[req.url] || 0) + 1;
    handler(req, res, hits);
  });
  t.after(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () =>
    resolve({ url: `http://127.0.0.1:${server.address().port}`, hits, server })));
}

// A self-signed certificate for localhost and 127.0.0.1 (openssl); pass .cert as `ca`.
function selfSignedCert(dir) {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  return { key: fs.readFileSync(key), cert: fs.readFileSync(cert) };
}

// serveHttps(t, tlsOpts, handler): a local HTTPS server; resolves with its https://localhost URL.
function serveHttps(t, tlsOpts, handler) {
  const server = https.createServer(tlsOpts, handler);
  t.after(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`https://localhost:${server.address().port}`)));
}

// A handler serving the release files of dir at /v<version>/<file>; 404 otherwise.
function releaseFiles(dir, version = VERSION) {
  return (req, res) => {
    const prefix = `/v${version}/`;
    const name = req.url.startsWith(prefix) ? req.url.slice(prefix.length) : null;
    const file = name && !name.includes('/') ? path.join(dir, name) : null;
    if (!file || !fs.existsSync(file)) { res.writeHead(404); res.end('not found'); return; }
    const body = fs.readFileSync(file);
    res.writeHead(200, { 'Content-Length': body.length, 'Content-Type': 'application/octet-stream' });
    res.end(body);
  };
}

// Files left anywhere under dir (relative paths), to prove nothing partial stays behind.
function filesUnder(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => !e.isDirectory())
    .map((e) => path.relative(dir, path.join(e.parentPath || e.path, e.name)))
    .sort();
}

// Every entry under dir, folders too (relative paths): a temp folder left empty shows.
function entriesUnder(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .map((e) => path.relative(dir, path.join(e.parentPath || e.path, e.name)))
    .sort();
}

module.exports = {
  VERSION, TARGET, FAKE_BINARY, tmpdir, makeRelease, makePackageRoot, serve, serveHttps, selfSignedCert, releaseFiles, filesUnder,
  entriesUnder,
};
