//! The one retry policy of every HTTP request sparkimg sends (mirror downloads and the
//! registry API): how many attempts, how long between them, which answers are worth
//! another try, and the limits on connecting and reading. All of it pure except
//! [`run`], which sleeps between attempts.

use std::time::{Duration, SystemTime};

/// Attempts, backoff and timeouts. Configurable so tests can use millisecond delays and
/// timeouts.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per operation (per mirror and artifact for fetch), including the first
    /// (at least 1).
    pub max_attempts: u32,
    /// Delay before the second attempt; doubles each time.
    pub base_delay: Duration,
    /// Upper bound for any delay, including a server's `Retry-After`.
    pub max_delay: Duration,
    pub connect_timeout: Duration,
    /// Longest silence while waiting for an answer or reading a body; a stalled server
    /// is abandoned after this.
    pub read_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Delay after failed attempt number `attempt` (1-based). A server's `Retry-After`
    /// wins over our backoff but is still capped, so a hostile value cannot hang us.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(ra) = retry_after {
            return ra.min(self.max_delay);
        }
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// Whole-request limit for moving `size` bytes in one request whose progress cannot
    /// be watched read by read (an upload, or a registry blob): generous for a slow
    /// link (256 KiB/s), yet a dead connection still ends.
    pub fn transfer_timeout(&self, size: u64) -> Duration {
        self.read_timeout * 4 + Duration::from_secs(size / (256 * 1024))
    }
}

/// What to do about an HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusAction {
    /// 2xx: read the body.
    Proceed,
    /// 408, 429, 5xx: try again after a delay (the server may say how long).
    Retry,
    /// 416: a resumed range does not fit the server's copy; start from zero.
    Restart,
    /// Other statuses (404, 403, …): asking again gets the same answer.
    Final,
}

pub fn classify_status(code: u16) -> StatusAction {
    match code {
        200..=299 => StatusAction::Proceed,
        416 => StatusAction::Restart,
        408 | 429 | 500..=599 => StatusAction::Retry,
        _ => StatusAction::Final,
    }
}

/// `Retry-After` as delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `Content-Range: bytes <start>-<end>/<total|*>` → `(start, total)`.
pub fn parse_content_range(value: &str) -> Option<(u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (start, _end) = range.split_once('-')?;
    let start = start.trim().parse().ok()?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((start, total))
}

/// How one attempt failed. `R` describes a failure worth retrying, `F` a final one.
#[derive(Debug)]
pub enum Failure<R, F> {
    /// Try again after the backoff delay, or after the server's `Retry-After`.
    Retry(R, Option<Duration>),
    /// Try again at once: the attempt already removed the cause (a partial file that
    /// did not fit the server's copy was dropped). Still counts as an attempt.
    RetryNow(R),
    /// Give up: another attempt would get the same answer.
    Fatal(F),
}

impl<R, F> Failure<R, F> {
    pub fn retry(e: impl Into<R>, retry_after: Option<Duration>) -> Self {
        Failure::Retry(e.into(), retry_after)
    }

    pub fn fatal(e: impl Into<F>) -> Self {
        Failure::Fatal(e.into())
    }
}

/// Why [`run`] stopped without a result.
#[derive(Debug)]
pub enum Stop<R, F> {
    Fatal {
        error: F,
        attempts: u32,
    },
    /// Every attempt failed in a retryable way; `last` is the last reason.
    Exhausted {
        last: R,
        attempts: u32,
    },
}

/// Run `op` (given the 1-based attempt number) until it succeeds, fails fatally, or
/// the policy's attempts run out. Before each wait, `waiting` hears why and for how
/// long, so the caller can say so in its own style. Both closures get `ctx`, the
/// state they share (a file, a progress bar).
pub fn run<C, T, R, F>(
    policy: &RetryPolicy,
    ctx: &mut C,
    mut op: impl FnMut(&mut C, u32) -> Result<T, Failure<R, F>>,
    mut waiting: impl FnMut(&mut C, &R, Duration),
) -> Result<T, Stop<R, F>> {
    let max = policy.max_attempts.max(1);
    let mut attempt = 1;
    loop {
        let (reason, delay) = match op(ctx, attempt) {
            Ok(v) => return Ok(v),
            Err(Failure::Fatal(error)) => {
                return Err(Stop::Fatal {
                    error,
                    attempts: attempt,
                })
            }
            Err(Failure::Retry(r, after)) => {
                let d = policy.delay(attempt, after);
                (r, d)
            }
            Err(Failure::RetryNow(r)) => (r, Duration::ZERO),
        };
        if attempt >= max {
            return Err(Stop::Exhausted {
                last: reason,
                attempts: attempt,
            });
        }
        waiting(ctx, &reason, delay);
        std::thread::sleep(delay);
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(20),
            ..RetryPolicy::default()
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
            ..RetryPolicy::default()
        };
        assert_eq!(p.delay(1, None), Duration::from_millis(100));
        assert_eq!(p.delay(2, None), Duration::from_millis(200));
        assert_eq!(p.delay(3, None), Duration::from_millis(400));
        assert_eq!(p.delay(4, None), Duration::from_millis(500));
        assert_eq!(p.delay(99, None), Duration::from_millis(500));
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3600))),
            Duration::from_millis(500)
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_millis(7))),
            Duration::from_millis(7)
        );
    }

    #[test]
    fn transfer_timeouts_grow_with_size() {
        let p = RetryPolicy {
            read_timeout: Duration::from_secs(30),
            ..RetryPolicy::default()
        };
        assert_eq!(p.transfer_timeout(0), Duration::from_secs(120));
        assert_eq!(p.transfer_timeout(1 << 30), Duration::from_secs(120 + 4096));
    }

    #[test]
    fn statuses() {
        for s in [200, 204, 206] {
            assert_eq!(classify_status(s), StatusAction::Proceed, "{s}");
        }
        for s in [408, 429, 500, 502, 503, 504] {
            assert_eq!(classify_status(s), StatusAction::Retry, "{s}");
        }
        for s in [301, 400, 401, 403, 404, 405, 409, 410] {
            assert_eq!(classify_status(s), StatusAction::Final, "{s}");
        }
        assert_eq!(classify_status(416), StatusAction::Restart);
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(10));
        assert_eq!(parse_retry_after(&date, now), Some(Duration::from_secs(10)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(10));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn content_range() {
        assert_eq!(
            parse_content_range("bytes 100-199/200"),
            Some((100, Some(200)))
        );
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, None)));
        assert_eq!(parse_content_range("items 1-2/3"), None);
        assert_eq!(parse_content_range("bytes 1-2/x"), None);
    }

    type Waits = Vec<(String, Duration)>;

    /// Runs `outcomes` in order through [`run`]; what it returned and the waits it
    /// announced.
    fn drive(
        policy: &RetryPolicy,
        outcomes: Vec<Result<u32, Failure<String, &'static str>>>,
    ) -> (Result<u32, Stop<String, &'static str>>, Waits, u32) {
        let mut outcomes = outcomes.into_iter();
        let mut waits: Waits = Vec::new();
        let mut calls = 0;
        let r = run(
            policy,
            &mut waits,
            |_, attempt| {
                calls += 1;
                assert_eq!(attempt, calls, "attempts are numbered from 1");
                outcomes.next().expect("run called op too often")
            },
            |w, why, d| w.push((why.clone(), d)),
        );
        (r, waits, calls)
    }

    #[test]
    fn run_retries_with_backoff_then_succeeds() {
        let (r, waits, calls) = drive(
            &quick(4),
            vec![
                Err(Failure::Retry("503".into(), None)),
                Err(Failure::Retry("reset".into(), None)),
                Ok(7),
            ],
        );
        assert_eq!(r.ok(), Some(7));
        assert_eq!(calls, 3);
        assert_eq!(
            waits,
            vec![
                ("503".to_string(), Duration::from_millis(1)),
                ("reset".to_string(), Duration::from_millis(2)),
            ]
        );
    }

    #[test]
    fn run_honours_retry_after_and_retry_now() {
        let (r, waits, _) = drive(
            &quick(4),
            vec![
                Err(Failure::Retry("429".into(), Some(Duration::from_millis(5)))),
                Err(Failure::RetryNow("416".into())),
                Err(Failure::Retry("429".into(), Some(Duration::from_secs(60)))),
                Ok(1),
            ],
        );
        assert_eq!(r.ok(), Some(1));
        let delays: Vec<Duration> = waits.iter().map(|w| w.1).collect();
        assert_eq!(
            delays,
            vec![
                Duration::from_millis(5),
                Duration::ZERO,
                // Capped by max_delay.
                Duration::from_millis(20),
            ]
        );
    }

    #[test]
    fn run_stops_at_a_fatal_failure() {
        let (r, waits, calls) = drive(
            &quick(4),
            vec![
                Err(Failure::Retry("503".into(), None)),
                Err(Failure::Fatal("certificate")),
            ],
        );
        assert_eq!(calls, 2);
        assert_eq!(waits.len(), 1);
        match r {
            Err(Stop::Fatal { error, attempts }) => {
                assert_eq!((error, attempts), ("certificate", 2));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn run_gives_up_after_max_attempts_without_a_last_wait() {
        let (r, waits, calls) = drive(
            &quick(3),
            (0..3)
                .map(|i| Err(Failure::Retry(format!("try {i}"), None)))
                .collect(),
        );
        assert_eq!(calls, 3);
        assert_eq!(waits.len(), 2, "no wait after the last attempt");
        match r {
            Err(Stop::Exhausted { last, attempts }) => {
                assert_eq!((last.as_str(), attempts), ("try 2", 3));
            }
            other => panic!("{other:?}"),
        }
        // max_attempts 0 still makes one attempt.
        let (_, _, calls) = drive(&quick(0), vec![Err(Failure::RetryNow("x".into()))]);
        assert_eq!(calls, 1);
    }
}
