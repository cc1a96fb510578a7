'use strict';
// Puts the codex-litellm binary for this machine in place: downloads the release archive
// codex-litellm-<version>-<target>.tar.gz, checks it against the published SHA-256 before
// anything is unpacked, unpacks the binary into a temporary file and renames it into
// place, so a binary is either complete and verified or not there at all.
//
// The expected SHA-256 comes from checksums.json in this package (written by the
// release workflow, so npm's integrity check and provenance cover it) or, for a package
// without one, from the .sha256 file published next to the archive.
//
// Environment:
//   CODEX_LITELLM_BINARY             use this binary; nothing is downloaded
//   CODEX_LITELLM_DOWNLOAD_BASE_URL  fetch <base>/v<version>/<archive> instead of the
//                                    project's release downloads (a mirror)
//   CODEX_LITELLM_CACHE_DIR          where to put the binary when this package's own
//                                    directory is read-only (default ~/.cache/codex-litellm)
//   HTTPS_PROXY, HTTP_PROXY, NO_PROXY  as usual (npm's proxy settings are honoured too)

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { DownloadError, downloadToFile, downloadText, redact } = require('./download');
const { UnsupportedPlatformError, detectTarget, binaryName, archiveName } = require('./platform');
const { TarError, extractMember } = require('./tar');

const PACKAGE_ROOT = path.join(__dirname, '..');
// The unpacked archive: a stripped binary is about 250 MB; 1 GiB leaves room for an unstripped one.
const MAX_UNPACKED_BYTES = 1024 * 1024 * 1024;

class InstallError extends Error {}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw new InstallError(`${file} is not valid JSON (${err.message}); reinstall the package`);
  }
}

function packageInfo(root = PACKAGE_ROOT) {
  const pkg = readJson(path.join(root, 'package.json')) || {};
  const meta = pkg.codexLitellm || {};
  const repo = (pkg.repository && (pkg.repository.url || pkg.repository)) || '';
  return {
    name: pkg.name || 'codex-litellm',
    version: pkg.version,
    releaseBaseUrl: meta.releaseBaseUrl || '',
    sourceUrl: String(repo).replace(/^git\+/, '').replace(/\.git$/, ''),
    checksums: readJson(path.join(root, 'checksums.json')),
  };
}

function cacheRoot(env) {
  if (env.CODEX_LITELLM_CACHE_DIR) return env.CODEX_LITELLM_CACHE_DIR;
  if (process.platform === 'win32' && env.LOCALAPPDATA) return path.join(env.LOCALAPPDATA, 'codex-litellm');
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'codex-litellm');
}

// Where the binary may live, in the order they are tried: inside this package, then the
// per-user cache (for a global install the running user cannot write to).
function candidateDirs(info, target, env, root) {
  return [path.join(root, 'vendor', target), path.join(cacheRoot(env), info.version, target)];
}

function whatToDo(info, archiveUrl) {
  const src = info.sourceUrl || 'the codex-litellm repository';
  const lines = [
    'What to do:',
    `  - run codex-litellm again: it downloads the binary on first run (or reinstall: npm i -g ${info.name})`,
    '  - behind a proxy, set HTTPS_PROXY; to use a mirror of the release files, set',
    `    CODEX_LITELLM_DOWNLOAD_BASE_URL (the file is fetched from <base>/v${info.version}/<archive>)`,
    `  - or build it from source (${src}, README "Building from source"):`,
    '      ./build.sh && export CODEX_LITELLM_BINARY="$PWD/dist/codex-litellm"',
  ];
  if (archiveUrl) lines.splice(1, 0, `  - the file it needs: ${archiveUrl}`);
  return lines.join('\n');
}

function fail(info, reason, archiveUrl) {
  return new InstallError(`codex-litellm: ${reason}\n${whatToDo(info, archiveUrl)}`);
}

function isExecutableFile(file) {
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) return false;
    if (process.platform !== 'win32') fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// findBinary(): the path of an installed binary, or null.
function findBinary({ env = process.env, root = PACKAGE_ROOT } = {}) {
  const info = packageInfo(root);
  if (env.CODEX_LITELLM_BINARY) {
    if (!isExecutableFile(env.CODEX_LITELLM_BINARY)) {
      throw new InstallError(
        `codex-litellm: CODEX_LITELLM_BINARY=${env.CODEX_LITELLM_BINARY} is not an executable file.\n` +
          'Point it at a built binary (e.g. dist/codex-litellm after ./build.sh), or unset it to use the prebuilt one.',
      );
    }
    return env.CODEX_LITELLM_BINARY;
  }
  const target = targetOrFail(info);
  for (const dir of candidateDirs(info, target, env, root)) {
    const file = path.join(dir, binaryName(target));
    if (isExecutableFile(file)) return file;
  }
  return null;
}

// The first candidate directory we can create and write into.
function writableDir(dirs) {
  for (const dir of dirs) {
    try {
      fs.mkdirSync(dir, { recursive: true });
      fs.accessSync(dir, fs.constants.W_OK);
      return dir;
    } catch {
      // try the next one
    }
  }
  return null;
}

function parseChecksum(text, archive) {
  // `sha256sum` format: "<64 hex>  <name>" (a bare hash is accepted too).
  const m = /^([0-9a-fA-F]{64})(?:\s+\*?(\S+))?/.exec(text.trim());
  if (!m || (m[2] && path.basename(m[2]) !== archive)) return null;
  return m[1].toLowerCase();
}

// Ctrl-C, a kill or a closed terminal while a download runs: the temp folders go, then
// the signal takes its default course (the process dies of it, as without this handler).
// One handler for all downloads in flight. Where someone else listens for a signal too,
// it is theirs: the folders then go when installBinary ends.
const SIGNALS = process.platform === 'win32' ? ['SIGINT', 'SIGTERM'] : ['SIGINT', 'SIGTERM', 'SIGHUP'];
const tempDirs = new Set();
const onSignal = new Map(SIGNALS.map((sig) => [sig, () => {
  if (process.listenerCount(sig) > 1) return;
  for (const dir of tempDirs) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort: we are about to die of the signal anyway
    }
  }
  tempDirs.clear();
  for (const [s, h] of onSignal) process.removeListener(s, h);
  process.kill(process.pid, sig);
}]));

// Removes dir on a signal until the returned function is called.
function removeOnSignal(dir) {
  if (tempDirs.size === 0) for (const [s, h] of onSignal) process.on(s, h);
  tempDirs.add(dir);
  return () => {
    if (tempDirs.delete(dir) && tempDirs.size === 0) for (const [s, h] of onSignal) process.removeListener(s, h);
  };
}

// installBinary(opts): downloads, verifies and installs the binary; returns its path.
// opts: env, root (package dir), log(line), and download options (retries,
// retryDelayMs, timeoutMs, ca, maxBytes) and maxUnpackedBytes for tests.
async function installBinary(opts = {}) {
  const env = opts.env || process.env;
  const root = opts.root || PACKAGE_ROOT;
  const log = opts.log || (() => {});
  const info = packageInfo(root);
  const target = targetOrFail(info);
  const archive = archiveName(info.version, target);
  const base = (env.CODEX_LITELLM_DOWNLOAD_BASE_URL || info.releaseBaseUrl).replace(/\/+$/, '');
  if (!base) {
    throw fail(
      info,
      `this ${info.name} package was not made by the release workflow and has no download address ` +
        `for ${archive}; set CODEX_LITELLM_DOWNLOAD_BASE_URL or CODEX_LITELLM_BINARY.`,
    );
  }
  const url = `${base}/v${info.version}/${archive}`;
  const dlOpts = { env, log, retries: opts.retries, retryDelayMs: opts.retryDelayMs, timeoutMs: opts.timeoutMs, ca: opts.ca,
    maxBytes: opts.maxBytes };
  for (const k of Object.keys(dlOpts)) if (dlOpts[k] === undefined) delete dlOpts[k];

  let expected;
  if (info.checksums) {
    expected = info.checksums[archive];
    if (!expected) {
      throw fail(info, `release ${info.version} has no build for ${target} (checksums.json lists: ${Object.keys(info.checksums).join(', ')}).`);
    }
  } else {
    let text;
    try {
      text = await downloadText(`${url}.sha256`, dlOpts);
    } catch (err) {
      if (err instanceof DownloadError) {
        throw fail(info, `could not get the published checksum ${redact(url)}.sha256: ${err.message}`, url);
      }
      throw err;
    }
    expected = parseChecksum(text, archive);
    if (!expected) throw fail(info, `${redact(url)}.sha256 is not a SHA-256 line for ${archive}`, url);
  }

  const dir = writableDir(candidateDirs(info, target, env, root));
  if (!dir) {
    throw fail(info, `cannot write the binary anywhere: ${candidateDirs(info, target, env, root).join(' and ')} are read-only; set CODEX_LITELLM_CACHE_DIR.`);
  }
  const tmp = fs.mkdtempSync(path.join(dir, '.download-'));
  const undoSignals = removeOnSignal(tmp);
  try {
    log(`downloading ${redact(url)}`);
    const tarball = path.join(tmp, archive);
    let got;
    try {
      got = await downloadToFile(url, tarball, dlOpts);
    } catch (err) {
      if (err instanceof DownloadError) throw fail(info, `could not download ${target} build: ${err.message}`, url);
      throw err;
    }
    if (got.sha256 !== expected.toLowerCase()) {
      throw fail(
        info,
        `checksum mismatch for ${archive} (from ${redact(got.url)}): expected SHA-256 ${expected}, got ${got.sha256}. ` +
          'The file was not unpacked. If a mirror is set, it serves a different file.',
        url,
      );
    }
    let binary;
    try {
      // Capped like the download: a gzip bomb that passed its checksum (a bad release) must not fill memory.
      const maxOutputLength = opts.maxUnpackedBytes || MAX_UNPACKED_BYTES;
      binary = extractMember(zlib.gunzipSync(fs.readFileSync(tarball), { maxOutputLength }), binaryName(target));
    } catch (err) {
      if (err.code === 'ERR_BUFFER_TOO_LARGE') {
        throw fail(info, `${archive} passed its checksum but unpacks to more than the ${MAX_UNPACKED_BYTES >> 20} MiB cap; ` +
          'the release is broken: report it, or build from source and set CODEX_LITELLM_BINARY.', url);
      }
      if (err instanceof TarError || err.code === 'Z_DATA_ERROR' || err.code === 'Z_BUF_ERROR') {
        throw fail(info, `${archive} passed its checksum but cannot be unpacked: ${err.message}`, url);
      }
      throw err;
    }
    const staged = path.join(tmp, binaryName(target));
    fs.writeFileSync(staged, binary, { mode: 0o755 });
    fs.chmodSync(staged, 0o755);
    const dest = path.join(dir, binaryName(target));
    fs.renameSync(staged, dest);
    log(`installed ${dest} (${info.version}, ${target}, sha256 ${expected.slice(0, 16)}...)`);
    return dest;
  } finally {
    // A stream of a failed attempt may still be closing its file in here (ENOTEMPTY): retry.
    fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    undoSignals();
  }
}

// This platform's target, or the install error that says what to do instead.
function targetOrFail(info) {
  try {
    return detectTarget();
  } catch (err) {
    if (err instanceof UnsupportedPlatformError) throw fail(info, err.message);
    throw err;
  }
}

async function ensureBinary(opts = {}) {
  return findBinary(opts) || installBinary(opts);
}

module.exports = { InstallError, ensureBinary, findBinary, installBinary, packageInfo, parseChecksum };
