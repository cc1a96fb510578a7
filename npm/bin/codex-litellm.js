#!/usr/bin/env node
'use strict';
// codex-litellm launcher: finds (or, after an --ignore-scripts install, downloads) the
// native binary and runs it with this process's arguments, stdio and environment; its
// exit status, or the signal that killed it, becomes this process's.

const { InstallError, ensureBinary } = require('../lib/install');
const { run } = require('../lib/launch');

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
