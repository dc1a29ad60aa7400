//! Human or JSON-lines output, and the CLI's one error type.

use std::fmt;

/// Where results go: human text by default, one JSON object per line with `--json`.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// Print JSON lines instead of human text.
    pub json: bool,
    /// Do not log connections to stderr (for nodes run inside other commands, like the demo).
    pub quiet: bool,
}

impl Output {
    /// Prints one result: `human` in human mode, `json` as a single line in JSON mode.
    pub fn emit(&self, human: impl fmt::Display, json: serde_json::Value) {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        let written = if self.json {
            writeln!(stdout, "{json}")
        } else {
            writeln!(stdout, "{human}")
        };
        if let Err(e) = written.and_then(|()| stdout.flush()) {
            // The reader went away (`peernet … | head`): stop quietly, like other CLI tools.
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            eprintln!("error: cannot write to stdout: {e}");
            std::process::exit(1);
        }
    }
}

impl Output {
    /// Whether progress lines can be redrawn in place: human mode on a terminal.
    pub fn live(&self) -> bool {
        use std::io::IsTerminal;
        !self.json && std::io::stdout().is_terminal()
    }

    /// Redraws the live progress line (human mode on a terminal only; a no-op otherwise).
    pub fn progress(&self, line: impl fmt::Display) {
        use std::io::Write;
        if !self.live() {
            return;
        }
        let mut stdout = std::io::stdout().lock();
        // Carriage return, the line, then erase whatever the previous line left to its right.
        let _ = write!(stdout, "\r{line}\x1b[K").and_then(|()| stdout.flush());
    }

    /// Ends a live progress line so that the next output starts on a line of its own.
    pub fn end_progress(&self) {
        if self.live() {
            println!();
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
