#!/usr/bin/env bash
# CI fragment: nal-echo's firmware on emulated RISC-V boards (QEMU virt).
#
#   examples/qemu-virt/ci.sh            build the firmware and the host tool, run the tests
#   examples/qemu-virt/ci.sh --figures  also measure sizes, throughput and round trip
#
# Installs qemu-system-misc if qemu-system-riscv64 is missing (Debian/Ubuntu, as
# root), adds the rustup target, checks the firmware's format and clippy (-D
# warnings, all binaries including server-async), builds server, server-async, raw
# and client (release), the client
# once more with the test settings (as client-test, and over UDP as
# client-test-udp), and the main crate's
# qemu_frame example, then runs qemu_test.py (its tests against both server
# firmware, poll and async). Its last line is `N passed, M failed`
# (build steps and tests); the exit status is non-zero on any failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
passed=0
failed=0

step() { printf '\n==> %s\n' "$*"; }
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAILED: $*"; }
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}

# A step that must work for anything after it to make sense.
need() {
    local what=$1
    shift
    if "$@"; then ok; else bad "$what"; finish; fi
}

install_qemu() {
    command -v qemu-system-riscv64 >/dev/null && return 0
    command -v apt-get >/dev/null || { echo "no qemu-system-riscv64 and no apt-get"; return 1; }
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q && $sudo apt-get install -y -q --no-install-recommends qemu-system-misc
}

step "qemu-system-riscv64"
need "install qemu-system-misc" install_qemu
qemu-system-riscv64 --version | head -n1

step "rust target"
need "rustup target add" rustup target add riscv64gc-unknown-none-elf
need "rustup component add" rustup component add rustfmt clippy

cd "$here" || exit 1
# The firmware always goes to this folder's own target dir (qemu_test.py looks
# there), whatever CARGO_TARGET_DIR says for the host builds.
fw_cargo() { CARGO_TARGET_DIR="$here/target" cargo "$@"; }

step "firmware: format and clippy"
need "cargo fmt --check" fw_cargo fmt --check
need "cargo clippy" fw_cargo clippy --release --locked -- -D warnings

step "firmware: server, server-async, raw, client (release)"
need "cargo build --release" fw_cargo build --release --locked --bins

step "firmware: client with the test settings"
# The port the two-boards test forwards to the server board: a free one now. The
# test reads it back from the client's first serial line.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
elf_dir=target/riscv64gc-unknown-none-elf/release
need "client with test settings" env SERVER_PORT="$port" PERIOD_MS=200 COUNT=10 \
    CARGO_TARGET_DIR="$here/target" cargo build --release --locked --bin client
need "copy client-test" cp "$elf_dir/client" "$elf_dir/client-test"
need "client with test settings over UDP" env SERVER_PORT="$port" PERIOD_MS=200 COUNT=10 UDP=1 \
    CARGO_TARGET_DIR="$here/target" cargo build --release --locked --bin client
need "copy client-test-udp" cp "$elf_dir/client" "$elf_dir/client-test-udp"
# Put the default client back, so that the ELF named `client` is what its docs say.
need "client with default settings" fw_cargo build --release --locked --bin client

step "host tool: qemu_frame"
need "cargo build --example qemu_frame" bash -c "cd '$repo' && cargo build --locked --example qemu_frame"

step "tests"
log=$(mktemp)
timeout 600 python3 "$here/qemu_test.py" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n1)
rm -f "$log"
if [ -n "$summary" ]; then
    passed=$((passed + $(echo "$summary" | cut -d' ' -f1)))
    failed=$((failed + $(echo "$summary" | cut -d' ' -f3)))
fi
if [ "$status" -ne 0 ] && [ -z "$summary" ]; then
    bad "qemu_test.py ended with status $status and no summary"
elif [ "$status" -ne 0 ] && [ "$(echo "$summary" | cut -d' ' -f3)" = 0 ]; then
    bad "qemu_test.py ended with status $status"
fi

step "done"
finish
