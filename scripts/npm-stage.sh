#!/usr/bin/env bash
# Usage: scripts/npm-stage.sh --dist DIR (--repo OWNER/NAME | --base-url URL) --out DIR
#                             [--version VERSION] [--no-pack]
#
# Makes the npm package for a release from npm/: sets its version, where the launcher
# downloads the binaries from, and checksums.json — the SHA-256 of every release archive
# in DIR (codex-litellm-<version>-<target>.tar.gz.sha256, as build.sh writes them), so the
# installer checks downloads against checksums that npm itself delivered. Then runs
# `npm pack` in OUT/package and prints the path of the .tgz (the release workflow
# publishes it; the e2e test installs it).
#
#   --dist DIR        the release archives and their .sha256 files
#   --repo OWNER/NAME GitHub repository: binaries from its release v<version>, and the
#                     package's repository field (npm provenance checks it)
#   --base-url URL    download base instead (files at URL/v<version>/<archive>)
#   --out DIR         where to stage the package and write the .tgz
#   --version V       package version (default: scripts/lib.sh release_version)
#   --no-pack         stage only
#   -h, --help        this text
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dist='' repo='' base='' out='' version='' pack=1
while (($#)); do
  case $1 in
    --dist) dist=$(abspath "${2:?--dist needs a value}"); shift 2 ;;
    --repo) repo=${2:?--repo needs a value}; shift 2 ;;
    --base-url) base=${2:?--base-url needs a value}; shift 2 ;;
    --out) out=$(abspath "${2:?--out needs a value}"); shift 2 ;;
    --version) version=${2:?--version needs a value}; shift 2 ;;
    --no-pack) pack=''; shift ;;
    -h | --help) usage_from_header "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ -n $dist && -n $out ]] || die "--dist and --out are required (see --help)"
[[ -n $repo || -n $base ]] || die "one of --repo or --base-url is required (see --help)"
[[ $repo == '' || $repo =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] || die "--repo must be OWNER/NAME, got: $repo"
version=${version:-$(release_version)}
command -v node >/dev/null || die "node not found; install Node.js (>= 18)"

shopt -s nullglob
sums=("$dist"/codex-litellm-"$version"-*.tar.gz.sha256)
((${#sums[@]})) || die "no codex-litellm-$version-*.tar.gz.sha256 in $dist" \
  "build the release archives first (./build.sh writes them to dist/), or pass the right --version"

stage=$out/package
rm -rf "$stage"
mkdir -p "$stage"
cp -R "$CL_ROOT/npm/bin" "$CL_ROOT/npm/lib" "$CL_ROOT/npm/package.json" "$CL_ROOT/npm/README.md" "$stage/"

# checksums.json: { "<archive>": "<sha256>" }, each line checked against its archive name.
# shellcheck disable=SC2016 # the node -e program is JavaScript
for f in "${sums[@]}"; do
  archive=$(basename "$f" .sha256)
  read -r sum name _ <"$f" || true
  [[ $sum =~ ^[0-9a-f]{64}$ && ${name#\*} == "$archive" ]] ||
    die "$f is not a sha256sum line for $archive"
  if [[ -f $dist/$archive ]]; then
    (cd "$dist" && sha256sum --status -c "$archive.sha256") || die "$dist/$archive does not match $f"
  fi
  printf '%s\t%s\n' "$archive" "$sum"
done | node -e '
  const fs = require("fs");
  const [pkgFile, out, version, repo, base] = process.argv.slice(1);
  const sums = {};
  for (const line of fs.readFileSync(0, "utf8").split("\n").filter(Boolean)) {
    const [archive, sum] = line.split("\t");
    sums[archive] = sum;
  }
  fs.writeFileSync(out, JSON.stringify(sums, null, 2) + "\n");
  const pkg = JSON.parse(fs.readFileSync(pkgFile, "utf8"));
  pkg.version = version;
  pkg.codexLitellm = { releaseBaseUrl: base || `https://github.com/${repo}/releases/download` };
  if (repo) pkg.repository = { type: "git", url: `git+https://github.com/${repo}.git`, directory: "npm" };
  fs.writeFileSync(pkgFile, JSON.stringify(pkg, null, 2) + "\n");
' "$stage/package.json" "$stage/checksums.json" "$version" "$repo" "$base"

info "staged $stage ($version, ${#sums[@]} archive(s): $(node -p 'Object.keys(require(process.argv[1])).join(" ")' "$stage/checksums.json"))"
if [[ -n $pack ]]; then
  tgz=$(cd "$stage" && npm pack --silent --pack-destination "$out" | tail -n 1)
  printf '%s\n' "$out/$tgz"
fi
