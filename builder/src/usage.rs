//! The usage error: the command line (or an input it names) asks for something that
//! cannot be done; fix it and run again. [`crate::exit`] gives it exit code 2.

use thiserror::Error;

#[derive(Debug, Error)]
#[error("{message}")]
pub struct UsageError {
    pub message: String,
    /// What to write instead, printed by `main` on its own `hint:` line.
    pub hint: Option<String>,
}

impl UsageError {
    pub fn new(message: impl Into<String>) -> Self {
        UsageError {
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}
