#!/usr/bin/env bash
# Installs the npm packages the Node-driven tests and benchmarks use, pinned
# by each folder's package-lock.json, with `npm ci`, unless node_modules
# already holds exactly that lock file's packages:
#   userapps/httpapi/testdata/node   @jupyterlab/services and ws (the default)
#   frontend/testdata/browser        playwright-core (the browser tests)
#   frontend/editor                  CodeMirror and esbuild (the notebook editor's bundle)
# Safe to run concurrently (flock); the Go tests that need the packages run
# it themselves, so a fresh clone works.
#
#   ./scripts/npm-deps.sh [DIR]   prints the node_modules folder it ensured
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$PWD/${1:-userapps/httpapi/testdata/node}
[[ -f $dir/package-lock.json ]] || { echo "npm-deps.sh: no package-lock.json in $dir" >&2; exit 1; }
stamp=$dir/node_modules/.flowlab-lock.sha256

for c in node npm; do
	command -v "$c" >/dev/null || { echo "npm-deps.sh: $c not found (install Node.js 18 or later with npm)" >&2; exit 1; }
done

want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
exec 9>"${TMPDIR:-/tmp}/flowlab-npm-deps.$(id -u).lock"
flock 9
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
	echo "npm-deps.sh: npm ci in $dir" >&2
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
	echo "$want" >"$stamp"
fi
echo "$dir/node_modules"
