'use strict';
// bin/codex-litellm.js with a fake binary (CODEX_LITELLM_BINARY): arguments, stdin,
// exit status and signals pass through. On Node >= 22.15 the launcher replaces itself
// with the binary (execve); CODEX_LITELLM_LAUNCHER_SPAWN=1 tests the child-process path
// that older Node and Windows use.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { tmpdir } = require('./helpers');
const { shouldForward } = require('../lib/launch');

const LAUNCHER = path.join(__dirname, '..', 'bin', 'codex-litellm.js');

// The fake binary counts the signals it gets, and says so when it ends. Node (libuv) runs
// its handler once per delivery, so a signal sent twice a moment apart is counted twice.
const COUNTING = `#!${process.execPath}
const fs = require('fs');
let ints = 0;
process.on('SIGINT', () => console.log('got INT ' + ++ints));
process.on('SIGTERM', () => { console.log('got TERM 1'); process.exit(15); });
const end = () => { console.log('done ints=' + ints); process.exit(3); };
const poll = setInterval(() => fs.existsSync(process.env.STOP_FILE || '') && end(), 20);
setTimeout(end, 5000);
console.log('ready');
`;

function fakeBinary(dir, script) {
  const bin = path.join(dir, 'codex-litellm');
  fs.writeFileSync(bin, script, { mode: 0o755 });
  return bin;
}

function launcherEnv(bin, extra = {}) {
  return { ...process.env, CODEX_LITELLM_BINARY: bin, CODEX_LITELLM_LAUNCHER_SPAWN: '1', ...extra };
}

// Runs the launcher in its own session (no controlling terminal), collecting stdout;
// onReady(child) is called when the fake binary printed "ready".
function runLauncher(env, onReady) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [LAUNCHER], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (onReady && out.includes('ready\n')) { const f = onReady; onReady = null; f(child); }
    });
    child.stderr.on('data', (d) => { err += d; });
    child.on('exit', (code, signal) => resolve({ code, signal, out, err }));
  });
}

for (const mode of ['spawn', 'default (execve on Node >= 22.15)']) {
  const env = mode === 'spawn' ? { CODEX_LITELLM_LAUNCHER_SPAWN: '1' } : { CODEX_LITELLM_LAUNCHER_SPAWN: '' };
  test(`${mode}: arguments, stdin and the exit status pass through`, (t) => {
    const dir = tmpdir(t);
    const bin = fakeBinary(dir, '#!/bin/sh\nprintf "[%s]" "$@"; echo; cat; exit 7\n');
    const r = spawnSync(process.execPath, [LAUNCHER, 'exec', 'two words', '--flag=a"b', ''], {
      env: launcherEnv(bin, env), input: 'from stdin\n', encoding: 'utf8',
    });
    assert.equal(r.status, 7, r.stderr);
    assert.equal(r.stdout, '[exec][two words][--flag=a"b][]\nfrom stdin\n');
  });
}

test('a SIGTERM sent to the launcher reaches the binary once; its exit status comes back', async (t) => {
  const dir = tmpdir(t);
  const bin = fakeBinary(dir, COUNTING);
  const r = await runLauncher(launcherEnv(bin, { STOP_FILE: path.join(dir, 'stop') }), (child) => child.kill('SIGTERM'));
  assert.equal(r.out, 'ready\ngot TERM 1\n');
  assert.equal(r.code, 15);
});

test('a SIGINT sent to the launcher alone (no terminal) is forwarded once', async (t) => {
  const dir = tmpdir(t);
  const stop = path.join(dir, 'stop');
  const bin = fakeBinary(dir, COUNTING);
  const r = await runLauncher(launcherEnv(bin, { STOP_FILE: stop }), (child) => {
    child.kill('SIGINT');
    setTimeout(() => fs.writeFileSync(stop, ''), 300);
  });
  assert.equal(r.out, 'ready\ngot INT 1\ndone ints=1\n');
  assert.equal(r.code, 3);
});

test('Ctrl-C on a terminal reaches the binary once, not twice', { skip: !fs.existsSync('/usr/bin/script') && 'needs script(1)' }, async (t) => {
  // script(1) runs the launcher on a pseudo-terminal; the ^C byte written to it makes the
  // kernel send SIGINT to the terminal's foreground process group: launcher and binary.
  const dir = tmpdir(t);
  const stop = path.join(dir, 'stop');
  const bin = fakeBinary(dir, COUNTING);
  // script(1) starts cmd with $SHELL -c; `exec` makes the launcher script's own child, as it
  // is under a user's interactive shell (a non-interactive dash would itself die of the ^C).
  const cmd = `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(LAUNCHER)}`;
  const r = await new Promise((resolve) => {
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env: launcherEnv(bin, { STOP_FILE: stop, SHELL: '/bin/sh' }), stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let sent = false;
    child.stdout.on('data', (d) => {
      out += d;
      if (!sent && out.includes('ready')) {
        sent = true;
        // Once the binary sits in its loop: a second SIGINT sent then is counted, not merged.
        setTimeout(() => child.stdin.write('\x03'), 200);
        setTimeout(() => fs.writeFileSync(stop, ''), 700);
      }
    });
    child.on('exit', (code) => resolve({ code, out: out.replace(/\r/g, '') }));
  });
  assert.match(r.out, /got INT 1\n/);
  assert.doesNotMatch(r.out, /got INT 2/);
  assert.match(r.out, /done ints=1\n/);
  assert.equal(r.code, 3);
});

test('a binary killed by a signal: the launcher dies of the same signal and kills nothing else', async (t) => {
  const dir = tmpdir(t);
  const bin = fakeBinary(dir, '#!/bin/sh\necho ready\ntrap - TERM\nkill -TERM $$\nsleep 5\n');
  // The launcher and a bystander share a new process group: signalling the group (instead
  // of the launcher alone) would kill the bystander.
  const script = `sleep 30 & echo "bystander $!"; exec ${JSON.stringify(process.execPath)} ${JSON.stringify(LAUNCHER)}`;
  const r = await new Promise((resolve) => {
    const child = spawn('sh', ['-c', script], { env: launcherEnv(bin), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.on('exit', (code, signal) => resolve({ code, signal, out }));
  });
  const bystander = Number(/bystander (\d+)/.exec(r.out)[1]);
  t.after(() => { try { process.kill(bystander, 'SIGKILL'); } catch { /* gone */ } });
  assert.equal(r.signal, 'SIGTERM');
  assert.doesNotThrow(() => process.kill(bystander, 0), 'the bystander in the same process group is still alive');
});

test('a binary that cannot be started gives a clear error', (t) => {
  const dir = tmpdir(t);
  const bin = path.join(dir, 'codex-litellm');
  fs.writeFileSync(bin, '#!/nonexistent/interpreter\n', { mode: 0o755 });
  const r = spawnSync(process.execPath, [LAUNCHER, '--version'], { env: launcherEnv(bin), encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot run .*codex-litellm.*\n.*CODEX_LITELLM_BINARY/);
});

test('which signals are forwarded: keyboard and hangup signals only when not from the terminal', () => {
  for (const sig of ['SIGINT', 'SIGQUIT', 'SIGHUP']) {
    assert.equal(shouldForward(sig, { foreground: true, platform: 'linux' }), false, sig);
    assert.equal(shouldForward(sig, { foreground: false, platform: 'linux' }), true, sig);
  }
  assert.equal(shouldForward('SIGTERM', { foreground: true, platform: 'darwin' }), true);
  assert.equal(shouldForward('SIGINT', { foreground: false, platform: 'win32' }), false);
  assert.equal(shouldForward('SIGTERM', { foreground: false, platform: 'win32' }), true);
});

test('the launcher knows when it runs in a terminal\'s foreground, and when not', { skip: !fs.existsSync('/usr/bin/script') && 'needs script(1)' }, () => {
  const probe = `require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'launch.js'))}).inTerminalForeground()`;
  const code = `process.stdout.write(String(${probe}))`;
  const onPty = spawnSync('script', ['-qfec', `${JSON.stringify(process.execPath)} -e ${JSON.stringify(code)}`, '/dev/null'],
    { encoding: 'utf8', input: '' });
  assert.equal(onPty.stdout.replace(/\r?\n$/, ''), 'true');
  const detached = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', detached: true });
  assert.equal(detached.stdout, 'false');
});
