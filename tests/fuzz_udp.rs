//! Replays the committed `udp` fuzz corpus and regressions (see fuzz/README.md).

mod fuzz_support;
#[path = "../fuzz/harness/udp.rs"]
mod harness;

#[test]
fn corpus_replays() {
    fuzz_support::replay("udp", harness::run);
}
