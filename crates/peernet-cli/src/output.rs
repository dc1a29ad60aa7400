//! Human or JSON-lines output, and the CLI's one error type.

use std::fmt;

/// Where results go: human text by default, one JSON object per line with `--json`.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// Print JSON lines instead of human text.
    pub json: bool,
}

impl Output {
    /// Prints one result: `human` in human mode, `json` as a single line in JSON mode.
    pub fn emit(&self, human: impl fmt::Display, json: serde_json::Value) {
        if self.json {
            println!("{json}");
        } else {
            println!("{human}");
        }
    }
}

/// A failure of a command: printed as `error: …` on stderr, exit code 1.
#[derive(Debug)]
pub struct CliError(pub String);

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for CliError {
    fn from(e: E) -> Self {
        // Include the chain of causes on one line.
        let mut msg = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            source = s.source();
        }
        CliError(msg)
    }
}

/// The CLI's result type.
pub type Result<T> = std::result::Result<T, CliError>;

/// Error for a command whose capability has not landed yet.
pub fn not_implemented(what: &str) -> CliError {
    CliError(format!(
        "`peernet {what}` is not implemented yet in this version"
    ))
}
