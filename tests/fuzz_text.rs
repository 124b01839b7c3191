//! Replays the committed `text` fuzz corpus and regressions (see fuzz/README.md).

mod fuzz_support;
#[path = "../fuzz/harness/text.rs"]
mod harness;

#[test]
fn corpus_replays() {
    fuzz_support::replay("text", harness::run);
}
