//! Link flags for the `klachtd` binary: relative relocations packed (DT_RELR, glibc >= 2.36,
//! binutils >= 2.38). Without them the loader reads 1.6 MB of relocation entries at every
//! start (mostly whatlang's trigram tables) and keeps those pages resident: 1.6 MB of idle RSS.
fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
