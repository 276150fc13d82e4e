//! skiff: one binary that runs a Kubernetes-compatible cluster.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

// The API server allocates many small JSON nodes; jemalloc handles that far better
// than glibc's allocator (measured: see docs/benchmarks.md).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(name = "skiff", version, about = "A Kubernetes-compatible cluster in one binary")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the control plane: API server with its store, and the scheduler.
    Server(ServerArgs),
    /// Join a cluster as a node: run the pods the scheduler binds to this node.
    Agent(AgentArgs),
    /// Stop every pod a node agent ran from this data dir and remove its network and
    /// cgroups (pods are otherwise left running when an agent stops).
    Reset {
        /// The agent's data dir [default: $HOME/.skiff/agent]
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Runs one container of the process runtime (started by the agent).
    #[command(hide = true)]
    ContainerShim { dir: PathBuf },
    /// Run only the scheduler, against any Kubernetes-compatible API server.
    Scheduler {
        /// Credentials and address of the API server.
        #[arg(long)]
        kubeconfig: PathBuf,
    },
    /// Run only the controllers, against any Kubernetes-compatible API server.
    ControllerManager {
        /// Credentials and address of the API server.
        #[arg(long)]
        kubeconfig: PathBuf,
        /// The network pods' addresses come from: each node gets a /24 of it.
        #[arg(long, default_value = skiff_controllers::nodeipam::CLUSTER_CIDR)]
        cluster_cidr: String,
    },
}

#[derive(clap::Args)]
struct ServerArgs {
    /// Where the store, certificates, tokens and kubeconfigs live [default: $HOME/.skiff]
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Address to serve HTTPS on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Where objects are kept.
    #[arg(long, value_enum, default_value_t = StoreArg::Sqlite)]
    store: StoreArg,
    /// Run no node agent in this process (the control plane only; join nodes with `skiff agent`).
    #[arg(long)]
    no_agent: bool,
    /// Run no scheduler in this process (run `skiff scheduler` elsewhere instead).
    #[arg(long)]
    no_scheduler: bool,
    /// The network pods' addresses come from: each node gets a /24 of it.
    #[arg(long, default_value = "10.244.0.0/16")]
    cluster_cidr: String,
    /// Run no controllers in this process (run `skiff controller-manager` elsewhere instead).
    #[arg(long)]
    no_controllers: bool,
}

#[derive(clap::Args)]
struct AgentArgs {
    /// Credentials and address of the API server (skiff server writes agent-kubeconfig.yaml).
    #[arg(long)]
    kubeconfig: PathBuf,
    /// Name of the Node [default: the host name]
    #[arg(long)]
    node_name: Option<String>,
    /// Where pod state, logs and volumes live; one per agent on a host [default: $HOME/.skiff/agent]
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Extra node labels, k=v,k2=v2
    #[arg(long, value_parser = parse_pairs, default_value = "")]
    labels: BTreeMap<String, String>,
    /// Resources to report instead of the host's, e.g. cpu=4,memory=8Gi,pods=110
    /// (simulated nodes: instead of cpu=32,memory=256Gi,ephemeral-storage=1Ti,pods=110)
    #[arg(long, value_parser = parse_pairs, default_value = "")]
    capacity: BTreeMap<String, String>,
    /// Register N simulated nodes from this process instead of running pods: each pod
    /// bound to them is reported Running and Ready at once, with an IP, and removed when
    /// deleted (for benchmarks of the control plane; as kubemark's hollow nodes).
    #[arg(long, value_name = "N")]
    simulate: Option<usize>,
    /// Names of simulated nodes: <prefix><index>.
    #[arg(long, default_value = skiff_agent::simulate::DEFAULT_PREFIX, requires = "simulate")]
    name_prefix: String,
}

fn parse_pairs(s: &str) -> Result<BTreeMap<String, String>, String> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| p.split_once('=').map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).ok_or_else(|| format!("{p:?} is not key=value")))
        .collect()
}

#[derive(Clone, Copy, ValueEnum)]
enum StoreArg {
    Sqlite,
    Memory,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // The shim must stay single-threaded (it forks): dispatch it before any runtime starts.
    if let Command::ContainerShim { dir } = &cli.command {
        std::process::exit(skiff_agent::runtime::shim::main(dir));
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    let result = match cli.command {
        Command::Server(args) => rt.block_on(server(args)),
        Command::Agent(args) => rt.block_on(agent(args)),
        Command::Reset { data_dir } => {
            let dir = match data_dir {
                Some(d) => d,
                None => home()?.join(".skiff").join("agent"),
            };
            skiff_agent::reset(&dir)?;
            Ok(())
        }
        Command::ContainerShim { .. } => Ok(()),
        Command::Scheduler { kubeconfig } => rt.block_on(async {
            let client = kube_client(&kubeconfig).await?;
            skiff_scheduler::run(client).await;
            Ok(())
        }),
        Command::ControllerManager { kubeconfig, cluster_cidr } => rt.block_on(async {
            let client = kube_client(&kubeconfig).await?;
            skiff_controllers::run(client, skiff_controllers::Config { cluster_cidr }).await;
            Ok(())
        }),
    };
    // Once told to stop, stop: tasks still retrying a gone API server must not hold the
    // process up (dropping the runtime would wait for them).
    rt.shutdown_background();
    result
}

async fn server(args: ServerArgs) -> anyhow::Result<()> {
    let data_dir = match args.data_dir {
        Some(d) => d,
        None => home()?.join(".skiff"),
    };
    let cfg = skiff_apiserver::Config {
        data_dir: data_dir.clone(),
        listen: args.listen,
        store: match args.store {
            StoreArg::Sqlite => skiff_apiserver::StoreKind::Sqlite,
            StoreArg::Memory => skiff_apiserver::StoreKind::Memory,
        },
        store_options: Default::default(),
    };
    let running = skiff_apiserver::start(cfg).await.context("starting the API server")?;
    if !args.no_scheduler {
        // In-process components reach the API server as any client would.
        let client = kube_client(&running.kubeconfig).await?;
        tokio::spawn(skiff_scheduler::run(client));
    }
    if !args.no_controllers {
        let client = kube_client(&running.kubeconfig).await?;
        tokio::spawn(skiff_controllers::run(client, skiff_controllers::Config { cluster_cidr: args.cluster_cidr.clone() }));
    }
    if !args.no_agent {
        let kube_config = kube_config(&running.agent_kubeconfig).await?;
        let config = skiff_agent::Config {
            node_name: host_name(),
            data_dir: data_dir.join("agent"),
            labels: BTreeMap::new(),
            capacity: BTreeMap::new(),
        };
        tokio::spawn(async move {
            if let Err(e) = skiff_agent::run(kube_config, config).await {
                eprintln!("error: node agent: {e}");
            }
        });
    }
    println!("skiff API server listening on https://{}", running.addr);
    println!("export KUBECONFIG={}", running.kubeconfig.display());
    shutdown_signal().await;
    Ok(())
}

async fn agent(args: AgentArgs) -> anyhow::Result<()> {
    let kube_config = kube_config(&args.kubeconfig).await?;
    let capacity = args.capacity.into_iter().map(|(k, v)| (k, skiff_agent::K8sQuantity(v))).collect();
    if let Some(count) = args.simulate {
        anyhow::ensure!(args.node_name.is_none(), "--node-name and --simulate exclude each other (simulated nodes are named <--name-prefix><index>)");
        let mut sim = skiff_agent::simulate::SimConfig::new(count);
        sim.name_prefix = args.name_prefix;
        sim.labels = args.labels;
        sim.capacity = capacity;
        tokio::select! {
            r = skiff_agent::simulate::run(kube_config, sim) => r?,
            _ = shutdown_signal() => {}
        }
        return Ok(());
    }
    let config = skiff_agent::Config {
        node_name: args.node_name.unwrap_or_else(host_name),
        data_dir: match args.data_dir {
            Some(d) => d,
            None => home()?.join(".skiff").join("agent"),
        },
        labels: args.labels,
        capacity,
    };
    tokio::select! {
        r = skiff_agent::run(kube_config, config) => r?,
        _ = shutdown_signal() => {}
    }
    Ok(())
}

fn home() -> anyhow::Result<PathBuf> {
    Ok(PathBuf::from(std::env::var("HOME").context("HOME is not set; pass --data-dir")?))
}

/// The node name Kubernetes would use: the host name, lower-cased.
fn host_name() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_lowercase();
    if name.is_empty() { "localhost".to_string() } else { name }
}

async fn kube_config(kubeconfig: &std::path::Path) -> anyhow::Result<kube::Config> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).with_context(|| format!("reading {}", kubeconfig.display()))?;
    kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.context("kubeconfig")
}

async fn kube_client(kubeconfig: &std::path::Path) -> anyhow::Result<kube::Client> {
    kube::Client::try_from(kube_config(kubeconfig).await?).context("API client")
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
