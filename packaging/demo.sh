#!/bin/sh
# demo: the whole loop on this machine: asagent streams to ascoord, which scales a simulated endpoint
#
# Usage: packaging/demo.sh [BUILD_DIR]    (make demo; as root)
# A CPU load runs for DEMO_LOAD seconds after DEMO_IDLE seconds of quiet; the
# coordinator scales out while it lasts and back in after it, then the history
# is shown. Everything lives in a temporary directory and is removed at the end.
set -eu

B=${1:-build}
IDLE=${DEMO_IDLE:-15}
LOAD=${DEMO_LOAD:-60}
AFTER=${DEMO_AFTER:-90}
EVERY=${DEMO_EVERY:-5}
for v in "$IDLE" "$LOAD" "$AFTER" "$EVERY"; do
	case $v in
	'' | *[!0-9]* | 0*[0-9]*)
		echo "demo: DEMO_IDLE, DEMO_LOAD, DEMO_AFTER and DEMO_EVERY are whole seconds, not '$v'" >&2
		exit 2 ;;
	esac
done

if [ "$(id -u)" != 0 ]; then
	echo "demo: run it as root (the agent loads eBPF programs and makes a cgroup)" >&2
	exit 1
fi
for p in asagent ascoord asctl; do
	if [ ! -x "$B/$p" ]; then
		echo "demo: $B/$p is missing; run 'make' first" >&2
		exit 1
	fi
done

dir=$(mktemp -d /tmp/ascale-demo.XXXXXX)
cg=
pids=
cleanup() {
	trap - EXIT INT TERM
	for p in $pids; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [ -n "$cg" ]; then
		rmdir "$cg" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The load runs in a cgroup of its own and the agent measures only that
# cgroup, so what else runs on this machine does not move the demo.
root=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
if [ -n "$root" ] && mkdir "$root/ascale-demo-$$" 2>/dev/null; then
	cg="$root/ascale-demo-$$"
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(umask 077; printf '1 %s\n' "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" > "$dir/keys")
sock="$dir/ascoord.sock"

cat > "$dir/ascoord.conf" <<EOF
[coordinator]
evaluate_every = ${EVERY}s
settle = 1s
control_socket = $sock
control_group = root
listen = 127.0.0.1:$port
key_file = $dir/keys
state_dir = $dir

[autoscale demo]
deployment = demo
endpoint = demo-endpoint
backend = sim

[profile demo default]
min_count = 1
max_count = 4
count = 1

[rule demo default scale-out]
condition = Percentage CPU > 60 avg 20s
timegrain = avg 5s
scale = out 1
cooldown = 20s

[rule demo default scale-in]
condition = Percentage CPU < 20 avg 20s
timegrain = avg 5s
scale = in 1
cooldown = 20s
EOF

cat > "$dir/asagent.conf" <<EOF
[agent]
ring_path = $dir/asagent.ring
instance = demo-vm
deployment = demo
endpoint = demo-endpoint
coordinator = 127.0.0.1:$port
key_file = $dir/keys
report_interval = 1s
EOF
if [ -n "$cg" ]; then
	echo "cgroup = $cg" >> "$dir/asagent.conf"
fi

"$B/ascoord" -f -c "$dir/ascoord.conf" 2> "$dir/ascoord.log" &
pids="$pids $!"
"$B/asagent" -f -c "$dir/asagent.conf" 2> "$dir/asagent.log" &
pids="$pids $!"

n=0
until [ -S "$sock" ] && [ -e "$dir/asagent.ring" ]; do
	n=$((n + 1))
	if [ $n -gt 100 ]; then
		echo "demo: the daemons did not start:" >&2
		cat "$dir/ascoord.log" "$dir/asagent.log" >&2
		exit 1
	fi
	sleep 0.1
done

echo "demo: asagent (instance demo-vm) streams to ascoord on 127.0.0.1:$port;"
echo "demo: setting 'demo' keeps 1 to 4 instances of a simulated endpoint:"
echo "demo:   Percentage CPU > 60 avg 20s -> out 1, < 20 avg 20s -> in 1, cooldown 20s."
if [ -n "$cg" ]; then
	echo "demo: the agent measures cgroup $cg only."
fi
echo "demo: its files are in $dir, removed at the end."
echo "demo: ${IDLE}s idle, ${LOAD}s of load on every CPU, then ${AFTER}s idle (Ctrl-C ends it)."

load() {
	i=0
	while [ $i -lt "$(nproc)" ]; do
		sh -c 'if [ -n "$1" ]; then echo $$ > "$1/cgroup.procs"; fi
		       exec timeout "$2" sh -c "while :; do :; done" ascale-demo-load' \
			load "$cg" "$LOAD" &
		pids="$pids $!"
		i=$((i + 1))
	done
}

status() {
	echo
	echo "--- $1 (t=${2}s) ---"
	"$B/asctl" --socket "$sock" status demo || true
}

t=0
end=$((IDLE + LOAD + AFTER))
while [ $t -le $end ]; do
	if [ $t -eq "$IDLE" ]; then
		load
	fi
	if [ $t -lt "$IDLE" ]; then
		phase="idle"
	elif [ $t -lt $((IDLE + LOAD)) ]; then
		phase="load"
	else
		phase="idle again"
	fi
	if [ $((t % 10)) -eq 0 ]; then
		status "$phase" "$t"
	fi
	sleep 1
	t=$((t + 1))
done

echo
echo "--- what ascoord did (asctl history) ---"
"$B/asctl" history --state-dir "$dir" -S demo -e scale,flapping
