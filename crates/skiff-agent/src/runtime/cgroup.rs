//! Control groups for containers: one group per container under
//! `skiff/<agent id>/<pod uid>/<container>`, on cgroup v2 or on the v1 memory, cpu and
//! cpuacct hierarchies. Limits come from the container's resources; usage and OOM kills
//! are read back from the same files.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

const ROOT: &str = "/sys/fs/cgroup";
const V1_HIERARCHIES: [&str; 4] = ["memory", "cpu", "cpuacct", "pids"];

#[derive(Clone, Debug, PartialEq)]
pub enum Cgroups {
    V2,
    V1,
}

/// Limits of one container, in the units the kernel wants.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Limits {
    pub memory_bytes: Option<i64>,
    pub cpu_millis: Option<i64>,
    pub cpu_request_millis: Option<i64>,
}

impl Cgroups {
    /// Which cgroup version this host offers us, if we may create groups at all.
    pub fn detect() -> Result<Cgroups, String> {
        let probe = |dir: &Path| -> Result<(), String> {
            let test = dir.join(format!("skiff-probe-{}", std::process::id()));
            fs::create_dir_all(&test).map_err(|e| format!("cannot create a cgroup under {}: {e}", dir.display()))?;
            let _ = fs::remove_dir(&test);
            Ok(())
        };
        let root = Path::new(ROOT);
        if root.join("cgroup.controllers").exists() {
            probe(root)?;
            return Ok(Cgroups::V2);
        }
        if root.join("memory").is_dir() && root.join("cpu").is_dir() {
            probe(&root.join("memory"))?;
            return Ok(Cgroups::V1);
        }
        Err("no cgroup v2 or v1 memory and cpu hierarchies under /sys/fs/cgroup".into())
    }

    /// The directories a process joins (one per hierarchy) for the group `rel`.
    pub fn dirs(&self, rel: &Path) -> Vec<PathBuf> {
        match self {
            Cgroups::V2 => vec![Path::new(ROOT).join(rel)],
            Cgroups::V1 => V1_HIERARCHIES
                .iter()
                .filter(|h| Path::new(ROOT).join(h).is_dir())
                .map(|h| Path::new(ROOT).join(h).join(rel))
                .collect(),
        }
    }

    /// Creates the group `rel` with its limits; returns the directories to join.
    pub fn create(&self, rel: &Path, limits: &Limits) -> io::Result<Vec<PathBuf>> {
        match self {
            Cgroups::V2 => {
                // Controllers must be enabled in every ancestor's subtree_control.
                let mut dir = PathBuf::from(ROOT);
                for part in rel.iter() {
                    let _ = fs::write(dir.join("cgroup.subtree_control"), "+memory +cpu +pids");
                    dir.push(part);
                    fs::create_dir_all(&dir)?;
                }
                if let Some(m) = limits.memory_bytes {
                    fs::write(dir.join("memory.max"), m.to_string())?;
                    let _ = fs::write(dir.join("memory.swap.max"), "0");
                }
                if let Some(c) = limits.cpu_millis {
                    fs::write(dir.join("cpu.max"), format!("{} 100000", (c * 100).max(1000)))?;
                }
                if let Some(r) = limits.cpu_request_millis {
                    // cpu.weight 1..10000; shares of 1024 per CPU map to weight 100 per CPU.
                    let _ = fs::write(dir.join("cpu.weight"), ((r * 100) / 1000).clamp(1, 10000).to_string());
                }
                Ok(vec![dir])
            }
            Cgroups::V1 => {
                let dirs = self.dirs(rel);
                for d in &dirs {
                    fs::create_dir_all(d)?;
                }
                let mem = Path::new(ROOT).join("memory").join(rel);
                if let Some(m) = limits.memory_bytes {
                    fs::write(mem.join("memory.limit_in_bytes"), m.to_string())?;
                    // Without this the group swaps instead of being OOM-killed.
                    let _ = fs::write(mem.join("memory.memsw.limit_in_bytes"), m.to_string());
                    let _ = fs::write(mem.join("memory.swappiness"), "0");
                }
                let cpu = Path::new(ROOT).join("cpu").join(rel);
                if let Some(c) = limits.cpu_millis {
                    fs::write(cpu.join("cpu.cfs_period_us"), "100000")?;
                    fs::write(cpu.join("cpu.cfs_quota_us"), (c * 100).max(1000).to_string())?;
                }
                if let Some(r) = limits.cpu_request_millis {
                    let _ = fs::write(cpu.join("cpu.shares"), ((r * 1024) / 1000).max(2).to_string());
                }
                Ok(dirs)
            }
        }
    }

    /// Every process in the group `rel` (the container's main process and whatever it forked).
    pub fn pids(&self, rel: &Path) -> Vec<i32> {
        let dir = match self {
            Cgroups::V2 => Path::new(ROOT).join(rel),
            Cgroups::V1 => Path::new(ROOT).join("memory").join(rel),
        };
        let mut out = Vec::new();
        collect_pids(&dir, &mut out);
        out
    }

    /// Whether the kernel's OOM killer killed a process of this group.
    pub fn oom_killed(&self, rel: &Path) -> bool {
        let file = match self {
            Cgroups::V2 => Path::new(ROOT).join(rel).join("memory.events"),
            Cgroups::V1 => Path::new(ROOT).join("memory").join(rel).join("memory.oom_control"),
        };
        let text = fs::read_to_string(file).unwrap_or_default();
        text.lines().any(|l| l.strip_prefix("oom_kill ").and_then(|n| n.trim().parse::<u64>().ok()).unwrap_or(0) > 0)
    }

    /// Cumulative CPU in nanoseconds and memory working set in bytes.
    pub fn usage(&self, rel: &Path) -> Option<(u64, u64)> {
        match self {
            Cgroups::V2 => {
                let dir = Path::new(ROOT).join(rel);
                let cpu = stat_value(&fs::read_to_string(dir.join("cpu.stat")).ok()?, "usage_usec")? * 1000;
                let current: u64 = fs::read_to_string(dir.join("memory.current")).ok()?.trim().parse().ok()?;
                let inactive = stat_value(&fs::read_to_string(dir.join("memory.stat")).unwrap_or_default(), "inactive_file").unwrap_or(0);
                Some((cpu, current.saturating_sub(inactive)))
            }
            Cgroups::V1 => {
                let cpu: u64 = fs::read_to_string(Path::new(ROOT).join("cpuacct").join(rel).join("cpuacct.usage")).ok()?.trim().parse().ok()?;
                let mem = Path::new(ROOT).join("memory").join(rel);
                let usage: u64 = fs::read_to_string(mem.join("memory.usage_in_bytes")).ok()?.trim().parse().ok()?;
                let inactive = stat_value(&fs::read_to_string(mem.join("memory.stat")).unwrap_or_default(), "total_inactive_file").unwrap_or(0);
                Some((cpu, usage.saturating_sub(inactive)))
            }
        }
    }

    /// Removes the group `rel` and every group below it (they must hold no processes).
    pub fn remove(&self, rel: &Path) {
        let roots: Vec<PathBuf> = match self {
            Cgroups::V2 => vec![Path::new(ROOT).join(rel)],
            Cgroups::V1 => self.dirs(rel),
        };
        for r in roots {
            remove_tree(&r);
        }
    }
}

fn stat_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

fn collect_pids(dir: &Path, out: &mut Vec<i32>) {
    if let Ok(text) = fs::read_to_string(dir.join("cgroup.procs")) {
        out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                collect_pids(&e.path(), out);
            }
        }
    }
}

// cgroup directories can only be removed bottom-up with rmdir.
fn remove_tree(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_tree(&e.path());
            }
        }
    }
    let _ = fs::remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_flat_keyed_files() {
        assert_eq!(stat_value("usage_usec 1500\nuser_usec 1000\n", "usage_usec"), Some(1500));
        assert_eq!(stat_value("oom 0\noom_kill 2\n", "oom_kill"), Some(2));
        assert_eq!(stat_value("total_inactive_file 7\n", "inactive_file"), None);
    }
}
