#!/usr/bin/env bash
# CI fragment: nal-echo's MixNo firmware (Kendryte K210 + ESP8285 AT modem).
#
#   examples/mixno/ci.sh
#
# Adds the rustup target riscv64gc-unknown-none-elf, builds the release firmware
# (which must link), writes the flashable raw image next to the ELF if an objcopy is
# at hand (llvm-objcopy or rust-objcopy), and prints the sizes. Exits non-zero on
# any failure. Nothing runs: the firmware needs the board.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

echo "==> rust target"
rustup target add riscv64gc-unknown-none-elf

echo "==> firmware (release)"
# Always this folder's own target dir, whatever CARGO_TARGET_DIR says for the host.
export CARGO_TARGET_DIR="$here/target"
start=$(date +%s)
cargo build --release --locked
echo "built in $(($(date +%s) - start)) s"
elf="$CARGO_TARGET_DIR/riscv64gc-unknown-none-elf/release/mixno"
[ -f "$elf" ] || { echo "FAILED: no ELF at $elf"; exit 1; }

echo "==> size"
# Sections that take room (.stack is the rest of the 6 MiB of SRAM, reserved for the
# two harts' stacks: in no image).
if command -v llvm-size >/dev/null; then
    llvm-size -A "$elf" | grep -Ev '^\.(debug|comment|riscv|symtab|strtab|shstrtab)|^$'
elif command -v size >/dev/null; then
    size -A "$elf" | grep -Ev '^\.(debug|comment|riscv|symtab|strtab|shstrtab)|^$'
fi

objcopy=""
for tool in llvm-objcopy rust-objcopy; do
    if command -v "$tool" >/dev/null; then objcopy=$tool; break; fi
done
if [ -z "$objcopy" ]; then
    # rustup's llvm-tools component ships one, outside PATH.
    sysroot=$(rustc --print sysroot)
    found=$(find "$sysroot/lib/rustlib" -name llvm-objcopy -type f 2>/dev/null | head -n1)
    [ -n "$found" ] && objcopy=$found
fi
if [ -n "$objcopy" ]; then
    bin="${elf}.bin"
    "$objcopy" -O binary "$elf" "$bin"
    echo "image for kflash: $bin ($(wc -c <"$bin") bytes)"
else
    echo "no llvm-objcopy or rust-objcopy: raw image not written (the ELF is built)"
fi
echo "ok"
