//! Link settings of the C library per platform.
//!
//! Linux: the library's SONAME is `libtessera.so.<major>`, so a program
//! linked against it records that name (found through the loader's path),
//! not the path it was installed at; `scripts/install-c.sh` installs the
//! versioned file and the links to it.
//!
//! macOS: rustc leaves a dylib's install name (LC_ID_DYLIB) at the path it
//! was built at, so every program linked against it would look for the
//! library in this project's target directory. `@rpath/libtessera.dylib`
//! lets a product find it where it ships it (its bundle's Frameworks, or an
//! rpath it sets).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "macos" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/libtessera.dylib");
    }
    if os == "linux" {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".to_owned());
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libtessera.so.{major}");
    }
}
