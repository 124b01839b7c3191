//! Link arguments for esp-hal: its `linkall.x` script on every chip, and on the
//! Xtensa ESP32 no C start files (esp-hal brings its own start-up code).

fn main() {
    println!("cargo:rustc-link-arg-bins=-Tlinkall.x");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("xtensa") {
        println!("cargo:rustc-link-arg-bins=-nostartfiles");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
