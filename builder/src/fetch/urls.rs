//! Pure URL building and mirror-list assembly (research §5.1).

/// Tried in order after the user's mirrors: the CDN is fast but only has current releases
/// (superseded ones 404), the archive has everything but is throttled.
pub const DEFAULT_MIRRORS: &[&str] = &["https://dlcdn.apache.org/spark/", ARCHIVE];

/// Apache's archive, which keeps every release: the canonical home of a release file.
pub const ARCHIVE: &str = "https://archive.apache.org/dist/spark/";

/// The canonical URL of a release file, whichever mirror served it: what images and
/// SBOMs record, so their bytes never depend on the mirror (or its port).
pub fn canonical_url(version: &str, file: &str) -> String {
    artifact_url(ARCHIVE, version, file)
}

/// Split a `SPARKIMG_MIRRORS` value: commas and/or whitespace separate entries.
pub fn parse_mirror_list(value: &str) -> Vec<String> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Ordered, de-duplicated mirror list: command line, then environment, then the defaults.
pub fn mirror_list(cli: &[String], env: Option<&str>, include_defaults: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let env_list = env.map(parse_mirror_list).unwrap_or_default();
    let defaults = DEFAULT_MIRRORS.iter().map(|s| s.to_string());
    let all = cli
        .iter()
        .cloned()
        .chain(env_list)
        .chain(defaults.filter(|_| include_defaults));
    for m in all {
        let m = normalise_base(&m);
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

/// A mirror base always ends in exactly one `/` so joining is plain concatenation.
pub fn normalise_base(url: &str) -> String {
    format!("{}/", url.trim().trim_end_matches('/'))
}

/// Whether a mirror URL uses a scheme the downloader speaks.
pub fn is_supported_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// `<mirror>/spark-<version>/<file>`.
pub fn artifact_url(mirror: &str, version: &str, file: &str) -> String {
    format!("{}spark-{version}/{file}", normalise_base(mirror))
}

/// `<mirror>/KEYS`: Apache publishes the release managers' keys beside the version folders.
pub fn keys_url(mirror: &str) -> String {
    format!("{}KEYS", normalise_base(mirror))
}

/// The last path segment of a URL (query and fragment dropped), used as the file name of
/// `--dist https://…/spark-x.tgz`.
pub fn file_name_of_url(url: &str) -> Option<&str> {
    let no_query = url.split(['?', '#']).next().unwrap_or(url);
    let (_, after_scheme) = no_query.split_once("://")?;
    let (_, path) = after_scheme.split_once('/')?;
    path.rsplit('/').next().filter(|s| !s.is_empty())
}

/// Replace `?query`/`#fragment`-free `url`'s sidecar: `<url>.sha512`, `<url>.asc`.
pub fn sidecar(url: &str, ext: &str) -> String {
    match url.find(['?', '#']) {
        Some(i) => format!("{}.{ext}{}", &url[..i], &url[i..]),
        None => format!("{url}.{ext}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_url_is_the_archive_whatever_the_mirror() {
        assert_eq!(
            canonical_url("3.5.3", "spark-3.5.3-bin-hadoop3.tgz"),
            "https://archive.apache.org/dist/spark/spark-3.5.3/spark-3.5.3-bin-hadoop3.tgz"
        );
    }

    #[test]
    fn mirrors_user_first_deduplicated() {
        let cli = vec!["http://a/spark".to_string()];
        let got = mirror_list(
            &cli,
            Some("http://b/, http://a/spark/\nhttps://dlcdn.apache.org/spark"),
            true,
        );
        assert_eq!(
            got,
            vec![
                "http://a/spark/",
                "http://b/",
                "https://dlcdn.apache.org/spark/",
                "https://archive.apache.org/dist/spark/"
            ]
        );
        assert_eq!(mirror_list(&[], None, false), Vec::<String>::new());
    }

    #[test]
    fn urls() {
        assert_eq!(
            artifact_url(
                "https://dlcdn.apache.org/spark",
                "3.5.3",
                "spark-3.5.3-bin-hadoop3.tgz"
            ),
            "https://dlcdn.apache.org/spark/spark-3.5.3/spark-3.5.3-bin-hadoop3.tgz"
        );
        assert_eq!(keys_url("http://m//"), "http://m/KEYS");
        assert_eq!(
            file_name_of_url("https://h/x/spark-1.tgz?a=b"),
            Some("spark-1.tgz")
        );
        assert_eq!(file_name_of_url("https://h/"), None);
        assert_eq!(file_name_of_url("https://h"), None);
        assert_eq!(
            sidecar("https://h/a.tgz?x=1", "sha512"),
            "https://h/a.tgz.sha512?x=1"
        );
        assert!(is_supported_url("HTTPS://x") && !is_supported_url("ftp://x"));
    }
}
