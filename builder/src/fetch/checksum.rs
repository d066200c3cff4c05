//! Pure parsing of the `.sha512` files Apache has published over the years (research §5.3).
//!
//! Accepted, ignoring the file name unless several entries are present:
//! * `sha512sum`/`shasum` style: `<hex>  name`, `<hex> *name`, or a bare hex string;
//! * `gpg --print-md SHA512` style: `name: 8D6B1C3A 9F0E…` over several lines, upper case;
//! * BSD style: `SHA512 (name) = <hex>`.

use thiserror::Error;

/// Why a checksum file could not be turned into a SHA-512 digest.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ChecksumParseError {
    #[error("the checksum file is empty")]
    Empty,
    #[error(
        "found {digits} hex digits, but a SHA-512 digest has 128 (is this an MD5/SHA-1 file?)"
    )]
    WrongLength { digits: usize },
    #[error("not a recognised checksum format (expected `<hex>  <file>` or `<file>: <HEX …>`)")]
    Unrecognised,
    #[error("the checksum file lists several files but none named {0}")]
    NoEntryFor(String),
}

/// Parse `text` into a lowercase 128-digit hex SHA-512 digest.
///
/// `file_name` picks the right line when a file lists several artifacts.
pub fn parse_sha512(text: &str, file_name: &str) -> Result<String, ChecksumParseError> {
    let text = text.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return Err(ChecksumParseError::Empty);
    }

    // sha512sum style, one entry per line.
    let mut entries: Vec<(String, String)> = Vec::new();
    let mut all_lines_are_entries = true;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let mut it = line.splitn(2, char::is_whitespace);
        let hex = it.next().unwrap_or_default();
        let name = it.next().unwrap_or_default().trim().trim_start_matches('*');
        if hex.len() == 128 && is_hex(hex) {
            entries.push((hex.to_ascii_lowercase(), name.to_string()));
        } else {
            all_lines_are_entries = false;
        }
    }
    if all_lines_are_entries && !entries.is_empty() {
        if entries.len() == 1 {
            return Ok(entries.remove(0).0);
        }
        return entries
            .into_iter()
            .find(|(_, n)| n == file_name)
            .map(|(h, _)| h)
            .ok_or_else(|| ChecksumParseError::NoEntryFor(file_name.to_string()));
    }

    // BSD style.
    if let Some(rest) = text.strip_prefix("SHA512 (") {
        let (_, hex) = rest
            .split_once(") = ")
            .ok_or(ChecksumParseError::Unrecognised)?;
        return digest_from_hexish(hex);
    }

    // gpg style: everything after the first `name:` prefix is the digest, whitespace-split.
    // Only taken when there is a `:`; hex never contains one.
    if let Some((_, rest)) = text.split_once(':') {
        return digest_from_hexish(rest);
    }

    // Bare hex, possibly wrapped across lines.
    digest_from_hexish(text)
}

fn digest_from_hexish(s: &str) -> Result<String, ChecksumParseError> {
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() || !is_hex(&compact) {
        return Err(ChecksumParseError::Unrecognised);
    }
    if compact.len() != 128 {
        return Err(ChecksumParseError::WrongLength {
            digits: compact.len(),
        });
    }
    Ok(compact.to_ascii_lowercase())
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "e61d9330125746a24d7784166a15b41514546cad874357c98dca0a2c39fa7303d8fa7c049ba6cdf5a24c172d4f47a2e5b6e1f658a57a9b2a30d46d9858cdb531";
    const F: &str = "spark-2.3.2-bin-hadoop2.7.tgz";

    #[test]
    fn gpg_print_md_multiline() {
        // The real 2.3.2 file (research §5.3), continuation lines indented.
        let text = "spark-2.3.2-bin-hadoop2.7.tgz: E61D9330 125746A2 4D778416 6A15B415 14546CAD\n                               874357C9 8DCA0A2C 39FA7303 D8FA7C04 9BA6CDF5\n                               A24C172D 4F47A2E5 B6E1F658 A57A9B2A 30D46D98\n                               58CDB531\n";
        assert_eq!(parse_sha512(text, F).unwrap(), HEX);
    }

    #[test]
    fn sha512sum_styles() {
        assert_eq!(parse_sha512(&format!("{HEX}  {F}\n"), F).unwrap(), HEX);
        assert_eq!(parse_sha512(&format!("{HEX} *{F}"), F).unwrap(), HEX);
        assert_eq!(parse_sha512(&HEX.to_uppercase(), F).unwrap(), HEX);
        assert_eq!(parse_sha512(&format!("{HEX}\r\n"), F).unwrap(), HEX);
        // The name is advisory for a single entry (Apache has renamed files before).
        assert_eq!(parse_sha512(&format!("{HEX}  other.tgz"), F).unwrap(), HEX);
    }

    #[test]
    fn multi_entry_picks_by_name() {
        let other = "a".repeat(128);
        let text = format!("{other}  a.tgz\n{HEX}  {F}\n");
        assert_eq!(parse_sha512(&text, F).unwrap(), HEX);
        assert_eq!(
            parse_sha512(&text, "zzz.tgz"),
            Err(ChecksumParseError::NoEntryFor("zzz.tgz".into()))
        );
    }

    #[test]
    fn bsd_style() {
        assert_eq!(
            parse_sha512(&format!("SHA512 ({F}) = {HEX}\n"), F).unwrap(),
            HEX
        );
    }

    #[test]
    fn malformed() {
        assert_eq!(parse_sha512("", F), Err(ChecksumParseError::Empty));
        assert_eq!(parse_sha512("  \n", F), Err(ChecksumParseError::Empty));
        // An MD5 in gpg format: the right shape, the wrong digest.
        assert_eq!(
            parse_sha512(
                &format!("{F}: FF FF CA FE BE EF 00 11  22 33 44 55 66 77 88 99"),
                F
            ),
            Err(ChecksumParseError::WrongLength { digits: 32 })
        );
        assert_eq!(
            parse_sha512("<html>Not Found</html>", F),
            Err(ChecksumParseError::Unrecognised)
        );
        assert_eq!(
            parse_sha512(&format!("{F}: {}", &HEX[..127]), F),
            Err(ChecksumParseError::WrongLength { digits: 127 })
        );
        assert_eq!(
            parse_sha512(&format!("{F}: {}Z", &HEX[..127]), F),
            Err(ChecksumParseError::Unrecognised)
        );
        assert_eq!(
            parse_sha512("SHA512 (x) - abc", F),
            Err(ChecksumParseError::Unrecognised)
        );
    }
}
