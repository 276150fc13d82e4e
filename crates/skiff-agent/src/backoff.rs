//! The kubelet's crash-loop back-off: a container that keeps exiting is restarted after
//! 10 s, then 20 s, 40 s… up to 5 min (`CrashLoopBackOff`). A container that ran for more
//! than twice the cap (10 min) since its last restart starts over at no delay.
//!
//! This is client-go's `flowcontrol.Backoff` as the kubelet drives it (`doBackOff`): on
//! each exit, the restart is due `backoff` after the exit; the first exit restarts at
//! once. Time is passed in, so tests need no clock.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Container, Pod};

/// The kubelet's initial back-off.
pub const INITIAL: Duration = Duration::from_secs(10);
/// The kubelet's cap (`MaxContainerBackOff`).
pub const MAX: Duration = Duration::from_secs(300);

/// Waiting reason while a restart is held back.
pub const REASON_CRASH_LOOP: &str = "CrashLoopBackOff";
/// Event reason for a held-back restart.
pub const REASON_BACKOFF_EVENT: &str = "BackOff";

#[derive(Debug, Clone, Copy)]
struct Entry {
    backoff: Duration,
    /// When the back-off was last advanced: the container's last (re)start.
    last_update: Instant,
}

/// Per-container back-off, keyed by any stable string (e.g. [`stable_key`]).
#[derive(Debug, Clone)]
pub struct CrashBackoff {
    initial: Duration,
    max: Duration,
    entries: HashMap<String, Entry>,
}

impl Default for CrashBackoff {
    fn default() -> Self {
        CrashBackoff::new(INITIAL, MAX)
    }
}

impl CrashBackoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        CrashBackoff { initial, max, entries: HashMap::new() }
    }

    /// A container exited at `exited_at`: how long to wait before restarting it. Zero for
    /// a first exit, or after it ran longer than twice the cap; otherwise the current
    /// back-off (10 s, 20 s, … 5 min), which is then doubled for the next exit, as if the
    /// restart happens when due. Use [`message`] for the waiting state while it waits.
    pub fn next(&mut self, key: &str, exited_at: Instant) -> Duration {
        match self.entries.get_mut(key) {
            Some(e) if !expired(exited_at, e.last_update, self.max) => {
                let delay = e.backoff;
                e.backoff = (e.backoff * 2).min(self.max);
                e.last_update = exited_at + delay;
                delay
            }
            _ => {
                self.entries.insert(key.to_string(), Entry { backoff: self.initial, last_update: exited_at });
                Duration::ZERO
            }
        }
    }

    /// The back-off the next exit of `key` would wait (zero when none is recorded).
    pub fn get(&self, key: &str) -> Duration {
        self.entries.get(key).map(|e| e.backoff).unwrap_or_default()
    }

    /// Upstream's `IsInBackOffSince`: whether a container that exited at `exited_at`
    /// must still wait at `now`.
    pub fn is_in_backoff_since(&self, key: &str, exited_at: Instant, now: Instant) -> bool {
        match self.entries.get(key) {
            Some(e) if !expired(exited_at, e.last_update, self.max) => now.saturating_duration_since(exited_at) < e.backoff,
            _ => false,
        }
    }

    /// Forgets a container (its pod is gone, or its spec changed).
    pub fn reset(&mut self, key: &str) {
        self.entries.remove(key);
    }

    /// Drops entries not touched for twice the cap, as the kubelet's periodic GC does.
    pub fn gc(&mut self, now: Instant) {
        let max = self.max;
        self.entries.retain(|_, e| now.saturating_duration_since(e.last_update) <= max * 2);
    }
}

/// An entry is stale once the container ran for more than twice the cap since its last restart.
fn expired(event: Instant, last_update: Instant, max: Duration) -> bool {
    event.saturating_duration_since(last_update) > max * 2
}

/// The kubelet's `format.Pod`: `name_namespace(uid)`.
pub fn format_pod(namespace: &str, name: &str, uid: &str) -> String {
    format!("{name}_{namespace}({uid})")
}

/// The message of the `CrashLoopBackOff` waiting state:
/// `back-off 20s restarting failed container=web pod=web-0_default(uid)`.
pub fn message(delay: Duration, container: &str, namespace: &str, pod: &str, uid: &str) -> String {
    format!("back-off {} restarting failed container={container} pod={}", go_duration(delay), format_pod(namespace, pod, uid))
}

/// The message of the `BackOff` Event:
/// `Back-off restarting failed container web in pod web-0_default(uid)`.
pub fn event_message(container: &str, namespace: &str, pod: &str, uid: &str) -> String {
    format!("Back-off restarting failed container {container} in pod {}", format_pod(namespace, pod, uid))
}

/// A key that changes when the container's spec does, so that a changed container
/// starts without back-off, like the kubelet's `getStableKey` (name, namespace, uid,
/// container name and a hash of the container).
pub fn stable_key(pod: &Pod, container: &Container) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(container).unwrap_or_default().hash(&mut h);
    let m = &pod.metadata;
    format!(
        "{}_{}_{}_{}_{:x}",
        m.name.as_deref().unwrap_or(""),
        m.namespace.as_deref().unwrap_or(""),
        m.uid.as_deref().unwrap_or(""),
        container.name,
        h.finish()
    )
}

/// Go's `time.Duration.String()` (`10s`, `1m20s`, `5m0s`, `1.5s`, `500ms`).
pub fn go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000_000_000 {
        // Sub-second: the largest unit that keeps an integer part.
        let (unit, div) = if nanos < 1_000 {
            ("ns", 1u128)
        } else if nanos < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", fraction(nanos, div));
    }
    let total_secs = nanos / 1_000_000_000;
    let frac = nanos % 1_000_000_000;
    let hours = total_secs / 3600;
    let minutes = (total_secs % 3600) / 60;
    let secs = total_secs % 60;
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&fraction(u128::from(secs as u64) * 1_000_000_000 + frac, 1_000_000_000));
    out.push('s');
    out
}

/// `n / div` with the fraction's trailing zeros dropped.
fn fraction(n: u128, div: u128) -> String {
    let whole = n / div;
    let rem = n % div;
    if rem == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let digits = format!("{rem:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn doubles_from_ten_seconds_to_five_minutes() {
        let mut b = CrashBackoff::default();
        let t0 = Instant::now();
        let mut t = t0;
        let mut delays = Vec::new();
        for _ in 0..8 {
            let d = b.next("c", t);
            delays.push(d.as_secs());
            // The container runs one second after each restart, then exits again.
            t += d + S(1);
        }
        assert_eq!(delays, vec![0, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(b.get("c"), S(300));
    }

    #[test]
    fn resets_after_running_longer_than_twice_the_cap() {
        let mut b = CrashBackoff::default();
        let t0 = Instant::now();
        assert_eq!(b.next("c", t0), S(0));
        assert_eq!(b.next("c", t0 + S(5)), S(10));
        // Restarted at t0+15; ran exactly 10 minutes: still counts as crashing.
        assert_eq!(b.next("c", t0 + S(15) + S(600)), S(20));
        // Restarted at t0+635; ran 10 minutes and a second: starts over.
        assert_eq!(b.next("c", t0 + S(635) + S(601)), S(0));
        assert_eq!(b.next("c", t0 + S(1240)), S(10));
    }

    #[test]
    fn keys_are_independent_and_gc_forgets_stale_ones() {
        let mut b = CrashBackoff::default();
        let t0 = Instant::now();
        b.next("a", t0);
        assert_eq!(b.next("a", t0 + S(1)), S(10));
        assert_eq!(b.next("b", t0 + S(1)), S(0));
        assert!(b.is_in_backoff_since("a", t0 + S(30), t0 + S(35)));
        assert!(!b.is_in_backoff_since("a", t0 + S(30), t0 + S(60)));
        assert!(!b.is_in_backoff_since("zzz", t0, t0));
        b.gc(t0 + S(100));
        assert_eq!(b.get("a"), S(20));
        b.gc(t0 + S(11) + S(601));
        assert_eq!(b.get("a"), S(0));
        b.next("b", t0 + S(2));
        b.reset("b");
        assert_eq!(b.next("b", t0 + S(3)), S(0));
    }

    #[test]
    fn messages_as_kubelet_words_them() {
        assert_eq!(message(S(10), "web", "default", "web-0", "u-1"), "back-off 10s restarting failed container=web pod=web-0_default(u-1)");
        assert_eq!(message(S(80), "web", "ns", "p", "u"), "back-off 1m20s restarting failed container=web pod=p_ns(u)");
        assert_eq!(message(S(300), "web", "ns", "p", "u"), "back-off 5m0s restarting failed container=web pod=p_ns(u)");
        assert_eq!(event_message("web", "default", "web-0", "u-1"), "Back-off restarting failed container web in pod web-0_default(u-1)");
    }

    #[test]
    fn go_durations() {
        let cases = [
            (Duration::ZERO, "0s"),
            (S(1), "1s"),
            (S(60), "1m0s"),
            (S(3600), "1h0m0s"),
            (S(3661), "1h1m1s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_micros(1500), "1.5ms"),
            (Duration::from_nanos(42), "42ns"),
            (Duration::from_nanos(2_500), "2.5µs"),
            (Duration::from_millis(61_250), "1m1.25s"),
        ];
        for (d, want) in cases {
            assert_eq!(go_duration(d), want);
        }
    }

    #[test]
    fn stable_key_follows_the_spec() {
        let pod = Pod {
            metadata: ObjectMeta { name: Some("p".into()), namespace: Some("ns".into()), uid: Some("u".into()), ..Default::default() },
            ..Default::default()
        };
        let a = Container { name: "c".into(), image: Some("one".into()), ..Default::default() };
        let b = Container { image: Some("two".into()), ..a.clone() };
        assert!(stable_key(&pod, &a).starts_with("p_ns_u_c_"));
        assert_eq!(stable_key(&pod, &a), stable_key(&pod, &a.clone()));
        assert_ne!(stable_key(&pod, &a), stable_key(&pod, &b));
    }
}
