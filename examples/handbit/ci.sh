#!/usr/bin/env bash
# CI fragment: the Handbit firmware (examples/handbit), built for the ESP32-C3
# stand-in on stable Rust. The real board (feature esp32, Xtensa) needs espup's
# `esp` toolchain and is not built here (see README.md).
#
#   examples/handbit/ci.sh
#
# Adds the rustup target, runs clippy (-D warnings) on each variant, builds in
# release the poll firmware (`handbit`, also with feature ssd1306) and the embassy
# firmware (`handbit-embassy`, feature embassy), and prints each image's section
# sizes and the embassy main task's size.
# Exits non-zero if a build or a lint fails. A clean run takes a few minutes (about
# 15 s with the target folder warm).
# WIFI_SSID / WIFI_PASSWORD are not needed (placeholders are built in).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target=riscv32imc-unknown-none-elf
elf="$here/target/$target/release/handbit"

echo "==> rustup target add $target"
rustup target add "$target"

cd "$here"
# This folder's own target dir: the ELFs are where README.md says, whatever
# CARGO_TARGET_DIR says for other builds.
export CARGO_TARGET_DIR="$here/target"
build() {
    echo "==> cargo build --release --locked --target $target $*"
    cargo build --release --locked --target "$target" "$@"
}
lint() {
    echo "==> cargo clippy --release --locked --target $target $* -- -D warnings"
    cargo clippy --release --locked --target "$target" "$@" -- -D warnings
}

size_tool=""
for t in llvm-size rust-size; do
    if command -v "$t" >/dev/null; then size_tool=$t; break; fi
done
if [ -z "$size_tool" ]; then
    # rustup's llvm-tools component, if installed.
    cand=$(ls "$(rustc --print sysroot)"/lib/rustlib/*/bin/llvm-size 2>/dev/null | head -n1 || true)
    [ -n "$cand" ] && size_tool=$cand
fi
nm_tool=""
for t in llvm-nm rust-nm; do
    if command -v "$t" >/dev/null; then nm_tool=$t; break; fi
done

# Prints the image's section sizes of the ELF $1.
sizes() {
    local elf=$1
    echo "==> size of $elf"
    if [ -z "$size_tool" ]; then
        echo "no llvm-size found (install llvm or 'rustup component add llvm-tools'); ELF is $(stat -c %s "$elf") bytes with debug info"
        return 0
    fi
    # Sections the image carries (flash) and RAM it reserves; the *_dummy sections
    # are address-space placeholders, debug sections are not flashed.
    "$size_tool" -A "$elf" | awk '
        $1 ~ /^\.(trap|rwtext|rwtext\.wifi|data|data\.wifi|flash\.appdesc|rodata|rodata\.wifi|text)$/ {
            printf "  %-16s %8d\n", $1, $2; flash += $2 }
        $1 ~ /^\.(data|data\.wifi|bss|noinit)$/ { ram += $2 }
        $1 ~ /^\.(bss|noinit)$/ { printf "  %-16s %8d (RAM only)\n", $1, $2 }
        $1 == ".stack" { stack = $2 }
        END {
            printf "flash image (code + constants + initialised data): %d bytes (%.1f KiB)\n", flash, flash / 1024
            printf "static RAM (.data + .bss): %d bytes; main stack %d bytes\n", ram, stack
        }'
}

lint --features esp32c3
lint --features esp32c3,ssd1306
lint --features esp32c3,embassy

echo "==> the poll firmware with feature ssd1306 (a module with an SSD1306-type controller)"
build --features esp32c3,ssd1306

echo "==> the embassy firmware (binary handbit-embassy)"
build --features esp32c3,embassy --bin handbit-embassy
sizes "$here/target/$target/release/handbit-embassy"
if [ -n "$nm_tool" ]; then
    # The embassy main task's future lives in a static: its task pool.
    pool=$("$nm_tool" -S -C "$here/target/$target/release/handbit-embassy" | awk '/__embassy_main::POOL/ && !found++ { print $2 }')
    if [ -n "$pool" ]; then
        echo "embassy main task (its future, a static in .bss): $((16#$pool)) bytes"
    fi
fi

# The default build last: the ELF measured below is the SH1106 poll firmware.
echo "==> the poll firmware (binary handbit)"
build --features esp32c3
sizes "$elf"
