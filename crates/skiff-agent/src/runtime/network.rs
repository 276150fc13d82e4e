//! Pod networking for the process runtime: one Linux bridge per agent holding the
//! gateway address of the node's podCIDR, and per pod a network namespace joined to the
//! bridge by a veth pair, with an address of its own. Addresses are handed out round
//! robin so that a replaced pod gets a new IP.
//!
//! The per-pod work (namespace, veth, address, route) is done in-process with rtnetlink
//! messages and a few syscalls: running iproute2's `ip` for it cost about 10 ms of CPU per
//! pod. The node bridge, set up once per agent, is still configured with `ip`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use netlink_packet_core::{
    ErrorBuffer, NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
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
            if let std::collections::btree_map::Entry::Vacant(e) = st.used.entry(off) {
                e.insert(owner.to_string());
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

    /// Gives the pod's network namespace an address on the bridge and a default route:
    /// a veth pair `host_veth` (on the bridge, up) / `eth0` (in the namespace).
    pub fn attach(&self, netns: &str, host_veth: &str, ip: Ipv4Addr) -> Result<(), String> {
        let path = netns_path(netns);
        let ns = fs::File::open(&path).map_err(|e| format!("opening {}: {e}", path.display()))?;
        let bridge = link_index(&self.bridge).ok_or_else(|| format!("bridge {} not found", self.bridge))?;

        // In the host namespace: the pair, its peer created right in the pod's namespace
        // (as `ip link add H type veth peer name eth0 netns NS`), the host side enslaved
        // to the bridge and up, all in one request.
        let mut peer = LinkMessage::default();
        peer.attributes = vec![LinkAttribute::IfName("eth0".to_string()), LinkAttribute::NetNsFd(ns.as_raw_fd())];
        let mut host = LinkMessage::default();
        host.header.flags = LinkFlags::Up;
        host.header.change_mask = LinkFlags::Up;
        host.attributes = vec![
            LinkAttribute::IfName(host_veth.to_string()),
            LinkAttribute::Controller(bridge),
            LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Veth), LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer)))]),
        ];
        let mut rt = Rtnl::open().map_err(|e| format!("opening a netlink socket: {e}"))?;
        rt.request(RouteNetlinkMessage::NewLink(host), NLM_F_CREATE | NLM_F_EXCL)
            .map_err(|e| format!("creating veth {host_veth} (peer eth0 in {netns}) on {}: {e}", self.bridge))?;

        // In the pod's namespace, through a socket opened there.
        let mut rt = Rtnl::open_in(&ns).map_err(|e| format!("opening a netlink socket in {netns}: {e}"))?;
        let in_ns = |what: String, e: std::io::Error| format!("{what} in {netns}: {e}");
        rt.set_up(LOOPBACK_INDEX).map_err(|e| in_ns("setting lo up".into(), e))?;
        let eth0 = rt.link_index("eth0").map_err(|e| in_ns("finding eth0".into(), e))?;
        let mut addr = AddressMessage::default();
        addr.header.family = AddressFamily::Inet;
        addr.header.prefix_len = self.cidr.prefix;
        addr.header.scope = AddressScope::Universe;
        addr.header.index = eth0;
        addr.attributes = vec![AddressAttribute::Local(IpAddr::V4(ip)), AddressAttribute::Address(IpAddr::V4(ip))];
        rt.request(RouteNetlinkMessage::NewAddress(addr), NLM_F_CREATE | NLM_F_EXCL)
            .map_err(|e| in_ns(format!("adding {ip}/{} to eth0", self.cidr.prefix), e))?;
        rt.set_up(eth0).map_err(|e| in_ns("setting eth0 up".into(), e))?;
        let mut route = RouteMessage::default();
        route.header.address_family = AddressFamily::Inet;
        route.header.table = RouteHeader::RT_TABLE_MAIN;
        route.header.protocol = RouteProtocol::Boot;
        route.header.scope = RouteScope::Universe;
        route.header.kind = RouteType::Unicast;
        route.attributes = vec![RouteAttribute::Gateway(RouteAddress::Inet(self.cidr.gateway()))];
        rt.request(RouteNetlinkMessage::NewRoute(route), NLM_F_CREATE | NLM_F_EXCL)
            .map_err(|e| in_ns(format!("adding the default route via {}", self.cidr.gateway()), e))?;
        Ok(())
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

const NETNS_DIR: &str = "/run/netns";

/// Creates the named network namespace as `ip netns add` does, so that `ip netns` and
/// `ip -n` see it: a thread of its own (never reused: it ends right after) unshares its
/// network namespace, and that namespace is bind-mounted on /run/netns/NAME. A name that
/// is already a namespace is kept.
pub fn netns_add(name: &str) -> Result<(), String> {
    let path = netns_path(name);
    if path.exists() {
        if is_nsfs(&path) {
            return Ok(());
        }
        // Left by a crash between creating the file and mounting on it.
        let _ = fs::remove_file(&path);
    }
    prepare_netns_dir()?;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| format!("creating {}: {e}", path.display()))?;
    let target = path.clone();
    let made = std::thread::Builder::new()
        .name("netns-add".to_string())
        .spawn(move || -> Result<(), String> {
            unshare(CloneFlags::CLONE_NEWNET).map_err(|e| format!("unshare(CLONE_NEWNET): {e}"))?;
            let own = format!("/proc/self/task/{}/ns/net", nix::unistd::gettid());
            mount(Some(own.as_str()), &target, None::<&str>, MsFlags::MS_BIND, None::<&str>)
                .map_err(|e| format!("mounting {own} on {}: {e}", target.display()))
        })
        .map_err(|e| format!("starting a thread: {e}"))
        .and_then(|t| t.join().unwrap_or_else(|_| Err("the namespace thread panicked".to_string())));
    if made.is_err() {
        netns_del(name);
    }
    made
}

/// Removes the named network namespace as `ip netns del` does; the namespace itself goes
/// once no process is left in it.
pub fn netns_del(name: &str) {
    let path = netns_path(name);
    let _ = umount2(&path, MntFlags::MNT_DETACH);
    if let Err(e) = fs::remove_file(&path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::debug!("removing {}: {e}", path.display());
        }
    }
}

/// Makes /run/netns a shared mount point (bind-mounting it on itself first if it is not a
/// mount point), as iproute2 does, so namespaces mounted there show in every mount
/// namespace that has /run/netns, the shims' included. Once per process.
fn prepare_netns_dir() -> Result<(), String> {
    static DONE: Mutex<bool> = Mutex::new(false);
    let mut done = DONE.lock();
    if *done {
        return Ok(());
    }
    fs::create_dir_all(NETNS_DIR).map_err(|e| format!("creating {NETNS_DIR}: {e}"))?;
    let mut bound = false;
    loop {
        match mount(None::<&str>, NETNS_DIR, Some("none"), MsFlags::MS_SHARED | MsFlags::MS_REC, None::<&str>) {
            Ok(()) => break,
            Err(Errno::EINVAL) if !bound => {
                mount(Some(NETNS_DIR), NETNS_DIR, Some("none"), MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
                    .map_err(|e| format!("bind-mounting {NETNS_DIR} on itself: {e}"))?;
                bound = true;
            }
            Err(e) => return Err(format!("making {NETNS_DIR} a shared mount: {e}")),
        }
    }
    *done = true;
    Ok(())
}

/// Whether `path` is a namespace file (a mount of nsfs).
fn is_nsfs(path: &Path) -> bool {
    nix::sys::statfs::statfs(path).is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::NSFS_MAGIC)
}

pub fn netns_path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

/// The index of a host interface, if it exists.
fn link_index(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

/// `lo` has this index in every network namespace.
const LOOPBACK_INDEX: u32 = 1;

/// A blocking rtnetlink socket: one request at a time, each acknowledged. The agent calls
/// the network functions from blocking threads (tokio's `spawn_blocking` among them), so a
/// plain blocking socket serves them directly, with no async runtime of its own.
struct Rtnl {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Rtnl {
    /// A socket in the calling thread's network namespace.
    fn open() -> std::io::Result<Rtnl> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        Ok(Rtnl { sock, seq: 0, buf: vec![0; 32 * 1024] })
    }

    /// A socket in the namespace `ns` (a file such as /run/netns/NAME). A socket stays in
    /// the namespace it was made in, so a short-lived thread joins the namespace, makes
    /// the socket and ends; the caller's thread never changes namespace.
    fn open_in(ns: &fs::File) -> std::io::Result<Rtnl> {
        std::thread::scope(|s| {
            s.spawn(|| {
                setns(ns.as_fd(), CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)?;
                Rtnl::open()
            })
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the netlink thread panicked")))
        })
    }

    /// Sends one request and waits for its acknowledgement; returns the payloads of the
    /// messages that came before it (the answer to a get), or the kernel's error.
    fn request(&mut self, msg: RouteNetlinkMessage, flags: u16) -> std::io::Result<Vec<(u16, Vec<u8>)>> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = self.seq;
        let mut msg = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        msg.finalize();
        let mut out = vec![0; msg.buffer_len()];
        msg.serialize(&mut out);
        self.sock.send(&out, 0)?;
        let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("malformed netlink reply ({what})"));
        let mut answer = Vec::new();
        loop {
            let n = self.sock.recv(&mut &mut self.buf[..], 0)?.min(self.buf.len());
            let mut off = 0;
            while off < n {
                let m = NetlinkBuffer::new_checked(&self.buf[off..n]).map_err(|_| bad("header"))?;
                let len = m.length() as usize;
                off += (len + 3) & !3;
                if m.sequence_number() != self.seq {
                    continue; // an answer to an earlier request that failed half way
                }
                match m.message_type() {
                    NLMSG_ERROR => {
                        let e = ErrorBuffer::new_checked(m.payload()).map_err(|_| bad("error"))?;
                        return match e.code() {
                            None => Ok(answer),
                            Some(code) => Err(std::io::Error::from_raw_os_error(code.get().abs())),
                        };
                    }
                    NLMSG_DONE => return Ok(answer),
                    t => answer.push((t, m.payload().to_vec())),
                }
            }
        }
    }

    fn set_up(&mut self, index: u32) -> std::io::Result<()> {
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.header.flags = LinkFlags::Up;
        link.header.change_mask = LinkFlags::Up;
        self.request(RouteNetlinkMessage::SetLink(link), 0).map(drop)
    }

    /// The index of the interface `name` in this socket's namespace.
    fn link_index(&mut self, name: &str) -> std::io::Result<u32> {
        let mut link = LinkMessage::default();
        link.attributes = vec![LinkAttribute::IfName(name.to_string())];
        let answer = self.request(RouteNetlinkMessage::GetLink(link), 0)?;
        // An RTM_NEWLINK message: struct ifinfomsg { u8 family, u8 pad, u16 type, i32 index, .. }.
        answer
            .iter()
            .find(|(t, p)| *t == libc::RTM_NEWLINK && p.len() >= 8)
            .map(|(_, p)| u32::from_ne_bytes([p[4], p[5], p[6], p[7]]))
            .ok_or_else(|| std::io::Error::from_raw_os_error(libc::ENODEV))
    }
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

    /// Creates a namespace, attaches it to a temporary bridge, checks with `ip` what the
    /// pod would see, and removes it all. Root only: skipped (with a note) elsewhere.
    #[test]
    fn attaches_and_removes_a_pod_network() {
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipping attaches_and_removes_a_pod_network: not root");
            return;
        }
        let tag = format!("{:x}", std::process::id() & 0xff_ffff);
        let ns = format!("skiff-test-{tag}");
        let (bridge, veth) = (format!("sktb{tag}"), format!("sktv{tag}"));
        if let Err(e) = netns_add(&ns) {
            eprintln!("skipping attaches_and_removes_a_pod_network: cannot create network namespaces ({e})");
            return;
        }
        struct Cleanup(String, String);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                netns_del(&self.0);
                let _ = run("ip", &["link", "del", &self.1]);
            }
        }
        let _cleanup = Cleanup(ns.clone(), bridge.clone());
        assert!(is_nsfs(&netns_path(&ns)), "a namespace is mounted on {}", netns_path(&ns).display());
        netns_add(&ns).expect("adding an existing namespace keeps it");
        let ip = |args: &[&str]| {
            let out = Command::new("ip").args(args).output().expect("running ip");
            assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).to_string()
        };
        assert!(ip(&["netns", "list"]).lines().any(|l| l.split(' ').next() == Some(ns.as_str())), "ip netns list shows {ns}");
        ip(&["link", "add", &bridge, "type", "bridge"]);

        let dir = tempfile::tempdir().expect("tempdir");
        let cidr = Cidr::parse("10.213.7.0/24").expect("cidr");
        let net = Network { bridge: bridge.clone(), cidr, ipam: Ipam::open(cidr, dir.path()).expect("ipam") };
        let addr = Ipv4Addr::new(10, 213, 7, 5);
        net.attach(&ns, &veth, addr).expect("attach");

        let addrs = ip(&["-n", &ns, "addr", "show", "dev", "eth0"]);
        assert!(addrs.contains("inet 10.213.7.5/24"), "eth0 has the address: {addrs}");
        assert!(addrs.contains(",UP"), "eth0 is up: {addrs}");
        let lo = ip(&["-n", &ns, "link", "show", "dev", "lo"]);
        assert!(lo.contains(",UP"), "lo is up: {lo}");
        let routes = ip(&["-n", &ns, "route", "show", "default"]);
        assert!(routes.contains("default via 10.213.7.1 dev eth0"), "default route: {routes}");
        let host = ip(&["link", "show", "dev", &veth]);
        assert!(host.contains(&format!("master {bridge}")) && host.contains(",UP"), "host side on the bridge and up: {host}");
        let again = net.attach(&ns, &veth, addr).expect_err("a second attach fails");
        assert!(again.contains(&veth) && again.contains("exists"), "useful error: {again}");

        netns_del(&ns);
        assert!(!netns_path(&ns).exists(), "{} removed", netns_path(&ns).display());
        assert!(!ip(&["netns", "list"]).contains(&ns));
        // The kernel destroys the namespace, and with it the pair, asynchronously.
        let gone = (0..250).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            !Path::new("/sys/class/net").join(&veth).exists()
        });
        assert!(gone, "host veth {veth} removed with the namespace");
        netns_del(&ns); // removing a missing namespace is harmless
    }
}
