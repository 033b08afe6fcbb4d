#!/usr/bin/env bash
# Runs flowlab's whole test suite. Works on a fresh Debian machine with Go:
# it installs the Debian (and, where tests need them, npm) packages that the
# tests talk to as real peers, builds the binary once, and runs every Go test
# including the Python-, Node- and browser-driven integration suites.
#
#   ./scripts/test.sh            full suite (what CI runs)
#   ./scripts/test.sh -short     unit tests only, no peers, no processes
#
# Extra arguments are passed to `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

step() { printf '\n=== %s\n' "$*"; }

APT_PACKAGES=(
	python3-jupyter-client python3-nbclient python3-nbformat python3-ipykernel python3-zmq python3-networkx
	tshark kcat chromium
)

short=false
for a in "$@"; do [[ $a == -short ]] && short=true; done

install_apt() {
	local missing=() p
	for p in "${APT_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	step "installing Debian packages: ${missing[*]}"
	local sudo=""
	[[ $(id -u) -ne 0 ]] && sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

if ! $short; then
	# Node.js runs the @jupyterlab/services tests; Debian's if none is there.
	command -v npm >/dev/null || APT_PACKAGES+=(nodejs npm)
	install_apt
	step "npm packages"
	./scripts/npm-deps.sh
	./scripts/npm-deps.sh frontend/testdata/browser
	# esbuild and CodeMirror: `go generate ./frontend` rebuilds the editor bundle.
	./scripts/npm-deps.sh frontend/editor
fi

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*'))
if [[ -n $unformatted ]]; then
	echo "not gofmt'ed:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...
# The kernel-only build's files, tests included, must keep compiling.
go vet -tags kernelonly ./cmd/flowlab

if [[ -d .git ]] && ! $short; then
	# Includes the web UI's editor bundle (frontend/editor/build.sh).
	step "go generate is up to date"
	go generate ./...
	if ! git diff --exit-code --stat; then
		echo "generated files differ from the committed ones: run 'go generate ./...' and commit"; exit 1
	fi
fi

step "build"
mkdir -p bin
go build -o bin/flowlab ./cmd/flowlab
# The kernel-only build (no server, ingest or demo commands): what
# BENCHMARKS.md measures as the lean kernel. It must keep compiling.
go build -tags kernelonly -o bin/flowlab-kernel ./cmd/flowlab
export FLOWLAB_BIN=$ROOT/bin/flowlab

step "go test"
go test -count=1 -timeout 40m "$@" ./...

step "go test -race (concurrent packages)"
if ! $short; then
	go test -count=1 -race -short -timeout 20m ./kernel/... ./internal/... ./userapps/... ./datalake/taps/...
fi

echo
echo "all tests passed"
