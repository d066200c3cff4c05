//! The few lines of JSON output `--print-plan` needs.
//!
//! Written by hand on purpose: serde + serde_json would add ~150 KB to a static binary
//! that must stay under 1.5 MB, for one object of strings.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt::Write;

/// A JSON string literal. Bytes that are not UTF-8 become U+FFFD.
pub fn string(value: &OsStr) -> String {
    let text = value.to_string_lossy();
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `{"argv": [...], "env": {...}}` on one line.
pub fn plan_object(argv: &[OsString], env: &BTreeMap<OsString, OsString>) -> String {
    let argv: Vec<String> = argv.iter().map(|a| string(a)).collect();
    let env: Vec<String> = env
        .iter()
        .map(|(k, v)| format!("{}: {}", string(k), string(v)))
        .collect();
    format!(
        "{{\"argv\": [{}], \"env\": {{{}}}}}",
        argv.join(", "),
        env.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_json_requires() {
        assert_eq!(
            string(OsStr::new("a\"b\\c\nd\te\u{1}f日本")),
            "\"a\\\"b\\\\c\\nd\\te\\u0001f日本\""
        );
    }

    #[test]
    fn plan_object_shape() {
        let mut env = BTreeMap::new();
        env.insert(OsString::from("B"), OsString::from("2"));
        env.insert(OsString::from("A"), OsString::from(""));
        let argv = vec![OsString::from("java"), OsString::from("-Da=b c")];
        assert_eq!(
            plan_object(&argv, &env),
            r#"{"argv": ["java", "-Da=b c"], "env": {"A": "", "B": "2"}}"#
        );
    }
}
