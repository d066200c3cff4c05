//! Download progress on stderr: a bar on a terminal, sparse lines in CI and logs.
//! stdout is never touched, it carries the command's data.

use std::io::{self, IsTerminal};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};

/// How to show download progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal and `CI` is unset, otherwise lines.
    #[default]
    Auto,
    Bar,
    Lines,
    Quiet,
}

impl ProgressMode {
    /// Auto decided: a bar only for a person at a terminal (the one rule for every
    /// progress display).
    pub fn resolve(self) -> ProgressMode {
        match self {
            ProgressMode::Auto => {
                if in_ci() || !io::stderr().is_terminal() {
                    ProgressMode::Lines
                } else {
                    ProgressMode::Bar
                }
            }
            m => m,
        }
    }
}

/// Print a message to stderr without tearing a progress bar.
pub(crate) fn note(msg: &str) {
    crate::report::note(msg);
}

/// Warnings are printed whatever the progress mode: they are about trust, not progress.
pub(crate) fn warn(msg: &str) {
    crate::report::warn(msg);
}

/// CI=true (any value but empty, `0` or `false`): the rule the test crates' skip log
/// (`sparkimg_skips::in_ci`) uses too.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

const LINE_EVERY: Duration = Duration::from_secs(10);

pub(crate) struct Progress {
    inner: Inner,
}

enum Inner {
    Bar(ProgressBar),
    Lines {
        label: String,
        total: Option<u64>,
        pos: u64,
        started: Instant,
        start_pos: u64,
        last_line: Instant,
        last_decile: u64,
    },
    Quiet,
}

impl Progress {
    pub(crate) fn new(mode: ProgressMode, label: &str) -> Self {
        let inner = match mode.resolve() {
            ProgressMode::Bar => {
                let bar = ProgressBar::new(0);
                let style = ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
                )
                .map(|s| s.progress_chars("=> "))
                .unwrap_or_else(|_| ProgressStyle::default_bar());
                bar.set_style(style);
                bar.set_message(label.to_string());
                Inner::Bar(bar)
            }
            ProgressMode::Lines => Inner::Lines {
                label: label.to_string(),
                total: None,
                pos: 0,
                started: Instant::now(),
                start_pos: 0,
                last_line: Instant::now(),
                last_decile: 0,
            },
            _ => Inner::Quiet,
        };
        Progress { inner }
    }

    /// A (re)started transfer: `pos` bytes are already on disk.
    pub(crate) fn begin(&mut self, pos: u64, total: Option<u64>) {
        match &mut self.inner {
            Inner::Bar(bar) => {
                bar.set_length(total.unwrap_or(0));
                bar.set_position(pos);
                bar.reset_eta();
            }
            Inner::Lines {
                label,
                total: t,
                pos: p,
                started,
                start_pos,
                ..
            } => {
                *t = total;
                *p = pos;
                *start_pos = pos;
                *started = Instant::now();
                let size = total
                    .map(|t| format!(" of {}", HumanBytes(t)))
                    .unwrap_or_default();
                if pos > 0 {
                    note(&format!("{label}: resuming at {}{size}", HumanBytes(pos)));
                } else {
                    note(&format!("{label}: downloading{size}"));
                }
            }
            Inner::Quiet => {}
        }
    }

    pub(crate) fn set(&mut self, pos: u64) {
        match &mut self.inner {
            Inner::Bar(bar) => bar.set_position(pos),
            Inner::Lines {
                label,
                total,
                pos: p,
                started,
                start_pos,
                last_line,
                last_decile,
            } => {
                *p = pos;
                let decile = total.filter(|t| *t > 0).map(|t| pos * 10 / t).unwrap_or(0);
                if decile > *last_decile || last_line.elapsed() >= LINE_EVERY {
                    *last_decile = decile.max(*last_decile);
                    *last_line = Instant::now();
                    let secs = started.elapsed().as_secs_f64().max(0.001);
                    let rate = (pos.saturating_sub(*start_pos)) as f64 / secs;
                    let of = total
                        .map(|t| format!(" / {} ({}%)", HumanBytes(t), pos * 100 / t.max(1)))
                        .unwrap_or_default();
                    note(&format!(
                        "{label}: {}{of} at {}/s",
                        HumanBytes(pos),
                        HumanBytes(rate as u64)
                    ));
                }
            }
            Inner::Quiet => {}
        }
    }

    /// Run `f` (which prints) without a half-drawn bar in the way.
    pub(crate) fn suspend<F: FnOnce()>(&self, f: F) {
        match &self.inner {
            Inner::Bar(bar) => bar.suspend(f),
            _ => f(),
        }
    }

    pub(crate) fn finish(&mut self) {
        if let Inner::Bar(bar) = &self.inner {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
