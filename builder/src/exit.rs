//! The exit codes of `sparkimg`: one table (printed by `--help`, documented in the
//! README's "`sparkimg` exit codes") and one classifier from any library error to its
//! code.

use std::error::Error;

use crate::engine::EngineError;
use crate::fetch::FetchError;
use crate::image::BuildError;
use crate::publish::PublishError;
use crate::registry::RegistryError;

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

/// Every code and what it means, in order.
pub const TABLE: &[(u8, &str)] = &[
    (SUCCESS, "success"),
    (
        OTHER,
        "other error (I/O, cache; in fetch, a malformed version)",
    ),
    (
        USAGE,
        "usage error: bad flags, references, tags, time zones, SOURCE_DATE_EPOCH or \
         (build) versions",
    ),
    (
        VERIFICATION,
        "verification failed (checksum missing, unparsable or wrong; bad signature)",
    ),
    (
        DOWNLOAD,
        "download failed on every mirror (not found, network, server errors)",
    ),
    (UNSAFE_ARCHIVE, "unsafe or oversized archive refused"),
    (
        BASE_OR_DIST,
        "build: base image unusable (no Java, unreadable) or not a Spark distribution",
    ),
    (NOT_YET, "build: not implemented yet (-m minikube)"),
    (
        OUTPUT_NOT_OURS,
        "build: the output path exists and was not written by sparkimg",
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

fn code_of(e: &(dyn Error + 'static)) -> Option<u8> {
    if let Some(e) = e.downcast_ref::<BuildError>() {
        return Some(build(e));
    }
    if let Some(e) = e.downcast_ref::<FetchError>() {
        return Some(fetch(e));
    }
    if let Some(e) = e.downcast_ref::<RegistryError>() {
        return Some(registry(e));
    }
    if let Some(e) = e.downcast_ref::<EngineError>() {
        return Some(engine(e));
    }
    e.downcast_ref::<PublishError>().map(|e| match e {
        PublishError::Build(b) => build(b),
        PublishError::Registry(r) => registry(r),
        PublishError::Engine(d) => engine(d),
    })
}

/// `sparkimg fetch`'s codes (a bad version there is exit 1, as it always was).
fn fetch(e: &FetchError) -> u8 {
    match e {
        f if f.is_verification_failure() => VERIFICATION,
        f if f.is_unsafe_archive() => UNSAFE_ARCHIVE,
        FetchError::NotFound { .. }
        | FetchError::Transient { .. }
        | FetchError::Http { .. }
        | FetchError::AllSourcesFailed { .. } => DOWNLOAD,
        _ => OTHER,
    }
}

fn build(e: &BuildError) -> u8 {
    match e {
        BuildError::InvalidReference { .. }
        | BuildError::InvalidLocation { .. }
        | BuildError::InvalidInput(_)
        | BuildError::UnknownTimezone { .. }
        | BuildError::SourceDateEpoch(_) => USAGE,
        // In a build, a version or build flavour that cannot exist is a usage error.
        BuildError::Fetch(
            FetchError::InvalidVersion { .. } | FetchError::UnsupportedBuild { .. },
        ) => USAGE,
        BuildError::Fetch(f) => fetch(f),
        BuildError::Base(_) | BuildError::NoJava | BuildError::Distribution { .. } => BASE_OR_DIST,
        BuildError::NotYet(_) => NOT_YET,
        BuildError::OutputNotOurs { .. } => OUTPUT_NOT_OURS,
        BuildError::Io { .. } => OTHER,
    }
}

fn registry(e: &RegistryError) -> u8 {
    match e {
        RegistryError::InvalidReference { .. } | RegistryError::Layout { .. } => USAGE,
        RegistryError::Unauthorized { .. } | RegistryError::Credentials(_) => REGISTRY_AUTH,
        RegistryError::Http { .. }
        | RegistryError::Transport { .. }
        | RegistryError::DigestMismatch { .. }
        | RegistryError::Manifest { .. }
        | RegistryError::NoPlatform { .. } => REGISTRY,
        RegistryError::Io { .. } => OTHER,
    }
}

fn engine(e: &EngineError) -> u8 {
    match e {
        EngineError::Discovery(_) | EngineError::Unreachable { .. } => NO_ENGINE,
        EngineError::Daemon { .. } => ENGINE_FAILED,
        EngineError::Build(b) => build(b),
        EngineError::Registry(r) => registry(r),
        EngineError::Io { .. } => OTHER,
    }
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
        assert_eq!(codes, (0..=12).collect::<Vec<u8>>());
        assert!(help().starts_with("Exit codes:\n   0  success\n"));
        assert!(help().contains("\n  12  Docker Engine"));
    }

    #[test]
    fn one_classifier_for_every_error_type() {
        let v = || FetchError::InvalidVersion {
            version: "3.5".into(),
        };
        assert_eq!(code(v()), OTHER);
        assert_eq!(code(BuildError::Fetch(v())), USAGE);
        assert_eq!(code(BuildError::NoJava), BASE_OR_DIST);
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
            code(EngineError::Registry(Box::new(RegistryError::Credentials(
                "x".into()
            )))),
            REGISTRY_AUTH
        );
        assert_eq!(code(EngineError::Discovery("x".into())), NO_ENGINE);
        assert_eq!(code(std::io::Error::other("x")), OTHER);
    }

    #[test]
    fn the_first_known_cause_decides() {
        let inner = anyhow::Error::new(BuildError::NotYet("m".into())).context("while x");
        assert_eq!(classify(inner.chain()), NOT_YET);
    }
}
