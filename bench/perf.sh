#!/usr/bin/env bash
# bench/perf.sh: runs every measurement PERFORMANCE.md reports and leaves the
# raw outputs in one directory (default: a new one under /tmp).
#
#   bash bench/perf.sh [OUTDIR]              # ceiling, load runs, scaling, benchmarks
#   CASTY_SRC=<casty checkout> bash bench/perf.sh OUTDIR   # plus the real Casty v1 cluster runs
#   ONLY=peers bash bench/perf.sh OUTDIR     # just zerohop side by side with NATS core
#
# Environment: RUNS (default 3) repeated runs whose median PERFORMANCE.md
# quotes; DURATION (default 5s) per load run; BENCHTIME (default 1s) and
# COUNT (default 3) for `go test -bench`; SKIP_BENCH=1 skips the Go
# benchmarks; PY (default "env PYENV_VERSION=3.12.1 python3.12") for Casty;
# ONLY (default: all) a comma-separated list of the steps to run, named
# ceiling, e2e, asks, node, external, peers, placement, mixed, scale, bench,
# casty.
# Everything listens on 127.0.0.1 only and every process it starts is
# stopped by its PID.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${1:-$(mktemp -d /tmp/zerohop-perf.XXXXXX)}
mkdir -p "$OUT"
RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
BENCHTIME=${BENCHTIME:-1s}
COUNT=${COUNT:-3}
PY=${PY:-env PYENV_VERSION=3.12.1 python3.12}

echo "perf: writing to $OUT"
{
	echo "date: $(date -u +%FT%TZ)"
	echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
	go version
	echo "nproc: $(nproc)"
	grep -m1 'model name' /proc/cpuinfo || true
	echo "load: $(cat /proc/loadavg)"
} | tee "$OUT/machine.txt"

go build -o "$OUT/loadgen" ./cmd/loadgen
go build -o "$OUT/ceiling" ./bench/cmd/ceiling
go build -o "$OUT/node" ./cmd/node

want() { # want STEP: whether ONLY (empty: every step) names STEP
	[[ -z ${ONLY:-} || ,$ONLY, == *,$1,* ]]
}

# 1. Raw loopback ceiling on its own.
if want ceiling; then
	"$OUT/ceiling" -duration 3s -runs "$RUNS" -rtt 20000 -rtt-echo goroutine,gnet,process | tee "$OUT/ceiling.txt"
fi

lg() { # lg NAME ARGS...: one loadgen run, JSON to $OUT/NAME.json, progress to .log
	local name=$1
	shift
	"$OUT/loadgen" -json "$@" >"$OUT/$name.json" 2>"$OUT/$name.log" || echo "perf: $name exited $? (see $name.json/.log)"
}

# 2. End to end, embedded 3-node cluster, both transports, with the ceiling
#    measured in the same process right before the load.
if want e2e; then
	for tp in net gnet; do
		for i in $(seq "$RUNS"); do
			lg "e2e-$tp-$i" -duration "$DURATION" -transport "$tp" -ceiling 2s
		done
	done
fi

# 3. Asks only: a lone ask, then 256 in flight.
if want asks; then
	for c in 1 256; do
		for i in $(seq "$RUNS"); do
			lg "ask-c$c-$i" -duration "$DURATION" -workers 0 -ask-concurrency "$c"
		done
	done
fi

# 3b. Node transports in one process (the embedded nodes on net or gnet;
#     client on its default), alternated run by run: end to end, a lone ask,
#     256 in flight.
if want node; then
	for i in $(seq "$RUNS"); do
		for nt in net gnet; do
			lg "node-$nt-e2e-$i" -duration "$DURATION" -node-transport "$nt"
			lg "node-$nt-ask-c1-$i" -duration "$DURATION" -workers 0 -ask-concurrency 1 -node-transport "$nt"
			lg "node-$nt-ask-c256-$i" -duration "$DURATION" -workers 0 -ask-concurrency 256 -node-transport "$nt"
		done
	done
fi

# 3c. Node transports on a cluster of separate processes: 3 cmd/node
#     processes per transport and loadgen as a fourth, alternated.
if want external; then
	RUNS=$RUNS DURATION=$DURATION bash bench/external.sh "$OUT" "$OUT/loadgen" "$OUT/node"
fi

# 3d. Side by side with NATS core (issue 12): one cmd/node + loadgen
#     -contact against one natsnode (embedded nats-server + counting
#     service, bench/natsbase, its own module) + natsload, in the variants
#     PEERS names (bench/peers.sh); tells flat out, a lone request, 256 in
#     flight; alternated run by run.
nats_bins() { # builds natsload and natsnode (bench/natsbase, its own module) into $OUT once
	[[ -x $OUT/natsload && -x $OUT/natsnode ]] ||
		(cd bench/natsbase && go build -o "$OUT/natsload" ./cmd/natsload && go build -o "$OUT/natsnode" ./cmd/natsnode)
}
if want peers; then
	nats_bins
	RUNS=$RUNS DURATION=$DURATION bash bench/peers.sh "$OUT" "$OUT/loadgen" "$OUT/node" "$OUT/natsload" "$OUT/natsnode"
fi

# 3d'. The lone request by placement of the two processes (issue 12): the
#     raw two-process echo, zerohop and NATS, with the kernel placing both
#     processes, both pinned to one vCPU, and one on each
#     (bench/placement.sh; needs taskset).
if want placement; then
	nats_bins
	RUNS=$RUNS DURATION=$DURATION bash bench/placement.sh "$OUT" "$OUT/loadgen" "$OUT/node" "$OUT/ceiling" "$OUT/natsload" "$OUT/natsnode"
fi

# 3e. Where the mixed run's asks wait (issue 12): the mixed run and its
#     tells-only twin with the defaults and with bounded socket buffers,
#     mailboxes and queue target, two processes and embedded
#     (bench/mixed.sh; ONLY=mixed runs just this).
if want mixed; then
	RUNS=$RUNS DURATION=$DURATION bash bench/mixed.sh "$OUT/mixed" "$OUT/loadgen" "$OUT/node"
fi

# 4. Scaling, one run each (3 s): shards, nodes, entities, in-flight asks
#    alongside the tells.
if want scale; then
	for s in 32 128 1024; do lg "scale-shards-$s" -duration 3s -shards "$s"; done
	for n in 1 3 5; do lg "scale-nodes-$n" -duration 3s -nodes "$n"; done
	for e in 100 10000 100000; do lg "scale-entities-$e" -duration 3s -entities "$e"; done
	for c in 1 16 256; do lg "scale-asks-$c" -duration 3s -ask-concurrency "$c"; done
fi

# 5. Go benchmarks.
if [[ -z ${SKIP_BENCH:-} ]] && want bench; then
	go test -run '^$' -bench . -benchtime "$BENCHTIME" -count "$COUNT" ./bench/ | tee "$OUT/bench.txt"
	if command -v benchstat >/dev/null || [[ -x $HOME/go/bin/benchstat ]]; then
		"$(command -v benchstat || echo "$HOME/go/bin/benchstat")" "$OUT/bench.txt" | tee "$OUT/benchstat.txt"
	fi
fi

# 6. A real Casty v1 cluster (optional): 3 node processes, JSON serializer.
if [[ -n ${CASTY_SRC:-} ]] && want casty; then
	base=25720
	(cd ../shared/casty-v1/live && CASTY_SRC=$CASTY_SRC exec $PY cluster.py --base-port $base --serializer json) >"$OUT/casty-cluster.log" 2>&1 &
	cpid=$!
	trap 'kill -TERM $cpid 2>/dev/null || true; wait $cpid 2>/dev/null || true' EXIT
	for _ in $(seq 120); do
		grep -q 'CLUSTER READY' "$OUT/casty-cluster.log" && break
		sleep 0.5
	done
	grep -q 'CLUSTER READY' "$OUT/casty-cluster.log" || { echo "perf: Casty cluster did not start"; exit 1; }
	nodes=$(grep '^NODE READY' "$OUT/casty-cluster.log" | grep -o 'pid=[0-9]*' | cut -d= -f2 | tr '\n' ' ')
	contacts=127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))
	ticks() { # total utime+stime ticks of a pid
		awk '{print $14 + $15}' "/proc/$1/stat"
	}
	for i in $(seq "$RUNS"); do
		declare -A before=()
		for p in $nodes; do before[$p]=$(ticks "$p"); done
		t0=$(date +%s.%N)
		lg "casty-tells-$i" -contact "$contacts" -duration 10s -entities 100 -workers 1 -ask-concurrency 0
		t1=$(date +%s.%N)
		{
			for p in $nodes; do
				awk -v a="${before[$p]}" -v b="$(ticks "$p")" -v hz="$(getconf CLK_TCK)" -v t0="$t0" -v t1="$t1" -v p="$p" \
					'BEGIN { printf "casty node pid %s: %.2f cores over the whole run\n", p, (b - a) / hz / (t1 - t0) }'
			done
		} | tee "$OUT/casty-tells-$i.cpu"
		lg "casty-asks-$i" -contact "$contacts" -duration 5s -entities 100 -workers 0 -ask-concurrency 1
	done
fi
echo "perf: done; results in $OUT"
