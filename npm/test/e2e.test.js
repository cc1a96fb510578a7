'use strict';
// End to end: the release's npm package (scripts/npm-stage.sh + npm pack), installed with
// `npm i -g --prefix` into a fresh directory against a local server that serves a fake
// release (a shell script printing a version, packed as build.sh packs the binary), then
// `codex-litellm --version` through the installed launcher. Once with the postinstall
// download, once with --ignore-scripts (fetched on the first run).

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { promisify } = require('node:util');
const { VERSION, TARGET, tmpdir, makeRelease, serve, releaseFiles } = require('./helpers');

const run = promisify(execFile);
const REPO = path.join(__dirname, '..', '..');

// No proxy or npm settings from the caller's shell; npm's cache inside the test dir.
function cleanEnv(dir) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/proxy|^npm_|^CODEX_LITELLM_|^NODE_TEST/i.test(k)) env[k] = v;
  }
  return { ...env, npm_config_cache: path.join(dir, 'npm-cache'), npm_config_update_notifier: 'false' };
}

async function stageAndPack(dir, baseUrl) {
  const dist = path.join(dir, 'dist');
  fs.mkdirSync(dist);
  makeRelease(dist);
  const { stdout } = await run(path.join(REPO, 'scripts', 'npm-stage.sh'),
    ['--dist', dist, '--base-url', baseUrl, '--out', path.join(dir, 'out'), '--version', VERSION]);
  return { tgz: stdout.trim().split('\n').pop(), dist };
}

async function npmInstall(dir, prefix, tgz, extra = []) {
  await run('npm', ['install', '--global', '--prefix', prefix, '--no-audit', '--no-fund', ...extra, tgz],
    { env: cleanEnv(dir), cwd: dir });
  return path.join(prefix, 'bin', 'codex-litellm');
}

test('npm pack, npm i -g --prefix, codex-litellm --version (binary fetched by postinstall)', async (t) => {
  const dir = tmpdir(t);
  let srv;
  srv = await serve(t, (req, res) => releaseFiles(path.join(dir, 'dist'))(req, res));
  const { tgz } = await stageAndPack(dir, srv.url);
  assert.match(path.basename(tgz), new RegExp(`^codex-litellm-${VERSION.replace(/\./g, '\\.')}\\.tgz$`));
  const bin = await npmInstall(dir, path.join(dir, 'prefix'), tgz);
  const archive = `/v${VERSION}/codex-litellm-${VERSION}-${TARGET}.tar.gz`;
  assert.equal(srv.hits[archive], 1, 'postinstall downloaded the archive');
  assert.equal(srv.hits[`${archive}.sha256`], undefined, 'the checksum came with the package (checksums.json)');
  const { stdout } = await run(bin, ['--version'], { env: cleanEnv(dir) });
  assert.equal(stdout, `codex-litellm ${VERSION} (fake build for tests)\n`);
  assert.equal(srv.hits[archive], 1, 'the first run downloads nothing more');
});

test('npm i -g --ignore-scripts: the first run fetches the binary, the second reuses it', async (t) => {
  const dir = tmpdir(t);
  const srv = await serve(t, (req, res) => releaseFiles(path.join(dir, 'dist'))(req, res));
  const { tgz } = await stageAndPack(dir, srv.url);
  const bin = await npmInstall(dir, path.join(dir, 'prefix'), tgz, ['--ignore-scripts']);
  const archive = `/v${VERSION}/codex-litellm-${VERSION}-${TARGET}.tar.gz`;
  assert.equal(srv.hits[archive], undefined, 'nothing downloaded at install');
  const first = await run(bin, ['--version'], { env: cleanEnv(dir) });
  assert.equal(first.stdout, `codex-litellm ${VERSION} (fake build for tests)\n`);
  assert.match(first.stderr, /codex-litellm: downloading .*\ncodex-litellm: installed /);
  const second = await run(bin, ['--version'], { env: cleanEnv(dir) });
  assert.equal(second.stdout, first.stdout);
  assert.equal(second.stderr, '');
  assert.equal(srv.hits[archive], 1);
});

test('a failed download fails the install with the reason and what to do', async (t) => {
  const dir = tmpdir(t);
  const srv = await serve(t, (req, res) => { res.writeHead(404); res.end(); });
  const { tgz } = await stageAndPack(dir, srv.url);
  const err = await npmInstall(dir, path.join(dir, 'prefix'), tgz).catch((e) => e);
  assert.ok(err instanceof Error, 'npm install should fail');
  assert.match(err.stderr, /does not exist \(HTTP 404\)/);
  assert.match(err.stderr, /build it from source/);
});
