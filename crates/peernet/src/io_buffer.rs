//! When a driver gives its read buffer back: the one rule the Noise and yamux drivers share, so
//! that ten thousand quiet connections hold no buffer memory and a bulk transfer never waits on
//! an allocation.
//!
//! A driver starts each connection with a small read buffer and grows it only while reads fill
//! it. Each time the socket runs dry with nothing left unconsumed in the buffer, it asks
//! [`IdleRelease::on_dry`]:
//! - a buffer that never grew past its first size goes at once: the connection is not
//!   streaming, and the next read starts with a small stack probe instead;
//! - a buffer a transfer grew goes after [`QUIET_SPELLS`] such dry spells in a row that each
//!   followed a small read (smaller than the first size). A byte-stream driver has no clock to
//!   tell an idle connection from a pause in a transfer; a run of small reads tells it.
//!
//! The yamux driver has a timer (its keep-alive) and also gives everything back at a tick that
//! saw few reads.

/// Dry spells after small reads, in a row, after which a grown buffer is released; also the
/// number of small flushes in a row after which the Noise driver releases a grown write
/// buffer.
pub(crate) const QUIET_SPELLS: u32 = 4;

/// The release rule of one connection's read buffer (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct IdleRelease {
    /// The buffer's first size: reads below it are small.
    first_size: usize,
    /// Bytes the last read returned, until the socket next runs dry.
    last_read: Option<usize>,
    /// Dry spells in a row that followed a small read.
    quiet: u32,
}

impl IdleRelease {
    /// The rule for a buffer that starts at `first_size` bytes.
    pub(crate) fn new(first_size: usize) -> IdleRelease {
        IdleRelease {
            first_size,
            last_read: None,
            quiet: 0,
        }
    }

    /// A read from the socket returned `n` bytes.
    pub(crate) fn on_read(&mut self, n: usize) {
        self.last_read = Some(n);
        if n >= self.first_size {
            self.quiet = 0;
        }
    }

    /// The socket ran dry with nothing left unconsumed in a buffer of `size` bytes: whether to
    /// release it now. A dry spell counts once however often the driver is polled during it.
    pub(crate) fn on_dry(&mut self, size: usize) -> bool {
        if self.last_read.take().is_some_and(|n| n < self.first_size) {
            self.quiet += 1;
        }
        let release = size <= self.first_size || self.quiet >= QUIET_SPELLS;
        if release {
            self.quiet = 0;
        }
        release
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_that_never_grew_goes_at_the_first_dry_spell() {
        let mut rule = IdleRelease::new(4096);
        rule.on_read(100);
        assert!(rule.on_dry(4096));
    }

    #[test]
    fn a_grown_buffer_goes_after_a_run_of_small_reads_only() {
        let mut rule = IdleRelease::new(4096);
        for spell in 1..QUIET_SPELLS {
            rule.on_read(100);
            assert!(!rule.on_dry(1 << 20), "spell {spell}");
            // Polled again during the same dry spell: it counts once.
            assert!(!rule.on_dry(1 << 20), "spell {spell}, polled again");
        }
        rule.on_read(100);
        assert!(rule.on_dry(1 << 20));
    }

    #[test]
    fn a_large_read_starts_the_count_again() {
        let mut rule = IdleRelease::new(4096);
        for _ in 1..QUIET_SPELLS {
            rule.on_read(100);
            assert!(!rule.on_dry(1 << 20));
        }
        rule.on_read(64 * 1024);
        assert!(!rule.on_dry(1 << 20));
        rule.on_read(100);
        assert!(
            !rule.on_dry(1 << 20),
            "the count started again at the large read"
        );
    }
}
