//! Every environment variable `sparkimg` reads, in one table: its name, what it does
//! and what applies when it is unset. The README's table is checked against [`ALL`]
//! (xtask/tests/readme.rs); code that reads a variable names it through these
//! constants. Variables read by libraries on our behalf (the HTTP client's proxies,
//! the TLS roots, the temp directory) are listed too: a user sets them for sparkimg.

/// One environment variable sparkimg reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvVar {
    pub name: &'static str,
    pub meaning: &'static str,
    /// What applies when the variable is unset (or empty).
    pub default: &'static str,
}

pub const CACHE_DIR: &str = "SPARKIMG_CACHE_DIR";
pub const LOCK_TIMEOUT: &str = "SPARKIMG_LOCK_TIMEOUT";
pub const MIRRORS: &str = "SPARKIMG_MIRRORS";
pub const THREADS: &str = "SPARKIMG_THREADS";
pub const ENTRYPOINT: &str = "SPARKIMG_ENTRYPOINT";
pub const RETRY_BASE_MS: &str = "SPARKIMG_RETRY_BASE_MS";
pub const KEY_PASSWORD: &str = "SPARKIMG_KEY_PASSWORD";
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";
pub const DEFAULT_ARTIFACT_REPOSITORY: &str = "DEFAULT_ARTIFACT_REPOSITORY";
pub const CI: &str = "CI";
pub const HOME: &str = "HOME";
pub const XDG_CACHE_HOME: &str = "XDG_CACHE_HOME";
pub const XDG_CONFIG_HOME: &str = "XDG_CONFIG_HOME";
pub const XDG_RUNTIME_DIR: &str = "XDG_RUNTIME_DIR";
pub const DOCKER_HOST: &str = "DOCKER_HOST";
pub const DOCKER_CONTEXT: &str = "DOCKER_CONTEXT";
pub const DOCKER_CONFIG: &str = "DOCKER_CONFIG";
pub const REGISTRY_AUTH_FILE: &str = "REGISTRY_AUTH_FILE";

const fn var(name: &'static str, meaning: &'static str, default: &'static str) -> EnvVar {
    EnvVar {
        name,
        meaning,
        default,
    }
}

/// Every variable, sparkimg's own first.
pub const ALL: &[EnvVar] = &[
    var(
        CACHE_DIR,
        "the cache directory (--cache-dir)",
        "$XDG_CACHE_HOME/sparkimg, else ~/.cache/sparkimg",
    ),
    var(
        LOCK_TIMEOUT,
        "how long to wait for a lock another sparkimg process holds (--lock-timeout)",
        "10m",
    ),
    var(
        MIRRORS,
        "Spark mirrors tried after --mirror, comma or space separated",
        "none: then dlcdn.apache.org and archive.apache.org",
    ),
    var(
        THREADS,
        "worker threads per compressed layer (digests do not depend on it)",
        "the cores available",
    ),
    var(
        ENTRYPOINT,
        "the static spark-entrypoint put in images (--entrypoint-binary)",
        "target/dist/spark-entrypoint here, else in the checkout sparkimg was built from",
    ),
    var(
        RETRY_BASE_MS,
        "the registry client's first retry delay in milliseconds (for tests)",
        "1000",
    ),
    var(
        KEY_PASSWORD,
        "the passphrase of the --sign-key key and of the key keygen writes (--sign-key-pass-stdin and --key-pass-stdin win)",
        "none: the empty passphrase",
    ),
    var(
        SOURCE_DATE_EPOCH,
        "file mtimes and the images' created time, in seconds since 1970",
        "0",
    ),
    var(
        DEFAULT_ARTIFACT_REPOSITORY,
        "replaces Maven Central and spark-packages for --packages, as in Spark",
        "Maven Central, then spark-packages",
    ),
    var(
        CI,
        "set: progress as plain lines, never a bar",
        "a bar on a terminal",
    ),
    var(
        HOME,
        "where ~/.cache, ~/.docker, ~/.config and ~/.m2/settings.xml are",
        "none",
    ),
    var(
        XDG_CACHE_HOME,
        "the parent of the default cache directory",
        "~/.cache",
    ),
    var(
        XDG_CONFIG_HOME,
        "holds containers/auth.json (podman's credentials) and containers/registries.conf (registry mirrors)",
        "~/.config",
    ),
    var(
        XDG_RUNTIME_DIR,
        "holds containers/auth.json (podman's login)",
        "none",
    ),
    var(
        DOCKER_HOST,
        "the Docker Engine to talk to",
        "the current docker context, else unix:///var/run/docker.sock",
    ),
    var(
        DOCKER_CONTEXT,
        "the docker context whose endpoint to use",
        "the config's currentContext",
    ),
    var(
        DOCKER_CONFIG,
        "the docker config directory (config.json: credentials, contexts)",
        "~/.docker",
    ),
    var(
        REGISTRY_AUTH_FILE,
        "a containers-auth.json file with registry credentials",
        "none",
    ),
    var(
        "PATH",
        "where docker-credential-<name> helpers are found",
        "the system's",
    ),
    var(
        "HTTPS_PROXY",
        "proxy for https:// requests (also https_proxy)",
        "none",
    ),
    var(
        "HTTP_PROXY",
        "proxy for http:// requests (also http_proxy)",
        "none",
    ),
    var(
        "ALL_PROXY",
        "proxy for requests the two above do not cover (also all_proxy)",
        "none",
    ),
    var(
        "NO_PROXY",
        "hosts reached without a proxy (also no_proxy)",
        "none",
    ),
    var(
        "SSL_CERT_FILE",
        "a PEM bundle used as the TLS roots",
        "the system's roots",
    ),
    var(
        "SSL_CERT_DIR",
        "directories of PEM certificates used as the TLS roots",
        "the system's roots",
    ),
    var(
        "TMPDIR",
        "where temporary directories go (unpacked archives)",
        "/tmp",
    ),
];

/// The entry for `name`.
pub fn get(name: &str) -> Option<&'static EnvVar> {
    ALL.iter().find(|v| v.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_described() {
        let mut names: Vec<&str> = ALL.iter().map(|v| v.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len(), "a name is listed twice");
        assert!(ALL
            .iter()
            .all(|v| !v.meaning.is_empty() && !v.default.is_empty()));
        assert_eq!(get(CACHE_DIR).map(|v| v.name), Some("SPARKIMG_CACHE_DIR"));
    }

    /// Every name the builder's sources read is in the table.
    #[test]
    fn every_variable_read_is_listed() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut missing = Vec::new();
        // This file's own examples are not reads.
        let this = src.join("env_vars.rs");
        for (path, text) in sources(&src).into_iter().filter(|(p, _)| *p != this) {
            for name in read_names(&text) {
                if get(&name).is_none() {
                    missing.push(format!("{}: {name}", path.display()));
                }
            }
        }
        assert!(missing.is_empty(), "not in env_vars::ALL: {missing:?}");
    }

    fn sources(dir: &std::path::Path) -> Vec<(std::path::PathBuf, String)> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).expect("src/").map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                out.extend(sources(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("a source file");
                out.push((path, text));
            }
        }
        out
    }

    /// The literal names in `env = "X"`, `env::var("X")`, `env::var_os("X")` and the
    /// `var("X")`/`from_env("X")` closures the readers use.
    fn read_names(text: &str) -> Vec<String> {
        let mut names = Vec::new();
        for marker in ["env = \"", "var(\"", "var_os(\"", "from_env(\""] {
            for (at, _) in text.match_indices(marker) {
                let rest = &text[at + marker.len()..];
                let name = rest.split('"').next().unwrap_or("");
                if !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                {
                    names.push(name.to_string());
                }
            }
        }
        names
    }
}
