//! Pure: `WWW-Authenticate` challenges, token scopes, and token responses.

use std::collections::BTreeMap;
use std::time::Duration;

/// What a registry asked for on a 401.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        /// Scope the registry says this request needs (`repository:x:pull,push`).
        scope: Option<String>,
    },
}

/// Parse one `WWW-Authenticate` value: a scheme then `key="value"` pairs (quoted strings
/// may hold commas and `\"`). Unknown schemes give `None`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let h = header.trim();
    let (scheme, rest) = match h.find(char::is_whitespace) {
        Some(i) => (&h[..i], &h[i..]),
        None => (h, ""),
    };
    let params = parse_params(rest);
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => Some(Challenge::Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
        }),
        _ => None,
    }
}

fn parse_params(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') || key.is_empty() {
            break;
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            val.push(n);
                        }
                    }
                    '"' => break,
                    c => val.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                val.push(c);
                chars.next();
            }
            val = val.trim().to_string();
        }
        out.insert(key.to_ascii_lowercase(), val);
    }
    out
}

/// A set of token scopes, kept as resource → actions so that merging
/// `repository:a:pull` and `repository:a:push` yields `repository:a:pull,push`.
/// The first resource added stays first on the wire: some registries read only the
/// first scope, and that must be the repository we push to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes {
    entries: Vec<(String, Vec<String>)>,
}

impl Scopes {
    pub fn new() -> Scopes {
        Scopes::default()
    }

    /// `repository:<name>:<actions>`.
    pub fn repository(name: &str, actions: &[&str]) -> Scopes {
        let mut s = Scopes::new();
        s.add_repository(name, actions);
        s
    }

    pub fn add_repository(&mut self, name: &str, actions: &[&str]) {
        self.add(&format!("repository:{name}"), actions.iter().copied());
    }

    fn add<'a>(&mut self, resource: &str, actions: impl Iterator<Item = &'a str>) {
        let idx = match self.entries.iter().position(|(r, _)| r == resource) {
            Some(i) => i,
            None => {
                self.entries.push((resource.to_string(), Vec::new()));
                self.entries.len() - 1
            }
        };
        let acts = &mut self.entries[idx].1;
        for a in actions {
            if !a.is_empty() && !acts.iter().any(|x| x == a) {
                acts.push(a.to_string());
            }
        }
        acts.sort();
    }

    /// Merge a scope string from a challenge (space-separated `type:name:actions`; the
    /// name may itself contain ':' for a registry with a port, so split from the right).
    pub fn add_str(&mut self, scope: &str) {
        for one in scope.split_whitespace() {
            if let Some((resource, actions)) = one.rsplit_once(':') {
                self.add(resource, actions.split(','));
            }
        }
    }

    pub fn merge(&mut self, other: &Scopes) {
        for (r, a) in &other.entries {
            self.add(r, a.iter().map(String::as_str));
        }
    }

    /// Whether every action in `other` is already granted by `self`.
    pub fn covers(&self, other: &Scopes) -> bool {
        other.entries.iter().all(|(r, acts)| {
            self.entries
                .iter()
                .find(|(x, _)| x == r)
                .is_some_and(|(_, have)| acts.iter().all(|a| have.contains(a)))
        })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// One `scope=` query value per resource, in insertion order.
    pub fn to_params(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|(r, a)| format!("{r}:{}", a.join(",")))
            .collect()
    }
}

/// A token endpoint's answer (`token` or the OAuth2 `access_token`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct TokenResponse {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

impl TokenResponse {
    pub fn bearer(&self) -> Option<&str> {
        self.token
            .as_deref()
            .filter(|t| !t.is_empty())
            .or(self.access_token.as_deref().filter(|t| !t.is_empty()))
    }

    /// How long to use the token. The spec's default lifetime is 60 s; renew a little
    /// early so a long upload does not start with a token about to lapse.
    pub fn lifetime(&self) -> Duration {
        let secs = self.expires_in.unwrap_or(60).max(60);
        Duration::from_secs(secs.saturating_sub(10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/alpine:pull,push".into()),
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            parse_challenge(r#"bearer realm=http://x/t, service = "a \"q\"""#),
            Some(Challenge::Bearer {
                realm: "http://x/t".into(),
                service: Some("a \"q\"".into()),
                scope: None,
            })
        );
        assert_eq!(parse_challenge("Bearer service=x"), None);
        assert_eq!(parse_challenge("Negotiate abc"), None);
    }

    #[test]
    fn scopes_merge_keep_order() {
        let mut s = Scopes::repository("team/spark", &["push", "pull"]);
        s.add_repository("library/base", &["pull"]);
        s.add_str("repository:team/spark:pull repository:127.0.0.1:5000/x:pull");
        assert_eq!(
            s.to_params(),
            vec![
                "repository:team/spark:pull,push",
                "repository:library/base:pull",
                "repository:127.0.0.1:5000/x:pull"
            ]
        );
        assert!(s.covers(&Scopes::repository("library/base", &["pull"])));
        assert!(!s.covers(&Scopes::repository("library/base", &["push"])));
        assert!(!s.covers(&Scopes::repository("other", &["pull"])));
        assert!(s.covers(&Scopes::new()));
    }

    #[test]
    fn tokens() {
        let t: TokenResponse =
            serde_json::from_str(r#"{"access_token":"a","expires_in":300}"#).unwrap();
        assert_eq!(t.bearer(), Some("a"));
        assert_eq!(t.lifetime(), Duration::from_secs(290));
        let t: TokenResponse = serde_json::from_str(r#"{"token":"","access_token":"b"}"#).unwrap();
        assert_eq!(t.bearer(), Some("b"));
        assert_eq!(t.lifetime(), Duration::from_secs(50));
    }
}
