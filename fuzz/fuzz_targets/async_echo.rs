#![no_main]

#[path = "../harness/async_echo.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
