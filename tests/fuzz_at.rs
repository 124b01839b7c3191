//! Replays the `at` fuzz target's committed corpus and regressions on the stable
//! toolchain (see fuzz/README.md).

mod fuzz_support;
#[path = "../fuzz/harness/at.rs"]
mod harness;

#[test]
fn corpus_replays() {
    fuzz_support::replay("at", harness::run)
}
