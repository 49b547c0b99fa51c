#!/usr/bin/env bash
# bench/mixed.sh: where the mixed run's asks wait (issue 12, PERFORMANCE.md
# "Asks behind a flood"): loadgen's mixed run (tells flat out, one ask in
# flight) and its tells-only twin, in three configurations, in two shapes,
# RUNS rounds alternated:
#
#   def      every default
#   prof     client -socket-send-buffer 65536 -queue-target 1ms;
#            node -socket-recv-buffer 65536 -mailbox 16
#   profqi   prof, and client -queue-interval 5ms
#
#   2p       one cmd/node (gnet) process, loadgen -contact from a second
#   emb      loadgen's embedded 3-node cluster (the node flags as
#            -node-socket-recv-buffer and -node-mailbox; prof and profqi
#            also -queue-wait-frames -1: in one process, 512 waiting
#            frames and 64 KiB socket buffers leave the cores idle,
#            engine.Config.QueueWaitFrames)
#
#   bash bench/mixed.sh OUTDIR [LOADGEN NODE]   # binaries built if not given
#
# Environment: RUNS (default 3), DURATION (default 5s), PORT (default
# 27720; gossip PORT+1000, raft PORT+2000), CFGS (the configurations,
# default "def prof profqi"), SHAPES (default "2p emb"; "2p" skips the
# embedded runs), NODE_ARGS and LG_ARGS (added to every node
# and loadgen, e.g. NODE_ARGS=-binary LG_ARGS=-binary for zhbin). Results: OUTDIR/SHAPE-CFG-
# {mixed,tells}-I.json (loadgen -json), and a table of medians on stdout.
# Loopback only; the node is stopped by its PID.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${1:?usage: mixed.sh OUTDIR [LOADGEN NODE]}
mkdir -p "$OUT"
LG=${2:-$OUT/loadgen}
NODE=${3:-$OUT/node}
[[ -x $LG ]] || go build -o "$LG" ./cmd/loadgen
[[ -x $NODE ]] || go build -o "$NODE" ./cmd/node
RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
PORT=${PORT:-27720}
read -r -a cfgs <<<"${CFGS:-def prof profqi}"
SHAPES=${SHAPES:-2p emb}
read -r -a node_args <<<"${NODE_ARGS:-}"
read -r -a lg_args <<<"${LG_ARGS:-}"
declare -A client=([def]="" [prof]="-socket-send-buffer 65536 -queue-target 1ms" [profqi]="-socket-send-buffer 65536 -queue-target 1ms -queue-interval 5ms")
declare -A node=([def]="" [prof]="-socket-recv-buffer 65536 -mailbox 16" [profqi]="-socket-recv-buffer 65536 -mailbox 16")
declare -A embedded=([def]="" [prof]="-node-socket-recv-buffer 65536 -node-mailbox 16 -queue-wait-frames -1" [profqi]="-node-socket-recv-buffer 65536 -node-mailbox 16 -queue-wait-frames -1")

# shellcheck source=bench/lib.sh
. bench/lib.sh # pids, stop_all, wait_ready

run() { # run NAME ARGS...: one load run, JSON to $OUT/NAME.json
	local name=$1
	shift
	"$LG" -json -progress=false -duration "$DURATION" ${lg_args[@]+"${lg_args[@]}"} "$@" >"$OUT/$name.json" 2>"$OUT/$name.log" || echo "mixed: $name exited $? (see $name.log)"
}

for i in $(seq "$RUNS"); do
	for c in "${cfgs[@]}"; do
		# shellcheck disable=SC2086 # word lists
		"$NODE" -listen "127.0.0.1:$PORT" ${node_args[@]+"${node_args[@]}"} ${node[$c]} >"$OUT/node-$c-$i.log" 2>&1 &
		pids+=($!)
		wait_ready "$OUT/node-$c-$i.log" "the node"
		# shellcheck disable=SC2086
		run "2p-$c-mixed-$i" -contact "127.0.0.1:$PORT" ${client[$c]}
		# shellcheck disable=SC2086
		run "2p-$c-tells-$i" -contact "127.0.0.1:$PORT" -ask-concurrency 0 ${client[$c]}
		stop_all
		[[ $SHAPES == *emb* ]] || continue
		# shellcheck disable=SC2086
		run "emb-$c-mixed-$i" ${client[$c]} ${embedded[$c]}
		# shellcheck disable=SC2086
		run "emb-$c-tells-$i" -ask-concurrency 0 ${client[$c]} ${embedded[$c]}
	done
done

key() { grep -o "\"$1\":[-0-9.e+]*" "$2" | head -1 | cut -d: -f2; }
median() { sort -g | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]}'; }
printf '%-8s %-7s %14s %14s %12s %12s %10s %8s\n' shape config "tells/s mixed" "tells/s only" "ask p50 ms" "ask p99 ms" "sched p99" lost
for s in $SHAPES; do
	for c in "${cfgs[@]}"; do
		m=("$OUT/$s-$c-mixed-"*.json)
		t=("$OUT/$s-$c-tells-"*.json)
		tm=$(for f in "${m[@]}"; do key tells_per_sec "$f"; done | median)
		tt=$(for f in "${t[@]}"; do key tells_per_sec "$f"; done | median)
		p50=$(for f in "${m[@]}"; do key ask_p50_us "$f"; done | median)
		p99=$(for f in "${m[@]}"; do key ask_p99_us "$f"; done | median)
		sp=$(for f in "${m[@]}"; do key sched_latency_p99_us "$f"; done | median)
		lost=$(for f in "${m[@]}" "${t[@]}"; do key lost "$f"; done | awk '{s+=$1} END {print s+0}')
		echo "$s $c $tm $tt $p50 $p99 $sp $lost" | awk '{printf "%-8s %-7s %13.3fM %13.3fM %12.2f %12.2f %8.0fus %8s\n", $1, $2, $3/1e6, $4/1e6, $5/1e3, $6/1e3, $7, $8}'
	done
done
