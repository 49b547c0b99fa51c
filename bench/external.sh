#!/usr/bin/env bash
# bench/external.sh: the node transports compared on a cluster of separate
# processes: 3 cmd/node processes (net or gnet), driven by loadgen from a
# fourth process; the transports alternate, RUNS rounds. Called by
# bench/perf.sh; runnable alone:
#
#   bash bench/external.sh OUTDIR [LOADGEN NODE]   # binaries built if not given
#
# Environment: RUNS (default 3), DURATION (default 5s), BASE (default 27620;
# nodes listen on BASE..BASE+2, gossip on +1000). Loopback only; every
# process started is stopped by its PID.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${1:?usage: external.sh OUTDIR [LOADGEN NODE]}
mkdir -p "$OUT"
LG=${2:-$OUT/loadgen}
NODE=${3:-$OUT/node}
[[ -x $LG ]] || go build -o "$LG" ./cmd/loadgen
[[ -x $NODE ]] || go build -o "$NODE" ./cmd/node
RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
BASE=${BASE:-27620}

# shellcheck source=bench/lib.sh
. bench/lib.sh # pids, stop_all, wait_ready

start_nodes() { # start_nodes TRANSPORT ROUND
	local tp=$1 i=$2 n log
	for n in 0 1 2; do
		log="$OUT/ext-$tp-node$n-$i.log"
		if ((n == 0)); then
			"$NODE" -listen "127.0.0.1:$BASE" -transport "$tp" >"$log" 2>&1 &
		else
			"$NODE" -listen "127.0.0.1:$((BASE + n))" -seeds "127.0.0.1:$((BASE + 1000))" -transport "$tp" >"$log" 2>&1 &
		fi
		pids+=($!)
		wait_ready "$log" "node $n ($tp)"
	done
}

lg() { # lg NAME ARGS...
	local name=$1
	shift
	"$LG" -json "$@" >"$OUT/$name.json" 2>"$OUT/$name.log" || echo "external: $name exited $? (see $name.json/.log)"
}

contacts=127.0.0.1:$BASE,127.0.0.1:$((BASE + 1)),127.0.0.1:$((BASE + 2))
for i in $(seq "$RUNS"); do
	for tp in net gnet; do
		start_nodes "$tp" "$i"
		lg "ext-$tp-e2e-$i" -contact "$contacts" -duration "$DURATION"
		lg "ext-$tp-ask-c1-$i" -contact "$contacts" -duration "$DURATION" -workers 0 -ask-concurrency 1
		lg "ext-$tp-ask-c256-$i" -contact "$contacts" -duration "$DURATION" -workers 0 -ask-concurrency 256
		stop_all
	done
done
echo "external: done; results in $OUT"
