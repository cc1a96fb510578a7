'use strict';
// HTTP(S) downloads with node built-ins only: redirects (at most 5, never from https to
// http), HTTP(S)_PROXY (CONNECT tunnel for https URLs), NO_PROXY, an idle timeout, retries
// with backoff, a size cap, and a check that the body is as long as the server said. The
// body is hashed (SHA-256) while it is written.

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const tls = require('node:tls');
const { pipeline } = require('node:stream/promises');
const { Transform } = require('node:stream');

const MAX_REDIRECTS = 5;
// The release archive is about 100 MB (a 250 MB stripped binary); 512 MiB leaves room for
// growth and for a mirror's unstripped build, and stops a server that sends without end.
const MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024;
const MAX_TEXT_BYTES = 1024 * 1024;

function sizeText(bytes) {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`;
}

class DownloadError extends Error {
  // retryable: a later attempt may succeed (network error, 5xx, body cut short).
  constructor(message, { retryable = false, status } = {}) {
    super(message);
    this.retryable = retryable;
    this.status = status;
  }
}

// A URL without its credentials, for messages (a proxy URL may carry user:password).
function redact(url) {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '***';
      u.password = '';
    }
    return u.toString();
  } catch {
    return '<invalid URL>';
  }
}

function firstEnv(env, names) {
  for (const n of names) {
    if (env[n]) return env[n];
  }
  return '';
}

// NO_PROXY: comma/space separated host names (a leading dot or *. matches subdomains),
// host:port, or * for everything.
function bypassesProxy(target, env) {
  const list = firstEnv(env, ['NO_PROXY', 'no_proxy', 'npm_config_noproxy']);
  if (!list) return false;
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = target.port || (target.protocol === 'https:' ? '443' : '80');
  return list
    .split(/[\s,]+/)
    .filter(Boolean)
    .some((entry) => {
      if (entry === '*') return true;
      let [h, p] = entry.toLowerCase().split(/:(?=\d+$)/);
      if (p && p !== port) return false;
      h = h.replace(/^\*?\./, '');
      return host === h || host.endsWith(`.${h}`);
    });
}

// The proxy URL to use for a target URL, or null. npm passes its own proxy settings
// to install scripts as npm_config_https_proxy / npm_config_proxy.
function proxyFor(target, env = process.env) {
  const names =
    target.protocol === 'https:'
      ? ['HTTPS_PROXY', 'https_proxy', 'npm_config_https_proxy', 'npm_config_proxy']
      : ['HTTP_PROXY', 'http_proxy', 'npm_config_proxy'];
  const value = firstEnv(env, names);
  if (!value || bypassesProxy(target, env)) return null;
  try {
    return new URL(value.includes('://') ? value : `http://${value}`);
  } catch {
    throw new DownloadError(`the proxy setting ${redact(value)} is not a URL; fix HTTPS_PROXY / HTTP_PROXY`);
  }
}

function proxyAuthHeader(proxy) {
  if (!proxy.username) return {};
  const creds = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return { 'Proxy-Authorization': `Basic ${Buffer.from(creds).toString('base64')}` };
}

// Opens a TLS connection to target through the proxy's CONNECT tunnel.
function connectTunnel(target, proxy, opts) {
  return new Promise((resolve, reject) => {
    const port = target.port || 443;
    const authority = `${target.hostname}:${port}`;
    const mod = proxy.protocol === 'https:' ? https : http;
    const req = mod.request({
      host: proxy.hostname,
      port: proxy.port || (proxy.protocol === 'https:' ? 443 : 80),
      method: 'CONNECT',
      path: authority,
      headers: { Host: authority, ...proxyAuthHeader(proxy) },
      ca: opts.ca,
      agent: false,
    });
    req.setTimeout(opts.timeoutMs, () =>
      req.destroy(new DownloadError(`proxy ${redact(proxy)} did not answer the CONNECT within ${opts.timeoutMs} ms`, { retryable: true })),
    );
    req.once('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(
          new DownloadError(`proxy ${redact(proxy)} refused to tunnel to ${authority}: HTTP ${res.statusCode}`, {
            retryable: res.statusCode >= 500,
          }),
        );
        return;
      }
      const secure = tls.connect({ socket, servername: target.hostname.replace(/^\[|\]$/g, ''), ca: opts.ca });
      secure.once('secureConnect', () => resolve(secure));
      secure.once('error', reject);
    });
    req.once('error', (err) =>
      reject(err instanceof DownloadError ? err : new DownloadError(`proxy ${redact(proxy)}: ${err.message}`, { retryable: true })),
    );
    req.end();
  });
}

// One GET (no redirects followed): resolves with the response.
async function getOnce(url, opts) {
  const target = new URL(url);
  if (target.protocol !== 'https:' && target.protocol !== 'http:') {
    throw new DownloadError(`unsupported URL scheme in ${redact(url)} (use https:// or http://)`);
  }
  const proxy = proxyFor(target, opts.env);
  const headers = { 'User-Agent': opts.userAgent, Accept: '*/*' };
  let reqOpts;
  let mod = target.protocol === 'https:' ? https : http;
  if (proxy && target.protocol === 'https:') {
    const socket = await connectTunnel(target, proxy, opts);
    // No agent: node then sends the request over the socket createConnection returns.
    reqOpts = { createConnection: () => socket, path: target.pathname + target.search, host: target.hostname };
  } else if (proxy) {
    // A plain-HTTP target through the proxy: absolute URI in the request line.
    mod = proxy.protocol === 'https:' ? https : http;
    reqOpts = {
      host: proxy.hostname,
      port: proxy.port || (proxy.protocol === 'https:' ? 443 : 80),
      path: target.toString(),
      headers: { ...proxyAuthHeader(proxy), Host: target.host },
      agent: false,
    };
  } else {
    reqOpts = { host: target.hostname.replace(/^\[|\]$/g, ''), port: target.port, path: target.pathname + target.search, agent: false };
  }
  reqOpts.headers = { ...headers, ...(reqOpts.headers || {}) };
  reqOpts.method = 'GET';
  reqOpts.ca = opts.ca;
  return new Promise((resolve, reject) => {
    const req = mod.request(reqOpts, resolve);
    req.setTimeout(opts.timeoutMs, () =>
      req.destroy(new DownloadError(`no answer from ${redact(url)} within ${opts.timeoutMs} ms`, { retryable: true })),
    );
    req.once('error', (err) =>
      reject(err instanceof DownloadError ? err : new DownloadError(`${redact(url)}: ${err.message}`, { retryable: true })),
    );
    req.end();
  });
}

// GET following redirects; resolves with { res, url } for a 200, rejects otherwise.
async function get(url, opts) {
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const res = await getOnce(current, opts);
    const status = res.statusCode;
    if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
      res.resume();
      const next = new URL(res.headers.location, current);
      // Plain HTTP could be altered on the way (the .sha256 next to the archive too).
      if (new URL(current).protocol === 'https:' && next.protocol !== 'https:') {
        throw new DownloadError(
          `${redact(current)} redirects to ${redact(next)}: refused, an https download does not continue over plain HTTP. ` +
            'To download from that server anyway, set CODEX_LITELLM_DOWNLOAD_BASE_URL to its http:// address (a mirror of the release files).',
        );
      }
      current = next.toString();
      continue;
    }
    if (status === 200) return { res, url: current };
    res.resume();
    if (status === 404) {
      throw new DownloadError(`${redact(current)} does not exist (HTTP 404)`, { status });
    }
    throw new DownloadError(`${redact(current)} answered HTTP ${status}`, { status, retryable: status >= 500 || status === 429 });
  }
  throw new DownloadError(`more than ${MAX_REDIRECTS} redirects from ${redact(url)}`);
}

// The error for a body over `max` bytes (not retried: the next answer would be the same).
function tooLarge(url, max, what, kind = 'a release archive is about 100 MB') {
  return new DownloadError(
    `${redact(url)} ${what}, over the ${sizeText(max)} cap (${kind}); ` +
      'if CODEX_LITELLM_DOWNLOAD_BASE_URL is set, check what that mirror serves.',
  );
}

// A Content-Length over the cap is refused before any of the body is read.
function checkLength(res, url, max, kind) {
  const length = Number(res.headers['content-length']);
  if (res.headers['content-length'] !== undefined && length > max) {
    res.destroy();
    throw tooLarge(url, max, `is ${length} bytes`, kind);
  }
}

// Streams the body of a 200 response into the file `dest`, hashing it; fails when the
// body is shorter (or longer) than its Content-Length, or longer than opts.maxBytes.
async function saveBody({ res, url }, dest, opts) {
  checkLength(res, url, opts.maxBytes);
  const expected = res.headers['content-length'] !== undefined ? Number(res.headers['content-length']) : null;
  const hash = crypto.createHash('sha256');
  let bytes = 0;
  const counter = new Transform({
    transform(chunk, _enc, done) {
      bytes += chunk.length;
      if (bytes > opts.maxBytes) {
        done(tooLarge(url, opts.maxBytes, `sent more than ${sizeText(opts.maxBytes)}`));
        return;
      }
      hash.update(chunk);
      if (opts.onProgress) opts.onProgress(bytes, expected);
      done(null, chunk);
    },
  });
  res.setTimeout(opts.timeoutMs, () =>
    res.destroy(new DownloadError(`download of ${redact(url)} stalled for ${opts.timeoutMs} ms`, { retryable: true })),
  );
  const cutShort = () =>
    new DownloadError(
      `download of ${redact(url)} was cut short: got ${bytes} of ${expected === null ? 'an unknown number of' : expected} bytes`,
      { retryable: true },
    );
  const file = fs.createWriteStream(dest);
  try {
    await pipeline(res, counter, file);
  } catch (err) {
    // A destroyed file stream may still be opening or closing `dest`: wait for it (bounded),
    // so the caller can remove the folder (ENOTEMPTY otherwise, seen under load).
    if (!file.closed) {
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, 5000);
        file.once('close', () => { clearTimeout(timer); resolve(); });
      });
    }
    if (err instanceof DownloadError) throw err;
    if (err.path) throw new DownloadError(`could not write ${err.path}: ${err.message}`);
    throw cutShort();
  }
  if (res.aborted || (expected !== null && bytes !== expected)) throw cutShort();
  return { sha256: hash.digest('hex'), bytes, url };
}

async function readBody({ res, url }, opts) {
  checkLength(res, url, MAX_TEXT_BYTES, 'a checksum file is one line');
  const chunks = [];
  let size = 0;
  res.setTimeout(opts.timeoutMs, () => res.destroy(new DownloadError(`download of ${redact(url)} stalled`, { retryable: true })));
  try {
    for await (const c of res) {
      size += c.length;
      if (size > MAX_TEXT_BYTES) throw new DownloadError(`${redact(url)} is larger than 1 MiB; not a checksum file`);
      chunks.push(c);
    }
  } catch (err) {
    throw err instanceof DownloadError ? err : new DownloadError(`download of ${redact(url)} was cut short`, { retryable: true });
  }
  const expected = res.headers['content-length'];
  if (res.aborted || (expected !== undefined && Number(expected) !== size)) {
    throw new DownloadError(`download of ${redact(url)} was cut short`, { retryable: true });
  }
  return Buffer.concat(chunks);
}

function withDefaults(opts = {}) {
  return {
    env: process.env,
    timeoutMs: 30000,
    retries: 3,
    retryDelayMs: 1000,
    userAgent: 'codex-litellm-installer',
    maxBytes: MAX_DOWNLOAD_BYTES,
    log: () => {},
    ...opts,
  };
}

// Runs fn until it succeeds, a non-retryable error happens, or the attempts run out.
async function retrying(what, opts, fn) {
  let lastErr;
  for (let attempt = 1; attempt <= opts.retries; attempt++) {
    try {
      return await fn();
    } catch (err) {
      lastErr = err;
      if (!(err instanceof DownloadError) || !err.retryable || attempt === opts.retries) break;
      const delay = opts.retryDelayMs * 2 ** (attempt - 1);
      opts.log(`${what}: ${err.message}; retrying in ${delay} ms (attempt ${attempt + 1} of ${opts.retries})`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
  if (lastErr instanceof DownloadError && lastErr.retryable && opts.retries > 1) {
    lastErr.message += ` (gave up after ${opts.retries} attempts)`;
  }
  throw lastErr;
}

// downloadToFile(url, dest, opts): { sha256, bytes, url } of the saved body. On failure
// dest may hold a partial body: callers write into a temporary file they remove.
function downloadToFile(url, dest, options) {
  const opts = withDefaults(options);
  return retrying(redact(url), opts, async () => saveBody(await get(url, opts), dest, opts));
}

// downloadText(url, opts): a small body (a .sha256 file) as a string.
function downloadText(url, options) {
  const opts = withDefaults(options);
  return retrying(redact(url), opts, async () => (await readBody(await get(url, opts), opts)).toString('utf8'));
}

module.exports = { DownloadError, downloadToFile, downloadText, proxyFor, redact };
