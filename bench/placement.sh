#!/usr/bin/env bash
# bench/placement.sh: what a lone request between two processes costs on
# this machine as a function of where the kernel runs the two processes
# (issue 12's lone-ask target; PERFORMANCE.md, "The lone ask and the
# placement of two processes").
#
#   bash bench/placement.sh OUTDIR [LOADGEN NODE CEILING NATSLOAD NATSNODE]
#
# Three placements, alternated round by round:
#   free   no pinning: the kernel places both processes (what peers.sh measures)
#   same   both processes pinned to CPU 0 (taskset -c 0)
#   cross  the client on CPU 0, the server on CPU 1
# and for each, three systems, every one a server process and a client
# process making one request at a time:
#   echo   the raw floor: ceiling -rtt 20000 -rtt-echo process (an echo
#          goroutine in a second process; no zerohop code)
#   zh     cmd/node and loadgen -contact -workers 0 -ask-concurrency 1
#   nats   natsnode -inprocess and natsload -workers 0 -ask-concurrency 1
#          (skipped when NATSLOAD is not executable)
# Reports land as OUTDIR/place-PLACEMENT-SYSTEM-i.json; `go run
# ./bench/cmd/perfsum OUTDIR` prints them (the echo's round trip in the
# ask_p50_us and ask_p99_us columns) and a table of ratios to the echo.
# Needs taskset (util-linux) and at least 2 CPUs. Environment: RUNS
# (default 3), DURATION (default 5s) per zh and nats run, BASE (default
# 27920) the first port. Listens on 127.0.0.1 only; every process it
# starts is stopped by its PID.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${1:?usage: placement.sh OUTDIR [LOADGEN NODE CEILING NATSLOAD NATSNODE]}
mkdir -p "$OUT"
LG=${2:-$OUT/loadgen}
NODE=${3:-$OUT/node}
CEIL=${4:-$OUT/ceiling}
NLOAD=${5:-$OUT/natsload}
NNODE=${6:-$OUT/natsnode}
[[ -x $LG ]] || go build -o "$LG" ./cmd/loadgen
[[ -x $NODE ]] || go build -o "$NODE" ./cmd/node
[[ -x $CEIL ]] || go build -o "$CEIL" ./bench/cmd/ceiling
RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
BASE=${BASE:-27920}
command -v taskset >/dev/null || { echo "placement: needs taskset (util-linux)"; exit 2; }
(($(nproc) >= 2)) || { echo "placement: needs 2 CPUs"; exit 2; }

# shellcheck source=bench/lib.sh
. bench/lib.sh # pids, stop_all, wait_ready

declare -A client=([free]="" [same]="taskset -c 0" [cross]="taskset -c 0")
declare -A server=([free]="" [same]="taskset -c 0" [cross]="taskset -c 1")
declare -A echocpus=([free]="" [same]="0" [cross]="1")
places=(free same cross)

# lone SYSTEM SERVER CLIENT PORT [SERVER ARGS...]: in placement $p, round
# $i, start SERVER on PORT, run CLIENT's lone requests against it into
# place-$p-SYSTEM-$i.json, and stop the server.
# shellcheck disable=SC2086 # client and server are word lists
lone() {
	local sys=$1 srv=$2 cli=$3 port=$4 base=$OUT/place-$p-$1
	shift 4
	${server[$p]} "$srv" -listen "127.0.0.1:$port" "$@" >"$base-node-$i.log" 2>&1 &
	pids+=($!)
	wait_ready "$base-node-$i.log" "$sys server"
	${client[$p]} "$cli" -json -contact "127.0.0.1:$port" -duration "$DURATION" -workers 0 -ask-concurrency 1 \
		>"$base-$i.json" 2>"$base-$i.log" || echo "placement: place-$p-$sys-$i exited $?"
	stop_all
}

for i in $(seq "$RUNS"); do
	order=()
	for k in 0 1 2; do order+=("${places[$(((i - 1 + k) % 3))]}"); done
	for p in "${order[@]}"; do
		name=place-$p
		# shellcheck disable=SC2086 # client is a word list
		${client[$p]} "$CEIL" -json -duration 200ms -rtt 20000 -rtt-echo process ${echocpus[$p]:+-echo-cpus ${echocpus[$p]}} \
			>"$OUT/$name-echo-$i.json" 2>"$OUT/$name-echo-$i.log" || echo "placement: $name-echo-$i exited $?"

		lone zh "$NODE" "$LG" $((BASE + i))
		if [[ -x $NLOAD && -x $NNODE ]]; then
			lone nats "$NNODE" "$NLOAD" $((BASE + 50 + i)) -inprocess
		fi
	done
done
echo "placement: done; results in $OUT"
