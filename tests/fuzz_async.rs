//! Replays the committed `async_echo` fuzz corpus and regressions (see fuzz/README.md).

mod fuzz_support;
#[path = "../fuzz/harness/async_echo.rs"]
mod harness;

#[test]
fn corpus_replays() {
    fuzz_support::replay("async_echo", harness::run);
}
