//! The scheduling queue, as kube-scheduler keeps it: an active queue ordered by priority
//! then arrival, pods waiting out a back-off after a failed binding, and unschedulable
//! pods parked until the cluster changes in a way that could help them (or 5 minutes
//! pass). Time is passed in, so tests need no clock.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use tokio::time::Instant;

/// namespace/name
pub type Key = (String, String);

pub fn key_of(pod: &Pod) -> Key {
    (pod.metadata.namespace.clone().unwrap_or_default(), pod.metadata.name.clone().unwrap_or_default())
}

const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Upstream's podMaxInUnschedulablePodsDuration.
const MAX_UNSCHEDULABLE: Duration = Duration::from_secs(300);

enum Place {
    Active(Reverse<i32>, u64),
    Backoff(Instant),
    Unschedulable(Instant),
}

struct Entry {
    pod: Arc<Pod>,
    place: Place,
}

#[derive(Default)]
pub struct Queue {
    entries: HashMap<Key, Entry>,
    active: BTreeSet<(Reverse<i32>, u64, Key)>,
    seq: u64,
    /// Failed attempts per pod, kept while the pod is out being scheduled.
    attempts: HashMap<Key, u32>,
    /// When each backed-off or parked pod becomes due again.
    timers: BTreeSet<(Instant, Key)>,
}

impl Queue {
    pub fn new() -> Queue {
        Queue::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn contains(&self, key: &Key) -> bool {
        self.entries.contains_key(key)
    }

    fn push_active(&mut self, key: Key, pod: Arc<Pod>) {
        let prio = Reverse(pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0));
        self.seq += 1;
        self.active.insert((prio, self.seq, key.clone()));
        self.entries.insert(key, Entry { pod, place: Place::Active(prio, self.seq) });
    }

    fn failed(&mut self, key: &Key) -> u32 {
        let a = self.attempts.entry(key.clone()).or_insert(0);
        *a += 1;
        *a
    }

    fn take(&mut self, key: &Key) -> Option<Entry> {
        let e = self.entries.remove(key)?;
        match e.place {
            Place::Active(p, s) => {
                self.active.remove(&(p, s, key.clone()));
            }
            Place::Backoff(until) => {
                self.timers.remove(&(until, key.clone()));
            }
            Place::Unschedulable(since) => {
                self.timers.remove(&(since + MAX_UNSCHEDULABLE, key.clone()));
            }
        }
        Some(e)
    }

    fn park(&mut self, key: Key, pod: Arc<Pod>, place: Place) {
        let due = match place {
            Place::Backoff(until) => until,
            Place::Unschedulable(since) => since + MAX_UNSCHEDULABLE,
            Place::Active(..) => return self.push_active(key, pod),
        };
        self.timers.insert((due, key.clone()));
        self.entries.insert(key, Entry { pod, place });
    }

    /// A pending pod was seen (added or changed). An unschedulable pod whose spec
    /// changed gets another try at once, as upstream does on pod updates.
    pub fn add_or_update(&mut self, pod: Arc<Pod>) {
        let key = key_of(&pod);
        match self.entries.get_mut(&key) {
            None => self.push_active(key, pod),
            Some(e) => {
                let spec_changed = e.pod.spec != pod.spec || e.pod.metadata.labels != pod.metadata.labels;
                if spec_changed && matches!(e.place, Place::Unschedulable(_)) {
                    self.take(&key);
                    self.push_active(key, pod);
                } else {
                    e.pod = pod;
                }
            }
        }
    }

    /// The pod is bound or gone: forget it entirely.
    pub fn remove(&mut self, key: &Key) {
        self.take(key);
        self.attempts.remove(key);
    }

    /// The next pod to schedule, after moving pods whose back-off or unschedulable
    /// period is over into the active queue.
    pub fn pop(&mut self, now: Instant) -> Option<Arc<Pod>> {
        while let Some((due, k)) = self.timers.first().cloned() {
            if due > now {
                break;
            }
            if let Some(e) = self.take(&k) {
                self.push_active(k, e.pod);
            }
        }
        let first = self.active.iter().next().cloned()?;
        self.active.remove(&first);
        let e = self.entries.remove(&first.2)?;
        Some(e.pod)
    }

    /// No node fits: park the pod until the cluster changes.
    pub fn unschedulable(&mut self, pod: Arc<Pod>, now: Instant) {
        let key = key_of(&pod);
        self.take(&key);
        self.failed(&key);
        self.park(key, pod, Place::Unschedulable(now));
    }

    /// Binding failed: retry after an exponential back-off (1 s doubling to 10 s).
    pub fn backoff(&mut self, pod: Arc<Pod>, now: Instant) {
        let key = key_of(&pod);
        self.take(&key);
        let attempts = self.failed(&key);
        let delay = INITIAL_BACKOFF.saturating_mul(1 << (attempts - 1).min(4)).min(MAX_BACKOFF);
        self.park(key, pod, Place::Backoff(now + delay));
    }

    /// A node appeared or changed, or a pod went away: every parked pod may fit now.
    pub fn cluster_changed(&mut self) {
        let parked: Vec<Key> = self.entries.iter().filter(|(_, e)| matches!(e.place, Place::Unschedulable(_))).map(|(k, _)| k.clone()).collect();
        for k in parked {
            if let Some(e) = self.take(&k) {
                self.push_active(k, e.pod);
            }
        }
    }

    /// When the loop must wake up with no input: the earliest back-off or unschedulable expiry.
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.timers.first().map(|(t, _)| *t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, prio: i32) -> Arc<Pod> {
        Arc::new(serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default"}, "spec": {"priority": prio, "containers": []}})).expect("pod"))
    }

    #[test]
    fn priority_then_arrival() {
        let mut q = Queue::new();
        let now = Instant::now();
        q.add_or_update(pod("a", 0));
        q.add_or_update(pod("b", 10));
        q.add_or_update(pod("c", 0));
        let order: Vec<String> = std::iter::from_fn(|| q.pop(now)).filter_map(|p| p.metadata.name.clone()).collect();
        assert_eq!(order, ["b", "a", "c"]);
    }

    #[test]
    fn unschedulable_waits_for_a_cluster_change_or_five_minutes() {
        let mut q = Queue::new();
        let now = Instant::now();
        q.unschedulable(pod("a", 0), now);
        assert!(q.pop(now).is_none());
        assert!(q.pop(now + Duration::from_secs(299)).is_none());
        assert!(q.pop(now + Duration::from_secs(300)).is_some());
        q.unschedulable(pod("a", 0), now);
        q.cluster_changed();
        assert_eq!(q.pop(now).and_then(|p| p.metadata.name.clone()).as_deref(), Some("a"));
    }

    #[test]
    fn a_spec_change_retries_an_unschedulable_pod() {
        let mut q = Queue::new();
        let now = Instant::now();
        q.unschedulable(pod("a", 0), now);
        q.add_or_update(pod("a", 0));
        assert!(q.pop(now).is_none(), "same spec stays parked");
        q.add_or_update(pod("a", 5));
        assert!(q.pop(now).is_some());
    }

    #[test]
    fn backoff_doubles_to_ten_seconds() {
        let mut q = Queue::new();
        let now = Instant::now();
        q.backoff(pod("a", 0), now);
        assert!(q.pop(now + Duration::from_millis(999)).is_none());
        let p = q.pop(now + Duration::from_secs(1)).expect("after 1 s");
        for _ in 0..5 {
            q.backoff(p.clone(), now);
        }
        assert_eq!(q.next_wakeup(), Some(now + Duration::from_secs(10)));
        q.remove(&key_of(&p));
        assert!(q.is_empty());
    }
}
