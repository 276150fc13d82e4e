//! Resource usage for `kubectl top`: the node's CPU and memory from /proc, each running
//! container's from the runtime ([`crate::server::Backend::usage`]).
//!
//! CPU usage comes as a cumulative count of nanoseconds; a rate (nano-cores) needs two
//! samples. A background task samples every [`SAMPLE_PERIOD`] and keeps a short history;
//! a request takes a fresh sample and compares it with the newest kept sample that is at
//! least [`MIN_WINDOW`] older and knows the same container. A container seen for the first
//! time has no rate yet and is left out, as metrics-server does.
//!
//! `GET /stats/summary` answers with the shape of the kubelet's Summary API (a subset:
//! `node` and `pods[].containers[]` with `cpu` and `memory`), plus `cpu.window`, the Go
//! duration between the two samples, which the API server reports as the metrics window.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::{json, Value};

use crate::server::{Backend, PodUsage};

/// How often the background task samples.
pub const SAMPLE_PERIOD: Duration = Duration::from_secs(5);
/// The shortest window a rate is computed over.
pub const MIN_WINDOW: Duration = Duration::from_millis(900);
/// Samples kept (covering SAMPLE_PERIOD × this).
const KEEP: usize = 6;

/// Cumulative CPU time and current memory of the node, from /proc.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeUsage {
    pub cpu_usage_ns: u64,
    pub memory_working_set_bytes: u64,
    pub memory_available_bytes: u64,
    pub memory_usage_bytes: u64,
}

/// A pod's key: (namespace, name).
pub type PodKey = (String, String);
/// A container's reading: (name, cumulative cpu ns, working set bytes).
pub type ContainerReading = (String, u64, u64);

/// One sample of everything.
#[derive(Debug, Clone)]
pub struct Sample {
    pub at: Instant,
    pub time: Timestamp,
    pub node: Option<NodeUsage>,
    pub pods: HashMap<PodKey, Vec<ContainerReading>>,
}

impl Sample {
    pub fn take(backend: &dyn Backend) -> Sample {
        let node = read_node_usage();
        Sample::from_parts(Instant::now(), Timestamp::now(), node, backend.usage())
    }

    pub fn from_parts(at: Instant, time: Timestamp, node: Option<NodeUsage>, pods: Vec<PodUsage>) -> Sample {
        let pods = pods
            .into_iter()
            .map(|p| {
                let containers = p.containers.into_iter().map(|c| (c.name, c.cpu_usage_ns, c.memory_working_set_bytes)).collect();
                ((p.namespace, p.name), containers)
            })
            .collect();
        Sample { at, time, node, pods }
    }

    fn container_cpu(&self, pod: &PodKey, container: &str) -> Option<u64> {
        self.pods.get(pod)?.iter().find(|(n, _, _)| n == container).map(|(_, cpu, _)| *cpu)
    }
}

/// The CPU rate in nano-cores between two cumulative readings; None when the window is too
/// short or the counter went backwards (a restarted container).
pub fn cpu_rate(prev_ns: u64, now_ns: u64, window: Duration) -> Option<u64> {
    if window < MIN_WINDOW || now_ns < prev_ns {
        return None;
    }
    let rate = u128::from(now_ns - prev_ns) * 1_000_000_000 / window.as_nanos();
    u64::try_from(rate).ok()
}

/// Go's `time.Duration.String()`, at millisecond precision ("10.005s", "1m0.5s").
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return if d.is_zero() { "0s".to_string() } else { format!("{}µs", d.as_micros()) };
    }
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, frac) = (rest / 1000, rest % 1000);
    let secs = if frac == 0 { format!("{s}s") } else { format!("{s}.{}s", format!("{frac:03}").trim_end_matches('0')) };
    if h > 0 {
        format!("{h}h{m}m{secs}")
    } else if m > 0 {
        format!("{m}m{secs}")
    } else {
        secs
    }
}

/// CPU nanoseconds used by the whole machine, from the first line of /proc/stat
/// (user, nice, system, irq, softirq and steal; not idle or iowait).
pub fn parse_proc_stat(text: &str, ticks_per_second: u64) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line.split_whitespace().skip(1).map(|v| v.parse().unwrap_or(0)).collect();
    let get = |i: usize| f.get(i).copied().unwrap_or(0);
    let busy = get(0) + get(1) + get(2) + get(5) + get(6) + get(7);
    Some(busy.saturating_mul(1_000_000_000 / ticks_per_second.max(1)))
}

/// Memory of the machine from /proc/meminfo: (working set, available, usage) in bytes.
pub fn parse_meminfo(text: &str) -> Option<(u64, u64, u64)> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    let total = field("MemTotal")?;
    let available = field("MemAvailable").or_else(|| field("MemFree"))?;
    let free = field("MemFree").unwrap_or(available);
    Some((total.saturating_sub(available), available, total.saturating_sub(free)))
}

fn read_node_usage() -> Option<NodeUsage> {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let cpu = parse_proc_stat(&std::fs::read_to_string("/proc/stat").ok()?, u64::try_from(ticks).unwrap_or(100))?;
    let (ws, available, usage) = parse_meminfo(&std::fs::read_to_string("/proc/meminfo").ok()?)?;
    Some(NodeUsage { cpu_usage_ns: cpu, memory_working_set_bytes: ws, memory_available_bytes: available, memory_usage_bytes: usage })
}

/// The kept samples.
#[derive(Default)]
pub struct History {
    samples: parking_lot::Mutex<VecDeque<Sample>>,
}

impl History {
    pub fn record(&self, s: Sample) {
        let mut q = self.samples.lock();
        q.push_back(s);
        while q.len() > KEEP {
            q.pop_front();
        }
    }

    /// The summary for a fresh sample `now`, with rates against the kept samples.
    pub fn summary(&self, now: &Sample) -> Value {
        let q = self.samples.lock();
        // Newest first, only those far enough in the past.
        let older: Vec<&Sample> = q.iter().rev().filter(|s| now.at.saturating_duration_since(s.at) >= MIN_WINDOW).collect();
        let time = crate::logs::rfc3339_nano(now.time);
        let cpu_stat = |prev: &Sample, ns: u64, prev_ns: u64| -> Option<Value> {
            let window = now.at.saturating_duration_since(prev.at);
            let rate = cpu_rate(prev_ns, ns, window)?;
            Some(json!({"time": time, "usageNanoCores": rate, "usageCoreNanoSeconds": ns, "window": go_duration(window)}))
        };
        let mut node = json!({});
        if let Some(n) = now.node {
            let prev = older.iter().find_map(|s| s.node.map(|p| (*s, p)));
            if let Some(cpu) = prev.and_then(|(s, p)| cpu_stat(s, n.cpu_usage_ns, p.cpu_usage_ns)) {
                node["cpu"] = cpu;
            }
            node["memory"] = json!({"time": time, "workingSetBytes": n.memory_working_set_bytes, "availableBytes": n.memory_available_bytes, "usageBytes": n.memory_usage_bytes});
        }
        let mut keys: Vec<&PodKey> = now.pods.keys().collect();
        keys.sort();
        let mut pods = Vec::new();
        for key in keys {
            let mut containers = Vec::new();
            let (mut pod_rate, mut pod_ns, mut pod_mem, mut window) = (0u64, 0u64, 0u64, None);
            let mut complete = true;
            for (name, ns, mem) in &now.pods[key] {
                let cpu = older.iter().find_map(|s| s.container_cpu(key, name).and_then(|p| cpu_stat(s, *ns, p)));
                let mut c = json!({"name": name, "memory": {"time": time, "workingSetBytes": mem}});
                match cpu {
                    Some(cpu) => {
                        pod_rate += cpu["usageNanoCores"].as_u64().unwrap_or(0);
                        window = window.or_else(|| cpu["window"].as_str().map(str::to_string));
                        c["cpu"] = cpu;
                    }
                    None => complete = false,
                }
                pod_ns += ns;
                pod_mem += mem;
                containers.push(c);
            }
            let mut pod = json!({"podRef": {"name": key.1, "namespace": key.0}, "containers": containers, "memory": {"time": time, "workingSetBytes": pod_mem}});
            if complete {
                pod["cpu"] = json!({"time": time, "usageNanoCores": pod_rate, "usageCoreNanoSeconds": pod_ns, "window": window});
            }
            pods.push(pod);
        }
        json!({"node": node, "pods": pods})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::ContainerUsage;

    fn pod(ns: &str, name: &str, containers: &[(&str, u64, u64)]) -> PodUsage {
        PodUsage {
            namespace: ns.into(),
            name: name.into(),
            containers: containers.iter().map(|(n, c, m)| ContainerUsage { name: n.to_string(), cpu_usage_ns: *c, memory_working_set_bytes: *m }).collect(),
        }
    }

    #[test]
    fn rates() {
        assert_eq!(cpu_rate(0, 1_000_000_000, Duration::from_secs(2)), Some(500_000_000));
        assert_eq!(cpu_rate(5, 5, Duration::from_secs(10)), Some(0));
        assert_eq!(cpu_rate(10, 5, Duration::from_secs(10)), None, "counter reset");
        assert_eq!(cpu_rate(0, 10, Duration::from_millis(100)), None, "window too short");
    }

    #[test]
    fn durations_as_go_prints_them() {
        assert_eq!(go_duration(Duration::from_millis(10_005)), "10.005s");
        assert_eq!(go_duration(Duration::from_millis(5_500)), "5.5s");
        assert_eq!(go_duration(Duration::from_secs(15)), "15s");
        assert_eq!(go_duration(Duration::from_millis(60_500)), "1m0.5s");
        assert_eq!(go_duration(Duration::from_secs(3725)), "1h2m5s");
        assert_eq!(go_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn proc_files() {
        let stat = "cpu  100 20 30 4000 50 6 7 8 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n";
        assert_eq!(parse_proc_stat(stat, 100), Some((100 + 20 + 30 + 6 + 7 + 8) * 10_000_000));
        let meminfo = "MemTotal:       16000000 kB\nMemFree:         2000000 kB\nMemAvailable:    6000000 kB\n";
        assert_eq!(parse_meminfo(meminfo), Some((10_000_000 * 1024, 6_000_000 * 1024, 14_000_000 * 1024)));
        assert!(parse_meminfo("nothing").is_none());
        assert!(read_node_usage().is_some_and(|n| n.cpu_usage_ns > 0 && n.memory_working_set_bytes > 0));
    }

    #[test]
    fn summary_rates_against_older_samples() {
        let t0 = Instant::now();
        let node = |cpu| Some(NodeUsage { cpu_usage_ns: cpu, memory_working_set_bytes: 1 << 30, memory_available_bytes: 1 << 31, memory_usage_bytes: 1 << 30 });
        let h = History::default();
        h.record(Sample::from_parts(t0, Timestamp::now(), node(0), vec![pod("default", "web", &[("app", 1_000_000_000, 100)])]));
        // Too recent to compare with: ignored.
        h.record(Sample::from_parts(t0 + Duration::from_millis(9_800), Timestamp::now(), node(1), vec![pod("default", "web", &[("app", 1, 1)])]));
        let now = Sample::from_parts(
            t0 + Duration::from_secs(10),
            Timestamp::now(),
            node(20_000_000_000),
            vec![pod("default", "web", &[("app", 3_000_000_000, 4096), ("side", 7, 1)]), pod("kube-system", "new", &[("c", 5, 5)])],
        );
        let s = h.summary(&now);
        assert_eq!(s["node"]["cpu"]["usageNanoCores"], 2_000_000_000u64);
        assert_eq!(s["node"]["cpu"]["window"], "10s");
        assert_eq!(s["node"]["memory"]["workingSetBytes"], 1u64 << 30);
        let web = &s["pods"][0];
        assert_eq!(web["podRef"], json!({"name": "web", "namespace": "default"}));
        assert_eq!(web["containers"][0]["cpu"]["usageNanoCores"], 200_000_000u64);
        assert_eq!(web["containers"][0]["memory"]["workingSetBytes"], 4096);
        // A container with no earlier sample has no rate, so neither has its pod.
        assert!(web["containers"][1].get("cpu").is_none());
        assert!(web.get("cpu").is_none());
        assert_eq!(web["memory"]["workingSetBytes"], 4097);
        assert_eq!(s["pods"][1]["podRef"]["name"], "new");
        assert!(s["pods"][1].get("cpu").is_none());
    }
}
