//! Pure: the repositories of a resolution and their credentials.
//!
//! The list is Spark's: Maven Central, then spark-packages (both replaced by
//! `DEFAULT_ARTIFACT_REPOSITORY` when set, as in Spark), then `--repositories` in
//! order, named `repo-1`, `repo-2`… as Spark names them. Spark's local caches
//! (`~/.m2/repository`, `~/.ivy2/local`, first in its chain) are left out on purpose, so
//! an image does not depend on the build machine (see docs/build.md). Credentials come from `user:pass@`
//! in the URL or from `~/.m2/settings.xml` `<servers>`, matched by id (the repository's
//! name) or by URL; they are kept apart from the URL so no message can print them.

use std::fmt;

use roxmltree::Document;

use super::MavenError;

pub const CENTRAL: &str = "https://repo1.maven.org/maven2/";
pub const SPARK_PACKAGES: &str = "https://repos.spark-packages.org/";

/// Basic credentials; `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Auth {
    pub user: String,
    pub password: String,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Auth({}, ***)", self.user)
    }
}

/// One repository: a name, its root URL without credentials (ending in `/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repository {
    pub name: String,
    pub url: String,
    pub auth: Option<Auth>,
}

impl Repository {
    /// The local directory of a `file://` repository.
    pub fn local_dir(&self) -> Option<std::path::PathBuf> {
        url::Url::parse(&self.url)
            .ok()
            .filter(|u| u.scheme() == "file")
            .and_then(|u| u.to_file_path().ok())
    }
}

/// A `<server>` of settings.xml.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    pub id: String,
    pub auth: Auth,
}

/// The `<servers>` of a settings.xml (unreadable XML is an error naming the file).
pub fn servers(xml: &str, file: &str) -> Result<Vec<Server>, MavenError> {
    let doc = Document::parse(xml).map_err(|e| MavenError::Settings {
        file: file.to_string(),
        reason: e.to_string(),
    })?;
    let text = |n: roxmltree::Node, name: &str| {
        n.children()
            .find(|c| c.is_element() && c.tag_name().name() == name)
            .and_then(|c| c.text())
            .map(|t| t.trim().to_string())
    };
    Ok(doc
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == "server")
        .filter_map(|s| {
            Some(Server {
                id: text(s, "id")?,
                auth: Auth {
                    user: text(s, "username")?,
                    password: text(s, "password").unwrap_or_default(),
                },
            })
        })
        .collect())
}

fn repository(name: &str, given: &str, servers: &[Server]) -> Result<Repository, MavenError> {
    let bad = |reason: &str| MavenError::Repository {
        given: redact(given),
        reason: reason.to_string(),
    };
    let mut url = url::Url::parse(given.trim()).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https" | "file") {
        return Err(bad(
            "only http://, https:// and file:// repositories are supported",
        ));
    }
    let mut auth = (!url.username().is_empty()).then(|| Auth {
        user: decode(url.username()),
        password: decode(url.password().unwrap_or("")),
    });
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let mut root = url.to_string();
    if !root.ends_with('/') {
        root.push('/');
    }
    if auth.is_none() {
        auth = servers
            .iter()
            .find(|s| s.id == name || s.id.trim_end_matches('/') == root.trim_end_matches('/'))
            .map(|s| s.auth.clone());
    }
    Ok(Repository {
        name: name.to_string(),
        url: root,
        auth,
    })
}

fn decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A URL as it may be printed: any `user:pass@` removed.
pub fn redact(given: &str) -> String {
    match url::Url::parse(given.trim()) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => match given.rsplit_once('@') {
            Some((_, host)) => format!("…@{host}"),
            None => given.to_string(),
        },
    }
}

/// The repositories in the order they are asked. `default_root` is
/// `DEFAULT_ARTIFACT_REPOSITORY`; `extra` is `--repositories` split on commas.
pub fn repositories(
    default_root: Option<&str>,
    extra: &[String],
    servers: &[Server],
) -> Result<Vec<Repository>, MavenError> {
    let mut out = vec![
        repository("central", default_root.unwrap_or(CENTRAL), servers)?,
        repository(
            "spark-packages",
            default_root.unwrap_or(SPARK_PACKAGES),
            servers,
        )?,
    ];
    if default_root.is_some() {
        out.pop(); // Spark points both at it; asking twice adds nothing.
    }
    for (i, r) in extra.iter().filter(|r| !r.trim().is_empty()).enumerate() {
        out.push(repository(&format!("repo-{}", i + 1), r, servers)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_names_and_credentials() {
        let settings = "<settings><servers><server><id>repo-2</id><username>u2</username>\
                        <password>p2</password></server><server><id>https://by.url/m2</id>\
                        <username>u3</username><password>p3</password></server></servers></settings>";
        let servers = servers(settings, "settings.xml").unwrap();
        let extra = [
            "https://al%40ice:s%3Acret@a.example/m2".to_string(),
            "file:///srv/m2".into(),
            "https://by.url/m2/".into(),
        ];
        let repos = repositories(None, &extra, &servers).unwrap();
        let names: Vec<_> = repos
            .iter()
            .map(|r| (r.name.as_str(), r.url.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("central", CENTRAL),
                ("spark-packages", SPARK_PACKAGES),
                ("repo-1", "https://a.example/m2/"),
                ("repo-2", "file:///srv/m2/"),
                ("repo-3", "https://by.url/m2/"),
            ]
        );
        let auth = |i: usize| repos[i].auth.clone().map(|a| (a.user, a.password));
        assert_eq!(auth(2), Some(("al@ice".into(), "s:cret".into())));
        assert_eq!(auth(3), Some(("u2".into(), "p2".into())));
        assert_eq!(auth(4), Some(("u3".into(), "p3".into())));
        assert_eq!(auth(0), None);
        assert!(!format!("{repos:?}").contains("cret"));
        assert_eq!(repos[3].local_dir(), Some("/srv/m2".into()));
        let only = repositories(Some("http://127.0.0.1:1/m"), &[], &[]).unwrap();
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].url, "http://127.0.0.1:1/m/");
    }

    #[test]
    fn bad_repositories_are_usage_errors_without_secrets() {
        for bad in ["ftp://x/", "not a url", "https://u:hunter2@[::1"] {
            let e = repositories(None, &[bad.to_string()], &[]).unwrap_err();
            assert!(matches!(e, MavenError::Repository { .. }), "{bad}");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
        assert!(servers("<settings>", "s.xml")
            .unwrap_err()
            .to_string()
            .contains("s.xml"));
    }
}
