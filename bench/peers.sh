#!/usr/bin/env bash
# bench/peers.sh: zerohop side by side with NATS core (issue 12), in one
# session, in the same two-process shape: one zerohop cmd/node process
# (its default transport, gnet) driven by loadgen -contact from a second
# process, and one natsnode process (an embedded nats-server plus the
# counting service, bench/natsbase) driven by natsload from another. NATS
# runs in the variants PEERS names (default all three), so that the
# ratios can be taken against whichever is faster per shape:
#
#   nats    natsnode: the service in the server's process, connected to it
#           over loopback TCP as any NATS service is (zerohop's node also
#           holds the counters)
#   natscl  natsnode -no-service + natsload -serve: the server alone, the
#           service on a second connection of the load's process
#   natsip  natsnode -inprocess: as nats, over nats.go's in-process pipe
#
# Three shapes, each run for zerohop and every variant back to back, the
# order rotated every round, RUNS rounds; every server is restarted each
# round:
#
#   tells     -ask-concurrency 0                  (tells flat out, 0 lost verified)
#   ask-c1    -workers 0 -ask-concurrency 1       (a lone request-reply)
#   ask-c256  -workers 0 -ask-concurrency 256     (256 in flight)
#
# Results: OUTDIR/peer-{zh,nats,natscl,natsip}-SHAPE-i.json (loadgen's
# -json keys), read by `go run ./bench/cmd/perfsum OUTDIR` (the zerohop/NATS
# ratio table).
# Called by bench/perf.sh (ONLY=peers runs just this); runnable alone:
#
#   bash bench/peers.sh OUTDIR [LOADGEN NODE NATSLOAD NATSNODE]   # binaries built if not given
#
# Environment: RUNS (default 3), DURATION (default 5s), PEERS (default
# "nats natscl natsip"), BASE (default 27720: the zerohop node listens on
# BASE, gossip BASE+1000, raft BASE+2000; the natsnodes on BASE+100..102).
# Loopback only; every process started is stopped by its PID. Building
# natsbase needs its modules (go mod download in bench/natsbase, or network
# access).
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${1:?usage: peers.sh OUTDIR [LOADGEN NODE NATSLOAD NATSNODE]}
mkdir -p "$OUT"
LG=${2:-$OUT/loadgen}
NODE=${3:-$OUT/node}
NLOAD=${4:-$OUT/natsload}
NNODE=${5:-$OUT/natsnode}
[[ -x $LG ]] || go build -o "$LG" ./cmd/loadgen
[[ -x $NODE ]] || go build -o "$NODE" ./cmd/node
[[ -x $NLOAD ]] || (cd bench/natsbase && go build -o "$NLOAD" ./cmd/natsload)
[[ -x $NNODE ]] || (cd bench/natsbase && go build -o "$NNODE" ./cmd/natsnode)
RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
BASE=${BASE:-27720}
PEERS=${PEERS:-nats natscl natsip}
declare -A port=([zh]=$BASE [nats]=$((BASE + 100)) [natscl]=$((BASE + 101)) [natsip]=$((BASE + 102)))
declare -A nodeargs=([nats]="" [natscl]="-no-service" [natsip]="-inprocess")
declare -A loadargs=([zh]="" [nats]="" [natscl]="-serve" [natsip]="")
read -r -a systems <<<"zh $PEERS"
for v in "${systems[@]}"; do
	[[ -n ${port[$v]:-} ]] || { echo "peers: unknown variant $v in PEERS"; exit 2; }
done

# shellcheck source=bench/lib.sh
. bench/lib.sh # pids, stop_all, wait_ready

run() { # run NAME BINARY ARGS...: one load run, JSON to $OUT/NAME.json
	local name=$1 bin=$2
	shift 2
	"$bin" -json "$@" >"$OUT/$name.json" 2>"$OUT/$name.log" || echo "peers: $name exited $? (see $name.json/.log)"
}

shapes=(tells ask-c1 ask-c256)
declare -A args=(
	[tells]="-ask-concurrency 0"
	[ask-c1]="-workers 0 -ask-concurrency 1"
	[ask-c256]="-workers 0 -ask-concurrency 256"
)
for i in $(seq "$RUNS"); do
	"$NODE" -listen "127.0.0.1:$BASE" >"$OUT/peer-zh-node-$i.log" 2>&1 &
	pids+=($!)
	wait_ready "$OUT/peer-zh-node-$i.log" "zerohop node"
	for v in $PEERS; do
		# shellcheck disable=SC2086 # word lists
		"$NNODE" -listen "127.0.0.1:${port[$v]}" ${nodeargs[$v]} >"$OUT/peer-$v-node-$i.log" 2>&1 &
		pids+=($!)
		wait_ready "$OUT/peer-$v-node-$i.log" "natsnode ($v)"
	done
	# rotate: round i starts with systems[(i-1) % n]
	n=${#systems[@]}
	order=()
	for k in $(seq 0 $((n - 1))); do order+=("${systems[$(((i - 1 + k) % n))]}"); done
	for s in "${shapes[@]}"; do
		for who in "${order[@]}"; do
			bin=$NLOAD
			[[ $who == zh ]] && bin=$LG
			# shellcheck disable=SC2086 # word lists
			run "peer-$who-$s-$i" "$bin" -contact "127.0.0.1:${port[$who]}" -duration "$DURATION" ${args[$s]} ${loadargs[$who]}
		done
	done
	stop_all
done
echo "peers: done; results in $OUT"
