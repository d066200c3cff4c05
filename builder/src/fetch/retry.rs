//! Pure retry policy and HTTP response classification.

use std::time::{Duration, SystemTime};

/// How hard to try one mirror before failing over. Configurable so tests can use
/// millisecond delays and timeouts.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per mirror and artifact, including the first (at least 1).
    pub max_attempts: u32,
    /// Delay before the second attempt; doubles each time.
    pub base_delay: Duration,
    /// Upper bound for any delay, including a server's `Retry-After`.
    pub max_delay: Duration,
    pub connect_timeout: Duration,
    /// Longest silence while reading; a stalled mirror is abandoned after this.
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
}

/// What to do about an HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusAction {
    /// 200/206: read the body.
    Proceed,
    /// 408, 429, 5xx: try this mirror again after a delay.
    Retry,
    /// 404, 410, 403 and other client errors: this mirror does not have it; next mirror now.
    NextMirror,
    /// 416: our partial file does not fit the server's copy; start from zero.
    Restart,
}

pub fn classify_status(code: u16) -> StatusAction {
    match code {
        200..=299 => StatusAction::Proceed,
        416 => StatusAction::Restart,
        408 | 429 | 500..=599 => StatusAction::Retry,
        _ => StatusAction::NextMirror,
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn statuses() {
        assert_eq!(classify_status(206), StatusAction::Proceed);
        assert_eq!(classify_status(404), StatusAction::NextMirror);
        assert_eq!(classify_status(403), StatusAction::NextMirror);
        assert_eq!(classify_status(429), StatusAction::Retry);
        assert_eq!(classify_status(503), StatusAction::Retry);
        assert_eq!(classify_status(416), StatusAction::Restart);
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(10));
        assert_eq!(parse_retry_after(&date, now), Some(Duration::from_secs(10)));
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
    }
}
