//! Pure: what the maintainer scripts the package layer never runs would have done on a
//! fresh install (`preinst install`, then `postinst configure` with no old version),
//! and whether the image misses any of it.
//!
//! A script is cut into simple commands (comments, here-documents and the branches of
//! `case "$1"` that a fresh install does not take left out). Each command is then one
//! of: harmless (shell built-ins, filters that only read, calls to the script's own
//! functions), a no-op in an image ([`NO_OPS`]), an effect the layer reproduces from
//! data (literal `update-alternatives --install`, see [`super::scripts`]), or an
//! effect it cannot reproduce. Unknown commands are the last kind: this module refuses
//! what it does not understand. Redirections to files are effects too.
//!
//! `ldconfig` (command or trigger) is a no-op when the package adds no
//! `/etc/ld.so.conf.d/` entry: glibc's loader searches `/lib/<triplet>`,
//! `/usr/lib/<triplet>`, `/lib` and `/usr/lib` itself when `/etc/ld.so.cache` lacks a
//! library, and the cache only ever adds the directories `ld.so.conf` lists.

/// Commands whose effect does not exist in an image, with why.
pub const NO_OPS: &[(&str, &str)] = &[
    ("deb-systemd-helper", "no init system runs in a container"),
    ("deb-systemd-invoke", "no init system runs in a container"),
    ("invoke-rc.d", "no init system runs in a container"),
    ("update-rc.d", "no init system runs in a container"),
    ("systemctl", "no init system runs in a container"),
    ("systemd-tmpfiles", "no init system runs in a container"),
    (
        "dpkg-maintscript-helper",
        "acts only on upgrades from older versions",
    ),
    (
        "py3compile",
        "byte-compiled caches: Python compiles on import",
    ),
    (
        "py3clean",
        "byte-compiled caches: Python compiles on import",
    ),
    (
        "pycompile",
        "byte-compiled caches: Python compiles on import",
    ),
    ("pyclean", "byte-compiled caches: Python compiles on import"),
    (
        "ldconfig",
        "the loader searches the system directories without its cache",
    ),
    (
        "update-binfmts",
        "binfmt_misc is the host kernel's, not the image's",
    ),
];

/// Named effects sparkimg knows and cannot reproduce: reported before any unknown
/// command of the same script, since they say best what is missing.
pub const KNOWN_EFFECTS: &[&str] = &[
    "update-ca-certificates",
    "adduser",
    "addgroup",
    "useradd",
    "groupadd",
    "debconf",
    "ucf",
    "update-mime-database",
    "install-info",
    "update-initramfs",
    "dpkg-statoverride",
];

/// Commands that change nothing by themselves (their redirections are checked).
const HARMLESS: &[&str] = &[
    "[",
    "test",
    "true",
    "false",
    ":",
    "set",
    "exit",
    "return",
    "echo",
    "printf",
    "shift",
    "break",
    "continue",
    "local",
    "which",
    "command",
    "type",
    "read",
    "cat",
    "grep",
    "egrep",
    "fgrep",
    "tr",
    "cut",
    "sort",
    "uniq",
    "head",
    "tail",
    "basename",
    "dirname",
    "stat",
    "cmp",
    "diff",
    "readlink",
    "realpath",
    "ls",
    "id",
    "uname",
    "dpkg-query",
    "getent",
    "wc",
    "awk",
    "expr",
    "unset",
    "export",
];

const KEYWORDS: &[&str] = &[
    "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}",
];

/// The script's simple commands a fresh install reaches, as words with quotes removed
/// (redirections kept as words).
pub fn commands(script: &str, action: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    let mut out = Vec::new();
    let mut heredoc: Option<String> = None;
    // Per open `case`: (on "$1", active, some earlier branch matched).
    let mut cases: Vec<(bool, bool, bool)> = Vec::new();
    let mut active = true;
    for raw in joined.lines() {
        if let Some(end) = &heredoc {
            if raw.trim() == end {
                heredoc = None;
            }
            continue;
        }
        let line = strip_comment(raw);
        heredoc = heredoc_end(&line);
        let mut text = line.trim().to_string();
        if let Some(subject) = text
            .strip_prefix("case ")
            .and_then(|t| t.strip_suffix(" in"))
        {
            let on_action = matches!(subject.trim(), "\"$1\"" | "$1");
            cases.push((on_action, active, false));
            continue;
        }
        if text == "esac" || text.starts_with("esac ") || text.starts_with("esac;") {
            if let Some((_, outer, _)) = cases.pop() {
                active = outer;
            }
            continue;
        }
        if let Some(frame) = cases.last_mut() {
            if let Some((patterns, rest)) = case_pattern(&text) {
                let (on_action, outer, matched) = *frame;
                let hit = patterns.contains(&action) || (patterns == ["*"] && !matched);
                active = outer && (!on_action || hit);
                frame.2 = matched || hit;
                text = rest;
            }
        }
        let ends_branch = text.ends_with(";;");
        if active {
            for cmd in split_commands(text.trim_end_matches(";;")) {
                let words = words(&cmd);
                if !words.is_empty() {
                    out.push(words);
                }
            }
        }
        if ends_branch {
            if let Some((on_action, outer, _)) = cases.last() {
                active = *outer && !on_action;
            }
        }
    }
    out
}

fn strip_comment(line: &str) -> String {
    let (mut single, mut double, mut prev) = (false, false, ' ');
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single && prev != '\\' => double = !double,
            '#' if !single && !double && prev.is_whitespace() => return line[..i].to_string(),
            _ => {}
        }
        prev = c;
    }
    line.to_string()
}

/// `cat <<-EOF` → `EOF`: the line that ends the here-document.
fn heredoc_end(line: &str) -> Option<String> {
    let at = line.find("<<")?;
    let rest = line[at + 2..].trim_start_matches('-').trim_start();
    let word: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != ';')
        .filter(|c| !matches!(c, '\'' | '"' | '\\'))
        .collect();
    (!word.is_empty()).then_some(word)
}

/// `configure|abort-upgrade) rest` → the patterns and the rest of the line.
fn case_pattern(text: &str) -> Option<(Vec<&str>, String)> {
    let close = text.find(')')?;
    let head = text[..close].trim_start_matches('(');
    let ok = !head.is_empty()
        && !head.contains(['(', '$', '[', '='])
        && head.split('|').all(|p| {
            let p = p.trim();
            !p.is_empty() && !p.contains(char::is_whitespace)
        });
    let patterns = head.split('|').map(str::trim).collect();
    ok.then(|| (patterns, text[close + 1..].to_string()))
}

/// Splits at `;`, `&&`, `||`, `|`, `&`, `(`, `)`, `` ` `` and `$(` outside single
/// quotes (inside double quotes too: substitutions there run commands).
fn split_commands(text: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let (mut single, mut escaped) = (false, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let cur = out.last_mut().expect("never empty");
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' if !single => {
                escaped = true;
                cur.push(c);
            }
            '\'' => {
                single = !single;
                cur.push(c);
            }
            // `$((…))` is arithmetic, part of a word.
            '(' if !single && cur.ends_with('$') && chars.peek() == Some(&'(') => {
                cur.push(c);
                let mut depth = 1;
                for a in chars.by_ref() {
                    cur.push(a);
                    depth += match a {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    if depth == 0 {
                        break;
                    }
                }
            }
            ';' | '&' | '|' | '(' | ')' | '`' if !single => {
                if cur.ends_with('$') && c == '(' {
                    cur.pop();
                }
                // `2>&1`, `>&2`: a redirection, not a command boundary.
                if c == '&' && cur.ends_with('>') {
                    cur.push(c);
                } else {
                    out.push(String::new());
                }
            }
            _ => cur.push(c),
        }
    }
    out.into_iter().filter(|s| !s.trim().is_empty()).collect()
}

/// Shell words with quotes and escapes removed.
fn words(cmd: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut single, mut double, mut escaped, mut any) = (false, false, false, false);
    for c in cmd.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' if !single => escaped = true,
            '\'' if !double => (single, any) = (!single, true),
            '"' if !single => (double, any) = (!double, true),
            c if c.is_whitespace() && !single && !double => {
                if !cur.is_empty() || any {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() || any {
        out.push(cur);
    }
    out
}

/// One effect of a script the layer does not hold as such.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// `rm`/`rmdir` of literal paths: nothing to do when the image has none of them.
    Remove(Vec<String>),
    /// `mkdir` of literal directories: the layer adds them.
    MakeDir(Vec<String>),
    /// `touch` of literal files: the layer adds them empty.
    Touch(Vec<String>),
    /// Anything else: named by its command (or `writes FILE`, `trigger NAME`).
    Other(String),
}

impl Effect {
    /// The name the refusal shows.
    pub fn name(&self) -> String {
        let paths = |cmd: &str, p: &[String]| format!("{cmd} {}", p.join(" "));
        match self {
            Effect::Remove(p) => paths("rm", p),
            Effect::MakeDir(p) => paths("mkdir", p),
            Effect::Touch(p) => paths("touch", p),
            Effect::Other(n) => n.clone(),
        }
    }
}

/// What one script (`preinst` with `install`, `postinst` with `configure`) would do
/// beyond what is applied or a no-op: [`KNOWN_EFFECTS`] first (in that table's order),
/// then the rest in script order, each once.
pub fn script_effects(script: &str, action: &str) -> Vec<Effect> {
    let functions: Vec<String> = script
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let name = l.split("()").next()?.trim();
            (l.contains("()") && !name.is_empty() && !name.contains(char::is_whitespace))
                .then(|| name.to_string())
        })
        .collect();
    let mut named = Vec::new();
    let mut rest = Vec::new();
    for cmd in commands(script, action) {
        for effect in effects(&cmd, &functions) {
            let known = matches!(&effect, Effect::Other(n) if KNOWN_EFFECTS.contains(&n.as_str()));
            let list = if known { &mut named } else { &mut rest };
            if !list.contains(&effect) {
                list.push(effect);
            }
        }
    }
    named.sort_by_key(|e| KNOWN_EFFECTS.iter().position(|k| *k == e.name()));
    named.extend(rest);
    named
}

/// The effects of one simple command.
fn effects(cmd: &[String], functions: &[String]) -> Vec<Effect> {
    let mut out = Vec::new();
    let mut rest: Vec<&str> = Vec::new();
    let mut it = cmd.iter().map(String::as_str).peekable();
    while let Some(w) = it.next() {
        let digits = w.trim_start_matches(|c: char| c.is_ascii_digit());
        if let Some(target) = digits
            .strip_prefix(">>")
            .or_else(|| digits.strip_prefix('>'))
        {
            let target = match target {
                "" => it.next().unwrap_or(""),
                t => t,
            };
            if target != "/dev/null" && !target.starts_with('&') {
                out.push(Effect::Other(format!("writes {target}")));
            }
            continue;
        }
        if digits.starts_with('<') {
            if w == "<" {
                it.next();
            }
            continue;
        }
        rest.push(w);
    }
    let start = rest
        .iter()
        .position(|w| !KEYWORDS.contains(w) && !is_assignment(w))
        .unwrap_or(rest.len());
    let rest = &rest[start..];
    let Some(first) = rest.first() else {
        return out;
    };
    let name = first.rsplit('/').next().unwrap_or(first);
    // What follows a substitution inside double quotes (`" ]`) is no command.
    let fragment = name.is_empty() || name.starts_with([']', ' ', '\t']);
    if fragment || matches!(name, "for" | "case" | "in" | "esac") || name.ends_with("()") {
        return out;
    }
    out.extend(command_effect(name, rest, functions));
    out
}

/// `rm -f /a /b` → `Remove([/a, /b])`; `None` when an argument is computed.
fn file_effect(name: &str, words: &[&str]) -> Option<Effect> {
    let literal = |w: &&str| !w.contains(['$', '`', '*', '?', '[']);
    let mut paths = Vec::new();
    let mut args = words.iter().skip(1);
    while let Some(w) = args.next() {
        if name == "mkdir" && (*w == "-m" || *w == "--mode") {
            args.next();
        } else if !w.starts_with('-') {
            if !literal(w) {
                return None;
            }
            paths.push(w.to_string());
        }
    }
    if paths.is_empty() {
        return None;
    }
    Some(match name {
        "mkdir" => Effect::MakeDir(paths),
        "touch" => Effect::Touch(paths),
        _ => Effect::Remove(paths),
    })
}

fn is_assignment(w: &str) -> bool {
    w.split_once('=').is_some_and(|(n, _)| {
        !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// `None` when the command does nothing the image lacks; else its effect.
fn command_effect(name: &str, words: &[&str], functions: &[String]) -> Option<Effect> {
    let has = |flag: &str| words.contains(&flag);
    if HARMLESS.contains(&name) || NO_OPS.iter().any(|(n, _)| *n == name) {
        return None;
    }
    if functions.iter().any(|f| f == name) {
        return None;
    }
    if matches!(name, "rm" | "rmdir" | "mkdir" | "touch") {
        if let Some(e) = file_effect(name, words) {
            return Some(e);
        }
    }
    let other = match name {
        "sed" if !words.iter().any(|w| w.starts_with("-i")) => None,
        "dpkg"
            if words
                .iter()
                .skip(1)
                .all(|w| !w.starts_with('-') || dpkg_reads(w)) =>
        {
            None
        }
        "update-alternatives" => alternatives_effect(words),
        // Byte-compilation by the interpreter itself: a cache, as py3compile's.
        n if n.starts_with("python") && words.iter().any(|w| w.ends_with("py_compile.py")) => None,
        "." | "source" => match words.get(1) {
            Some(f) if f.ends_with("debconf/confmodule") => Some("debconf".into()),
            Some(f) => Some(format!(". {f}")),
            None => Some(".".into()),
        },
        n if n.starts_with("db_") => Some("debconf".into()),
        "dpkg-trigger" => match words.iter().skip(1).find(|w| !w.starts_with('-')) {
            Some(&"ldconfig") => None,
            Some(t) => Some(format!("trigger {t}")),
            None => Some("dpkg-trigger".into()),
        },
        _ if has("--help") => None,
        n if n.starts_with('$') => Some(format!("runs {n}")),
        n => Some(n.to_string()),
    };
    other.map(Effect::Other)
}

fn dpkg_reads(flag: &str) -> bool {
    matches!(
        flag,
        "--compare-versions" | "-s" | "--status" | "-L" | "--listfiles" | "-l" | "--list"
    ) || flag.starts_with("--print-")
        || flag.starts_with("--assert-")
}

/// `--install` with literal words is applied ([`super::scripts::alternatives`]);
/// `--remove`, `--auto`, `--query` and `--display` have nothing to undo or show in a
/// fresh install; anything else is an effect.
fn alternatives_effect(words: &[&str]) -> Option<String> {
    let lit = |w: &&str| !w.contains(['$', '`', '*']);
    if let Some(at) = words.iter().position(|w| *w == "--install") {
        let args = words.get(at + 1..at + 5)?;
        return (!args.iter().all(lit))
            .then(|| "update-alternatives with computed arguments".into());
    }
    let quiet = [
        "--remove",
        "--auto",
        "--query",
        "--display",
        "--list",
        "--remove-all",
    ];
    (!words.iter().any(|w| quiet.contains(w))).then(|| "update-alternatives".into())
}

/// What a `triggers` control file asks that the image lacks: `ldconfig` is handled
/// (see the module docs); any other trigger, activated or awaited, is named.
pub fn unreproduced_triggers(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines().map(|l| strip_comment(l).trim().to_string()) {
        let mut w = line.split_whitespace();
        let (Some(directive), Some(name)) = (w.next(), w.next()) else {
            continue;
        };
        let known = directive.starts_with("interest") || directive.starts_with("activate");
        if known && name == "ldconfig" {
            continue;
        }
        let effect = format!("trigger {name}");
        if !out.contains(&effect) {
            out.push(effect);
        }
    }
    out
}

#[cfg(test)]
mod tests;
