use super::*;

fn release(s: &str) -> SparkVersion {
    s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn v(major: u32, minor: u32, patch: u32, pre: Option<&str>) -> SparkVersion {
    SparkVersion {
        major,
        minor,
        patch,
        pre: pre.map(String::from),
    }
}

#[test]
fn grammar_accepts() {
    let table: &[(&str, Patch, SparkVersion)] = &[
        ("3.5.3", Patch::Required, v(3, 5, 3, None)),
        ("0.0.0", Patch::Required, v(0, 0, 0, None)),
        ("2.3.0", Patch::Required, v(2, 3, 0, None)),
        ("10.20.30", Patch::Required, v(10, 20, 30, None)),
        ("4294967295.0.1", Patch::Required, v(u32::MAX, 0, 1, None)),
        (
            "3.0.0-SNAPSHOT",
            Patch::Required,
            v(3, 0, 0, Some("SNAPSHOT")),
        ),
        (
            "4.0.0-preview1",
            Patch::Required,
            v(4, 0, 0, Some("preview1")),
        ),
        ("3.5.0-amzn-0", Patch::Required, v(3, 5, 0, Some("amzn-0"))),
        (
            "3.5.0-rc1.b_2",
            Patch::Required,
            v(3, 5, 0, Some("rc1.b_2")),
        ),
        ("3.5", Patch::Optional, v(3, 5, 0, None)),
        (
            "3.5-SNAPSHOT",
            Patch::Optional,
            v(3, 5, 0, Some("SNAPSHOT")),
        ),
        ("3.5.3", Patch::Optional, v(3, 5, 3, None)),
    ];
    for (text, patch, want) in table {
        assert_eq!(
            &SparkVersion::parse(text, *patch).unwrap(),
            want,
            "{text:?}"
        );
    }
}

#[test]
fn grammar_refuses() {
    let malformed = [
        "",
        " ",
        "3",
        "3.",
        "3.5.",
        ".5.3",
        "3..3",
        "3.x",
        "3.5.x",
        "x.5.3",
        "3.5.3.1",
        "v3.5.3",
        " 3.5.3",
        "3.5.3 ",
        "3.5.3\n",
        "3.5.3-",
        "3.5.3--x",
        "3.5.3-.x",
        "-1.0.0",
        "03.5.3",
        "3.05.3",
        "3.5.03",
        "+3.5.3",
        "3.5.3+build",
        "3.5.3-../../x",
        "3.5.3-a/b",
        "3.5.3-a b",
        "3.5.3-ü",
        "4294967296.0.0",
        "3.5.99999999999",
        "3.5-",
        "3,5,3",
        "3.5.3_1",
    ];
    for text in malformed {
        for patch in [Patch::Required, Patch::Optional] {
            assert_eq!(
                SparkVersion::parse(text, patch),
                Err(VersionError::Malformed(text.to_string())),
                "{text:?} {patch:?}"
            );
        }
    }
    for text in ["3.5", "2.4-SNAPSHOT", "0.0"] {
        assert_eq!(
            text.parse::<SparkVersion>(),
            Err(VersionError::NoPatch(text.to_string()))
        );
        assert!(
            SparkVersion::parse(text, Patch::Optional).is_ok(),
            "{text:?}"
        );
    }
}

#[test]
fn messages_name_the_text_and_the_expected_form() {
    assert_eq!(
        "3.x".parse::<SparkVersion>().unwrap_err().to_string(),
        "'3.x' is not a Spark version (expected MAJOR.MINOR.PATCH[-SUFFIX], e.g. 3.5.3)"
    );
    assert_eq!(
        "3.5".parse::<SparkVersion>().unwrap_err().to_string(),
        "'3.5' names a release line, not a release (expected MAJOR.MINOR.PATCH, e.g. 3.5.0)"
    );
    assert_eq!(
        release("2.2.3").check_kubernetes().unwrap_err().to_string(),
        "Spark 2.2.3: Kubernetes images exist from Spark 2.3 on"
    );
}

/// Versions in ascending order, every neighbour strictly greater.
const ASCENDING: &[&str] = &[
    "0.0.0",
    "0.0.1",
    "0.1.0",
    "1.0.0",
    "2.2.3",
    "2.3.0-SNAPSHOT",
    "2.3.0",
    "2.4.8",
    "2.10.0",
    "3.0.0-SNAPSHOT",
    "3.0.0-preview",
    "3.0.0-preview2",
    "3.0.0-preview10",
    "3.0.0-rc1",
    "3.0.0-rc1.1",
    "3.0.0",
    "3.0.1",
    "3.5.9",
    "3.10.0",
    "4.0.0-preview01",
    "4.0.0-preview1",
    "4.0.0-preview2",
    "4.0.0",
    "4294967295.4294967295.4294967295",
];

#[test]
fn ordering_is_total_and_matches_the_table() {
    let versions: Vec<SparkVersion> = ASCENDING.iter().map(|s| release(s)).collect();
    for (i, a) in versions.iter().enumerate() {
        for (j, b) in versions.iter().enumerate() {
            assert_eq!(a.cmp(b), i.cmp(&j), "{a} vs {b}");
            assert_eq!(a == b, i == j, "{a} == {b}");
            assert_eq!(a.partial_cmp(b), Some(i.cmp(&j)));
        }
    }
    let mut shuffled = versions.clone();
    shuffled.reverse();
    shuffled.swap(3, 11);
    shuffled.sort();
    assert_eq!(shuffled, versions);
}

#[test]
fn at_least_puts_pre_releases_before_their_release() {
    let table = [
        ("3.0.0-SNAPSHOT", (3, 0, 0), false),
        ("3.0.0-SNAPSHOT", (2, 4, 8), true),
        ("3.0.0", (3, 0, 0), true),
        ("3.0.1", (3, 0, 0), true),
        ("2.4.8", (2, 4, 8), true),
        ("2.4.7", (2, 4, 8), false),
        ("3.10.0", (3, 9, 9), true),
    ];
    for (text, (major, minor, patch), want) in table {
        assert_eq!(release(text).at_least(major, minor, patch), want, "{text}");
    }
}

#[test]
fn display_round_trips() {
    let numbers = [0, 1, 9, 10, 123, u32::MAX];
    let suffixes = [
        None,
        Some("SNAPSHOT"),
        Some("preview1"),
        Some("amzn-0"),
        Some("a.b_c"),
    ];
    for major in numbers {
        for minor in numbers {
            for patch in numbers {
                for pre in suffixes {
                    let version = v(major, minor, patch, pre);
                    let text = version.to_string();
                    assert_eq!(release(&text), version, "{text}");
                    assert_eq!(release(&text).to_string(), text);
                    let lenient = SparkVersion::parse(&text, Patch::Optional).unwrap();
                    assert_eq!(lenient, version);
                }
            }
        }
    }
    assert_eq!(
        SparkVersion::parse("3.5-preview1", Patch::Optional)
            .unwrap()
            .to_string(),
        "3.5.0-preview1"
    );
}

#[test]
fn bounds() {
    let table = [
        ("1.6.3", false, true),
        ("2.2.3", false, true),
        ("2.3.0-SNAPSHOT", true, true),
        ("2.3.0", true, true),
        ("3.5.3", true, true),
        ("4.9.0", true, true),
        ("5.0.0-preview1", true, false),
        ("5.0.0", true, false),
    ];
    for (text, kubernetes, known) in table {
        let version = release(text);
        assert_eq!(version.has_kubernetes(), kubernetes, "{text}");
        assert_eq!(version.check_kubernetes().is_ok(), kubernetes, "{text}");
        assert_eq!(version.is_known(), known, "{text}");
    }
    assert_eq!(
        release("2.2.3").check_kubernetes(),
        Err(VersionError::BeforeKubernetes(release("2.2.3")))
    );
}

#[test]
fn reads_release_files_and_jar_names() {
    let table = [
        (
            "Spark 3.5.3 built for Hadoop 3.3.4\nBuild flags: -B\n",
            Some("3.5.3"),
        ),
        (
            "\n  Spark 3.0.0-SNAPSHOT built for Hadoop 2.7.4",
            Some("3.0.0-SNAPSHOT"),
        ),
        ("Spark 3.5 built for Hadoop 3.3.4", Some("3.5.0")),
        ("Spark three built for Hadoop", None),
        ("garbage", None),
        ("", None),
    ];
    for (text, want) in table {
        let got = SparkVersion::from_release_file(text).map(|v| v.to_string());
        assert_eq!(got.as_deref(), want, "{text:?}");
    }
    let jars = [
        ("spark-core_2.13-4.0.1.jar", Some("4.0.1")),
        ("spark-core_2.12-3.0.0-SNAPSHOT.jar", Some("3.0.0-SNAPSHOT")),
        ("spark-core_2.11-2.4.8.jar", Some("2.4.8")),
        ("spark-sql_2.13-4.0.1.jar", None),
        ("spark-core_2.13-4.0.1.jar.bak", None),
        ("spark-core_2.13.jar", None),
    ];
    for (name, want) in jars {
        let got = SparkVersion::from_core_jar_name(name).map(|v| v.to_string());
        assert_eq!(got.as_deref(), want, "{name:?}");
    }
}
