//! Pod networking for the process runtime: one Linux bridge per agent holding the
//! gateway address of the node's podCIDR, and per pod a network namespace joined to the
//! bridge by a veth pair, with an address of its own. Addresses are handed out round
//! robin so that a replaced pod gets a new IP. Configured with iproute2's `ip`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use parking_lot::Mutex;

/// An IPv4 network such as 10.244.3.0/24.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cidr {
    pub base: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let (ip, prefix) = s.split_once('/')?;
        let prefix: u8 = prefix.parse().ok()?;
        if prefix > 30 {
            return None;
        }
        let base = u32::from(ip.parse::<Ipv4Addr>().ok()?) & mask(prefix);
        Some(Cidr { base: Ipv4Addr::from(base), prefix })
    }
    fn size(&self) -> u32 {
        1u32 << (32 - self.prefix)
    }
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base) + 1)
    }
    fn nth(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base) + n)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) }
}

/// Hands out pod addresses: never the network, gateway or broadcast address, never one in
/// use, and round robin so a freed address is the last to come back. Kept on disk (one
/// file per address holding the pod uid) so an agent restart keeps every pod's IP.
pub struct Ipam {
    cidr: Cidr,
    dir: PathBuf,
    state: Mutex<IpamState>,
}

struct IpamState {
    used: BTreeMap<u32, String>,
    last: u32,
}

impl Ipam {
    pub fn open(cidr: Cidr, dir: &Path) -> std::io::Result<Ipam> {
        fs::create_dir_all(dir)?;
        let mut used = BTreeMap::new();
        for e in fs::read_dir(dir)?.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Ok(ip) = name.parse::<Ipv4Addr>() {
                let off = u32::from(ip).wrapping_sub(u32::from(cidr.base));
                if off < cidr.size() {
                    used.insert(off, fs::read_to_string(e.path()).unwrap_or_default());
                } else {
                    let _ = fs::remove_file(e.path()); // from an earlier podCIDR
                }
            }
        }
        let last = fs::read_to_string(dir.join("last")).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(1);
        Ok(Ipam { cidr, dir: dir.to_path_buf(), state: Mutex::new(IpamState { used, last }) })
    }

    /// The address already held by `owner`, or a new one.
    pub fn allocate(&self, owner: &str) -> Option<Ipv4Addr> {
        let mut st = self.state.lock();
        if let Some((off, _)) = st.used.iter().find(|(_, o)| o.as_str() == owner) {
            return Some(self.cidr.nth(*off));
        }
        let first = 2; // .0 is the network, .1 the gateway on the bridge
        let last = self.cidr.size() - 2; // the top one is broadcast
        let span = last - first + 1;
        for i in 1..=span {
            let off = first + ((st.last + i).saturating_sub(first)) % span;
            if !st.used.contains_key(&off) {
                st.used.insert(off, owner.to_string());
                st.last = off;
                let ip = self.cidr.nth(off);
                let _ = fs::write(self.dir.join(ip.to_string()), owner);
                let _ = fs::write(self.dir.join("last"), off.to_string());
                return Some(ip);
            }
        }
        None
    }

    pub fn release(&self, owner: &str) {
        let mut st = self.state.lock();
        let offs: Vec<u32> = st.used.iter().filter(|(_, o)| o.as_str() == owner).map(|(k, _)| *k).collect();
        for off in offs {
            st.used.remove(&off);
            let _ = fs::remove_file(self.dir.join(self.cidr.nth(off).to_string()));
        }
    }
}

/// Runs `ip` with batch commands on stdin; returns its error output on failure.
fn ip_batch(netns: Option<&str>, commands: &[String]) -> Result<(), String> {
    let mut cmd = Command::new("ip");
    if let Some(ns) = netns {
        cmd.args(["-n", ns]);
    }
    let mut child = cmd
        .args(["-force", "-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running ip: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(commands.join("\n").as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| format!("running ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program).args(args).stdin(Stdio::null()).output().map_err(|e| format!("running {program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// The node bridge and its address plan.
pub struct Network {
    pub bridge: String,
    pub cidr: Cidr,
    pub ipam: Ipam,
}

impl Network {
    /// Creates (or adopts after a restart) the bridge `name` with the gateway address.
    pub fn setup(bridge: &str, cidr: Cidr, state_dir: &Path) -> Result<Network, String> {
        let exists = Path::new("/sys/class/net").join(bridge).exists();
        if !exists {
            ip_batch(None, &[format!("link add {bridge} type bridge")])?;
        }
        ip_batch(None, &[format!("addr replace {}/{} dev {bridge}", cidr.gateway(), cidr.prefix), format!("link set {bridge} up")])?;
        let _ = fs::write("/proc/sys/net/ipv4/ip_forward", "1");
        // Docker and others set the FORWARD policy to DROP; let pod traffic through, and
        // masquerade what leaves the pod network. Best effort: iptables may be absent.
        let net = cidr.to_string();
        for rule in [
            vec!["FORWARD", "-s", &net, "-j", "ACCEPT"],
            vec!["FORWARD", "-d", &net, "-j", "ACCEPT"],
        ] {
            ensure_iptables("filter", &rule);
        }
        ensure_iptables("nat", &["POSTROUTING", "-s", &net, "!", "-o", bridge, "-j", "MASQUERADE"]);
        let ipam = Ipam::open(cidr, &state_dir.join("ipam")).map_err(|e| format!("pod address state: {e}"))?;
        let _ = fs::write(state_dir.join("ipam").join("cidr"), cidr.to_string());
        Ok(Network { bridge: bridge.to_string(), cidr, ipam })
    }

    /// Gives the pod's network namespace an address on the bridge and a default route.
    pub fn attach(&self, netns: &str, host_veth: &str, ip: Ipv4Addr) -> Result<(), String> {
        let b = &self.bridge;
        ip_batch(
            None,
            &[
                format!("link add {host_veth} type veth peer name eth0 netns {netns}"),
                format!("link set {host_veth} master {b} up"),
            ],
        )?;
        ip_batch(
            Some(netns),
            &[
                "link set lo up".to_string(),
                format!("addr add {ip}/{} dev eth0", self.cidr.prefix),
                "link set eth0 up".to_string(),
                format!("route add default via {}", self.cidr.gateway()),
            ],
        )
    }

    /// Removes the bridge and the rules (at reset; pods' namespaces are gone by then).
    pub fn teardown(bridge: &str, cidr: Option<Cidr>) {
        let _ = ip_batch(None, &[format!("link del {bridge}")]);
        if let Some(cidr) = cidr {
            let net = cidr.to_string();
            delete_iptables("filter", &["FORWARD", "-s", &net, "-j", "ACCEPT"]);
            delete_iptables("filter", &["FORWARD", "-d", &net, "-j", "ACCEPT"]);
            delete_iptables("nat", &["POSTROUTING", "-s", &net, "!", "-o", bridge, "-j", "MASQUERADE"]);
        }
    }
}

/// The podCIDR an agent with this data dir last used (for `skiff reset`).
pub fn saved_cidr(state_dir: &Path) -> Option<Cidr> {
    Cidr::parse(fs::read_to_string(state_dir.join("ipam").join("cidr")).ok()?.trim())
}

pub fn netns_add(name: &str) -> Result<(), String> {
    if Path::new("/run/netns").join(name).exists() {
        return Ok(());
    }
    run("ip", &["netns", "add", name])
}

pub fn netns_del(name: &str) {
    if Path::new("/run/netns").join(name).exists() {
        let _ = run("ip", &["netns", "del", name]);
    }
}

pub fn netns_path(name: &str) -> PathBuf {
    Path::new("/run/netns").join(name)
}

fn ensure_iptables(table: &str, rule: &[&str]) {
    let check: Vec<&str> = ["-w", "-t", table, "-C"].iter().copied().chain(rule.iter().copied()).collect();
    if run("iptables", &check).is_ok() {
        return;
    }
    let insert: Vec<&str> = ["-w", "-t", table, "-I"].iter().copied().chain(rule.iter().copied()).collect();
    if let Err(e) = run("iptables", &insert) {
        tracing::debug!("iptables {rule:?}: {e}");
    }
}

fn delete_iptables(table: &str, rule: &[&str]) {
    let del: Vec<&str> = ["-w", "-t", table, "-D"].iter().copied().chain(rule.iter().copied()).collect();
    let _ = run("iptables", &del);
}

/// The host's own IPv4 address on its default route (no packet is sent), else loopback.
pub fn host_ip() -> Ipv4Addr {
    let sock = std::net::UdpSocket::bind("0.0.0.0:0").and_then(|s| s.connect("192.0.2.1:9").map(|_| s));
    match sock.and_then(|s| s.local_addr()) {
        Ok(std::net::SocketAddr::V4(a)) if !a.ip().is_unspecified() => *a.ip(),
        _ => Ipv4Addr::LOCALHOST,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cidrs() {
        let c = Cidr::parse("10.244.3.7/24").expect("cidr");
        assert_eq!(c.to_string(), "10.244.3.0/24");
        assert_eq!(c.gateway(), Ipv4Addr::new(10, 244, 3, 1));
        assert!(Cidr::parse("10.244.3.0").is_none());
        assert!(Cidr::parse("10.244.3.0/31").is_none());
    }

    #[test]
    fn ipam_round_robin_and_persistence() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cidr = Cidr::parse("10.1.2.0/29").expect("cidr"); // usable .2 ..= .6
        let ipam = Ipam::open(cidr, dir.path()).expect("open");
        let a = ipam.allocate("a").expect("a");
        assert_eq!(a, Ipv4Addr::new(10, 1, 2, 2));
        assert_eq!(ipam.allocate("a"), Some(a), "same owner, same address");
        let b = ipam.allocate("b").expect("b");
        assert_eq!(b, Ipv4Addr::new(10, 1, 2, 3));
        ipam.release("a");
        // A replaced pod gets a new address, not the one just freed.
        assert_eq!(ipam.allocate("c"), Some(Ipv4Addr::new(10, 1, 2, 4)));
        drop(ipam);
        let ipam = Ipam::open(cidr, dir.path()).expect("reopen");
        assert_eq!(ipam.allocate("b"), Some(b), "kept across restarts");
        assert_eq!(ipam.allocate("d"), Some(Ipv4Addr::new(10, 1, 2, 5)));
        assert_eq!(ipam.allocate("e"), Some(Ipv4Addr::new(10, 1, 2, 6)));
        assert_eq!(ipam.allocate("f"), Some(Ipv4Addr::new(10, 1, 2, 2)), "wraps to the freed one");
        assert_eq!(ipam.allocate("g"), None, "full");
    }
}
