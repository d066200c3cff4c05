//! `sparkimg --version --verbose` (or `-V --verbose`): the version and the backends that
//! decide the bytes sparkimg writes, for a bug report. Plain `--version` is clap's.

/// True when the arguments are exactly a version flag and `--verbose`, in any order.
pub fn verbose_requested() -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    is_verbose_version(&args)
}

fn is_verbose_version(args: &[String]) -> bool {
    let version = args.iter().any(|a| a == "-V" || a == "--version");
    let verbose = args.iter().any(|a| a == "--verbose");
    let only = args
        .iter()
        .all(|a| matches!(a.as_str(), "-V" | "--version" | "--verbose"));
    version && verbose && only
}

/// The lines printed: crate versions from the build's Cargo.lock (see build.rs);
/// libzstd's from the library itself; the gzip backend layers are written with.
pub fn verbose() -> String {
    use sparkimg::layer::{compress, GzipBackend};
    let isal = if GzipBackend::ALL.len() > 1 {
        concat!("isal-sys ", env!("SPARKIMG_DEP_ISAL_SYS"))
    } else {
        "ISA-L not built: feature `isal` off, or not x86_64"
    };
    [
        format!("sparkimg {}", env!("CARGO_PKG_VERSION")),
        format!("target: {}", env!("SPARKIMG_TARGET")),
        format!(
            "gzip: {} for layers ({isal}; flate2 {}, zlib-rs {})",
            compress::default_gzip().name(),
            env!("SPARKIMG_DEP_FLATE2"),
            env!("SPARKIMG_DEP_ZLIB_RS")
        ),
        format!(
            "zstd: zstd {} (libzstd {}, zstd-sys {})",
            env!("SPARKIMG_DEP_ZSTD"),
            zstd::zstd_safe::version_string(),
            env!("SPARKIMG_DEP_ZSTD_SYS")
        ),
        format!(
            "tls: rustls {} (aws-lc-rs {})",
            env!("SPARKIMG_DEP_RUSTLS"),
            env!("SPARKIMG_DEP_AWS_LC_RS")
        ),
        format!(
            "hash: aws-lc-rs {} (aws-lc-sys {})",
            env!("SPARKIMG_DEP_AWS_LC_RS"),
            env!("SPARKIMG_DEP_AWS_LC_SYS")
        ),
    ]
    .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_version_flag_with_verbose() {
        let v =
            |a: &[&str]| is_verbose_version(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(v(&["-V", "--verbose"]));
        assert!(v(&["--verbose", "--version"]));
        assert!(!v(&["--version"]));
        assert!(!v(&["build", "--version", "--verbose"]));
    }
}
