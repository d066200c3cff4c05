//! The exit codes of `sparkimg`: one table (printed by `--help`, documented in the
//! README's "`sparkimg` exit codes") and one classifier from any library error to its
//! code.

use std::error::Error;

use crate::apt::AptError;
use crate::build::publish::PublishError;
use crate::build::BuildError;
use crate::cache::CacheError;
use crate::engine::EngineError;
use crate::fetch::{FetchError, VersionError};
use crate::http::DownloadError;
use crate::maven::MavenError;
use crate::oci::OciError;
use crate::registry::RegistryError;
use crate::sign::SignError;
use crate::usage::UsageError;

pub const SUCCESS: u8 = 0;
pub const OTHER: u8 = 1;
pub const USAGE: u8 = 2;
pub const VERIFICATION: u8 = 3;
pub const DOWNLOAD: u8 = 4;
pub const UNSAFE_ARCHIVE: u8 = 5;
pub const BASE_OR_DIST: u8 = 6;
pub const NOT_YET: u8 = 7;
pub const OUTPUT_NOT_OURS: u8 = 8;
pub const REGISTRY: u8 = 9;
pub const REGISTRY_AUTH: u8 = 10;
pub const NO_ENGINE: u8 = 11;
pub const ENGINE_FAILED: u8 = 12;
pub const SIGNING_KEY: u8 = 13;

/// Every code and what it means, in order.
pub const TABLE: &[(u8, &str)] = &[
    (SUCCESS, "success"),
    (OTHER, "other error (I/O, cache)"),
    (
        USAGE,
        "usage error: bad flags, Spark versions, Maven coordinates, references, tags, time \
         zones or \
         SOURCE_DATE_EPOCH",
    ),
    (
        VERIFICATION,
        "verification failed (checksum missing, unparsable or wrong; bad signature; an \
         unsigned apt repository; verify: a signature, provenance or SBOM check)",
    ),
    (
        DOWNLOAD,
        "download failed on every mirror or Maven repository (not found, network, server \
         errors)",
    ),
    (UNSAFE_ARCHIVE, "unsafe or oversized archive refused"),
    (
        BASE_OR_DIST,
        "build: base image unusable (no Java, a Java the Spark line does not run on, \
         unreadable; lacks python3/R and is not Debian/Ubuntu; OS packages that do not \
         exist or cannot be satisfied, or whose maintainer scripts cannot be reproduced) \
         or not a Spark distribution; rebase: refused (not built on the old base, no Java, \
         a Java major change without --allow-java-change, a Java the Spark line does not \
         run on, not an image sparkimg built)",
    ),
    (
        NOT_YET,
        "build: not implemented yet (-m minikube; --sign-keyless)",
    ),
    (
        OUTPUT_NOT_OURS,
        "build: the output path exists and was not written by sparkimg; keygen: the key \
         file exists",
    ),
    (
        REGISTRY,
        "registry: push or pull failed (unreachable, server errors after retries, not \
         found, digest mismatch, no image for the platform)",
    ),
    (
        REGISTRY_AUTH,
        "registry: authentication refused, or credentials unusable (auth file, helper)",
    ),
    (
        NO_ENGINE,
        "Docker Engine: none found or none answering (DOCKER_HOST, docker context, socket)",
    ),
    (
        ENGINE_FAILED,
        "Docker Engine: the daemon failed the build, load or push (its log is on stderr)",
    ),
    (
        SIGNING_KEY,
        "signing: the --sign-key file is not a private key, not ECDSA P-256, or its \
         passphrase is wrong; verify: --key is not an ECDSA P-256 public key",
    ),
];

/// The table as `--help` prints it, meanings wrapped at 88 columns.
pub fn help() -> String {
    const WIDTH: usize = 88;
    let mut s = String::from("Exit codes:");
    for (code, meaning) in TABLE {
        let mut line = format!("  {code:>2} ");
        for word in meaning.split(' ') {
            if line.len() + 1 + word.len() > WIDTH {
                s.push('\n');
                s.push_str(&line);
                line = "     ".to_string();
            }
            line.push(' ');
            line.push_str(word);
        }
        s.push('\n');
        s.push_str(&line);
    }
    s
}

/// The code for an error and its chain of causes: the first cause sparkimg knows
/// decides (context added on the way up does not hide it); anything else is 1.
pub fn classify<'a>(chain: impl IntoIterator<Item = &'a (dyn Error + 'static)>) -> u8 {
    chain.into_iter().find_map(code_of).unwrap_or(OTHER)
}

/// What to do about a failure, for `main`'s `hint:` line: the first error of the chain
/// that has a hint gives it.
pub fn hint<'a>(chain: impl IntoIterator<Item = &'a (dyn Error + 'static)>) -> Option<String> {
    chain.into_iter().find_map(hint_of)
}

fn hint_of(e: &(dyn Error + 'static)) -> Option<String> {
    if let Some(e) = e.downcast_ref::<UsageError>() {
        return e.hint.clone();
    }
    if let Some(e) = e.downcast_ref::<BuildError>() {
        return e.hint();
    }
    if let Some(e) = e.downcast_ref::<MavenError>() {
        return e.hint();
    }
    if let Some(e) = e.downcast_ref::<FetchError>() {
        return e.hint();
    }
    if let Some(e) = e.downcast_ref::<DownloadError>() {
        return e.hint();
    }
    if let Some(e) = e.downcast_ref::<crate::layer::LayerError>() {
        return e.hint();
    }
    if let Some(e) = e.downcast_ref::<AptError>() {
        return e.hint();
    }
    if let Some(e) = e.downcast_ref::<CacheError>() {
        return e.hint();
    }
    if let Some(e) = e.downcast_ref::<RegistryError>() {
        return e.hint();
    }
    if let Some(e) = e.downcast_ref::<EngineError>() {
        return e.hint();
    }
    if let Some(e) = e.downcast_ref::<SignError>() {
        return e.hint();
    }
    e.downcast_ref::<PublishError>()
        .and_then(PublishError::hint)
}

fn code_of(e: &(dyn Error + 'static)) -> Option<u8> {
    // A version the grammar refuses, or any usage error, is exit 2 from every command.
    if e.downcast_ref::<VersionError>().is_some() || e.downcast_ref::<UsageError>().is_some() {
        return Some(USAGE);
    }
    if let Some(e) = e.downcast_ref::<OciError>() {
        return Some(oci(e));
    }
    if let Some(e) = e.downcast_ref::<BuildError>() {
        return Some(build(e));
    }
    if let Some(e) = e.downcast_ref::<MavenError>() {
        return maven(e);
    }
    if let Some(e) = e.downcast_ref::<DownloadError>() {
        return Some(download(e));
    }
    if let Some(e) = e.downcast_ref::<FetchError>() {
        return Some(fetch(e));
    }
    if let Some(e) = e.downcast_ref::<RegistryError>() {
        return Some(registry(e));
    }
    if let Some(e) = e.downcast_ref::<EngineError>() {
        return engine(e);
    }
    if let Some(e) = e.downcast_ref::<SignError>() {
        return sign(e);
    }
    e.downcast_ref::<PublishError>().map(publish)
}

fn publish(e: &PublishError) -> u8 {
    match e {
        PublishError::Build(b) => build(b),
        PublishError::Registry(r) => registry(r),
        PublishError::Engine(d) => engine(d).unwrap_or_else(|| causes_of(d)),
        PublishError::ReferrersRefused { .. } => REGISTRY,
    }
}

/// `None` for an I/O error: its cause decides.
fn sign(e: &SignError) -> Option<u8> {
    match e {
        SignError::NotAKey { .. }
        | SignError::NotAPublicKey { .. }
        | SignError::UnsupportedKey { .. }
        | SignError::WrongPassphrase { .. }
        | SignError::BadEncryptedKey { .. } => Some(SIGNING_KEY),
        SignError::Exists { .. } => Some(OUTPUT_NOT_OURS),
        SignError::KeylessNotYet => Some(NOT_YET),
        SignError::Unverified { .. } => Some(VERIFICATION),
        SignError::Io { .. } | SignError::Random => None,
    }
}

/// `None` for a source error: its cause (a fetch error) decides.
fn maven(e: &MavenError) -> Option<u8> {
    match e {
        MavenError::Coordinate { .. }
        | MavenError::Repository { .. }
        | MavenError::Settings { .. }
        | MavenError::IvySettings { .. }
        | MavenError::IvySettingsRead { .. } => Some(USAGE),
        MavenError::ChecksumMismatch { .. } | MavenError::ChecksumMissing { .. } => {
            Some(VERIFICATION)
        }
        MavenError::Download(d) => Some(download(d)),
        MavenError::Io { .. } | MavenError::Lock(_) => Some(OTHER),
        MavenError::NotFound { .. }
        | MavenError::Unreachable { .. }
        | MavenError::NoVersionInRange { .. }
        | MavenError::ParentNotFound { .. } => Some(DOWNLOAD),
        MavenError::Pom { .. } | MavenError::ParentCycle { .. } | MavenError::NoVersion { .. } => {
            Some(OTHER)
        }
        MavenError::Source { .. } => None,
    }
}

fn fetch(e: &FetchError) -> u8 {
    match e {
        // A version or build flavour that cannot exist: fix the command line.
        FetchError::InvalidVersion(_) | FetchError::UnsupportedBuild { .. } => USAGE,
        f if f.is_verification_failure() => VERIFICATION,
        f if f.is_unsafe_archive() => UNSAFE_ARCHIVE,
        FetchError::Download(d) => download(d),
        FetchError::AllSourcesFailed { .. } => DOWNLOAD,
        _ => OTHER,
    }
}

fn download(e: &DownloadError) -> u8 {
    match e {
        DownloadError::NotFound { .. }
        | DownloadError::Transient { .. }
        | DownloadError::Unreachable { .. }
        | DownloadError::Http { .. } => DOWNLOAD,
        DownloadError::NoSpace { .. } | DownloadError::Client(_) | DownloadError::Io { .. } => {
            OTHER
        }
    }
}

fn build(e: &BuildError) -> u8 {
    match e {
        BuildError::Oci(o) => oci(o),
        BuildError::Usage(_)
        | BuildError::NoEntrypoint { .. }
        | BuildError::EntrypointArch { .. }
        | BuildError::EntrypointSbom { .. }
        | BuildError::RemoteLayers { .. }
        | BuildError::UnknownTimezone { .. }
        | BuildError::SourceDateEpoch(_) => USAGE,
        BuildError::Version(_) => USAGE,
        BuildError::Fetch(f) => fetch(f),
        BuildError::Packages(a) => apt(a),
        BuildError::Base(_)
        | BuildError::NoJava
        | BuildError::UnsupportedJava { .. }
        | BuildError::Refused(_)
        | BuildError::Distribution { .. } => BASE_OR_DIST,
        BuildError::NotYet(_) => NOT_YET,
        BuildError::OutputNotOurs { .. } => OUTPUT_NOT_OURS,
        BuildError::Engine(e) => engine(e).unwrap_or_else(|| causes_of(e)),
        BuildError::Registry(r) => registry(r),
        BuildError::Maven(m) => maven(m).unwrap_or_else(|| causes_of(m)),
        BuildError::Publish(p) => publish(p),
        BuildError::Io { .. }
        | BuildError::Lock(_)
        | BuildError::Layer(_)
        | BuildError::Jar(_)
        | BuildError::Json { .. } => OTHER,
    }
}

fn oci(e: &OciError) -> u8 {
    match e {
        OciError::PlatformNotServed { .. } => BASE_OR_DIST,
        OciError::InvalidReference { .. }
        | OciError::InvalidLocation { .. }
        | OciError::InvalidPlatform(_)
        | OciError::InvalidDigest(_) => USAGE,
    }
}

fn apt(e: &AptError) -> u8 {
    match e {
        AptError::NotDebian { .. } | AptError::Resolve(_) | AptError::Unconfigured { .. } => {
            BASE_OR_DIST
        }
        AptError::Unsigned { .. } | AptError::Signature { .. } | AptError::HashMismatch { .. } => {
            VERIFICATION
        }
        AptError::NotFound { .. } => DOWNLOAD,
        AptError::Download(d) => download(d),
        AptError::Format { .. } | AptError::Io { .. } => OTHER,
    }
}

fn registry(e: &RegistryError) -> u8 {
    match e {
        RegistryError::Reference(o) => oci(o),
        RegistryError::Layout { .. } | RegistryError::MirrorConfig(_) => USAGE,
        RegistryError::Endpoints { last, .. } => registry(last),
        RegistryError::Unauthorized { .. } | RegistryError::Credentials(_) => REGISTRY_AUTH,
        RegistryError::Http { .. }
        | RegistryError::Transport { .. }
        | RegistryError::DigestMismatch { .. }
        | RegistryError::Manifest { .. }
        | RegistryError::NoPlatform { .. }
        | RegistryError::Unrouted { .. } => REGISTRY,
        RegistryError::Io { .. } | RegistryError::Lock(_) => OTHER,
    }
}

/// The code of what caused `e` (not of `e` itself).
fn causes_of(e: &(dyn Error + 'static)) -> u8 {
    let mut chain = Vec::new();
    let mut next = e.source();
    while let Some(c) = next {
        chain.push(c);
        next = c.source();
    }
    classify(chain)
}

/// `None` for a stream the caller wrote: its cause decides.
fn engine(e: &EngineError) -> Option<u8> {
    Some(match e {
        EngineError::Discovery(_) | EngineError::Unreachable { .. } => NO_ENGINE,
        EngineError::Daemon { .. } => ENGINE_FAILED,
        EngineError::Reference(o) => oci(o),
        EngineError::Io { .. } => OTHER,
        EngineError::Stream(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(e: impl Error + 'static) -> u8 {
        let e: Box<dyn Error> = Box::new(e);
        classify(std::iter::once(e.as_ref()))
    }

    #[test]
    fn table_is_complete_and_ordered() {
        let codes: Vec<u8> = TABLE.iter().map(|(c, _)| *c).collect();
        assert_eq!(codes, (0..=13).collect::<Vec<u8>>());
        assert!(help().starts_with("Exit codes:\n   0  success\n"));
        assert!(help().contains("\n  12  Docker Engine"));
    }

    #[test]
    fn one_classifier_for_every_error_type() {
        let bad = || "3.5".parse::<crate::fetch::SparkVersion>().unwrap_err();
        // The same usage error from fetch, build, or on its own.
        assert_eq!(code(bad()), USAGE);
        assert_eq!(code(FetchError::InvalidVersion(bad())), USAGE);
        assert_eq!(
            code(BuildError::Fetch(FetchError::InvalidVersion(bad()))),
            USAGE
        );
        assert_eq!(code(BuildError::Version(bad())), USAGE);
        assert_eq!(code(BuildError::NoJava), BASE_OR_DIST);
        let java = BuildError::UnsupportedJava {
            spark: "2.4.8".into(),
            java: 17,
            from: "x".into(),
            base: "b".into(),
            javas: "8".into(),
            suggest: 8,
        };
        assert_eq!(code(java), BASE_OR_DIST);
        assert_eq!(
            code(PublishError::from(RegistryError::Credentials("x".into()))),
            REGISTRY_AUTH
        );
        assert_eq!(
            code(PublishError::Build(BuildError::OutputNotOurs {
                path: "x".into(),
                what: "y"
            })),
            OUTPUT_NOT_OURS
        );
        assert_eq!(
            code(BuildError::Registry(Box::new(RegistryError::Credentials(
                "x".into()
            )))),
            REGISTRY_AUTH
        );
        // A stream the daemon read failed: the writer's own error decides.
        assert_eq!(
            code(BuildError::Engine(EngineError::stream(BuildError::NoJava))),
            BASE_OR_DIST
        );
        assert_eq!(code(EngineError::Discovery("x".into())), NO_ENGINE);
        assert_eq!(code(std::io::Error::other("x")), OTHER);
        let wrong = SignError::WrongPassphrase {
            path: "k".into(),
            given: true,
        };
        assert_eq!(code(wrong), SIGNING_KEY);
        assert_eq!(code(SignError::KeylessNotYet), NOT_YET);
    }

    /// The README's table is the documentation of this one; they say the same.
    #[test]
    fn readme_table_is_this_table() {
        let readme = include_str!("../../README.md");
        let start = readme
            .find("## `sparkimg` exit codes")
            .expect("README section");
        let rows: Vec<(u8, String)> = readme[start..]
            .lines()
            .skip_while(|l| !l.starts_with("| 0 |"))
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                let cells: Vec<&str> = l.trim_matches('|').split(" | ").collect();
                (
                    cells[0].trim().parse().unwrap(),
                    cells[1].trim().replace('`', ""),
                )
            })
            .collect();
        let table: Vec<(u8, String)> = TABLE
            .iter()
            .map(|(c, m)| (*c, m.split_whitespace().collect::<Vec<_>>().join(" ")))
            .collect();
        assert_eq!(rows, table);
    }

    #[test]
    fn hints_come_from_the_chain() {
        let e = anyhow::Error::new(BuildError::Fetch(FetchError::NoMirrors)).context("fetching");
        assert_eq!(
            hint(e.chain()).as_deref(),
            Some("pass --mirror URL or set SPARKIMG_MIRRORS")
        );
        let u = anyhow::Error::new(UsageError::new("x").with_hint("y"));
        assert_eq!(classify(u.chain()), USAGE);
        assert_eq!(hint(u.chain()).as_deref(), Some("y"));
        let io = anyhow::Error::new(std::io::Error::other("x"));
        assert_eq!(hint(io.chain()), None);
    }

    #[test]
    fn the_first_known_cause_decides() {
        let inner = anyhow::Error::new(BuildError::NotYet("m".into())).context("while x");
        assert_eq!(classify(inner.chain()), NOT_YET);
    }
}
