#!/usr/bin/env node
'use strict';
// codex-litellm launcher: finds (or, after an --ignore-scripts install, downloads) the
// native binary and runs it with this process's arguments, stdio and environment; its
// exit status, or the signal that killed it, becomes this process's.

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const { constants } = require('node:os');
const { InstallError, ensureBinary } = require('../lib/install');

// Signals a terminal sends to its whole foreground process group (Ctrl-C, Ctrl-\, hangup):
// the child, being in our group, already has them.
const GROUP_SIGNALS = new Set(['SIGINT', 'SIGQUIT', 'SIGHUP']);
const FORWARDED = ['SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGTERM', 'SIGUSR1', 'SIGUSR2'];

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
  // Forward a signal sent to this process alone; one the terminal sent to the whole
  // group reached the child already, and sending it again would make Ctrl-C count twice
  // (the second press means "quit now" to Codex). On Windows the console delivers Ctrl-C
  // to every process attached to it.
  for (const sig of FORWARDED) {
    if (process.platform === 'win32' && sig !== 'SIGINT' && sig !== 'SIGTERM') continue;
    process.on(sig, () => {
      if (process.platform === 'win32' && sig === 'SIGINT') return;
      if (GROUP_SIGNALS.has(sig) && inTerminalForeground()) return;
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

async function main() {
  let binary;
  try {
    binary = await ensureBinary({ log: (line) => process.stderr.write(`codex-litellm: ${line}\n`) });
  } catch (err) {
    process.stderr.write(`${err instanceof InstallError ? err.message : err.stack}\n`);
    process.exit(1);
  }
  run(binary, process.argv.slice(2));
}

main();
