'use strict';
// npm postinstall: fetch and verify the binary now, so the first run starts at once.
// With --ignore-scripts this does not run; the launcher then fetches on first run.

const { InstallError, findBinary, installBinary } = require('./install');

async function main() {
  if (findBinary()) return;
  await installBinary({ log: (line) => process.stderr.write(`codex-litellm: ${line}\n`) });
}

main().catch((err) => {
  process.stderr.write(`${err instanceof InstallError ? err.message : err.stack}\n`);
  process.exit(1);
});
