//! The one HTTP stack of sparkimg, shared by `fetch` (mirrors), `apt`, `maven` and
//! `registry` (the distribution API): blocking reqwest on rustls (aws-lc-rs).
//!
//! Pure: [`retry`] (attempts, backoff, `Retry-After`, status classes, `Content-Range`,
//! the attempt loop). [`client`] builds the configured client and classifies its errors;
//! it sends nothing itself. [`download`]: resumable, verified downloads and small GETs,
//! the one way fetch, apt and maven download.

pub mod client;
pub mod download;
pub mod retry;

pub use download::DownloadError;

pub use client::{ClientConfig, ClientError, ErrorClass};
pub use retry::{Failure, RetryPolicy, StatusAction, Stop};
