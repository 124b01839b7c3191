#!/usr/bin/env bash
# CPU share of an idle `server` example over 10 s, from /proc (Linux).
# Usage: scripts/idle_cpu.sh   (builds the example in release first)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release --example server
port=$(python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
./target/release/examples/server --bind "127.0.0.1:$port" --no-screen > /dev/null &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
sleep 2
t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
sleep 10
t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
python3 -c "print('idle server: %.1f %% of a core' % (($t1 - $t0) / $(getconf CLK_TCK) / 10 * 100))"
