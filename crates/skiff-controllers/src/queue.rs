//! A work queue with client-go's semantics: a key is queued at most once, is never
//! handed to two workers at the same time (a key added while being processed is queued
//! again when its worker is done), can be added after a delay, and failing keys back
//! off exponentially (5 ms doubling, at most 1000 s, as upstream's default rate limiter).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

const BASE_DELAY: Duration = Duration::from_millis(5);
const MAX_DELAY: Duration = Duration::from_secs(1000);

struct State<K> {
    queue: VecDeque<K>,
    dirty: HashSet<K>,
    processing: HashSet<K>,
    failures: HashMap<K, u32>,
    /// Keys waiting for their time, earliest first (with a sequence number for ties).
    waiting: BTreeSet<(Instant, u64)>,
    waiting_keys: HashMap<u64, K>,
    waiting_at: HashMap<K, (Instant, u64)>,
    seq: u64,
}

pub struct Queue<K> {
    state: Mutex<State<K>>,
    notify: Notify,
}

/// Exponential back-off for the n-th consecutive failure (1-based).
pub fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(40);
    BASE_DELAY.checked_mul(1u32 << exp.min(31)).unwrap_or(MAX_DELAY).min(MAX_DELAY)
}

impl<K: Hash + Eq + Clone + Send + 'static> Queue<K> {
    pub fn new() -> Queue<K> {
        Queue {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                dirty: HashSet::new(),
                processing: HashSet::new(),
                failures: HashMap::new(),
                waiting: BTreeSet::new(),
                waiting_keys: HashMap::new(),
                waiting_at: HashMap::new(),
                seq: 0,
            }),
            notify: Notify::new(),
        }
    }

    pub fn add(&self, key: K) {
        let mut s = self.state.lock();
        Self::add_locked(&mut s, key, &self.notify);
    }

    fn add_locked(s: &mut State<K>, key: K, notify: &Notify) {
        if s.dirty.contains(&key) {
            return;
        }
        s.dirty.insert(key.clone());
        if s.processing.contains(&key) {
            return;
        }
        s.queue.push_back(key);
        notify.notify_one();
    }

    /// Adds the key once `after` has passed (keeping the earlier time if it already waits).
    pub fn add_after(&self, key: K, after: Duration) {
        if after.is_zero() {
            return self.add(key);
        }
        let at = Instant::now() + after;
        let mut s = self.state.lock();
        if let Some(&(when, seq)) = s.waiting_at.get(&key) {
            if when <= at {
                return;
            }
            s.waiting.remove(&(when, seq));
            s.waiting_keys.remove(&seq);
        }
        s.seq += 1;
        let seq = s.seq;
        s.waiting.insert((at, seq));
        s.waiting_keys.insert(seq, key.clone());
        s.waiting_at.insert(key, (at, seq));
        drop(s);
        // A sleeping worker may need to wake earlier now.
        self.notify.notify_waiters();
    }

    /// Adds the key after its back-off (one more failure).
    pub fn add_rate_limited(&self, key: K) {
        let n = {
            let mut s = self.state.lock();
            let n = s.failures.entry(key.clone()).or_insert(0);
            *n += 1;
            *n
        };
        self.add_after(key, backoff(n));
    }

    /// The key succeeded: its back-off starts over.
    pub fn forget(&self, key: &K) {
        self.state.lock().failures.remove(key);
    }

    pub fn failures(&self, key: &K) -> u32 {
        self.state.lock().failures.get(key).copied().unwrap_or(0)
    }

    /// Moves keys whose time has come to the queue; returns when the next one is due.
    fn promote(s: &mut State<K>, now: Instant, notify: &Notify) -> Option<Instant> {
        while let Some(&(at, seq)) = s.waiting.iter().next() {
            if at > now {
                return Some(at);
            }
            s.waiting.remove(&(at, seq));
            if let Some(key) = s.waiting_keys.remove(&seq) {
                s.waiting_at.remove(&key);
                Self::add_locked(s, key, notify);
            }
        }
        None
    }

    /// The next key to process; call [`Queue::done`] with it afterwards.
    pub async fn get(&self) -> K {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wake = {
                let mut s = self.state.lock();
                let wake = Self::promote(&mut s, Instant::now(), &self.notify);
                if let Some(key) = s.queue.pop_front() {
                    s.dirty.remove(&key);
                    s.processing.insert(key.clone());
                    return key;
                }
                wake
            };
            match wake {
                Some(at) => {
                    tokio::select! {
                        _ = &mut notified => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    pub fn done(&self, key: &K) {
        let mut s = self.state.lock();
        s.processing.remove(key);
        if s.dirty.contains(key) {
            s.queue.push_back(key.clone());
            self.notify.notify_one();
        }
    }

    pub fn len(&self) -> usize {
        self.state.lock().queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K: Hash + Eq + Clone + Send + 'static> Default for Queue<K> {
    fn default() -> Self {
        Queue::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn dedup_processing_and_requeue() {
        let q = Arc::new(Queue::new());
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        let k = q.get().await;
        assert_eq!(k, "a");
        // Added while processing: not handed out again until done.
        q.add("a");
        assert_eq!(q.get().await, "b");
        assert!(q.is_empty());
        q.done(&"a");
        assert_eq!(q.get().await, "a");
        q.done(&"a");
        q.done(&"b");
        assert!(q.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn delays_and_backoff() {
        let q = Arc::new(Queue::new());
        q.add_after("late", Duration::from_secs(10));
        q.add_after("early", Duration::from_secs(1));
        let start = Instant::now();
        assert_eq!(q.get().await, "early");
        assert_eq!(q.get().await, "late");
        assert!(Instant::now() - start >= Duration::from_secs(10));
        assert_eq!(backoff(1), Duration::from_millis(5));
        assert_eq!(backoff(3), Duration::from_millis(20));
        assert_eq!(backoff(100), MAX_DELAY);
        q.add_rate_limited("x");
        q.add_rate_limited("x");
        assert_eq!(q.failures(&"x"), 2);
        q.forget(&"x");
        assert_eq!(q.failures(&"x"), 0);
    }
}
