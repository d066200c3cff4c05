//! The one HTTP stack of sparkimg, shared by `fetch` (mirrors) and `registry` (the
//! distribution API): blocking reqwest on rustls (aws-lc-rs).
//!
//! Pure: [`retry`] (attempts, backoff, `Retry-After`, status classes, `Content-Range`,
//! the attempt loop). [`client`] builds the configured client and classifies its errors;
//! it sends nothing itself.

pub mod client;
pub mod retry;

pub use client::{ClientConfig, ClientError, ErrorClass};
pub use retry::{Failure, RetryPolicy, StatusAction, Stop};
