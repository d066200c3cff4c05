//! Names the versions of the crates that decide sparkimg's output bytes (compressors,
//! TLS, hashes) for `sparkimg --version --verbose` and the ISA-L backend's name: the
//! workspace's Cargo.lock says which were built, and nothing at run time does for most
//! of them. Sets `cfg(sparkimg_isal)` when the ISA-L gzip backend is built.

use std::path::Path;

/// Crates named by `--version --verbose`, each read into `SPARKIMG_DEP_<NAME>`.
const CRATES: &[&str] = &[
    "flate2",
    "zlib-rs",
    "isal-sys",
    "zstd",
    "zstd-sys",
    "rustls",
    "aws-lc-rs",
    "aws-lc-sys",
];

fn main() {
    let lock =
        Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    for name in CRATES {
        let var = format!("SPARKIMG_DEP_{}", name.to_uppercase().replace('-', "_"));
        let version = locked_version(&text, name).unwrap_or("unknown");
        println!("cargo:rustc-env={var}={version}");
    }
    // `sparkimg_isal`: the ISA-L gzip backend is built (feature `isal`, x86_64 only;
    // isal-sys is a dependency on x86_64 alone).
    println!("cargo::rustc-check-cfg=cfg(sparkimg_isal)");
    let isal = std::env::var_os("CARGO_FEATURE_ISAL").is_some();
    if isal && std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("x86_64") {
        println!("cargo:rustc-cfg=sparkimg_isal");
    }
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=SPARKIMG_TARGET={target}");
}

/// The version of the first `[[package]]` named `name` in a Cargo.lock.
fn locked_version<'a>(lock: &'a str, name: &str) -> Option<&'a str> {
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    lines.find(|l| l.trim() == wanted)?;
    let v = lines.next()?.trim().strip_prefix("version = \"")?;
    v.strip_suffix('"')
}
