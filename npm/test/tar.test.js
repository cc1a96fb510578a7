'use strict';
// lib/tar.js on archives built byte by byte: pax records that are malformed (a length of
// 0 once made the reader loop forever), pax lengths counted in bytes, the tar of build.sh.

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { TarError, extractMember } = require('../lib/tar');
const { tmpdir } = require('./helpers');

// A ustar header block for a member of `size` bytes and tar type `type`.
function header(name, size, type) {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000755\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('14626111000\0', 136);
  h.write(type, 156);
  h.write('ustar\x0000', 257);
  h.fill(32, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

function member(name, data, type = '0') {
  const body = Buffer.from(data);
  const pad = Buffer.alloc((512 - (body.length % 512)) % 512);
  return Buffer.concat([header(name, body.length, type), body, pad]);
}

// A pax extended header holding `records` (raw text), then the binary, then the end blocks.
function archiveWithPax(records) {
  return Buffer.concat([
    member('./PaxHeaders/codex-litellm', records, 'x'),
    member('codex-litellm', 'the binary'),
    Buffer.alloc(1024),
  ]);
}

// extractMember in a child process that is killed after 10 s, so a reader that loops
// forever fails this test instead of hanging the suite. Returns the child's verdict.
function extractInChild(t, buf) {
  const file = path.join(tmpdir(t), 'a.tar');
  fs.writeFileSync(file, buf);
  const code = `
    const { extractMember } = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'tar.js'))});
    try {
      const out = extractMember(require('fs').readFileSync(${JSON.stringify(file)}), 'codex-litellm');
      console.log('ok ' + out.toString());
    } catch (e) {
      console.log(e.constructor.name + ': ' + e.message);
    }`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 10000, killSignal: 'SIGKILL' });
  assert.equal(r.signal, null, 'extractMember did not return within 10 s (it loops forever)');
  return r.stdout.trim();
}

test('a pax record of length 0 is a corrupt archive, not an endless loop', (t) => {
  assert.match(extractInChild(t, archiveWithPax('0 foo=bar\n')), /^TarError: corrupt pax header/);
});

test('malformed pax records are refused with TarError, whatever is wrong with them', (t) => {
  const bad = {
    'length shorter than its own "LEN key=" part': '3 foo=bar\n',
    'length past the end of the header': '99 path=x\n',
    'no newline at the end of the record': '10 path=xyz',
    'not a number': 'x path=codex-litellm\n',
    'no key=value': '8 hello\n',
    'a good record, then garbage': '18 path=something\njunk',
  };
  for (const [what, records] of Object.entries(bad)) {
    assert.throws(() => extractMember(archiveWithPax(records), 'codex-litellm'),
      (e) => e instanceof TarError && /corrupt pax header/.test(e.message), what);
  }
  // Every case in the child too: none of them may loop.
  for (const records of Object.values(bad)) assert.match(extractInChild(t, archiveWithPax(records)), /^TarError/);
});

test('pax record lengths count bytes: a non-ASCII path followed by another record', () => {
  const name = 'dir/ünïcode-litellm';
  const rec = (key, value) => {
    const body = ` ${key}=${value}\n`;
    let len = Buffer.byteLength(body) + 1;
    if (String(len).length + Buffer.byteLength(body) !== len) len += 1;
    return `${len}${body}`;
  };
  const records = rec('path', name) + rec('mtime', '1700000000');
  const buf = Buffer.concat([member('./PaxHeaders/x', records, 'x'), member('placeholder', 'by pax path'), Buffer.alloc(1024)]);
  assert.equal(extractMember(buf, name).toString(), 'by pax path');
});

test('the archive build.sh makes (GNU tar, and tar --format=pax) gives the binary back', (t) => {
  const dir = tmpdir(t);
  fs.writeFileSync(path.join(dir, 'codex-litellm'), 'binary bytes');
  for (const format of ['gnu', 'pax']) {
    const buf = execFileSync('tar', ['-C', dir, `--format=${format}`, '--sort=name', '--owner=0', '--group=0',
      '--numeric-owner', '--mtime=@1700000000', '-cf', '-', 'codex-litellm']);
    assert.equal(extractMember(buf, 'codex-litellm').toString(), 'binary bytes', format);
  }
});
