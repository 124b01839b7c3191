//! The IPv6 parts of the host tests need `::1`. Where it is missing they are
//! skipped visibly; in CI (`CI=true`) a missing `::1` fails the test instead, since
//! every CI machine has it.

use std::io::Write;
use std::net::{Ipv6Addr, TcpListener};

/// True if `[::1]` can be bound. Otherwise says so on the real stderr (the test
/// harness captures `println!` and `eprintln!`, not this) and returns false, or
/// panics under `CI=true`.
pub fn ipv6_loopback(test: &str) -> bool {
    let Err(e) = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)) else {
        return true;
    };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: cannot bind [::1]:0 ({e}), and CI=true says it must exist"
    );
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED the IPv6 part of {test}: cannot bind [::1]:0 here ({e})"
    );
    false
}
