//! Pure: the repositories of a resolution and their credentials.
//!
//! The list is Spark's: Maven Central, then spark-packages (both replaced by
//! `DEFAULT_ARTIFACT_REPOSITORY` when set, as in Spark), then `--repositories` in
//! order, named `repo-1`, `repo-2`… as Spark names them. Spark's local caches
//! (`~/.m2/repository`, `~/.ivy2/local`, first in its chain) are left out on purpose, so
//! an image does not depend on the build machine (see docs/build.md). Credentials come from `user:pass@`
//! in the URL or from `~/.m2/settings.xml` `<servers>`, matched by id (the repository's
//! name) or by URL; they are kept apart from the URL so no message can print them.
//! settings.xml `<mirrors>` then stand in for what their `mirrorOf` names (Maven's
//! grammar and choice of mirror). Each repository records what put it in the chain.

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
    /// What put it in the chain, so a message can say what to change (a flag, a file).
    pub origin: String,
}

/// Where Spark's default chain comes from, and what replaces it.
pub const DEFAULT_ORIGIN: &str =
    "Spark's default chain; DEFAULT_ARTIFACT_REPOSITORY, a settings.xml <mirror> or --ivy-settings replaces it";

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
    Ok(doc
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == "server")
        .filter_map(|s| {
            Some(Server {
                id: child_text(s, "id")?,
                auth: Auth {
                    user: child_text(s, "username")?,
                    password: child_text(s, "password").unwrap_or_default(),
                },
            })
        })
        .collect())
}

pub fn repository(
    name: &str,
    given: &str,
    servers: &[Server],
    origin: &str,
) -> Result<Repository, MavenError> {
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
        origin: origin.to_string(),
    })
}

/// A `<mirror>` of settings.xml: the repositories its `mirrorOf` names are asked at
/// `url` instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mirror {
    pub id: String,
    pub url: String,
    pub mirror_of: String,
}

fn child_text(n: roxmltree::Node, name: &str) -> Option<String> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
        .and_then(|c| c.text())
        .map(|t| t.trim().to_string())
}

/// The `<mirrors>` of a settings.xml, in order; one without an id, URL or mirrorOf is
/// skipped, as Maven skips it.
pub fn mirrors(xml: &str, file: &str) -> Result<Vec<Mirror>, MavenError> {
    let doc = Document::parse(xml).map_err(|e| MavenError::Settings {
        file: file.to_string(),
        reason: e.to_string(),
    })?;
    Ok(doc
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == "mirror")
        .filter(|n| n.parent().is_some_and(|p| p.tag_name().name() == "mirrors"))
        .filter_map(|m| {
            Some(Mirror {
                id: child_text(m, "id")?,
                url: child_text(m, "url")?,
                mirror_of: child_text(m, "mirrorOf")?,
            })
        })
        .collect())
}

/// Whether a repository is on this machine (Maven's `external:` leaves those out).
fn is_local(repo: &Repository) -> bool {
    let Ok(u) = url::Url::parse(&repo.url) else {
        return false;
    };
    u.scheme() == "file" || matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

/// Maven's `mirrorOf` grammar: a comma list of ids, `*`, `external:*` (not on this
/// machine), `external:http:*` (plain HTTP, not on this machine), and `!id` to leave
/// one out (which wins over every other entry).
pub fn mirror_of_matches(pattern: &str, repo: &Repository) -> bool {
    let parts: Vec<&str> = pattern.split(',').map(str::trim).collect();
    if parts
        .iter()
        .any(|p| p.strip_prefix('!') == Some(repo.name.as_str()))
    {
        return false;
    }
    parts.iter().any(|p| match *p {
        "*" => true,
        "external:*" => !is_local(repo),
        "external:http:*" => repo.url.starts_with("http://") && !is_local(repo),
        id => id == repo.name,
    })
}

/// The repositories with settings.xml's mirrors applied, as Maven picks a mirror: one
/// whose `mirrorOf` is exactly the repository's id first, else the first that matches.
/// Several repositories behind one mirror are asked there once. Credentials for a
/// mirror come from the `<server>` with its id.
pub fn apply_mirrors(
    repos: Vec<Repository>,
    mirrors: &[Mirror],
    servers: &[Server],
    file: &str,
) -> Result<Vec<Repository>, MavenError> {
    let mut out: Vec<Repository> = Vec::new();
    for repo in repos {
        let chosen = mirrors
            .iter()
            .find(|m| m.mirror_of.trim() == repo.name)
            .or_else(|| {
                mirrors
                    .iter()
                    .find(|m| mirror_of_matches(&m.mirror_of, &repo))
            });
        let next = match chosen {
            None => repo,
            Some(m) => {
                let origin = format!(
                    "<mirror> {} (mirrorOf {}) in {file}, for {}",
                    m.id, m.mirror_of, repo.name
                );
                repository(&m.id, &m.url, servers, &origin)?
            }
        };
        if !out.iter().any(|r| r.url == next.url) {
            out.push(next);
        }
    }
    Ok(out)
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
    let origin = match default_root {
        Some(_) => crate::env_vars::DEFAULT_ARTIFACT_REPOSITORY,
        None => DEFAULT_ORIGIN,
    };
    let mut out = vec![
        repository("central", default_root.unwrap_or(CENTRAL), servers, origin)?,
        repository(
            "spark-packages",
            default_root.unwrap_or(SPARK_PACKAGES),
            servers,
            origin,
        )?,
    ];
    if default_root.is_some() {
        out.pop(); // Spark points both at it; asking twice adds nothing.
    }
    out.extend(user_list(extra, servers)?);
    Ok(out)
}

/// `--repositories` as Spark adds them after the default resolver: `repo-1`, `repo-2`…
pub fn user_list(extra: &[String], servers: &[Server]) -> Result<Vec<Repository>, MavenError> {
    extra
        .iter()
        .filter(|r| !r.trim().is_empty())
        .enumerate()
        .map(|(i, r)| repository(&format!("repo-{}", i + 1), r, servers, "--repositories"))
        .collect()
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

    fn repo(name: &str, url: &str) -> Repository {
        repository(name, url, &[], "test").unwrap()
    }

    #[test]
    fn mirror_of_grammar() {
        let central = repo("central", CENTRAL);
        let local = repo("repo-1", "http://127.0.0.1:8081/m2/");
        let file = repo("repo-2", "file:///srv/m2");
        let https = repo("repo-3", "https://nexus.example/m2");
        let plain = repo("repo-4", "http://nexus.example/m2");
        let all = [&central, &local, &file, &https, &plain];
        let matching = |pattern: &str| -> Vec<&str> {
            all.iter()
                .filter(|r| mirror_of_matches(pattern, r))
                .map(|r| r.name.as_str())
                .collect()
        };
        assert_eq!(
            matching("*"),
            ["central", "repo-1", "repo-2", "repo-3", "repo-4"]
        );
        assert_eq!(matching("external:*"), ["central", "repo-3", "repo-4"]);
        assert_eq!(matching("external:http:*"), ["repo-4"]);
        assert_eq!(matching("central"), ["central"]);
        assert_eq!(matching("central, repo-3"), ["central", "repo-3"]);
        assert_eq!(
            matching("*,!repo-1,!repo-2"),
            ["central", "repo-3", "repo-4"]
        );
        assert_eq!(
            matching("!central,*"),
            ["repo-1", "repo-2", "repo-3", "repo-4"]
        );
        assert!(matching("spark-packages").is_empty());
    }

    #[test]
    fn mirrors_replace_what_they_mirror() {
        let xml = "<settings><servers><server><id>corp</id><username>u</username>\
                   <password>p</password></server></servers><mirrors>\
                   <mirror><id>corp</id><url>https://nexus.corp/m2</url><mirrorOf>external:*,!repo-2</mirrorOf></mirror>\
                   <mirror><id>pk</id><url>https://pk.corp/</url><mirrorOf>spark-packages</mirrorOf></mirror>\
                   <mirror><id>broken</id><url>https://x/</url></mirror></mirrors></settings>";
        let ms = mirrors(xml, "settings.xml").unwrap();
        assert_eq!(ms.len(), 2, "one without mirrorOf is skipped: {ms:?}");
        let servers = servers(xml, "settings.xml").unwrap();
        let extra = [
            "https://other.example/m2".to_string(),
            "https://kept.example/m2".into(),
            "http://localhost:1/m2".into(),
        ];
        let chain = repositories(None, &extra, &servers).unwrap();
        let mirrored = apply_mirrors(chain, &ms, &servers, "settings.xml").unwrap();
        let got: Vec<(&str, &str)> = mirrored
            .iter()
            .map(|r| (r.name.as_str(), r.url.as_str()))
            .collect();
        // Exact id beats the earlier wildcard; central and repo-1 share the mirror.
        assert_eq!(
            got,
            [
                ("corp", "https://nexus.corp/m2/"),
                ("pk", "https://pk.corp/"),
                ("repo-2", "https://kept.example/m2/"),
                ("repo-3", "http://localhost:1/m2/"),
            ]
        );
        assert_eq!(
            mirrored[0].auth.as_ref().map(|a| a.user.as_str()),
            Some("u")
        );
        assert!(
            mirrored[0].origin.contains("<mirror> corp"),
            "{}",
            mirrored[0].origin
        );
    }
}
