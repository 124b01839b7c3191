//! Replays the committed inputs of the fuzz target `smoltcp` (fuzz/corpus/smoltcp/
//! and fuzz/regressions/smoltcp/) on the stable toolchain, with overflow checks on.

mod fuzz_support;
#[path = "../fuzz/harness/smoltcp.rs"]
mod harness;

#[test]
fn the_smoltcp_fuzz_inputs_replay_without_a_failure() {
    fuzz_support::replay("smoltcp", harness::run);
}
