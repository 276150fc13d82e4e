//! Controller expectations (upstream `UIDTrackingControllerExpectations`): after asking
//! for N creations or for the deletion of some pods, a controller does not act on the
//! same owner again until its informer has seen them, so that a cache that lags behind
//! its own writes never makes it create or delete twice. Expectations expire after
//! five minutes, in case an event was missed.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

pub const TIMEOUT: Duration = Duration::from_secs(300);

struct Expectation {
    add: i64,
    deletes: HashSet<String>,
    at: Instant,
}

#[derive(Default)]
pub struct Expectations {
    map: Mutex<HashMap<String, Expectation>>,
}

impl Expectations {
    pub fn new() -> Expectations {
        Expectations::default()
    }

    /// Whether the owner `key` may be synced: nothing expected, all of it seen, or expired.
    pub fn satisfied(&self, key: &str) -> bool {
        match self.map.lock().get(key) {
            None => true,
            Some(e) => (e.add <= 0 && e.deletes.is_empty()) || e.at.elapsed() > TIMEOUT,
        }
    }

    pub fn expect_creations(&self, key: &str, n: usize) {
        let mut m = self.map.lock();
        m.insert(key.to_string(), Expectation { add: n as i64, deletes: HashSet::new(), at: Instant::now() });
    }

    pub fn expect_deletions(&self, key: &str, pods: impl IntoIterator<Item = String>) {
        let mut m = self.map.lock();
        m.insert(key.to_string(), Expectation { add: 0, deletes: pods.into_iter().collect(), at: Instant::now() });
    }

    /// Creations and deletions at once (upstream `SetExpectations`, deletions by pod key).
    pub fn expect(&self, key: &str, creations: usize, deletions: impl IntoIterator<Item = String>) {
        let mut m = self.map.lock();
        m.insert(key.to_string(), Expectation { add: creations as i64, deletes: deletions.into_iter().collect(), at: Instant::now() });
    }

    pub fn creation_observed(&self, key: &str) {
        if let Some(e) = self.map.lock().get_mut(key) {
            e.add -= 1;
        }
    }

    pub fn deletion_observed(&self, key: &str, pod: &str) {
        if let Some(e) = self.map.lock().get_mut(key) {
            e.deletes.remove(pod);
        }
    }

    pub fn delete(&self, key: &str) {
        self.map.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn creations_deletions_and_expiry() {
        let e = Expectations::new();
        assert!(e.satisfied("ns/rs"));
        e.expect_creations("ns/rs", 2);
        assert!(!e.satisfied("ns/rs"));
        e.creation_observed("ns/rs");
        assert!(!e.satisfied("ns/rs"));
        e.creation_observed("ns/rs");
        assert!(e.satisfied("ns/rs"));

        e.expect_deletions("ns/rs", ["ns/a".to_string(), "ns/b".to_string()]);
        e.deletion_observed("ns/rs", "ns/a");
        e.deletion_observed("ns/rs", "ns/a");
        assert!(!e.satisfied("ns/rs"));
        tokio::time::advance(TIMEOUT + Duration::from_secs(1)).await;
        assert!(e.satisfied("ns/rs"), "expired");
        e.delete("ns/rs");
        assert!(e.satisfied("ns/rs"));
    }
}
