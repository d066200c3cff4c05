//! Users and groups without NSS: passwd/group parsing, random-UID passwd entries,
//! and the root → `SPARK_RUN_AS` switch.
//!
//! **Invariant:** never call getpwnam/getpwuid/getgrnam/initgroups here. In a static
//! glibc binary they dlopen NSS modules and crash for unknown uids (init.md P20); we
//! read /etc/passwd and /etc/group ourselves.
//!
//! The deciding functions ([`parse_passwd`], [`plan_passwd_fix`], [`resolve_run_as`])
//! are pure; [`Facts::gather`] and [`apply_passwd_fix`] touch the system.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// What upstream's entrypoint prints (stdout) when it cannot add the passwd entry.
pub const PASSWD_FAILED_MESSAGE: &str =
    "Container ENTRYPOINT failed to add passwd entry for anonymous UID";

/// The user Spark images run as when started as root (`SPARK_RUN_AS` unset).
pub const DEFAULT_RUN_AS: &str = "185";

/// One line of /etc/passwd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: Vec<u8>,
    pub uid: u32,
    pub gid: u32,
    pub gecos: Vec<u8>,
    pub home: Vec<u8>,
    pub shell: Vec<u8>,
}

/// One line of /etc/group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: Vec<u8>,
    pub gid: u32,
    pub members: Vec<Vec<u8>>,
}

/// The identity the child switches to before the exec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (the primary gid included).
    pub groups: Vec<u32>,
    /// The passwd entry's home, or `/` for a uid without entry (as gosu does).
    pub home: OsString,
    /// The user name, when the uid has a passwd entry.
    pub name: Option<OsString>,
}

fn parse_id(field: &[u8]) -> Option<u32> {
    if field.is_empty() || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// Lines of a passwd/group file, without comments, NIS `+`/`-` lines and blanks.
fn records(text: &[u8]) -> impl Iterator<Item = Vec<&[u8]>> {
    text.split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.is_empty() && !matches!(line[0], b'#' | b'+' | b'-'))
        .map(|line| line.split(|&b| b == b':').collect())
}

/// Parses /etc/passwd; malformed lines are skipped (as glibc's `files` module does).
pub fn parse_passwd(text: &[u8]) -> Vec<PasswdEntry> {
    records(text)
        .filter_map(|f| {
            if f.len() != 7 {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_vec(),
                uid: parse_id(f[2])?,
                gid: parse_id(f[3])?,
                gecos: f[4].to_vec(),
                home: f[5].to_vec(),
                shell: f[6].to_vec(),
            })
        })
        .collect()
}

/// Parses /etc/group; malformed lines are skipped.
pub fn parse_group(text: &[u8]) -> Vec<GroupEntry> {
    records(text)
        .filter_map(|f| {
            if f.len() != 4 {
                return None;
            }
            Some(GroupEntry {
                name: f[0].to_vec(),
                gid: parse_id(f[2])?,
                members: f[3]
                    .split(|&b| b == b',')
                    .filter(|m| !m.is_empty())
                    .map(<[u8]>::to_vec)
                    .collect(),
            })
        })
        .collect()
}

/// What is known about the system when deciding the passwd entry of the final uid.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facts {
    /// The uid and gid the program will run as (after any privilege drop).
    pub uid: u32,
    pub gid: u32,
    pub passwd: Vec<u8>,
    pub group: Vec<u8>,
    /// Whether we can append to /etc/passwd.
    pub passwd_writable: bool,
    /// The first non-empty `libnss_wrapper.so`, if any.
    pub nss_wrapper: Option<PathBuf>,
    pub spark_home: OsString,
    pub gecos: OsString,
}

/// How to give the final uid a passwd entry (Java needs one for `user.name`, and
/// Hadoop's UserGroupInformation fails without it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswdFix {
    /// The uid has an entry already.
    Nothing,
    /// Append `line` to /etc/passwd (upstream 2.3–4.x).
    Append { line: Vec<u8> },
    /// Preload nss_wrapper with private passwd/group files (spark-docker since 3.4.1).
    NssWrapper {
        library: PathBuf,
        passwd: Vec<u8>,
        group: Vec<u8>,
    },
    /// No way to add an entry: print upstream's message and carry on.
    Impossible,
}

fn with_newline(mut text: Vec<u8>) -> Vec<u8> {
    if !text.is_empty() && !text.ends_with(b"\n") {
        text.push(b'\n');
    }
    text
}

/// Whether /etc/passwd (its bytes) has an entry for `uid`.
pub fn has_entry(passwd: &[u8], uid: u32) -> bool {
    parse_passwd(passwd).iter().any(|e| e.uid == uid)
}

/// Decides how the final uid gets a passwd entry.
pub fn plan_passwd_fix(facts: &Facts) -> PasswdFix {
    if has_entry(&facts.passwd, facts.uid) {
        return PasswdFix::Nothing;
    }
    let entry = |name: &[u8]| {
        let mut line = name.to_vec();
        line.extend_from_slice(format!(":x:{}:{}:", facts.uid, facts.gid).as_bytes());
        line.extend_from_slice(facts.gecos.as_bytes());
        line.push(b':');
        line.extend_from_slice(facts.spark_home.as_bytes());
        line.extend_from_slice(b":/bin/false\n");
        line
    };
    if facts.passwd_writable {
        return PasswdFix::Append {
            line: entry(facts.uid.to_string().as_bytes()),
        };
    }
    let Some(library) = &facts.nss_wrapper else {
        return PasswdFix::Impossible;
    };
    let mut passwd = with_newline(facts.passwd.clone());
    passwd.extend_from_slice(&entry(b"spark"));
    let mut group = with_newline(facts.group.clone());
    if !parse_group(&facts.group).iter().any(|g| g.gid == facts.gid) {
        group.extend_from_slice(format!("spark:x:{}:\n", facts.gid).as_bytes());
    }
    PasswdFix::NssWrapper {
        library: library.clone(),
        passwd,
        group,
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    #[error("SPARK_RUN_AS={spec:?}: no user named '{user}' in /etc/passwd\nhint: use a numeric uid[:gid] or add the user to the image")]
    UnknownUser { spec: String, user: String },
    #[error("SPARK_RUN_AS={spec:?}: no group named '{group}' in /etc/group\nhint: use a numeric gid or add the group to the image")]
    UnknownGroup { spec: String, group: String },
    #[error("SPARK_RUN_AS={spec:?}: expected USER, UID, USER:GROUP or UID:GID")]
    BadSpec { spec: String },
    #[error("cannot {what} {path}: {err}")]
    Io {
        what: &'static str,
        path: PathBuf,
        err: String,
    },
}

impl IdentityError {
    pub fn exit_code(&self) -> i32 {
        match self {
            IdentityError::Io { .. } => crate::exit_code::INTERNAL,
            _ => crate::exit_code::MISCONFIGURED,
        }
    }
}

/// Resolves `SPARK_RUN_AS` (`user`, `uid`, `user:group`, `uid:gid`; unset or empty
/// means [`DEFAULT_RUN_AS`]) against the parsed files. `None`: stay root.
pub fn resolve_run_as(
    spec: Option<&OsStr>,
    passwd: &[PasswdEntry],
    groups: &[GroupEntry],
) -> Result<Option<Credentials>, IdentityError> {
    let spec = spec
        .filter(|s| !s.is_empty())
        .unwrap_or(OsStr::new(DEFAULT_RUN_AS))
        .as_bytes();
    let spec_str = || String::from_utf8_lossy(spec).into_owned();
    let (user, group) = match spec.iter().position(|&b| b == b':') {
        Some(i) => (&spec[..i], Some(&spec[i + 1..])),
        None => (spec, None),
    };
    if user.is_empty() || group.is_some_and(|g| g.is_empty() || g.contains(&b':')) {
        return Err(IdentityError::BadSpec { spec: spec_str() });
    }
    let (uid, entry) = match parse_id(user) {
        Some(uid) => (uid, passwd.iter().find(|e| e.uid == uid)),
        None => {
            let e = passwd.iter().find(|e| e.name == user).ok_or_else(|| {
                IdentityError::UnknownUser {
                    spec: spec_str(),
                    user: String::from_utf8_lossy(user).into_owned(),
                }
            })?;
            (e.uid, Some(e))
        }
    };
    if uid == 0 {
        return Ok(None);
    }
    let gid = match group {
        Some(g) => match parse_id(g) {
            Some(gid) => gid,
            None => {
                groups
                    .iter()
                    .find(|e| e.name == g)
                    .ok_or_else(|| IdentityError::UnknownGroup {
                        spec: spec_str(),
                        group: String::from_utf8_lossy(g).into_owned(),
                    })?
                    .gid
            }
        },
        None => entry.map_or(0, |e| e.gid),
    };
    let mut supplementary = vec![gid];
    if let Some(e) = entry {
        for g in groups {
            if g.members.contains(&e.name) && !supplementary.contains(&g.gid) {
                supplementary.push(g.gid);
            }
        }
    }
    Ok(Some(Credentials {
        uid,
        gid,
        groups: supplementary,
        home: entry.map_or_else(
            || OsString::from("/"),
            |e| OsString::from_vec(e.home.clone()),
        ),
        name: entry.map(|e| OsString::from_vec(e.name.clone())),
    }))
}

pub const PASSWD_PATH: &str = "/etc/passwd";
pub const GROUP_PATH: &str = "/etc/group";

/// Reads a file that may legitimately be missing (a scratch image has no /etc/group).
pub fn read_optional(path: &Path) -> Result<Vec<u8>, IdentityError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(err) => Err(IdentityError::Io {
            what: "read",
            path: path.to_path_buf(),
            err: err.to_string(),
        }),
    }
}

/// Where upstream looks for nss_wrapper: `{/usr,}/lib{/*,}/libnss_wrapper.so`.
pub fn find_nss_wrapper() -> Option<PathBuf> {
    let usable = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() > 0);
    for root in ["/usr/lib", "/lib"] {
        if let Ok(dir) = std::fs::read_dir(root) {
            let mut subdirs: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
            // The shell glob expands in sorted order.
            subdirs.sort();
            for sub in subdirs {
                let candidate = sub.join("libnss_wrapper.so");
                if usable(&candidate) {
                    return Some(candidate);
                }
            }
        }
        let candidate = Path::new(root).join("libnss_wrapper.so");
        if usable(&candidate) {
            return Some(candidate);
        }
    }
    None
}

/// Whether the current (real) uid can write to `path`.
pub fn writable(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    crate::sys::can_write(&c)
}

/// Temporary files made for nss_wrapper; removed when dropped (after the child ended).
#[derive(Debug, Default)]
pub struct TempFiles(Vec<PathBuf>);

impl Drop for TempFiles {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn create_temp(tag: &str, contents: &[u8]) -> Result<PathBuf, IdentityError> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = std::env::temp_dir();
    let mut last_err = None;
    for attempt in 0..100u32 {
        let path = dir.join(format!(
            "spark-entrypoint-{tag}.{}.{attempt}",
            std::process::id()
        ));
        // Readable by everyone: the child may run as another uid than we do.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&path)
        {
            Ok(mut f) => {
                return f.write_all(contents).map(|()| path.clone()).map_err(|err| {
                    IdentityError::Io {
                        what: "write",
                        path,
                        err: err.to_string(),
                    }
                })
            }
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => last_err = Some(err),
            Err(err) => {
                return Err(IdentityError::Io {
                    what: "create",
                    path,
                    err: err.to_string(),
                })
            }
        }
    }
    Err(IdentityError::Io {
        what: "create a temporary file in",
        path: dir,
        err: last_err.map_or_else(String::new, |e| e.to_string()),
    })
}

/// Carries out `fix`: appends to `passwd_path`, or writes nss_wrapper's files and
/// returns the variables to add to the child's environment (with the files to
/// remove afterwards). `Impossible` prints upstream's message and a hint.
pub fn apply_passwd_fix(
    fix: &PasswdFix,
    passwd_path: &Path,
) -> Result<(Vec<(OsString, OsString)>, TempFiles), IdentityError> {
    let mut temps = TempFiles::default();
    match fix {
        PasswdFix::Nothing => {}
        PasswdFix::Append { line } => {
            let io = |what: &'static str| {
                move |err: std::io::Error| IdentityError::Io {
                    what,
                    path: passwd_path.to_path_buf(),
                    err: err.to_string(),
                }
            };
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(passwd_path)
                .map_err(io("open"))?;
            // A file without its final newline would glue our entry to the last line.
            let existing = std::fs::read(passwd_path).map_err(io("read"))?;
            let mut bytes = Vec::new();
            if !existing.is_empty() && !existing.ends_with(b"\n") {
                bytes.push(b'\n');
            }
            bytes.extend_from_slice(line);
            f.write_all(&bytes).map_err(io("append to"))?;
        }
        PasswdFix::NssWrapper {
            library,
            passwd,
            group,
        } => {
            let p = create_temp("passwd", passwd)?;
            temps.0.push(p.clone());
            let g = create_temp("group", group)?;
            temps.0.push(g.clone());
            return Ok((
                vec![
                    ("LD_PRELOAD".into(), library.clone().into_os_string()),
                    ("NSS_WRAPPER_PASSWD".into(), p.into_os_string()),
                    ("NSS_WRAPPER_GROUP".into(), g.into_os_string()),
                ],
                temps,
            ));
        }
        PasswdFix::Impossible => {
            println!("{PASSWD_FAILED_MESSAGE}");
            eprintln!(
                "spark-entrypoint: warning: uid {} has no passwd entry, so Java's user.name will be unset\n\
                 hint: make /etc/passwd group-writable (chgrp 0 /etc/passwd && chmod g+w /etc/passwd) or install libnss-wrapper in the image",
                crate::sys::uid()
            );
        }
    }
    Ok((Vec::new(), temps))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/bash\n\
# comment\n\
+nis\n\
broken:line\n\
spark:x:185:185::/home/spark:/bin/false\n\
alice:x:1000:100:Alice,,,:/home/alice:/bin/sh\n\
baduid:x:abc:0::/:/bin/false";

    const GROUP: &[u8] = b"root:x:0:\n\
users:x:100:bob\n\
spark:x:185:\n\
docker:x:999:alice,bob\n\
audio:x:29:alice\n\
bad:x:\n";

    #[test]
    fn parses_passwd() {
        let entries = parse_passwd(PASSWD);
        let names: Vec<&[u8]> = entries.iter().map(|e| e.name.as_slice()).collect();
        assert_eq!(names, [&b"root"[..], b"spark", b"alice"]);
        assert_eq!(entries[2].uid, 1000);
        assert_eq!(entries[2].gid, 100);
        assert_eq!(entries[2].gecos, b"Alice,,,");
        assert_eq!(entries[2].home, b"/home/alice");
        assert_eq!(entries[2].shell, b"/bin/sh");
        assert!(parse_passwd(b"").is_empty());
        assert_eq!(parse_passwd(b"a:x:1:2::/:/bin/sh\r\n")[0].shell, b"/bin/sh");
    }

    #[test]
    fn parses_group() {
        let groups = parse_group(GROUP);
        assert_eq!(groups.len(), 5);
        assert_eq!(groups[3].name, b"docker");
        assert_eq!(groups[3].members, [b"alice".to_vec(), b"bob".to_vec()]);
        assert!(groups[0].members.is_empty());
    }

    fn facts(uid: u32) -> Facts {
        Facts {
            uid,
            gid: 0,
            passwd: PASSWD.to_vec(),
            group: GROUP.to_vec(),
            passwd_writable: true,
            nss_wrapper: None,
            spark_home: "/opt/spark".into(),
            gecos: "anonymous uid".into(),
        }
    }

    #[test]
    fn known_uid_needs_nothing() {
        assert_eq!(plan_passwd_fix(&facts(185)), PasswdFix::Nothing);
        assert_eq!(plan_passwd_fix(&facts(0)), PasswdFix::Nothing);
    }

    #[test]
    fn appends_when_writable() {
        let mut f = facts(1000730000);
        f.passwd = b"root:x:0:0:root:/root:/bin/bash\n".to_vec();
        assert_eq!(
            plan_passwd_fix(&f),
            PasswdFix::Append {
                line: b"1000730000:x:1000730000:0:anonymous uid:/opt/spark:/bin/false\n".to_vec()
            }
        );
        f.passwd = Vec::new();
        f.uid = 185;
        assert_eq!(
            plan_passwd_fix(&f),
            PasswdFix::Append {
                line: b"185:x:185:0:anonymous uid:/opt/spark:/bin/false\n".to_vec()
            }
        );
        f.gecos = "alice".into();
        f.gid = 7;
        assert_eq!(
            plan_passwd_fix(&f),
            PasswdFix::Append {
                line: b"185:x:185:7:alice:/opt/spark:/bin/false\n".to_vec()
            }
        );
    }

    #[test]
    fn nss_wrapper_when_read_only() {
        let mut f = facts(5000);
        f.passwd_writable = false;
        assert_eq!(plan_passwd_fix(&f), PasswdFix::Impossible);
        f.nss_wrapper = Some("/usr/lib/x86_64-linux-gnu/libnss_wrapper.so".into());
        f.passwd = b"root:x:0:0:root:/root:/bin/bash".to_vec();
        f.group = b"root:x:0:\n".to_vec();
        f.gid = 5000;
        assert_eq!(
            plan_passwd_fix(&f),
            PasswdFix::NssWrapper {
                library: "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so".into(),
                passwd: b"root:x:0:0:root:/root:/bin/bash\n\
spark:x:5000:5000:anonymous uid:/opt/spark:/bin/false\n"
                    .to_vec(),
                group: b"root:x:0:\nspark:x:5000:\n".to_vec(),
            }
        );
        // The gid has a group already: the group file is left as it is.
        f.gid = 0;
        let PasswdFix::NssWrapper { group, .. } = plan_passwd_fix(&f) else {
            panic!("expected nss_wrapper");
        };
        assert_eq!(group, b"root:x:0:\n");
    }

    fn resolve(spec: Option<&str>) -> Result<Option<Credentials>, IdentityError> {
        resolve_run_as(
            spec.map(OsStr::new),
            &parse_passwd(PASSWD),
            &parse_group(GROUP),
        )
    }

    #[test]
    fn run_as_default_is_185() {
        let c = resolve(None).unwrap().unwrap();
        assert_eq!((c.uid, c.gid, c.groups.clone()), (185, 185, vec![185]));
        assert_eq!(c.home, "/home/spark");
        assert_eq!(c.name.as_deref(), Some(OsStr::new("spark")));
        assert_eq!(resolve(Some("")).unwrap(), Some(c));
    }

    #[test]
    fn run_as_root_means_no_drop() {
        assert_eq!(resolve(Some("root")).unwrap(), None);
        assert_eq!(resolve(Some("0")).unwrap(), None);
        assert_eq!(resolve(Some("0:0")).unwrap(), None);
    }

    #[test]
    fn run_as_names_and_numbers() {
        let c = resolve(Some("alice")).unwrap().unwrap();
        assert_eq!((c.uid, c.gid), (1000, 100));
        assert_eq!(c.groups, vec![100, 999, 29]);
        let c = resolve(Some("alice:docker")).unwrap().unwrap();
        assert_eq!((c.uid, c.gid), (1000, 999));
        assert_eq!(c.groups, vec![999, 29]);
        let c = resolve(Some("1000:5")).unwrap().unwrap();
        assert_eq!((c.uid, c.gid), (1000, 5));
        // A numeric uid without entry: gid 0, home /.
        let c = resolve(Some("4242")).unwrap().unwrap();
        assert_eq!((c.uid, c.gid, c.groups.clone()), (4242, 0, vec![0]));
        assert_eq!(c.home, "/");
        assert_eq!(c.name, None);
        let c = resolve(Some("4242:spark")).unwrap().unwrap();
        assert_eq!((c.uid, c.gid), (4242, 185));
    }

    #[test]
    fn run_as_errors() {
        let err = resolve(Some("nobody")).unwrap_err();
        assert_eq!(
            err,
            IdentityError::UnknownUser {
                spec: "nobody".into(),
                user: "nobody".into()
            }
        );
        assert!(err.to_string().contains("SPARK_RUN_AS"));
        assert!(err.to_string().contains("/etc/passwd"));
        assert_eq!(err.exit_code(), 64);
        assert!(matches!(
            resolve(Some("spark:nogroup")),
            Err(IdentityError::UnknownGroup { .. })
        ));
        for bad in [":1", "1:", "1:2:3"] {
            assert!(
                matches!(resolve(Some(bad)), Err(IdentityError::BadSpec { .. })),
                "{bad}"
            );
        }
    }
}
