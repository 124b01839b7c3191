#!/usr/bin/env bash
# CI step: what nal-echo costs a board in flash, measured on a Cortex-M4F probe
# firmware (src/main.rs: EchoServer 4 x 1024 and PeriodicClient over a stack, a
# display and a clock the optimiser cannot see through; opt-level s, LTO).
#
#   examples/size-probe/size.sh
#
# Prints the text/data/bss of the probe without and with `cjk`, and fails if the
# text without `cjk` exceeds BUDGET (the 22.4 KB that issue 11's redesign must not
# grow).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target=thumbv7em-none-eabihf
elf="$here/target/$target/release/size-probe"
BUDGET=22400

rustup target add "$target" >/dev/null 2>&1 || true
command -v size >/dev/null || { echo "size-probe: FAILED: no 'size' (binutils)" >&2; exit 1; }

measure() {
    (cd "$here" && CARGO_TARGET_DIR="$here/target" cargo build --release --locked -q "$@")
    size "$elf" | awk 'NR == 2 { print $1, $2, $3 }'
}

read -r text data bss < <(measure)
read -r cjk_text cjk_data cjk_bss < <(measure --features cjk)

echo "| probe ($target, opt-level s, LTO) | text | data | bss |"
echo "|---|---|---|---|"
echo "| EchoServer + PeriodicClient | $text | $data | $bss |"
echo "| the same with \`cjk\` | $cjk_text | $cjk_data | $cjk_bss |"
echo "cjk adds $((cjk_text - text)) bytes of flash"
if [ "$text" -gt "$BUDGET" ]; then
    echo "size-probe: FAILED: $text bytes of text, over the budget of $BUDGET" >&2
    exit 1
fi
echo "size-probe: $text bytes of text, within the budget of $BUDGET"
