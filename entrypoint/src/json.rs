//! The few lines of JSON output `--print-plan` needs.
//!
//! Written by hand on purpose: serde + serde_json would add ~150 KB to a static binary
//! that must stay under 1.5 MB, for one object of strings.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt::Write;

use crate::launcher::Launcher;

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

fn array(items: &[OsString]) -> String {
    let items: Vec<String> = items.iter().map(|a| string(a)).collect();
    format!("[{}]", items.join(", "))
}

fn object(map: &BTreeMap<OsString, OsString>) -> String {
    let members: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{}: {}", string(k), string(v)))
        .collect();
    format!("{{{}}}", members.join(", "))
}

/// `{"argv": [...], "env": {...}, "launcher": null | {...}}` on one line: upstream's
/// argv and variables, then the launcher step that really runs (see `launcher.rs`).
pub fn plan_object(
    argv: &[OsString],
    env: &BTreeMap<OsString, OsString>,
    launcher: Option<&Launcher>,
) -> String {
    let launcher = match launcher {
        None => "null".to_string(),
        Some(l) => {
            let error = match &l.refusal {
                None => "null".to_string(),
                Some(refusal) => string(refusal.message.as_ref()),
            };
            format!(
                "{{\"argv\": {}, \"env\": {}, \"unset\": {}, \"error\": {}}}",
                array(&l.argv),
                object(&l.env),
                array(&l.unset),
                error
            )
        }
    };
    format!(
        "{{\"argv\": {}, \"env\": {}, \"launcher\": {}}}",
        array(argv),
        object(env),
        launcher
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
            plan_object(&argv, &env, None),
            r#"{"argv": ["java", "-Da=b c"], "env": {"A": "", "B": "2"}, "launcher": null}"#
        );
        let launcher = Launcher {
            argv: vec!["java".into(), "-Xmx128m".into()],
            env: env.clone(),
            unset: vec!["HADOOP_CONF_DIR".into()],
            separated_output: true,
            refusal: Some(crate::launcher::Refusal {
                message: "no \"jars\"".into(),
                code: 1,
            }),
        };
        assert_eq!(
            plan_object(&[], &BTreeMap::new(), Some(&launcher)),
            r#"{"argv": [], "env": {}, "launcher": {"argv": ["java", "-Xmx128m"], "env": {"A": "", "B": "2"}, "unset": ["HADOOP_CONF_DIR"], "error": "no \"jars\""}}"#
        );
    }
}
