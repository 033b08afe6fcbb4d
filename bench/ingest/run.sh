#!/usr/bin/env bash
# bench/ingest: one invocation measures flowlab ingest (flows to Parquet)
# against the read limit (dd iflag=direct) and the peers that are installed
# (nfpcapd from nfdump; argus; tshark -q -z conv,tcp), on the synthetic
# capture of bench/ingest/gen (>= 1 GB, 3.2M packets, ~350k flows, a port
# scan). Peers that are missing are reported as such, not skipped silently.
# Debian packages: tshark, nfdump, argus-server, time.
#
#   bash bench/ingest/run.sh [PCAP]
#
# Environment:
#   ROUNDS=5             rounds; each round runs every tool once, in a
#                        rotated order, so load from other users of the
#                        machine spreads over all tools alike
#   FLOWLAB_BEFORE=BIN   also time another flowlab binary (a "before" build)
#   DROP_CACHES=1        drop the page cache before every run (default: the
#                        capture is read once first and every tool reads it
#                        from the page cache; dd iflag=direct always reads
#                        the disk)
#
# Prints one row per tool: median wall seconds and the spread (min-max),
# M packets/s and MB/s from the median, median CPU seconds (user+sys), peak
# RSS, and the ratio of flowlab's rate to each tool's.
set -euo pipefail
cd "$(dirname "$0")/../.."
pcap=${1:-${TMPDIR:-/tmp}/flowlab-bench-ingest.pcap}
rounds=${ROUNDS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ ! -s $pcap ]]; then
  go run ./bench/ingest/gen -o "$pcap" -packets 3200000
fi
go build -o "$work/flowlab" ./cmd/flowlab
size=$(stat -c %s "$pcap")
# The packet count is the capture's, as flowlab reads it.
pkts=$("$work/flowlab" ingest --lake "$work/count" "$pcap" | sed -n 's/.*pcap, \([0-9]*\) packets.*/\1/p')
rm -rf "$work/count"
[[ -n $pkts ]] || { echo "could not count the packets of $pcap" >&2; exit 1; }

tools=() # name|command, run with eval; $out is a fresh output folder
add() { tools+=("$1|$2"); }
add "dd iflag=direct (read limit)" 'dd if="$pcap" of=/dev/null bs=4M iflag=direct'
add "flowlab ingest (flows to Parquet)" '"$work/flowlab" ingest --quiet --lake "$out" "$pcap"'
if [[ -n ${FLOWLAB_BEFORE:-} ]]; then
  add "flowlab ingest, before ($(basename "$FLOWLAB_BEFORE"))" '"$FLOWLAB_BEFORE" ingest --quiet --lake "$out" "$pcap"'
fi
missing=()
if command -v nfpcapd >/dev/null; then add "nfpcapd -r (nfdump $(nfpcapd -V 2>&1 | sed -n 's/.*Version: *//p'))" 'nfpcapd -r "$pcap" -w "$out"'
else missing+=("nfpcapd: not installed (Debian nfdump)"); fi
if command -v argus >/dev/null; then add "argus -r ($(argus -h 2>&1 | sed -n 's/^Argus Version //p'))" 'argus -r "$pcap" -w "$out/argus.out"'
else missing+=("argus: not installed (Debian argus-server)"); fi
if command -v tshark >/dev/null; then add "tshark -q -z conv,tcp ($(tshark -v | sed -n '1s/^TShark (Wireshark) //p' | cut -d' ' -f1))" 'tshark -n -q -r "$pcap" -z conv,tcp'
else missing+=("tshark: not installed (Debian tshark)"); fi

echo "capture: $pcap ($size bytes, $pkts packets)"
echo "machine: $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), $(free -g | awk '/^Mem/{print $2}') GiB; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "rounds: $rounds; page cache: $([[ -n ${DROP_CACHES:-} ]] && echo dropped before each run || echo warm)"
[[ -n ${DROP_CACHES:-} ]] || cat "$pcap" > /dev/null

# results/<tool index>: one "wall cpu rss_kb" line per round
mkdir -p "$work/results"
n=${#tools[@]}
for ((r = 0; r < rounds; r++)); do
  for ((k = 0; k < n; k++)); do
    i=$(((k + r) % n))
    name=${tools[$i]%%|*} cmd=${tools[$i]#*|}
    out="$work/out"; rm -rf "$out"; mkdir -p "$out"
    if [[ -n ${DROP_CACHES:-} ]]; then sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; fi
    if /usr/bin/time -f "%e %U %S %M" -o "$work/t" bash -c "$(printf 'pcap=%q work=%q out=%q; %s' "$pcap" "$work" "$out" "$cmd")" > "$work/log" 2>&1; then
      read -r wall user sys kb < <(tail -1 "$work/t")
      echo "$wall $(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }') $kb" >> "$work/results/$i"
    else
      echo "$name failed: $(tail -1 "$work/log")" >&2
    fi
  done
done
rm -rf "$work/out"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# median and spread of the flowlab row, for the ratios
median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
stats() { # file -> median_wall min_wall max_wall median_cpu max_rss_kb
  echo "$(cut -d' ' -f1 "$1" | median) $(cut -d' ' -f1 "$1" | sort -n | head -1) $(cut -d' ' -f1 "$1" | sort -n | tail -1)" \
    "$(cut -d' ' -f2 "$1" | median) $(cut -d' ' -f3 "$1" | sort -n | tail -1)"
}
read -r fl_wall _ < <(stats "$work/results/1")
echo "| tool | seconds, median (min-max) | M packets/s | MB/s | CPU s | peak RSS MiB | flowlab's rate vs this |"
echo "|---|---|---|---|---|---|---|"
for ((i = 0; i < n; i++)); do
  name=${tools[$i]%%|*}
  if [[ ! -s $work/results/$i ]]; then echo "| $name | failed | | | | | |"; continue; fi
  read -r med lo hi cpu kb < <(stats "$work/results/$i")
  awk -v n="$name" -v med="$med" -v lo="$lo" -v hi="$hi" -v cpu="$cpu" -v kb="$kb" -v p="$pkts" -v b="$size" -v f="$fl_wall" -v runs="$(wc -l < "$work/results/$i")" \
    'BEGIN { printf "| %s | %.2f (%.2f-%.2f, %d runs) | %.2f | %.0f | %.2f | %.0f | %.2fx |\n", n, med, lo, hi, runs, p/med/1e6, b/med/1e6, cpu, kb/1024, med/f }'
done
for m in "${missing[@]}"; do echo "| $m | | | | | | |"; done
