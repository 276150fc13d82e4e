//! Time, injectable: loops ask a [`Clock`]; the pure reconcile functions take `now` as an
//! argument, so tests pass whatever time they need and never sleep.

use jiff::Timestamp;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// Whole seconds, as the API serializes times (RFC 3339 without fractions).
pub fn truncate(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}
