//! Link options for the `checktls` command in release builds on Linux with GNU tools
//! (measured in the repository's benches/README.md, "Start-up and size"):
//!
//! - compressed debug sections: the line tables stay in the binary for backtraces (the
//!   standard library's symbolizer reads compressed sections) at about a quarter of the size;
//! - packed relative relocations (DT_RELR, glibc 2.36 and binutils 2.38 or later): the
//!   loader's table of pointers to adjust shrinks from 24 bytes per pointer to a bitmap, and
//!   is applied faster at start-up. The binary stays position-independent (ASLR).
//!
//! Linkers that do not know an option warn and ignore it.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let release = var("PROFILE") == "release";
    let linux_gnu = var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu";
    if release && linux_gnu {
        println!("cargo:rustc-link-arg-bins=-Wl,--compress-debug-sections=zlib");
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
