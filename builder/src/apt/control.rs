//! Pure: Debian control files (RFC 822-like stanzas), the one format under `Packages`,
//! `Release`, `/var/lib/dpkg/status`, `.sources` files and a `.deb`'s `control`.
//!
//! Hand-written: the format is a dozen lines to parse, and the crates for it
//! (deb822-lossless) keep formatting for round trips we do not need, at several times the
//! parse cost on a 50 MB `Packages` file.

/// One stanza: fields in file order, names as written, values with continuation lines
/// joined by `\n` (the leading space of each continuation line removed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stanza {
    pub fields: Vec<(String, String)>,
}

impl Stanza {
    /// A field's value; field names are case-insensitive.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The stanza as dpkg writes it: `Name: value`, continuation lines indented by one
    /// space, empty continuation lines as ` .`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (k, v) in &self.fields {
            out.push_str(k);
            out.push(':');
            for (i, line) in v.split('\n').enumerate() {
                match (i, line.is_empty()) {
                    (0, true) => {}
                    (0, false) => {
                        out.push(' ');
                        out.push_str(line);
                    }
                    (_, true) => out.push_str("\n ."),
                    (_, false) => {
                        out.push_str("\n ");
                        out.push_str(line);
                    }
                }
            }
            out.push('\n');
        }
        out
    }
}

/// Every stanza of `text`; blank lines separate stanzas, `#` lines are comments (as in
/// `.sources` files). Lines that are neither fields nor continuations are skipped.
pub fn parse(text: &str) -> Vec<Stanza> {
    let mut out = Vec::new();
    let mut cur = Stanza::default();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.fields.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some((_, v)) = cur.fields.last_mut() {
                let cont = line[1..].trim_end();
                v.push('\n');
                if cont != "." {
                    v.push_str(cont);
                }
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            cur.fields
                .push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    if !cur.fields.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stanzas_continuations_and_comments() {
        let text = "Package: a\nDescription: short\n long line\n .\n more\n\n\n# c\nPackage: b\n";
        let s = parse(text);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].get("package"), Some("a"));
        assert_eq!(s[0].get("Description"), Some("short\nlong line\n\nmore"));
        assert_eq!(s[1].get("Package"), Some("b"));
        assert_eq!(s[0].get("Version"), None);
    }

    #[test]
    fn render_round_trips() {
        let text = "Package: a\nDescription: short\n long line\n .\n more\nSHA256:\n aa 1 x\n";
        let s = parse(text);
        assert_eq!(s[0].render(), text);
        assert_eq!(parse(&s[0].render()), s);
    }
}
