//! proptest's configuration for the integration tests' properties.

use proptest::test_runner::{Config, FileFailurePersistence};

/// `cases` cases, failures saved beside the test file (`<test>.proptest-regressions`)
/// and replayed first on every run. proptest's default (SourceParallel) finds no
/// `lib.rs` above an integration test and would silently neither save nor replay.
pub fn saving_failures(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    }
}
