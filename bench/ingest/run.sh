#!/usr/bin/env bash
# bench/ingest: one invocation measures flowlab ingest (flows to Parquet)
# against the read limit (dd iflag=direct) and the peers that are installed
# (tshark -q -z conv,tcp; nfpcapd from nfdump; argus), on the synthetic
# capture of bench/ingest/gen (>= 1 GB, 3.2M packets, ~350k flows, a port
# scan). Peers that are missing are reported as such, not skipped silently.
# Debian packages: tshark, nfdump, argus-server, time.
#
#   bash bench/ingest/run.sh [PCAP]
set -euo pipefail
cd "$(dirname "$0")/../.."
pcap=${1:-${TMPDIR:-/tmp}/flowlab-bench-ingest.pcap}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ ! -s $pcap ]]; then
  go run ./bench/ingest/gen -o "$pcap" -packets 3200000
fi
go build -o "$work/flowlab" ./cmd/flowlab
size=$(stat -c %s "$pcap")
pkts=3200000
timeit() { # name, command...
  local name=$1; shift
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
  /usr/bin/time -f "%e %M" -o "$work/t" "$@" > "$work/out" 2>&1 || { echo "| $name | failed: $(tail -1 "$work/out") | | |"; return; }
  read -r secs kb < "$work/t"
  awk -v n="$name" -v s="$secs" -v k="$kb" -v p="$pkts" -v b="$size" \
    'BEGIN { printf "| %s | %.2f | %.2f | %.0f | %.0f |\n", n, s, p/s/1e6, b/s/1e6, k/1024 }'
}
echo "capture: $pcap ($size bytes, $pkts packets); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| tool | seconds | M packets/s | MB/s | peak RSS MiB |"
echo "|---|---|---|---|---|"
timeit "dd iflag=direct (read limit)" dd if="$pcap" of=/dev/null bs=4M iflag=direct
timeit "flowlab ingest (flows to Parquet)" "$work/flowlab" ingest --quiet --lake "$work/lake" "$pcap"
if command -v nfpcapd >/dev/null; then
  mkdir -p "$work/nf"; timeit "nfpcapd -r" nfpcapd -r "$pcap" -w "$work/nf"
else echo "| nfpcapd | not installed (Debian nfdump) | | | |"; fi
if command -v argus >/dev/null; then
  timeit "argus -r" argus -r "$pcap" -w "$work/argus.out"
else echo "| argus | not installed (Debian argus-server) | | | |"; fi
if command -v tshark >/dev/null; then
  timeit "tshark -q -z conv,tcp" tshark -n -q -r "$pcap" -z conv,tcp
else echo "| tshark | not installed (Debian tshark) | | | |"; fi
