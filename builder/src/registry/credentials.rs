//! Registry credentials from the places docker, podman and crane read them.
//!
//! Pure: [`lookup`] decides, from parsed config files, what to use for a registry.
//! Effects: [`AuthSources::from_env`] finds and reads the files, [`run_helper`] runs a
//! `docker-credential-<name>` helper. Secrets never reach `Debug`, logs or errors.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde::Deserialize;

use super::error::RegistryError;
use super::reference::auth_keys;

/// What to authenticate with.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    Basic {
        username: String,
        password: String,
    },
    /// An OAuth2 refresh token (`identitytoken`), exchanged at the token realm.
    IdentityToken(String),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Credentials::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
        }
    }
}

impl Credentials {
    /// `--creds USER:PASS` (the password may contain ':').
    pub fn parse_user_pass(s: &str) -> Result<Credentials, RegistryError> {
        match s.split_once(':') {
            Some((u, p)) if !u.is_empty() => Ok(Credentials::Basic {
                username: u.to_string(),
                password: p.to_string(),
            }),
            _ => Err(RegistryError::Credentials(
                "--creds expects USER:PASSWORD".into(),
            )),
        }
    }
}

/// One `auths` entry of a docker config or podman auth.json.
#[derive(Default, Clone, Deserialize)]
pub struct AuthEntry {
    #[serde(default)]
    pub auth: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub identitytoken: Option<String>,
}

/// Only whether each secret is there: `RegistryOptions` (and so this) is `Debug`.
impl fmt::Debug for AuthEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        f.debug_struct("AuthEntry")
            .field("auth", &shown(&self.auth))
            .field("username", &self.username)
            .field("password", &shown(&self.password))
            .field("identitytoken", &shown(&self.identitytoken))
            .finish()
    }
}

/// The parts of `config.json` / `auth.json` we read.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct AuthFile {
    #[serde(default)]
    pub auths: std::collections::BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    pub cred_helpers: std::collections::BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    pub creds_store: Option<String>,
}

/// Where credentials for a registry come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Credentials(Credentials),
    /// Run `docker-credential-<helper> get` with this server URL.
    Helper {
        helper: String,
        server: String,
    },
    Anonymous,
}

fn decode_entry(e: &AuthEntry) -> Option<Credentials> {
    if let Some(t) = e.identitytoken.as_deref().filter(|t| !t.is_empty()) {
        return Some(Credentials::IdentityToken(t.to_string()));
    }
    if let Some(a) = e.auth.as_deref().filter(|a| !a.is_empty()) {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(a.trim())
            .ok()?;
        let s = String::from_utf8(raw).ok()?;
        let (u, p) = s.split_once(':')?;
        return Some(Credentials::Basic {
            username: u.to_string(),
            password: p.to_string(),
        });
    }
    match (&e.username, &e.password) {
        (Some(u), Some(p)) if !u.is_empty() => Some(Credentials::Basic {
            username: u.clone(),
            password: p.clone(),
        }),
        _ => None,
    }
}

/// Pure: per file in order, `credHelpers[host]`, then `auths[host]`, then `credsStore`
/// (docker's order; podman's auth.json only has `auths`). The first file that knows
/// the registry wins.
pub fn lookup(files: &[AuthFile], registry: &str) -> Found {
    let keys = auth_keys(registry);
    for f in files {
        for k in &keys {
            if let Some(h) = f.cred_helpers.get(k) {
                return Found::Helper {
                    helper: h.clone(),
                    server: k.clone(),
                };
            }
        }
        for k in &keys {
            if let Some(c) = f.auths.get(k).and_then(decode_entry) {
                return Found::Credentials(c);
            }
        }
        if let Some(store) = f.creds_store.as_deref().filter(|s| !s.is_empty()) {
            return Found::Helper {
                helper: store.to_string(),
                server: keys[0].clone(),
            };
        }
    }
    Found::Anonymous
}

/// The credential files of this environment, read once.
#[derive(Debug, Default, Clone)]
pub struct AuthSources {
    pub files: Vec<AuthFile>,
}

/// Pure: candidate paths, in order: docker's config, then podman's auth files.
pub fn auth_file_paths(
    docker_config: Option<&Path>,
    home: Option<&Path>,
    registry_auth_file: Option<&Path>,
    xdg_runtime_dir: Option<&Path>,
    xdg_config_home: Option<&Path>,
) -> Vec<PathBuf> {
    let mut out = Vec::new();
    match (docker_config, home) {
        (Some(d), _) => out.push(d.join("config.json")),
        (None, Some(h)) => out.push(h.join(".docker/config.json")),
        _ => {}
    }
    if let Some(f) = registry_auth_file {
        out.push(f.to_path_buf());
    }
    if let Some(x) = xdg_runtime_dir {
        out.push(x.join("containers/auth.json"));
    }
    match (xdg_config_home, home) {
        (Some(x), _) => out.push(x.join("containers/auth.json")),
        (None, Some(h)) => out.push(h.join(".config/containers/auth.json")),
        _ => {}
    }
    out
}

impl AuthSources {
    /// Read the files named by `DOCKER_CONFIG`, `HOME`, `REGISTRY_AUTH_FILE`,
    /// `XDG_RUNTIME_DIR` and `XDG_CONFIG_HOME`. Missing files are skipped; a file that
    /// exists but does not parse is an error (silently pushing anonymously would hide it).
    pub fn from_env() -> Result<AuthSources, RegistryError> {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let paths = auth_file_paths(
            var("DOCKER_CONFIG").as_deref(),
            var("HOME").as_deref(),
            var("REGISTRY_AUTH_FILE").as_deref(),
            var("XDG_RUNTIME_DIR").as_deref(),
            var("XDG_CONFIG_HOME").as_deref(),
        );
        let mut files = Vec::new();
        for p in paths {
            match std::fs::read(&p) {
                Ok(bytes) => {
                    let f: AuthFile = serde_json::from_slice(&bytes).map_err(|e| {
                        RegistryError::Credentials(format!("{}: not valid JSON: {e}", p.display()))
                    })?;
                    files.push(f);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(RegistryError::Credentials(format!("{}: {e}", p.display())));
                }
            }
        }
        Ok(AuthSources { files })
    }

    /// Credentials for `registry`, running a helper if the files say so.
    pub fn resolve(&self, registry: &str) -> Result<Option<Credentials>, RegistryError> {
        match lookup(&self.files, registry) {
            Found::Anonymous => Ok(None),
            Found::Credentials(c) => Ok(Some(c)),
            Found::Helper { helper, server } => run_helper(&helper, &server),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperAnswer {
    #[serde(default)]
    username: String,
    #[serde(default)]
    secret: String,
}

/// `docker-credential-<helper> get` with the server URL on stdin. "credentials not
/// found" means anonymous; the helper's stderr is not echoed (it may quote secrets).
pub fn run_helper(helper: &str, server: &str) -> Result<Option<Credentials>, RegistryError> {
    if !helper
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(RegistryError::Credentials(format!(
            "credential helper name '{helper}' is not a plain name"
        )));
    }
    let prog = format!("docker-credential-{helper}");
    let mut child = Command::new(&prog)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| RegistryError::Credentials(format!("cannot run {prog}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading gives EPIPE; its exit status tells more.
        let _ = stdin.write_all(server.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| RegistryError::Credentials(format!("{prog}: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        if text.to_ascii_lowercase().contains("credentials not found") {
            return Ok(None);
        }
        return Err(RegistryError::Credentials(format!(
            "{prog} get failed ({})",
            out.status
        )));
    }
    let a: HelperAnswer = serde_json::from_slice(&out.stdout)
        .map_err(|_| RegistryError::Credentials(format!("{prog} get: unexpected output")))?;
    if a.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(if a.username == "<token>" {
        Credentials::IdentityToken(a.secret)
    } else {
        Credentials::Basic {
            username: a.username,
            password: a.secret,
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(json: &str) -> AuthFile {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn lookup_order() {
        let docker = file(
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dTpw"},
                         "quay.io":{"identitytoken":"tok"},
                         "ghcr.io":{}},
                "credHelpers":{"gcr.io":"gcloud"},
                "credsStore":"pass"}"#,
        );
        assert_eq!(
            lookup(std::slice::from_ref(&docker), "docker.io"),
            Found::Credentials(Credentials::Basic {
                username: "u".into(),
                password: "p".into()
            })
        );
        assert_eq!(
            lookup(std::slice::from_ref(&docker), "quay.io"),
            Found::Credentials(Credentials::IdentityToken("tok".into()))
        );
        assert_eq!(
            lookup(std::slice::from_ref(&docker), "gcr.io"),
            Found::Helper {
                helper: "gcloud".into(),
                server: "gcr.io".into()
            }
        );
        // An empty auths entry (what credsStore logins leave) falls through to the store.
        assert_eq!(
            lookup(std::slice::from_ref(&docker), "ghcr.io"),
            Found::Helper {
                helper: "pass".into(),
                server: "ghcr.io".into()
            }
        );
        let podman = file(r#"{"auths":{"reg.lan:5000":{"auth":"YTpiOmM="}}}"#);
        assert_eq!(
            lookup(&[AuthFile::default(), podman], "reg.lan:5000"),
            Found::Credentials(Credentials::Basic {
                username: "a".into(),
                password: "b:c".into()
            })
        );
        let legacy = file(r#"{"auths":{"https://old.lan":{"username":"x","password":"y"}}}"#);
        assert!(matches!(
            lookup(&[legacy], "old.lan"),
            Found::Credentials(Credentials::Basic { .. })
        ));
        assert_eq!(lookup(&[], "x.io"), Found::Anonymous);
    }

    #[test]
    fn paths_and_creds() {
        let p = auth_file_paths(
            None,
            Some(Path::new("/h")),
            Some(Path::new("/a.json")),
            Some(Path::new("/run/u")),
            None,
        );
        assert_eq!(
            p,
            vec![
                PathBuf::from("/h/.docker/config.json"),
                PathBuf::from("/a.json"),
                PathBuf::from("/run/u/containers/auth.json"),
                PathBuf::from("/h/.config/containers/auth.json"),
            ]
        );
        let c = Credentials::parse_user_pass("me:s3:cret").unwrap();
        assert!(!format!("{c:?}").contains("s3"));
        assert!(Credentials::parse_user_pass("nopass").is_err());
        assert!(Credentials::parse_user_pass(":x").is_err());
    }

    #[test]
    fn debug_of_auth_files_shows_no_secret() {
        let f = file(
            r#"{"auths":{"a.lan":{"auth":"dXNlcjpTM2NyZXQtQXV0aA==","username":"user",
               "password":"S3cret-Pass","identitytoken":"S3cret-Tok"}}}"#,
        );
        let shown = format!(
            "{:?} {f:#?}",
            AuthSources {
                files: vec![f.clone()]
            }
        );
        for secret in ["dXNlcjpTM2NyZXQtQXV0aA==", "S3cret-Pass", "S3cret-Tok"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(
            shown.contains("user") && shown.contains("<redacted>"),
            "{shown}"
        );
    }
}
