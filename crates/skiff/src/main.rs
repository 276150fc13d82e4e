//! skiff: one binary that runs a Kubernetes-compatible cluster.

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
    /// Run no node agent in this process (the only mode until the node agent lands).
    #[arg(long)]
    no_agent: bool,
    /// Run no scheduler in this process (run `skiff scheduler` elsewhere instead).
    #[arg(long)]
    no_scheduler: bool,
    /// Run no controllers in this process (run `skiff controller-manager` elsewhere instead).
    #[arg(long)]
    no_controllers: bool,
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
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    match cli.command {
        Command::Server(args) => rt.block_on(server(args)),
        Command::Scheduler { kubeconfig } => rt.block_on(async {
            let client = kube_client(&kubeconfig).await?;
            skiff_scheduler::run(client).await;
            Ok(())
        }),
        Command::ControllerManager { kubeconfig } => rt.block_on(async {
            let client = kube_client(&kubeconfig).await?;
            skiff_controllers::run(client).await;
            Ok(())
        }),
    }
}

async fn server(args: ServerArgs) -> anyhow::Result<()> {
    let data_dir = match args.data_dir {
        Some(d) => d,
        None => PathBuf::from(std::env::var("HOME").context("HOME is not set; pass --data-dir")?).join(".skiff"),
    };
    if !args.no_agent {
        eprintln!("note: the node agent is not built yet; running the control plane only (as with --no-agent)");
    }
    let cfg = skiff_apiserver::Config {
        data_dir,
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
        tokio::spawn(skiff_controllers::run(client));
    }
    println!("skiff API server listening on https://{}", running.addr);
    println!("export KUBECONFIG={}", running.kubeconfig.display());
    shutdown_signal().await;
    Ok(())
}

async fn kube_client(kubeconfig: &std::path::Path) -> anyhow::Result<kube::Client> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).with_context(|| format!("reading {}", kubeconfig.display()))?;
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.context("kubeconfig")?;
    kube::Client::try_from(cfg).context("API client")
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
