#!/usr/bin/env bash
# CI fragment: the Handbit firmware (examples/handbit), built for the ESP32-C3
# stand-in on stable Rust. The real board (feature esp32, Xtensa) needs espup's
# `esp` toolchain and is not built here (see README.md).
#
#   examples/handbit/ci.sh
#
# Adds the rustup target, builds in release (also with feature ssd1306) and prints
# the image's section sizes.
# Exits non-zero if the build fails. A clean build takes about a minute.
# WIFI_SSID / WIFI_PASSWORD are not needed (placeholders are built in).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target=riscv32imc-unknown-none-elf
elf="$here/target/$target/release/handbit"

echo "==> rustup target add $target"
rustup target add "$target"

echo "==> cargo build --release --features esp32c3 --target $target"
cd "$here"
# This folder's own target dir: the ELF is where README.md says, whatever
# CARGO_TARGET_DIR says for other builds.
CARGO_TARGET_DIR="$here/target" cargo build --release --locked --features esp32c3 --target "$target"
echo "==> the same with feature ssd1306 (a module with an SSD1306-type controller)"
CARGO_TARGET_DIR="$here/target" cargo build --release --locked --features esp32c3,ssd1306 --target "$target"
# The default build last: the ELF measured below is the SH1106 one.
CARGO_TARGET_DIR="$here/target" cargo build --release --locked --features esp32c3 --target "$target"

echo "==> size of $elf"
size_tool=""
for t in llvm-size rust-size; do
    if command -v "$t" >/dev/null; then size_tool=$t; break; fi
done
if [ -z "$size_tool" ]; then
    # rustup's llvm-tools component, if installed.
    cand=$(ls "$(rustc --print sysroot)"/lib/rustlib/*/bin/llvm-size 2>/dev/null | head -n1 || true)
    [ -n "$cand" ] && size_tool=$cand
fi
if [ -z "$size_tool" ]; then
    echo "no llvm-size found (install llvm or 'rustup component add llvm-tools'); ELF is $(stat -c %s "$elf") bytes with debug info"
    exit 0
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
