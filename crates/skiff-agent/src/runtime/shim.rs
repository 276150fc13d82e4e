//! The container shim: `skiff container-shim DIR` runs one container of the process
//! runtime. It is its own session, so it outlives an agent restart; it starts the
//! container's command in the pod's namespaces and cgroup, writes the container's
//! stdout and stderr to the CRI-format log file, and records the exit status in
//! DIR/exit.json, which the agent reads whenever it looks (also after a restart).

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::logs::{format_record, LogStream};

/// What the agent asks the shim to run; written to DIR/config.json.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ShimConfig {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<String>,
    /// Network namespace to join (the pod's).
    pub netns: Option<PathBuf>,
    /// Hostname in a UTS namespace of the container's own; None leaves the host's.
    pub hostname: Option<String>,
    /// Volumes bind-mounted in a mount namespace of the container's own.
    pub mounts: Vec<BindMount>,
    /// When mount namespaces are not allowed: volumes are linked into place instead.
    pub link_mounts: bool,
    /// cgroup directories (one per hierarchy) the container joins.
    pub cgroups: Vec<PathBuf>,
    pub log: PathBuf,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BindMount {
    pub source: PathBuf,
    pub target: PathBuf,
    pub read_only: bool,
}

/// DIR/state.json: the container is running.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StartRecord {
    pub pid: i32,
    pub started_at: String,
}

/// DIR/exit.json: the container has exited (or could not start).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ExitRecord {
    pub exit_code: i32,
    pub signal: Option<i32>,
    pub finished_at: String,
    /// Set when the command could not be started at all (StartError).
    pub start_error: Option<String>,
}

/// DIR/created.json: mount targets the shim had to create on the host (removed with the pod).
pub const CREATED: &str = "created.json";

pub fn now_rfc3339_nanos() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, serde_json::to_vec(value).map_err(io::Error::other)?)?;
    fs::rename(tmp, path)
}

/// Entry point of `skiff container-shim DIR`. Prints `started <shim pid>` or `error: …` on stdout
/// for the agent, then keeps running until the container exits.
pub fn main(dir: &Path) -> i32 {
    let config: ShimConfig = match fs::read(dir.join("config.json")).map_err(|e| e.to_string()).and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string())) {
        Ok(c) => c,
        Err(e) => {
            println!("error: reading the container config: {e}");
            return 1;
        }
    };
    // Fork once so the long-lived shim is not the agent's child: the agent reaps the
    // first process at once, and the shim is adopted by init when it ends. Its own
    // session keeps it out of the agent's signals (a Ctrl-C in the agent's terminal).
    match unsafe { libc::fork() } {
        -1 => {
            println!("error: fork: {}", io::Error::last_os_error());
            return 1;
        }
        0 => unsafe {
            libc::setsid();
        },
        _ => return 0,
    }
    match run(dir, &config) {
        Ok(()) => 0,
        Err(e) => {
            let record = ExitRecord { exit_code: 128, signal: None, finished_at: now_rfc3339_nanos(), start_error: Some(e.clone()) };
            let _ = write_json_atomic(&dir.join("exit.json"), &record);
            println!("error: {e}");
            1
        }
    }
}

fn run(dir: &Path, config: &ShimConfig) -> Result<(), String> {
    let Some(program) = config.argv.first() else {
        return Err("no command specified".into());
    };
    let mut log = LogWriter::open(&config.log).map_err(|e| format!("opening the log {}: {e}", config.log.display()))?;
    let created = prepare_targets(config).map_err(|e| format!("preparing volume mounts: {e}"))?;
    let _ = write_json_atomic(&dir.join(CREATED), &created);

    let mut cmd = Command::new(program);
    cmd.args(&config.argv[1..]).env_clear().envs(config.env.iter().map(|(k, v)| (k, v))).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let setup = ChildSetup::new(config).map_err(|e| e.to_string())?;
    // SAFETY: the shim is single-threaded, so the child may allocate before exec.
    unsafe {
        cmd.pre_exec(move || setup.apply());
    }
    let mut child = cmd.spawn().map_err(|e| start_error(program, &e))?;
    let pid = child.id() as i32;
    write_json_atomic(&dir.join("state.json"), &StartRecord { pid, started_at: now_rfc3339_nanos() }).map_err(|e| e.to_string())?;
    println!("started {}", std::process::id());
    let _ = io::stdout().flush();
    // The agent stops listening after the handshake; never die of SIGPIPE writing to it.
    if let Ok(null) = File::open("/dev/null") {
        unsafe { libc::dup2(null.as_raw_fd(), 1) };
    }

    let mut out = child.stdout.take().map(OwnedFd::from);
    let mut err = child.stderr.take().map(OwnedFd::from);
    let mut status = None;
    let mut drain_deadline: Option<Instant> = None;
    loop {
        pump(&mut out, &mut err, &mut log, 200);
        if status.is_none() {
            status = child.try_wait().ok().flatten();
            if status.is_some() {
                // Processes the container forked may hold its stdout; read what is
                // already there, then stop, as a container ends with its main process.
                drain_deadline = Some(Instant::now() + Duration::from_millis(100));
            }
        }
        let drained = out.is_none() && err.is_none();
        if status.is_some() && (drained || drain_deadline.is_some_and(|d| Instant::now() >= d)) {
            break;
        }
    }
    log.flush_partial();
    // A container ends when its main process ends: stop whatever it left behind.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    for cg in &config.cgroups {
        if let Ok(text) = fs::read_to_string(cg.join("cgroup.procs")) {
            for p in text.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
        }
    }
    let status = status.ok_or("lost the container's exit status")?;
    let (exit_code, signal) = match (status.code(), status.signal()) {
        (Some(c), _) => (c, None),
        (None, Some(s)) => (128 + s, Some(s)),
        (None, None) => (255, None),
    };
    write_json_atomic(&dir.join("exit.json"), &ExitRecord { exit_code, signal, finished_at: now_rfc3339_nanos(), start_error: None }).map_err(|e| e.to_string())
}

/// Kubernetes' wording (from the Go runtime) for a command that cannot be started.
fn start_error(program: &str, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound if !program.contains('/') => format!("exec: \"{program}\": executable file not found in $PATH"),
        io::ErrorKind::NotFound => format!("exec: \"{program}\": stat {program}: no such file or directory"),
        io::ErrorKind::PermissionDenied => format!("exec: \"{program}\": permission denied"),
        _ => format!("exec: \"{program}\": {e}"),
    }
}

/// Creates missing mount targets (or, without mount namespaces, links volumes into
/// place); returns what was created so the agent can remove it with the pod.
fn prepare_targets(config: &ShimConfig) -> io::Result<Vec<PathBuf>> {
    let mut created = Vec::new();
    for m in &config.mounts {
        if config.link_mounts {
            if fs::symlink_metadata(&m.target).is_err() {
                create_parents(&m.target, &mut created)?;
                std::os::unix::fs::symlink(&m.source, &m.target)?;
                created.push(m.target.clone());
            }
            continue;
        }
        if m.target.exists() {
            continue;
        }
        create_parents(&m.target, &mut created)?;
        if m.source.is_dir() {
            fs::create_dir(&m.target)?;
        } else {
            File::create(&m.target)?;
        }
        created.push(m.target.clone());
    }
    Ok(created)
}

fn create_parents(target: &Path, created: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut p = target.parent();
    while let Some(dir) = p {
        if dir.exists() {
            break;
        }
        missing.push(dir.to_path_buf());
        p = dir.parent();
    }
    for dir in missing.into_iter().rev() {
        fs::create_dir(&dir)?;
        created.push(dir);
    }
    Ok(())
}

/// What the child does between fork and exec, prepared beforehand.
struct ChildSetup {
    netns: Option<File>,
    hostname: Option<String>,
    mounts: Vec<(CString, CString, bool)>,
    link_mounts: bool,
    cgroup_procs: Vec<File>,
    working_dir: Option<CString>,
}

impl ChildSetup {
    fn new(c: &ShimConfig) -> io::Result<ChildSetup> {
        let cstr = |p: &Path| CString::new(p.as_os_str().as_encoded_bytes()).map_err(io::Error::other);
        Ok(ChildSetup {
            netns: c.netns.as_ref().map(File::open).transpose()?,
            hostname: c.hostname.clone(),
            mounts: c.mounts.iter().map(|m| Ok((cstr(&m.source)?, cstr(&m.target)?, m.read_only))).collect::<io::Result<_>>()?,
            link_mounts: c.link_mounts,
            cgroup_procs: c.cgroups.iter().map(|d| OpenOptions::new().write(true).open(d.join("cgroup.procs"))).collect::<io::Result<_>>()?,
            working_dir: c.working_dir.as_deref().map(|w| cstr(Path::new(w))).transpose()?,
        })
    }

    fn apply(&self) -> io::Result<()> {
        let check = |r: libc::c_int, what: &str| if r == 0 { Ok(()) } else { Err(io::Error::new(io::Error::last_os_error().kind(), format!("{what}: {}", io::Error::last_os_error()))) };
        for f in &self.cgroup_procs {
            (&*f).write_all(b"0")?;
        }
        if let Some(ns) = &self.netns {
            check(unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) }, "joining the pod network")?;
        }
        if let Some(h) = &self.hostname {
            check(unsafe { libc::unshare(libc::CLONE_NEWUTS) }, "new UTS namespace")?;
            check(unsafe { libc::sethostname(h.as_ptr().cast(), h.len()) }, "setting the hostname")?;
        }
        if !self.mounts.is_empty() && !self.link_mounts {
            check(unsafe { libc::unshare(libc::CLONE_NEWNS) }, "new mount namespace")?;
            // Nothing mounted here may propagate back to the host.
            check(unsafe { libc::mount(std::ptr::null(), c"/".as_ptr(), std::ptr::null(), libc::MS_REC | libc::MS_SLAVE, std::ptr::null()) }, "making / a slave mount")?;
            for (src, dst, ro) in &self.mounts {
                check(unsafe { libc::mount(src.as_ptr(), dst.as_ptr(), std::ptr::null(), libc::MS_BIND | libc::MS_REC, std::ptr::null()) }, "bind mount")?;
                if *ro {
                    let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY;
                    check(unsafe { libc::mount(std::ptr::null(), dst.as_ptr(), std::ptr::null(), flags, std::ptr::null()) }, "read-only remount")?;
                }
            }
        }
        // Its own session and process group, so that stopping it reaches its children.
        unsafe { libc::setsid() };
        if let Some(w) = &self.working_dir {
            check(unsafe { libc::chdir(w.as_ptr()) }, "changing to the working directory")?;
        }
        Ok(())
    }
}

/// Reads whatever both pipes have within `timeout_ms` into the log.
fn pump(out: &mut Option<OwnedFd>, err: &mut Option<OwnedFd>, log: &mut LogWriter, timeout_ms: i32) {
    let mut fds: Vec<libc::pollfd> = Vec::new();
    for fd in [out.as_ref(), err.as_ref()].into_iter().flatten() {
        fds.push(libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 });
    }
    if fds.is_empty() {
        std::thread::sleep(Duration::from_millis(timeout_ms as u64));
        return;
    }
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if n <= 0 {
        return;
    }
    let mut buf = [0u8; 16 * 1024];
    for (slot, stream) in [(out, LogStream::Stdout), (err, LogStream::Stderr)] {
        let Some(fd) = slot.as_ref() else { continue };
        let ready = fds.iter().any(|p| p.fd == fd.as_raw_fd() && p.revents != 0);
        if !ready {
            continue;
        }
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            *slot = None;
        } else {
            log.write(stream, &buf[..n as usize]);
        }
    }
}

/// Writes CRI log records: `<time> <stream> <F|P> <text>`, one per line of output; a line
/// longer than the buffer is split into partial (P) records as container runtimes do.
pub struct LogWriter {
    file: File,
    pending: [Vec<u8>; 2],
}

const MAX_LINE: usize = 16 * 1024;

impl LogWriter {
    pub fn open(path: &Path) -> io::Result<LogWriter> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        Ok(LogWriter { file: OpenOptions::new().create(true).append(true).open(path)?, pending: [Vec::new(), Vec::new()] })
    }

    pub fn write(&mut self, stream: LogStream, data: &[u8]) {
        let idx = stream as usize;
        self.pending[idx].extend_from_slice(data);
        let mut out = Vec::new();
        let now = jiff::Timestamp::now();
        loop {
            let buf = &mut self.pending[idx];
            if let Some(pos) = buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buf.drain(..=pos).collect();
                out.extend(format_record(now, stream, false, &line[..line.len() - 1]));
            } else if buf.len() >= MAX_LINE {
                let part: Vec<u8> = buf.drain(..MAX_LINE).collect();
                out.extend(format_record(now, stream, true, &part));
            } else {
                break;
            }
        }
        let _ = self.file.write_all(&out);
    }

    /// Output that did not end in a newline is still a record when the container ends.
    pub fn flush_partial(&mut self) {
        let now = jiff::Timestamp::now();
        let mut out = Vec::new();
        for stream in [LogStream::Stdout, LogStream::Stderr] {
            let rest = std::mem::take(&mut self.pending[stream as usize]);
            if !rest.is_empty() {
                out.extend(format_record(now, stream, false, &rest));
            }
        }
        let _ = self.file.write_all(&out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_records_split_lines_and_partials() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("0.log");
        let mut w = LogWriter::open(&path).expect("open");
        w.write(LogStream::Stdout, b"hello\nwor");
        w.write(LogStream::Stderr, b"oops\n");
        w.write(LogStream::Stdout, b"ld\n");
        w.write(LogStream::Stdout, &vec![b'x'; MAX_LINE + 3]);
        w.flush_partial();
        let text = fs::read_to_string(&path).expect("read");
        let recs: Vec<(&str, &str, &str)> = text
            .lines()
            .map(|l| {
                let mut it = l.splitn(4, ' ');
                let _ts = it.next();
                (it.next().unwrap_or(""), it.next().unwrap_or(""), it.next().unwrap_or(""))
            })
            .collect();
        assert_eq!(recs[0], ("stdout", "F", "hello"));
        assert_eq!(recs[1], ("stderr", "F", "oops"));
        assert_eq!(recs[2], ("stdout", "F", "world"));
        assert_eq!(recs[3].1, "P");
        assert_eq!(recs[3].2.len(), MAX_LINE);
        assert_eq!(recs[4], ("stdout", "F", "xxx"));
    }

    #[test]
    fn start_errors_in_kubernetes_words() {
        let e = io::Error::from(io::ErrorKind::NotFound);
        assert_eq!(start_error("nosuch", &e), "exec: \"nosuch\": executable file not found in $PATH");
    }
}
