//! Per-blob transfer progress on stderr: bars on a terminal, a start and an end line per
//! blob (plus one every 10 s for long ones) in CI and logs.

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::progress::ProgressMode;

const LINE_EVERY: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Progress {
    mode: ProgressMode,
    multi: Option<MultiProgress>,
}

impl Progress {
    pub fn new(mode: ProgressMode) -> Progress {
        let mode = mode.resolve();
        let multi = (mode == ProgressMode::Bar)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Progress { mode, multi }
    }

    /// A message that does not tear the bars.
    pub fn note(&self, msg: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(format!("sparkimg: {msg}"));
            }
            None if self.mode != ProgressMode::Quiet => crate::report::note(msg),
            None => {}
        }
    }

    pub fn blob(&self, verb: &str, label: String, total: u64) -> Arc<BlobProgress> {
        let bar = self.multi.as_ref().map(|m| {
            let b = m.add(ProgressBar::new(total));
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix:>9} {msg:<24} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b.set_prefix(verb.to_string());
            b.set_message(label.clone());
            b
        });
        Arc::new(BlobProgress {
            lines: self.mode == ProgressMode::Lines,
            verb: verb.to_string(),
            label,
            total,
            pos: AtomicU64::new(0),
            started: Instant::now(),
            last_line: Mutex::new(Instant::now()),
            bar,
        })
    }
}

pub struct BlobProgress {
    lines: bool,
    verb: String,
    label: String,
    total: u64,
    pos: AtomicU64,
    started: Instant,
    last_line: Mutex<Instant>,
    bar: Option<ProgressBar>,
}

impl BlobProgress {
    pub fn start(&self) {
        if self.lines {
            crate::report::note(&format!(
                "{} {} ({})",
                self.verb,
                self.label,
                HumanBytes(self.total)
            ));
        }
    }

    pub fn inc(&self, n: u64) {
        let pos = self.pos.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(b) = &self.bar {
            b.set_position(pos);
        } else if self.lines {
            let mut last = self.last_line.lock().unwrap_or_else(|e| e.into_inner());
            if last.elapsed() >= LINE_EVERY {
                *last = Instant::now();
                crate::report::note(&format!(
                    "{} {}: {}/{}",
                    self.verb,
                    self.label,
                    HumanBytes(pos),
                    HumanBytes(self.total)
                ));
            }
        }
    }

    /// A retry starts over.
    pub fn reset(&self, pos: u64) {
        self.pos.store(pos, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.set_position(pos);
        }
    }

    pub fn finish(&self, outcome: &str) {
        if let Some(b) = &self.bar {
            b.set_message(format!("{} {outcome}", self.label));
            b.finish();
        } else if self.lines {
            let secs = self.started.elapsed().as_secs_f64();
            crate::report::note(&format!(
                "{} {}: {outcome} ({:.1}s)",
                self.verb, self.label, secs
            ));
        }
    }
}

/// Counts bytes read through it into a [`BlobProgress`].
pub struct CountingReader<R> {
    pub inner: R,
    pub progress: Arc<BlobProgress>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.inc(n as u64);
        Ok(n)
    }
}
