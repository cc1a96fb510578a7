'use strict';
// Runs the native binary in place of the launcher: with execve where node has it, else as
// a child whose exit status or fatal signal becomes the launcher's.

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const { constants } = require('node:os');

// Signals a terminal sends to its whole foreground process group (Ctrl-C, Ctrl-\, hangup):
// the child, being in our group, already has them.
const GROUP_SIGNALS = new Set(['SIGINT', 'SIGQUIT', 'SIGHUP']);
const FORWARDED = ['SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGTERM', 'SIGUSR1', 'SIGUSR2'];

// shouldForward(sig, {foreground}): pass sig on to the child? Not when the terminal sent it to
// its whole foreground process group (we are in that group with the child, which so has it
// already): sending it again would make one Ctrl-C count twice (twice means "quit now" to
// Codex). On Windows the console delivers Ctrl-C to every process attached to it.
function shouldForward(sig, { foreground, platform = process.platform }) {
  if (platform === 'win32') return sig === 'SIGTERM';
  return !(GROUP_SIGNALS.has(sig) && foreground);
}

// Is this process in the foreground process group of a controlling terminal?
function inTerminalForeground() {
  try {
    if (process.platform === 'linux') {
      const stat = fs.readFileSync('/proc/self/stat', 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(f[5]) > 0 && f[5] === f[2]; // tpgid === pgrp
    }
    const out = spawnSync('ps', ['-o', 'pgid=,tpgid=', '-p', String(process.pid)], { encoding: 'utf8' });
    const [pgid, tpgid] = out.stdout.trim().split(/\s+/);
    return Number(tpgid) > 0 && pgid === tpgid;
  } catch {
    return false;
  }
}

function run(binary, args) {
  // Replace node where it can (Node >= 22.15 / 23.11, not Windows): the binary then gets
  // every signal and exits directly, exactly as if started by the shell.
  if (process.platform !== 'win32' && typeof process.execve === 'function' && !process.env.CODEX_LITELLM_LAUNCHER_SPAWN) {
    process.on('SIGXFSZ', () => {}); // node ignores it; a handler lets execve restore the default
    process.execve(binary, [binary, ...args], process.env);
  }

  const child = spawn(binary, args, { stdio: 'inherit' });
  child.on('error', (err) => {
    process.stderr.write(`codex-litellm: cannot run ${binary}: ${err.message}\n` +
      'Reinstall (npm i -g codex-litellm), or point CODEX_LITELLM_BINARY at a working binary.\n');
    process.exit(1);
  });
  // A handler on every signal we may forward, so none kills the launcher before the child.
  for (const sig of FORWARDED) {
    if (process.platform === 'win32' && sig !== 'SIGINT' && sig !== 'SIGTERM') continue;
    process.on(sig, () => {
      if (!shouldForward(sig, { foreground: GROUP_SIGNALS.has(sig) && inTerminalForeground() })) return;
      try {
        child.kill(sig);
      } catch {
        // the child is gone already
      }
    });
  }
  child.on('exit', (code, signal) => {
    if (signal) {
      // Die of the same signal, so the shell sees what the user would have seen without
      // the launcher; only this process is signalled, never the group.
      process.exitCode = 128 + (constants.signals[signal] || 1);
      process.removeAllListeners(signal);
      try {
        process.kill(process.pid, signal);
      } catch {
        process.exit(process.exitCode);
      }
      return;
    }
    process.exit(code === null ? 1 : code);
  });
}

module.exports = { run, shouldForward, inTerminalForeground };
