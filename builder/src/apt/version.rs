//! Pure: versioned relations (`(>= 3.11.2-1~)`) over Debian's version order, which the
//! `debversion` crate implements (epochs, `~` before everything, dpkg's digit/non-digit
//! runs).

use std::cmp::Ordering;

pub use debversion::Version;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

/// `op version`, as in a `Depends` alternative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    pub op: Op,
    pub version: Version,
}

impl Constraint {
    /// `">= 1.0"`, `"<< 2"`, `"= 1:2.3-4"`; the obsolete `<`/`>` mean `<=`/`>=`, as dpkg
    /// reads them.
    pub fn parse(s: &str) -> Result<Constraint, String> {
        let s = s.trim();
        let ops = [
            ("<<", Op::Lt),
            ("<=", Op::Le),
            (">=", Op::Ge),
            (">>", Op::Gt),
            ("=", Op::Eq),
            ("<", Op::Le),
            (">", Op::Ge),
        ];
        let (op, rest) = ops
            .iter()
            .find_map(|(p, op)| s.strip_prefix(p).map(|r| (*op, r)))
            .ok_or_else(|| format!("no relation in '({s})'"))?;
        let version = rest
            .trim()
            .parse::<Version>()
            .map_err(|e| format!("bad version in '({s})': {e:?}"))?;
        Ok(Constraint { op, version })
    }

    pub fn allows(&self, v: &Version) -> bool {
        let o = v.cmp(&self.version);
        match self.op {
            Op::Lt => o == Ordering::Less,
            Op::Le => o != Ordering::Greater,
            Op::Eq => o == Ordering::Equal,
            Op::Ge => o != Ordering::Less,
            Op::Gt => o == Ordering::Greater,
        }
    }
}

impl std::fmt::Display for Constraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match self.op {
            Op::Lt => "<<",
            Op::Le => "<=",
            Op::Eq => "=",
            Op::Ge => ">=",
            Op::Gt => ">>",
        };
        write!(f, "{op} {}", self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn debian_order() {
        assert!(v("3.11.2-1~") < v("3.11.2-1"));
        assert!(v("1:0.1") > v("9.9"));
        assert!(v("2.36-9+deb12u4") > v("2.36-9"));
        assert!(v("1.0a") > v("1.0"));
        assert!(v("1.0~rc1") < v("1.0"));
        assert!(v("10") > v("9"));
    }

    #[test]
    fn relations() {
        let c = Constraint::parse(">= 3.11.2-1~").unwrap();
        assert!(c.allows(&v("3.11.2-1+b1")) && c.allows(&v("3.11.2-1~")));
        assert!(!c.allows(&v("3.11.1-5")));
        let lt = Constraint::parse("<< 3.12").unwrap();
        assert!(lt.allows(&v("3.11.9")) && !lt.allows(&v("3.12")));
        assert!(Constraint::parse("= 1.0-1").unwrap().allows(&v("1.0-1")));
        assert!(Constraint::parse(">> 1").unwrap().allows(&v("1.1")));
        assert!(Constraint::parse("> 1").unwrap().allows(&v("1")));
        assert!(Constraint::parse("~ 1").is_err());
        assert_eq!(Constraint::parse(">=1.2").unwrap().to_string(), ">= 1.2");
    }
}
