#!/usr/bin/env bash
# Builds the library with the Rust versions it declares, so that they stay true:
# `rust-version` of Cargo.toml for every feature but `smoltcp`, and the `smoltcp`
# feature's own minimum (smoltcp 0.13 and later need a newer rustc than the rest).
# Installs the toolchains with rustup (minimal profile) if they are missing.
#
#   scripts/msrv.sh
set -euo pipefail
cd "$(dirname "$0")/.."

msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
# Keep in step with the `smoltcp` feature's comment in Cargo.toml and the README.
smoltcp_msrv=$(sed -n 's/^## .*smoltcp.*needs Rust \([0-9.]*\).*/\1/p' Cargo.toml)
[ -n "$msrv" ] || { echo "no rust-version in Cargo.toml"; exit 1; }
[ -n "$smoltcp_msrv" ] || { echo "the smoltcp feature's comment in Cargo.toml names no Rust version"; exit 1; }
# The build's own target dir: other toolchains' artifacts would only be rebuilt.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}/msrv

build() {
    local toolchain=$1
    shift
    echo "+ cargo +$toolchain build --locked --lib $*"
    cargo "+$toolchain" build --locked --lib "$@"
}

rustup toolchain install "$msrv" --profile minimal --target thumbv7em-none-eabihf
build "$msrv"
build "$msrv" --no-default-features
build "$msrv" --features std,mock,at,sh1106,cjk,log,async
build "$msrv" --features defmt
build "$msrv" --target thumbv7em-none-eabihf --no-default-features --features ssd1306,sh1106,at,cjk,async

rustup toolchain install "$smoltcp_msrv" --profile minimal --target thumbv7em-none-eabihf
build "$smoltcp_msrv" --features smoltcp
build "$smoltcp_msrv" --target thumbv7em-none-eabihf --no-default-features --features smoltcp
echo "msrv: the library builds with Rust $msrv, and with $smoltcp_msrv for the smoltcp feature"
