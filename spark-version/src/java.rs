//! Which Java majors each Spark line runs on, as its documentation says, with the
//! source of every row. Pure data and one lookup: `sparkimg build` and `rebase` refuse
//! a base whose Java is not in its line's row.

use crate::SparkVersion;

/// One row: the Spark lines `first..=last` run on `javas`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JavaSupport {
    pub first: (u32, u32),
    pub last: (u32, u32),
    /// Ascending.
    pub javas: &'static [u32],
    /// Where the row comes from: the overview page of that line's documentation
    /// (`docs/index.md` of its branch), whose "Spark runs on Java …" sentence it is.
    pub source: &'static str,
}

/// The table, oldest line first, without gaps between rows.
pub const JAVA_SUPPORT: &[JavaSupport] = &[
    // 2.3's page says "Java 8+", but Java 9 and later are supported only from 3.0
    // (SPARK-24417); 2.4's says "Java 8".
    JavaSupport {
        first: (2, 3),
        last: (2, 4),
        javas: &[8],
        source: "https://spark.apache.org/docs/2.4.8/index.html",
    },
    // "Spark runs on Java 8/11" (3.0.3, 3.1.3, 3.2.4).
    JavaSupport {
        first: (3, 0),
        last: (3, 2),
        javas: &[8, 11],
        source: "https://spark.apache.org/docs/3.2.4/index.html",
    },
    // "Spark runs on Java 8/11/17" (3.3.4, 3.4.2, 3.5.3).
    JavaSupport {
        first: (3, 3),
        last: (3, 5),
        javas: &[8, 11, 17],
        source: "https://spark.apache.org/docs/3.5.3/index.html",
    },
    // "Spark runs on Java 17/21" (SPARK-49649 brought docs/index.md up to date for 4.0;
    // branch-4.1 says the same).
    JavaSupport {
        first: (4, 0),
        last: (4, 1),
        javas: &[17, 21],
        source: "https://spark.apache.org/docs/4.0.0/index.html",
    },
];

/// What the table says of one Spark version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JavaVerdict {
    pub row: &'static JavaSupport,
    /// The version's line is newer than the table: `row` is its newest row, a guess.
    pub newer_than_table: bool,
}

impl JavaVerdict {
    pub fn supports(&self, java: u32) -> bool {
        self.row.javas.contains(&java)
    }

    /// `8, 11 and 17`.
    pub fn javas_text(&self) -> String {
        let all: Vec<String> = self.row.javas.iter().map(u32::to_string).collect();
        match all.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            None => String::new(),
        }
    }
}

impl SparkVersion {
    /// The Java majors this version's line runs on; `None` before the table (2.3).
    pub fn java_support(&self) -> Option<JavaVerdict> {
        let line = self.line();
        let row = JAVA_SUPPORT
            .iter()
            .find(|r| r.first <= line && line <= r.last);
        if let Some(row) = row {
            return Some(JavaVerdict {
                row,
                newer_than_table: false,
            });
        }
        let newest = JAVA_SUPPORT.last()?;
        (line > newest.last).then_some(JavaVerdict {
            row: newest,
            newer_than_table: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn javas(v: &str) -> Option<(Vec<u32>, bool)> {
        let v = SparkVersion::parse(v, crate::Patch::Optional).unwrap();
        v.java_support()
            .map(|s| (s.row.javas.to_vec(), s.newer_than_table))
    }

    #[test]
    fn each_line_has_its_row() {
        for (v, want) in [
            ("2.3.0", vec![8]),
            ("2.4.8", vec![8]),
            ("3.0.0-preview2", vec![8, 11]),
            ("3.2.4", vec![8, 11]),
            ("3.3.0", vec![8, 11, 17]),
            ("3.5.3", vec![8, 11, 17]),
            ("4.0.0-preview1", vec![17, 21]),
            ("4.1.1", vec![17, 21]),
        ] {
            assert_eq!(javas(v), Some((want, false)), "{v}");
        }
    }

    #[test]
    fn newer_lines_take_the_newest_row_and_say_so() {
        assert_eq!(javas("4.2.0"), Some((vec![17, 21], true)));
        assert_eq!(javas("5.0.0"), Some((vec![17, 21], true)));
        assert_eq!(javas("2.2.3"), None);
    }

    #[test]
    fn rows_are_ordered_without_gaps_and_cite_docs() {
        for pair in JAVA_SUPPORT.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            assert!(a.first <= a.last && a.last < b.first, "{a:?} {b:?}");
            let next = if a.last.0 == b.first.0 {
                (a.last.0, a.last.1 + 1)
            } else {
                (b.first.0, 0)
            };
            assert_eq!(b.first, next, "gap before {b:?}");
        }
        for row in JAVA_SUPPORT {
            assert!(row.source.starts_with("https://spark.apache.org/docs/"));
            assert!(row.javas.windows(2).all(|w| w[0] < w[1]));
        }
    }

    #[test]
    fn javas_read_as_a_list() {
        let v = |s: &str| SparkVersion::parse(s, crate::Patch::Optional).unwrap();
        assert_eq!(v("2.4").java_support().unwrap().javas_text(), "8");
        assert_eq!(v("3.0").java_support().unwrap().javas_text(), "8 and 11");
        assert_eq!(
            v("3.5").java_support().unwrap().javas_text(),
            "8, 11 and 17"
        );
        assert!(v("3.5").java_support().unwrap().supports(11));
        assert!(!v("2.4").java_support().unwrap().supports(17));
    }
}
