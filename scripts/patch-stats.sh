#!/usr/bin/env bash
# Added/removed lines per patch in the series, split into upstream source, upstream tests
# and manifests (the figure we track: small means cheap to carry to the next tag).
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/patch-stats.sh [PATCHES_DIR]

Prints, for each patch in PATCHES_DIR/series (default: patches/), the lines it adds and
removes in upstream files, split into source, tests and Cargo manifests, and a total.
USAGE
}
case "${1:-}" in -h|--help) usage; exit 0 ;; esac

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:-${CODEX_LITELLM_PATCHES_DIR:-$repo/patches}}
[ -f "$dir/series" ] || { echo "error: no series file in $dir" >&2; exit 2; }

python3 - "$dir" <<'PY'
import re, sys
from pathlib import Path
d = Path(sys.argv[1])
names = [l.strip() for l in (d / "series").read_text().splitlines() if l.strip() and not l.startswith("#")]
def kind(path):
    if path.endswith("Cargo.toml"): return "manifest"
    if re.search(r"(_tests\.rs$|/tests/)", path): return "test"
    return "source"
rows, total = [], {"source": [0, 0], "test": [0, 0], "manifest": [0, 0]}
for name in names:
    counts = {"source": [0, 0], "test": [0, 0], "manifest": [0, 0]}
    current = None
    for line in (d / name).read_text().splitlines():
        if line.startswith("diff --git "):
            current = kind(line.split(" b/", 1)[1])
        elif current and line.startswith("+") and not line.startswith("+++"):
            counts[current][0] += 1
        elif current and line.startswith("-") and not line.startswith("---"):
            counts[current][1] += 1
    for k in counts:
        total[k][0] += counts[k][0]; total[k][1] += counts[k][1]
    rows.append((name, counts))
fmt = "{:<52} {:>12} {:>12} {:>12}"
print(fmt.format("patch", "source +/-", "tests +/-", "Cargo +/-"))
for name, c in rows:
    print(fmt.format(name, "+%d/-%d" % tuple(c["source"]), "+%d/-%d" % tuple(c["test"]), "+%d/-%d" % tuple(c["manifest"])))
print(fmt.format("total", "+%d/-%d" % tuple(total["source"]), "+%d/-%d" % tuple(total["test"]), "+%d/-%d" % tuple(total["manifest"])))
added = sum(v[0] for v in total.values()); removed = sum(v[1] for v in total.values())
print(f"all upstream files: +{added}/-{removed}")
PY
