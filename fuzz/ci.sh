#!/usr/bin/env bash
# CI step: build every fuzz target and run each briefly from its committed corpus.
#
#   fuzz/ci.sh [seconds per target, default 30]
#
# FUZZ_TARGETS="echo text" limits the run to some targets (default: all six);
# FUZZ_SANITIZER (below) picks the sanitizer.
#
# Needs the nightly toolchain; installs cargo-fuzz if it is missing. Fails on any
# crash, on a failed build or install, and on a target without a corpus. Without
# nightly it installs it under CI=true; elsewhere it says it skips and exits 0 (the
# stable `cargo test` replays the corpora all the same).
set -euo pipefail

SECONDS_PER_TARGET="${1:-30}"
read -r -a TARGETS <<< "${FUZZ_TARGETS:-echo text at smoltcp udp async_echo}"
# FUZZ_SANITIZER=none builds without AddressSanitizer (cargo-fuzz's default),
# about twice as many executions: nal-echo has no `unsafe` on the fuzzed paths,
# and overflow checks and debug assertions stay on either way (fuzz/Cargo.toml).
SANITIZER="${FUZZ_SANITIZER:-address}"

cd "$(dirname "$0")"

if ! cargo +nightly --version >/dev/null 2>&1; then
    # In CI the step must run: install nightly rather than skip.
    if [ "${CI:-}" = true ]; then
        rustup toolchain install nightly --profile minimal
    else
        echo "fuzz/ci.sh: SKIPPED: no nightly toolchain (CI=true installs it)" >&2
        exit 0
    fi
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz/ci.sh: installing cargo-fuzz" >&2
    if ! cargo install cargo-fuzz --locked; then
        echo "fuzz/ci.sh: FAILED to install cargo-fuzz" >&2
        exit 1
    fi
fi

for target in "${TARGETS[@]}"; do
    if [ ! -f "fuzz_targets/$target.rs" ]; then
        echo "fuzz/ci.sh: FAILED: fuzz_targets/$target.rs is missing" >&2
        exit 1
    fi
    if [ -z "$(ls -A "corpus/$target" 2>/dev/null)" ]; then
        echo "fuzz/ci.sh: FAILED: corpus/$target is missing or empty" >&2
        exit 1
    fi
done

for target in "${TARGETS[@]}"; do
    cargo +nightly fuzz build -s "$SANITIZER" "$target"
done

for target in "${TARGETS[@]}"; do
    echo "fuzz/ci.sh: $target for ${SECONDS_PER_TARGET}s" >&2
    # A scratch copy, so that the run does not add its new inputs to the
    # committed corpus; the committed one (and the regressions) are read as seeds.
    scratch="$(mktemp -d)"
    trap 'rm -rf "$scratch"' EXIT
    seeds=("corpus/$target")
    if [ -d "regressions/$target" ]; then
        seeds+=("regressions/$target")
    fi
    # A fixed seed: the same corpus is mutated the same way on every CI run, so a
    # crash CI reports is one it reports again (long campaigns use random seeds).
    # libFuzzer exits non-zero on a crash, a leak, a timeout or running out of
    # memory; `set -e` then fails the step, and the crashing input is in
    # artifacts/$target/.
    cargo +nightly fuzz run -s "$SANITIZER" "$target" "$scratch" "${seeds[@]}" -- \
        -seed=1 -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048
    rm -rf "$scratch"
    trap - EXIT
done
echo "fuzz/ci.sh: all targets ran without a crash" >&2
