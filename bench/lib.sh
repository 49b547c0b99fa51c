# bench/lib.sh: what the bench scripts share, sourced by peers.sh,
# placement.sh, external.sh and mixed.sh (not run on its own). Every
# process a script starts in the background goes into pids (pids+=($!))
# and is stopped by its PID: by stop_all, and on exit (trap stop_all EXIT,
# set here).

pids=()

# stop_all stops every process in pids (SIGTERM), waits for each and
# empties the list.
stop_all() {
	local pid
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	pids=()
}
trap stop_all EXIT

# wait_ready LOG WHAT: waits up to 10 s for a line starting with READY in
# LOG (cmd/node, natsnode), else says WHAT did not start and exits 1.
wait_ready() {
	local _
	for _ in $(seq 100); do
		grep -q '^READY' "$1" && return 0
		sleep 0.1
	done
	echo "$(basename "$0" .sh): $2 did not start; see $1"
	exit 1
}
