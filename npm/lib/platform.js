'use strict';
// Which release archive fits this machine. The targets are the ones the release
// workflow builds (.github/workflows/release.yml); keep the two lists in step.

const TARGETS = {
  'linux-x64': 'x86_64-unknown-linux-gnu',
  'linux-arm64': 'aarch64-unknown-linux-gnu',
  'darwin-x64': 'x86_64-apple-darwin',
  'darwin-arm64': 'aarch64-apple-darwin',
  'win32-x64': 'x86_64-pc-windows-msvc',
};

class UnsupportedPlatformError extends Error {}

// Linux builds link glibc; on a musl libc (Alpine) they cannot run.
function linuxLibc() {
  try {
    const header = process.report.getReport().header;
    return header.glibcVersionRuntime ? 'glibc' : 'musl';
  } catch {
    return 'glibc';
  }
}

// detectTarget({platform, arch, libc}): the Rust target triple of the release archive
// for this machine; throws UnsupportedPlatformError saying what to do instead.
function detectTarget({ platform = process.platform, arch = process.arch, libc } = {}) {
  const key = `${platform}-${arch}`;
  const target = TARGETS[key];
  if (target && platform === 'linux' && (libc || linuxLibc()) !== 'glibc') {
    throw new UnsupportedPlatformError(
      `no prebuilt codex-litellm for Linux with musl libc (${key}): the release builds need glibc.`,
    );
  }
  if (!target) {
    throw new UnsupportedPlatformError(
      `no prebuilt codex-litellm for ${key}; prebuilt: ${Object.keys(TARGETS).join(', ')}.`,
    );
  }
  return target;
}

function binaryName(target) {
  return target.includes('windows') ? 'codex-litellm.exe' : 'codex-litellm';
}

// Matches build.sh: dist/codex-litellm-<version>-<target>.tar.gz (+ .sha256).
function archiveName(version, target) {
  return `codex-litellm-${version}-${target}.tar.gz`;
}

module.exports = { TARGETS, UnsupportedPlatformError, detectTarget, binaryName, archiveName };
