//! skiff-apiserver: the Kubernetes-compatible API server. HTTPS with bearer tokens,
//! discovery and OpenAPI for kubectl, CRUD, list and watch of every registered kind
//! on top of skiff-store.

pub mod discovery;
mod handlers;
mod kubelet;
mod metrics;
mod objects;
pub mod openapi;
mod pki;
mod protobuf;
mod proxy;
mod query;
mod request;
mod services;
pub mod server;
mod status;
mod storage;
mod strategy;
mod tables;
mod watch;

pub use server::{start, Config, Running, StoreKind};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0}")]
    Io(String),
    #[error("tls: {0}")]
    Tls(String),
    #[error("store: {0}")]
    Store(String),
}
