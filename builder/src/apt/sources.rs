//! Pure: the base's apt sources: `/etc/apt/sources.list` and `sources.list.d/*.list`
//! (one-line format) and `sources.list.d/*.sources` (deb822). Only `deb` entries count.

use super::control;

/// Which keys may sign a source's `InRelease`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedBy {
    /// No `signed-by`: every key apt trusts globally (`trusted.gpg`, `trusted.gpg.d/`).
    Global,
    /// Key files in the base (absolute paths, as written).
    Files(Vec<String>),
    /// An armored key block written inline in a `.sources` file.
    Inline(String),
}

/// One repository suite: `<uri>/dists/<suite>/InRelease` and its components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Without a trailing slash.
    pub uri: String,
    pub suite: String,
    pub components: Vec<String>,
    pub signed_by: SignedBy,
    /// `trusted=yes`: apt skips the signature check for this source.
    pub trusted: bool,
    /// `arch=`/`Architectures:`, when restricted.
    pub archs: Vec<String>,
}

impl Source {
    /// Whether the source serves `arch` (no restriction: every architecture).
    pub fn serves(&self, arch: &str) -> bool {
        self.archs.is_empty() || self.archs.iter().any(|a| a == arch)
    }
}

fn signed_by(v: &str) -> SignedBy {
    if v.contains("BEGIN PGP PUBLIC KEY BLOCK") {
        return SignedBy::Inline(v.to_string());
    }
    // apt also accepts fingerprints here; those select from the global keys.
    let files: Vec<String> = v
        .split([',', ' ', '\n'])
        .filter(|s| s.starts_with('/'))
        .map(String::from)
        .collect();
    if files.is_empty() {
        SignedBy::Global
    } else {
        SignedBy::Files(files)
    }
}

fn words(v: &str) -> Vec<String> {
    v.split_whitespace().map(String::from).collect()
}

/// One-line format: `deb [opt=v …] uri suite [component …]`.
pub fn parse_list(text: &str) -> Vec<Source> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(rest) = line
            .strip_prefix("deb ")
            .or_else(|| line.strip_prefix("deb\t"))
        else {
            continue;
        };
        let mut rest = rest.trim_start();
        let mut opts = "";
        if let Some(after) = rest.strip_prefix('[') {
            let Some((o, tail)) = after.split_once(']') else {
                continue;
            };
            opts = o;
            rest = tail;
        }
        let mut parts = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (parts.next(), parts.next()) else {
            continue;
        };
        let mut src = Source {
            uri: uri.trim_end_matches('/').to_string(),
            suite: suite.to_string(),
            components: parts.map(String::from).collect(),
            signed_by: SignedBy::Global,
            trusted: false,
            archs: Vec::new(),
        };
        for opt in opts.split_whitespace() {
            match opt.split_once('=') {
                Some(("signed-by", v)) => src.signed_by = signed_by(v),
                Some(("trusted", v)) => src.trusted = v == "yes",
                Some(("arch", v)) => src.archs = v.split(',').map(String::from).collect(),
                _ => {}
            }
        }
        out.push(src);
    }
    out
}

/// deb822 format: one stanza may name several URIs and suites (their product).
pub fn parse_deb822(text: &str) -> Vec<Source> {
    let mut out = Vec::new();
    for st in control::parse(text) {
        let enabled = st.get("Enabled").is_none_or(|v| v != "no");
        let is_deb = st
            .get("Types")
            .is_some_and(|t| words(t).iter().any(|w| w == "deb"));
        if !enabled || !is_deb {
            continue;
        }
        let components = st.get("Components").map(words).unwrap_or_default();
        let signed = st.get("Signed-By").map_or(SignedBy::Global, signed_by);
        let trusted = st.get("Trusted").is_some_and(|v| v == "yes");
        let archs = st.get("Architectures").map(words).unwrap_or_default();
        for uri in st.get("URIs").map(words).unwrap_or_default() {
            for suite in st.get("Suites").map(words).unwrap_or_default() {
                out.push(Source {
                    uri: uri.trim_end_matches('/').to_string(),
                    suite,
                    components: components.clone(),
                    signed_by: signed.clone(),
                    trusted,
                    archs: archs.clone(),
                });
            }
        }
    }
    out
}

/// All sources of a base, given its files as (path, text); order as apt reads them:
/// `sources.list`, then `sources.list.d/` by name. Duplicates are dropped.
pub fn from_files(files: &[(String, String)]) -> Vec<Source> {
    let mut sorted: Vec<&(String, String)> = files.iter().collect();
    sorted.sort_by_key(|(p, _)| (p != "etc/apt/sources.list", p.clone()));
    let mut out: Vec<Source> = Vec::new();
    for (path, text) in sorted {
        let found = if path.ends_with(".sources") {
            parse_deb822(text)
        } else if path.ends_with(".list") {
            parse_list(text)
        } else {
            continue;
        };
        for s in found {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // As in the debian:bookworm image.
    const DEBIAN_SOURCES: &str = "Types: deb\n# http://snapshot.debian.org/archive/debian/20240101T000000Z\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n";

    #[test]
    fn deb822_product_of_uris_and_suites() {
        let s = parse_deb822(DEBIAN_SOURCES);
        let suites: Vec<&str> = s.iter().map(|s| s.suite.as_str()).collect();
        assert_eq!(
            suites,
            ["bookworm", "bookworm-updates", "bookworm-security"]
        );
        assert_eq!(s[2].uri, "http://deb.debian.org/debian-security");
        assert_eq!(
            s[0].signed_by,
            SignedBy::Files(vec!["/usr/share/keyrings/debian-archive-keyring.gpg".into()])
        );
        assert_eq!(s[0].components, ["main"]);
    }

    #[test]
    fn one_line_with_options_and_comments() {
        let text = "# comment\ndeb-src http://x/ y main\ndeb [arch=amd64,arm64 signed-by=/k.gpg] http://ports/ubuntu/ jammy main universe # tail\ndeb http://z stable main\n";
        let s = parse_list(text);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].uri, "http://ports/ubuntu");
        assert_eq!(s[0].components, ["main", "universe"]);
        assert_eq!(s[0].archs, ["amd64", "arm64"]);
        assert!(s[0].serves("arm64") && !s[0].serves("s390x"));
        assert_eq!(s[0].signed_by, SignedBy::Files(vec!["/k.gpg".into()]));
        assert_eq!(s[1].signed_by, SignedBy::Global);
        assert!(s[1].serves("s390x"));
    }

    #[test]
    fn disabled_inline_keys_and_file_order() {
        let text = "Types: deb\nURIs: http://a\nSuites: s\nComponents: c\nEnabled: no\n\nTypes: deb\nURIs: http://b\nSuites: s\nComponents: c\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n abc\n -----END PGP PUBLIC KEY BLOCK-----\n";
        let s = parse_deb822(text);
        assert_eq!(s.len(), 1);
        assert!(matches!(&s[0].signed_by, SignedBy::Inline(k) if k.contains("abc")));
        let files = vec![
            (
                "etc/apt/sources.list.d/z.list".to_string(),
                "deb http://z s c\n".to_string(),
            ),
            (
                "etc/apt/sources.list".to_string(),
                "deb http://m s c\ndeb http://z s c\n".to_string(),
            ),
            (
                "etc/apt/sources.list.d/x.txt".to_string(),
                "deb http://ignored s c\n".to_string(),
            ),
        ];
        let all = from_files(&files);
        let uris: Vec<&str> = all.iter().map(|s| s.uri.as_str()).collect();
        assert_eq!(uris, ["http://m", "http://z"]);
    }
}
