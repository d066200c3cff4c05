//! The base's Java major, and the check of it against the Spark line's table
//! ([`crate::fetch::SparkVersion::java_support`]). Reading is pure over what the base
//! scan kept ([`base_java`]); [`verdict`] decides; [`check`] warns or refuses. One
//! definition for `build` (both engines) and `rebase`.

use super::BuildError;
use crate::fetch::SparkVersion;
use crate::layer::basefs::{BaseFs, DPKG_STATUS};
use crate::report;

/// A base's Java major and where it was read (for the message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseJava {
    pub major: u32,
    pub from: String,
}

/// Pure: the major of a Java version string: `17.0.9`, `1.8.0_392` (8), `21`,
/// eclipse-temurin's `jdk-17.0.9+9` and `jdk8u392-b08`.
pub fn version_major(text: &str) -> Option<u32> {
    let v = text.trim().trim_matches('"');
    let v = v
        .strip_prefix("jdk-")
        .or_else(|| v.strip_prefix("jdk"))
        .unwrap_or(v);
    let v = v.strip_prefix("1.").unwrap_or(v);
    let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|n| (5..100).contains(n))
}

/// Pure: the major a Java home's path names (`java-17-openjdk-amd64`, `jdk-21`,
/// `temurin-11-jre`, `java-1.8.0-openjdk`); `None` for `/opt/java/openjdk`.
pub fn home_major(java_home: &str) -> Option<u32> {
    java_home
        .split('/')
        .filter(|c| c.contains("java") || c.contains("jdk") || c.contains("jre"))
        .flat_map(|c| c.split(['-', '_', '.']))
        .find_map(|t| {
            let t = t
                .trim_start_matches("openjdk")
                .trim_start_matches("jdk")
                .trim_start_matches("jre");
            t.parse::<u32>().ok().filter(|n| (5..100).contains(n))
        })
}

/// Pure: `JAVA_VERSION="17.0.9"` of a JDK's `release` file.
pub fn release_major(text: &str) -> Option<u32> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("JAVA_VERSION="))
        .and_then(version_major)
}

/// Pure: the installed JRE/JDK packages of a dpkg status (`openjdk-17-jre-headless`,
/// `temurin-11-jdk`), as `(major, package)`; `None` unless they all agree.
pub fn dpkg_major(status: &str) -> Option<(u32, String)> {
    let mut found: Vec<(u32, String)> = Vec::new();
    for stanza in status.split("\n\n") {
        let field = |name: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(str::trim))
        };
        let (Some(package), Some(state)) = (field("Package"), field("Status")) else {
            continue;
        };
        if !state.ends_with(" installed") {
            continue;
        }
        if let Some(major) = jre_package_major(package) {
            found.push((major, package.to_string()));
        }
    }
    let first = found.first()?.clone();
    found.iter().all(|(m, _)| *m == first.0).then_some(first)
}

fn jre_package_major(package: &str) -> Option<u32> {
    let rest = package
        .strip_prefix("openjdk-")
        .or_else(|| package.strip_prefix("temurin-"))?;
    let (major, kind) = rest.split_once('-')?;
    let runtime = ["jre", "jre-headless", "jdk", "jdk-headless"].contains(&kind);
    runtime.then(|| major.parse().ok()).flatten()
}

/// `KEY=value` of an image config's environment.
pub fn env_value<'a>(env: &'a [String], key: &str) -> Option<&'a str> {
    env.iter()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
}

/// Pure: the base's Java major, from `$JAVA_HOME/release`, else the JRE package of its
/// dpkg status, else its config's `JAVA_VERSION` (eclipse-temurin sets it), else the
/// major its JAVA_HOME's name says (Debian's `java-17-openjdk-amd64`).
pub fn base_java(java_home: &str, fs: &BaseFs, env: &[String]) -> Option<BaseJava> {
    let release = format!("{}/release", java_home.trim_end_matches('/'));
    let from_release = fs
        .read(&release)
        .and_then(|b| release_major(&String::from_utf8_lossy(b)))
        .map(|major| BaseJava {
            major,
            from: release,
        });
    from_release
        .or_else(|| {
            let status = String::from_utf8_lossy(fs.read(DPKG_STATUS)?).into_owned();
            let (major, package) = dpkg_major(&status)?;
            Some(BaseJava {
                major,
                from: format!("its package {package}"),
            })
        })
        .or_else(|| from_env(env))
        .or_else(|| {
            Some(BaseJava {
                major: home_major(java_home)?,
                from: format!("the name of its JAVA_HOME {java_home}"),
            })
        })
}

/// [`base_java`] of an opened base whose Java home is `java_home`.
pub fn of_image(base: &super::base::BaseImage, java_home: &str, fs: &BaseFs) -> Option<BaseJava> {
    let env = base.config.config().as_ref().and_then(|c| c.env().clone());
    base_java(java_home, fs, env.as_deref().unwrap_or_default())
}

/// The config's `JAVA_VERSION` (what a daemon's inspect gives too).
pub fn from_env(env: &[String]) -> Option<BaseJava> {
    let v = env_value(env, "JAVA_VERSION")?;
    Some(BaseJava {
        major: version_major(v)?,
        from: format!("its JAVA_VERSION={v}"),
    })
}

/// What to do with one Spark version on one base.
#[derive(Debug)]
pub enum Verdict {
    Fine,
    Warn(String),
    Refuse(BuildError),
}

/// Pure: Spark `version` on `java` (`None`: unknown) of `base`. Outside the line's row
/// is refused unless `allow`; a line newer than the table is never refused (its Javas
/// are a guess), only warned about when the Java is not in the newest row.
pub fn verdict(version: &str, java: Option<&BaseJava>, base: &str, allow: bool) -> Verdict {
    let Some(support) = version
        .parse::<SparkVersion>()
        .ok()
        .and_then(|v| v.java_support())
    else {
        return Verdict::Fine;
    };
    let row = support.row;
    let line = |l: (u32, u32)| format!("{}.{}", l.0, l.1);
    let javas = support.javas_text();
    let Some(java) = java else {
        return Verdict::Warn(format!(
            "cannot tell the Java version of the base {base} (no release file in its \
             JAVA_HOME, no JRE package, no JAVA_VERSION): not checked against Spark \
             {version}'s Java {javas}"
        ));
    };
    if support.supports(java.major) {
        return Verdict::Fine;
    }
    let (major, from) = (java.major, &java.from);
    if support.newer_than_table {
        return Verdict::Warn(format!(
            "Spark {version} is newer than sparkimg's table of supported Javas, whose \
             newest line, {}, runs on Java {javas}; the base {base} has Java {major} \
             (from {from}): check Spark {version}'s documentation",
            line(row.last)
        ));
    }
    if allow {
        return Verdict::Warn(format!(
            "building Spark {version} on Java {major} (base {base}, from {from}) on \
             purpose: Spark {}–{} runs on Java {javas} ({})",
            line(row.first),
            line(row.last),
            row.source
        ));
    }
    Verdict::Refuse(BuildError::UnsupportedJava {
        spark: version.to_string(),
        java: major,
        from: from.clone(),
        base: base.to_string(),
        javas,
        suggest: row.javas.last().copied().unwrap_or(major),
    })
}

/// [`verdict`], carried out: a warning printed, a refusal returned.
pub fn check(
    version: &str,
    java: Option<&BaseJava>,
    base: &str,
    allow: bool,
) -> Result<(), BuildError> {
    match verdict(version, java, base, allow) {
        Verdict::Fine => Ok(()),
        Verdict::Warn(w) => {
            report::warn(&w);
            Ok(())
        }
        Verdict::Refuse(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::basefs::Node;

    #[test]
    fn version_strings() {
        for (text, want) in [
            ("17.0.9", Some(17)),
            ("\"1.8.0_392\"", Some(8)),
            ("21", Some(21)),
            ("11.0.32.1", Some(11)),
            ("jdk-17.0.9+9", Some(17)),
            ("jdk8u392-b08", Some(8)),
            ("", None),
            ("x", None),
        ] {
            assert_eq!(version_major(text), want, "{text}");
        }
    }

    #[test]
    fn release_files() {
        let debian = "IMPLEMENTOR=\"Debian\"\nJAVA_RUNTIME_VERSION=\"11.0.32.1+1\"\n\
                      JAVA_VERSION=\"11.0.32.1\"\nOS_NAME=\"Linux\"\n";
        assert_eq!(release_major(debian), Some(11));
        assert_eq!(release_major("JAVA_VERSION=\"1.8.0_392\"\n"), Some(8));
        assert_eq!(release_major("JAVA_RUNTIME_VERSION=\"17\"\n"), None);
    }

    #[test]
    fn dpkg_packages() {
        let s = "Package: libc6\nStatus: install ok installed\n\n\
                 Package: openjdk-17-jre-headless\nStatus: install ok installed\nVersion: 17\n\n\
                 Package: openjdk-11-jre-headless\nStatus: deinstall ok config-files\n";
        assert_eq!(dpkg_major(s), Some((17, "openjdk-17-jre-headless".into())));
        let two = "Package: openjdk-17-jre\nStatus: install ok installed\n\n\
                   Package: temurin-21-jdk\nStatus: install ok installed\n";
        assert_eq!(dpkg_major(two), None);
        let lib = "Package: openjdk-17-doc\nStatus: install ok installed\n";
        assert_eq!(dpkg_major(lib), None);
    }

    #[test]
    fn base_java_in_order_release_dpkg_env() {
        let file = |p: &str, b: &str| (p.to_string(), Node::File(Some(b.as_bytes().to_vec())));
        let mut fs = BaseFs::default();
        let env = vec!["JAVA_VERSION=jdk8u392-b08".to_string()];
        let java = |fs: &BaseFs| base_java("/usr/lib/jvm/j", fs, &env).map(|j| j.major);
        assert_eq!(java(&fs), Some(8));
        let named = base_java("/usr/lib/jvm/java-21-openjdk-arm64", &fs, &[]).unwrap();
        assert_eq!(named.major, 21);
        assert!(named.from.contains("name of its JAVA_HOME"), "{named:?}");
        fs.apply_layer(vec![file(
            DPKG_STATUS,
            "Package: openjdk-11-jre-headless\nStatus: install ok installed\n",
        )]);
        assert_eq!(java(&fs), Some(11));
        fs.apply_layer(vec![file(
            "usr/lib/jvm/j/release",
            "JAVA_VERSION=\"17.0.2\"\n",
        )]);
        let j = base_java("/usr/lib/jvm/j/", &fs, &env).unwrap();
        assert_eq!(
            j,
            BaseJava {
                major: 17,
                from: "/usr/lib/jvm/j/release".into()
            }
        );
        assert_eq!(base_java("/nowhere", &BaseFs::default(), &[]), None);
    }

    #[test]
    fn verdicts() {
        let j = |major| BaseJava {
            major,
            from: "X".into(),
        };
        let v = |s: &str, java: Option<&BaseJava>, allow| verdict(s, java, "B", allow);
        assert!(matches!(v("3.5.3", Some(&j(17)), false), Verdict::Fine));
        assert!(matches!(v("2.4.8", Some(&j(8)), false), Verdict::Fine));
        match v("2.4.8", Some(&j(17)), false) {
            Verdict::Refuse(e) => {
                let text = e.to_string();
                assert!(
                    text.contains("Spark 2.4.8") && text.contains("Java 17"),
                    "{text}"
                );
                assert!(text.contains("from X") && text.contains("Java 8"), "{text}");
                assert!(e.hint().unwrap().contains("eclipse-temurin:8-jre"));
            }
            other => panic!("{other:?}"),
        }
        match v("3.2.4", Some(&j(17)), true) {
            Verdict::Warn(w) => assert!(w.contains("Java 17") && w.contains("8 and 11"), "{w}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(v("4.2.0", Some(&j(21)), false), Verdict::Fine));
        match v("5.0.0", Some(&j(25)), false) {
            Verdict::Warn(w) => assert!(w.contains("newer than") && w.contains("4.1"), "{w}"),
            other => panic!("{other:?}"),
        }
        match v("3.5.3", None, false) {
            Verdict::Warn(w) => assert!(w.contains("cannot tell"), "{w}"),
            other => panic!("{other:?}"),
        }
    }
}
