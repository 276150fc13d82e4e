//! core/v1 Events, as client-go's legacy recorder writes them (what `kubectl describe`
//! reads): one Event per distinct message, repeats counted on the same Event, and
//! upstream's correlator in front so that a controller creating 10,000 pods writes a
//! few dozen Events, not 10,000.
//!
//! The correlator ([`Correlator`]) is pure: given an event and the time, it says whether
//! to create an Event, patch an existing one (count, message, lastTimestamp) or drop it:
//! - spam filter: per source and involved object, a token bucket of 25 that refills one
//!   token every 5 minutes;
//! - aggregation: from the 10th distinct message for the same object, type and reason
//!   within 10 minutes, one Event "(combined from similar events): <message>" stands for
//!   them all;
//! - a repeated message is a count on the Event first written for it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::sync::mpsc;

use crate::clock::Clock;

const SPAM_BURST: f64 = 25.0;
const SPAM_REFILL_SECS: f64 = 300.0;
const AGGREGATE_MAX_EVENTS: usize = 10;
const AGGREGATE_WINDOW_SECS: i64 = 600;
/// Upstream's LRU sizes: beyond this many keys, the oldest are forgotten.
const CACHE_ENTRIES: usize = 4096;

/// An event to record, before correlation.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSpec {
    pub object: ObjectReference,
    pub type_: String,
    pub reason: String,
    pub message: String,
}

/// What to write for one observed event.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// A new Event with this name and message.
    Create { name: String, message: String },
    /// Bump the Event `name` to `count`, with this message.
    Patch { name: String, count: i32, message: String, first: Timestamp },
    Drop,
}

struct Seen {
    name: String,
    count: i32,
    first: Timestamp,
    last: Timestamp,
}

struct Bucket {
    tokens: f64,
    at: Timestamp,
}

struct Similar {
    messages: HashSet<String>,
    last: Timestamp,
}

/// client-go's EventCorrelator: spam filter, aggregator and logger.
pub struct Correlator {
    component: String,
    spam: HashMap<String, Bucket>,
    similar: HashMap<String, Similar>,
    seen: HashMap<String, Seen>,
}

fn object_key(o: &ObjectReference) -> String {
    format!(
        "{}/{}/{}/{}/{}",
        o.kind.as_deref().unwrap_or(""),
        o.namespace.as_deref().unwrap_or(""),
        o.name.as_deref().unwrap_or(""),
        o.uid.as_deref().unwrap_or(""),
        o.api_version.as_deref().unwrap_or("")
    )
}

/// Upstream's event names: the object's name and the time in hex nanoseconds.
pub fn event_name(object: &str, now: Timestamp) -> String {
    format!("{object}.{:x}", now.as_nanosecond().max(0))
}

impl Correlator {
    pub fn new(component: &str) -> Correlator {
        Correlator { component: component.to_string(), spam: HashMap::new(), similar: HashMap::new(), seen: HashMap::new() }
    }

    pub fn observe(&mut self, ev: &EventSpec, now: Timestamp) -> Decision {
        let object = object_key(&ev.object);
        // Spam filter.
        let spam_key = format!("{}|{object}|{}|{}", self.component, ev.type_, ev.reason);
        let bucket = self.spam.entry(spam_key).or_insert(Bucket { tokens: SPAM_BURST, at: now });
        let elapsed = now.duration_since(bucket.at).as_secs() as f64;
        bucket.tokens = (bucket.tokens + elapsed.max(0.0) / SPAM_REFILL_SECS).min(SPAM_BURST);
        bucket.at = now;
        if bucket.tokens < 1.0 {
            return Decision::Drop;
        }
        bucket.tokens -= 1.0;

        // Aggregation of similar events (same object, type and reason).
        let aggregate_key = format!("{}|{object}|{}|{}", self.component, ev.type_, ev.reason);
        let similar = self.similar.entry(aggregate_key.clone()).or_insert(Similar { messages: HashSet::new(), last: now });
        if now.duration_since(similar.last).as_secs() > AGGREGATE_WINDOW_SECS {
            similar.messages.clear();
        }
        similar.last = now;
        similar.messages.insert(ev.message.clone());
        let (key, message) = if similar.messages.len() < AGGREGATE_MAX_EVENTS {
            (format!("{aggregate_key}|{}", ev.message), ev.message.clone())
        } else {
            // Keep the set bounded, as upstream pops one.
            if let Some(any) = similar.messages.iter().next().cloned() {
                similar.messages.remove(&any);
            }
            (aggregate_key, format!("(combined from similar events): {}", ev.message))
        };

        // Repeats of the same key count on one Event.
        let decision = match self.seen.get_mut(&key) {
            Some(seen) if now.duration_since(seen.last).as_secs() <= AGGREGATE_WINDOW_SECS => {
                seen.count += 1;
                seen.last = now;
                Decision::Patch { name: seen.name.clone(), count: seen.count, message, first: seen.first }
            }
            _ => {
                let name = event_name(ev.object.name.as_deref().unwrap_or("unknown"), now);
                self.seen.insert(key, Seen { name: name.clone(), count: 1, first: now, last: now });
                Decision::Create { name, message }
            }
        };
        self.prune(now);
        decision
    }

    fn prune(&mut self, now: Timestamp) {
        let old = |t: Timestamp| now.duration_since(t).as_secs() > AGGREGATE_WINDOW_SECS;
        if self.seen.len() > CACHE_ENTRIES {
            self.seen.retain(|_, s| !old(s.last));
            if self.seen.len() > CACHE_ENTRIES {
                self.seen.clear();
            }
        }
        if self.similar.len() > CACHE_ENTRIES {
            self.similar.retain(|_, s| !old(s.last));
            if self.similar.len() > CACHE_ENTRIES {
                self.similar.clear();
            }
        }
        if self.spam.len() > CACHE_ENTRIES {
            // A bucket idle for 25 refills is full again: forgetting it changes nothing.
            self.spam.retain(|_, b| now.duration_since(b.at).as_secs() as f64 <= SPAM_BURST * SPAM_REFILL_SECS);
            if self.spam.len() > CACHE_ENTRIES {
                self.spam.clear();
            }
        }
    }
}

/// Writes events in the background for one component (`source.component`).
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::UnboundedSender<EventSpec>,
}

impl Recorder {
    pub fn new(client: kube::Client, component: &str, clock: Arc<dyn Clock>) -> Recorder {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_events(client, component.to_string(), clock, rx));
        Recorder { tx }
    }

    /// A recorder that drops everything (tests).
    pub fn discard() -> Recorder {
        let (tx, _) = mpsc::unbounded_channel();
        Recorder { tx }
    }

    pub fn event(&self, object: ObjectReference, type_: &str, reason: &str, message: impl Into<String>) {
        let _ = self.tx.send(EventSpec { object, type_: type_.to_string(), reason: reason.to_string(), message: message.into() });
    }

    pub fn normal(&self, object: ObjectReference, reason: &str, message: impl Into<String>) {
        self.event(object, "Normal", reason, message)
    }

    pub fn warning(&self, object: ObjectReference, reason: &str, message: impl Into<String>) {
        self.event(object, "Warning", reason, message)
    }
}

/// An ObjectReference for `involvedObject`.
pub fn reference<K: kube::Resource<DynamicType = ()>>(obj: &K) -> ObjectReference {
    let meta = obj.meta();
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        field_path: None,
    }
}

async fn write_events(client: kube::Client, component: String, clock: Arc<dyn Clock>, mut rx: mpsc::UnboundedReceiver<EventSpec>) {
    let mut correlator = Correlator::new(&component);
    while let Some(ev) = rx.recv().await {
        let now = clock.now();
        // Cluster-scoped objects' events live in "default", as upstream.
        let ns = ev.object.namespace.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| "default".into());
        let events: Api<Event> = Api::namespaced(client.clone(), &ns);
        let create = |name: String, message: String, first: Timestamp, count: i32| Event {
            metadata: ObjectMeta { name: Some(name), namespace: Some(ns.clone()), ..Default::default() },
            involved_object: ev.object.clone(),
            reason: Some(ev.reason.clone()),
            message: Some(message),
            type_: Some(ev.type_.clone()),
            source: Some(EventSource { component: Some(component.clone()), host: None }),
            reporting_component: Some(component.clone()),
            reporting_instance: Some(component.clone()),
            first_timestamp: Some(Time(first)),
            last_timestamp: Some(Time(now)),
            count: Some(count),
            ..Default::default()
        };
        match correlator.observe(&ev, now) {
            Decision::Drop => {}
            Decision::Create { name, message } => {
                if let Err(e) = events.create(&PostParams::default(), &create(name, message, now, 1)).await {
                    tracing::debug!("event {}/{}: {e}", ns, ev.reason);
                }
            }
            Decision::Patch { name, count, message, first } => {
                let patch = json!({"count": count, "message": message, "lastTimestamp": Time(now)});
                match events.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 => {
                        let fresh = event_name(ev.object.name.as_deref().unwrap_or("unknown"), now);
                        let _ = events.create(&PostParams::default(), &create(fresh, message, first, count)).await;
                    }
                    Err(e) => tracing::debug!("event {}/{name}: {e}", ns),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, reason: &str, message: &str) -> EventSpec {
        EventSpec {
            object: ObjectReference { kind: Some("ReplicaSet".into()), name: Some(name.into()), namespace: Some("default".into()), uid: Some("u1".into()), ..Default::default() },
            type_: "Normal".into(),
            reason: reason.into(),
            message: message.into(),
        }
    }

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn repeats_count_on_one_event() {
        let mut c = Correlator::new("replicaset-controller");
        let Decision::Create { name, .. } = c.observe(&spec("rs", "FailedCreate", "quota"), t(0)) else { panic!() };
        match c.observe(&spec("rs", "FailedCreate", "quota"), t(1)) {
            Decision::Patch { name: n, count, .. } => {
                assert_eq!(n, name);
                assert_eq!(count, 2);
            }
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn similar_messages_are_combined_after_ten_and_spam_is_dropped_after_25() {
        let mut c = Correlator::new("replicaset-controller");
        let mut creates = 0;
        let mut patches = 0;
        let mut drops = 0;
        let mut combined = None;
        for i in 0..1000 {
            match c.observe(&spec("rs", "SuccessfulCreate", &format!("Created pod: rs-{i}")), t(0)) {
                Decision::Create { message, name } => {
                    creates += 1;
                    if message.starts_with("(combined from similar events): ") {
                        combined = Some(name);
                    }
                }
                Decision::Patch { message, .. } => {
                    assert!(message.starts_with("(combined from similar events): Created pod: rs-"));
                    patches += 1
                }
                Decision::Drop => drops += 1,
            }
        }
        assert_eq!(creates, 10, "9 distinct events and one combined event");
        assert!(combined.is_some());
        assert_eq!(creates + patches, 25);
        assert_eq!(drops, 975);
        // Five minutes later one more token.
        assert_ne!(c.observe(&spec("rs", "SuccessfulCreate", "Created pod: late"), t(301)), Decision::Drop);
        // Other objects are not affected.
        assert!(matches!(c.observe(&spec("other", "SuccessfulCreate", "Created pod: x"), t(0)), Decision::Create { .. }));
    }

    #[test]
    fn names_are_object_dot_hex_nanos() {
        assert_eq!(event_name("web", Timestamp::from_second(1).unwrap_or(Timestamp::UNIX_EPOCH)), "web.3b9aca00");
    }
}
