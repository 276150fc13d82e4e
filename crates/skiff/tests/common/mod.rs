//! End-to-end harness: starts the built `skiff` binary on a temporary data dir and a
//! free port, and runs the real `kubectl` (from PATH) against it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    pub server: String,
    child: Option<Child>,
    server_args: Vec<String>,
    /// Node agents started with `add_agent`, and the data dir of every agent (for reset).
    agents: Vec<Child>,
    agent_dirs: Vec<PathBuf>,
}

/// A /16 of its own for each cluster's pods, so that clusters tested side by side on one
/// host never route each other's pod addresses.
fn cluster_cidr() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("10.{}.0.0/16", 100 + (std::process::id() * 13 + n) % 150)
}

impl Cluster {
    /// The control plane only (join nodes with `add_agent`).
    pub fn start() -> Cluster {
        Cluster::start_with(vec!["--no-agent".to_string(), "--cluster-cidr".to_string(), cluster_cidr()])
    }

    /// A one-node cluster, as the README's first command starts it: the embedded node
    /// agent runs pods as real processes.
    pub fn start_with_agent() -> Cluster {
        let mut c = Cluster::start_with(vec!["--cluster-cidr".to_string(), cluster_cidr()]);
        c.agent_dirs.push(c.dir.path().join("agent"));
        c
    }

    fn start_with(server_args: Vec<String>) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut c = Cluster {
            kubeconfig: dir.path().join("kubeconfig.yaml"),
            dir,
            server: String::new(),
            child: None,
            server_args,
            agents: Vec::new(),
            agent_dirs: Vec::new(),
        };
        c.launch("127.0.0.1:0");
        c
    }

    /// Joins another node: `skiff agent` with its own name and data dir.
    pub fn add_agent(&mut self, name: &str, extra: &[&str]) {
        let data = self.dir.path().join("agents").join(name);
        let child = Command::new(env!("CARGO_BIN_EXE_skiff"))
            .args(["agent", "--kubeconfig"])
            .arg(self.dir.path().join("agent-kubeconfig.yaml"))
            .args(["--node-name", name, "--data-dir"])
            .arg(&data)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start skiff agent");
        self.agents.push(child);
        self.agent_dirs.push(data);
    }

    /// Joins `count` simulated nodes from one `skiff agent --simulate` process (named
    /// `<prefix><index>`; extra args such as `--capacity` go after).
    pub fn add_simulated(&mut self, count: usize, prefix: &str, extra: &[&str]) {
        let child = Command::new(env!("CARGO_BIN_EXE_skiff"))
            .args(["agent", "--kubeconfig"])
            .arg(self.dir.path().join("agent-kubeconfig.yaml"))
            .args(["--simulate", &count.to_string(), "--name-prefix", prefix])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start skiff agent --simulate");
        self.agents.push(child);
    }

    fn launch(&mut self, listen: &str) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_skiff"))
            .arg("server")
            .args(&self.server_args)
            .args(["--listen", listen, "--data-dir"])
            .arg(self.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start skiff");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut server = String::new();
        // The server prints its address, then the kubeconfig line once it serves.
        for line in lines.by_ref() {
            let line = line.expect("read stdout");
            if let Some(addr) = line.strip_prefix("skiff API server listening on ") {
                server = addr.to_string();
            }
            if line.starts_with("export KUBECONFIG=") {
                break;
            }
        }
        assert!(!server.is_empty(), "server did not start");
        std::thread::spawn(move || for _ in lines {});
        self.server = server;
        self.child = Some(child);
    }

    /// kill -9 the server, then start it again on the same port and data dir.
    pub fn crash_and_restart(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("kill -9");
        child.wait().expect("reap");
        let listen = self.server.trim_start_matches("https://").to_string();
        self.launch(&listen);
    }

    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with(args, None, &[])
    }

    pub fn kubectl_with(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new("kubectl");
        cmd.args(args).env("KUBECONFIG", &self.kubeconfig).env("HOME", self.dir.path()).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("run kubectl");
        if let Some(input) = stdin {
            child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
        }
        drop(child.stdin.take());
        child.wait_with_output().expect("kubectl output")
    }

    /// Runs kubectl and returns stdout, failing the test with stderr if it fails.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(out.status.success(), "kubectl {:?} failed:\n{}{}", args, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl expecting failure and returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(!out.status.success(), "kubectl {:?} should fail but printed:\n{}", args, String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `kubectl apply -f -` with this YAML.
    pub fn apply(&self, yaml: &str) -> Output {
        self.kubectl_with(&["apply", "-f", "-"], Some(yaml), &[])
    }

    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, content).expect("write file");
        p
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&a)).expect("kubectl printed JSON")
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Agents first, so they do not log the server's going away.
        for mut c in self.agents.drain(..).chain(self.child.take()) {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Agents leave pods running when they stop; remove them with everything they hold.
        for dir in &self.agent_dirs {
            let _ = Command::new(env!("CARGO_BIN_EXE_skiff")).arg("reset").arg("--data-dir").arg(dir).stderr(Stdio::null()).status();
        }
    }
}

/// Polls `f` until it returns Some, for at most `secs` seconds.
pub fn eventually<T>(secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "condition not met within {secs}s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}
