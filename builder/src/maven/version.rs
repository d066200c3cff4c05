//! Pure: revision order and version ranges as Ivy applies them to Maven POMs.
//!
//! The order is Ivy's `latest-revision` strategy (the one Spark's resolution uses for
//! conflicts and ranges): a letter/digit boundary splits like a separator, revisions are
//! split on `.`, `_`, `-` and `+`, numeric parts compare as numbers and sort after
//! words, the words `dev` < (other words) < `rc` < `final` have their special
//! meanings, other words compare as strings; when one revision runs out first, a
//! numeric part left over makes the longer one later, a word makes it earlier
//! (`1.0` > `1.0-beta`, `1.0.1` > `1.0`). Written by hand: no crate implements Ivy's order.

use std::cmp::Ordering;

fn parts(rev: &str) -> Vec<String> {
    // Ivy inserts a `.` at every letter/digit boundary before splitting.
    let mut spaced = String::with_capacity(rev.len() + 4);
    let mut prev: Option<char> = None;
    for c in rev.chars() {
        if let Some(p) = prev {
            let boundary = (p.is_ascii_alphabetic() && c.is_ascii_digit())
                || (p.is_ascii_digit() && c.is_ascii_alphabetic());
            if boundary {
                spaced.push('.');
            }
        }
        spaced.push(c);
        prev = Some(c);
    }
    spaced
        .split(['.', '_', '-', '+'])
        .map(str::to_string)
        .collect()
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn special(s: &str) -> Option<i32> {
    match s.to_ascii_lowercase().as_str() {
        "dev" => Some(-1),
        "rc" => Some(1),
        "final" => Some(2),
        _ => None,
    }
}

/// Decimal strings of any length, compared as numbers.
fn numeric(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Ivy's `latest-revision` order of two revisions.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(pb.iter()) {
        if x == y {
            continue;
        }
        return match (is_number(x), is_number(y)) {
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (true, true) => numeric(x, y),
            (false, false) => match (special(x), special(y)) {
                (Some(s), t) => s.cmp(&t.unwrap_or(0)),
                (None, Some(t)) => 0.cmp(&t),
                (None, None) => x.cmp(y),
            },
        };
    }
    let n = pa.len().min(pb.len());
    match (pa.get(n), pb.get(n)) {
        (Some(x), _) if is_number(x) => Ordering::Greater,
        (Some(_), _) => Ordering::Less,
        (None, Some(y)) if is_number(y) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// The later of two revisions by [`compare`].
pub fn latest<'a>(a: &'a str, b: &'a str) -> &'a str {
    if compare(a, b) == Ordering::Less {
        b
    } else {
        a
    }
}

/// One bound of a range: the revision and whether it is included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bound {
    pub revision: String,
    pub inclusive: bool,
}

/// A Maven version range as Ivy's `VersionRangeMatcher` reads it: one interval,
/// `[a,b]`, `[a,b)`, `(a,b]`, `(a,b)`, with `]`/`[` also as exclusive marks
/// (`]a,b[`), and an empty side unbounded (`[1.0,)`, `(,2.0]`). Unions and `[1.0]` are
/// not ranges to Ivy (they are looked up as literal revisions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Range {
    pub lower: Option<Bound>,
    pub upper: Option<Bound>,
}

impl Range {
    pub fn parse(s: &str) -> Option<Range> {
        let s = s.trim();
        let open = s.chars().next()?;
        let close = s.chars().last()?;
        if s.len() < 3 || !"[](".contains(open) || !"][)".contains(close) {
            return None;
        }
        let inner = &s[1..s.len() - 1];
        let (lo, hi) = inner.split_once(',')?;
        if hi.contains(',')
            || lo.contains(['[', ']', '(', ')'])
            || hi.contains(['[', ']', ')', '('])
        {
            return None;
        }
        let bound = |rev: &str, inclusive: bool| {
            let rev = rev.trim();
            (!rev.is_empty()).then(|| Bound {
                revision: rev.to_string(),
                inclusive,
            })
        };
        let lower = bound(lo, open == '[');
        let upper = bound(hi, close == ']');
        if lower.is_none() && upper.is_none() {
            return None;
        }
        Some(Range { lower, upper })
    }

    pub fn contains(&self, rev: &str) -> bool {
        let above = self
            .lower
            .as_ref()
            .is_none_or(|b| match compare(rev, &b.revision) {
                Ordering::Greater => true,
                Ordering::Equal => b.inclusive,
                Ordering::Less => false,
            });
        let below = self
            .upper
            .as_ref()
            .is_none_or(|b| match compare(rev, &b.revision) {
                Ordering::Less => true,
                Ordering::Equal => b.inclusive,
                Ordering::Greater => false,
            });
        above && below
    }

    /// The latest of `available` inside the range, as Ivy picks a dynamic revision.
    pub fn pick<'a>(&self, available: &'a [String]) -> Option<&'a str> {
        available
            .iter()
            .map(String::as_str)
            .filter(|v| self.contains(v))
            .reduce(latest)
    }
}
