//! Link settings of the C library per platform.
//!
//! macOS: rustc leaves a dylib's install name (LC_ID_DYLIB) at the path it
//! was built at, so every program linked against it would look for the
//! library in this project's target directory. `@rpath/libtessera.dylib`
//! lets a product find it where it ships it (its bundle's Frameworks, or an
//! rpath it sets).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("macos") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/libtessera.dylib");
    }
}
