//! Replays the committed `echo` fuzz corpus and regressions (see fuzz/README.md).

mod fuzz_support;
#[path = "../fuzz/harness/echo.rs"]
mod harness;

#[test]
fn corpus_replays() {
    fuzz_support::replay("echo", harness::run);
}
