//! skiff-controllers: kube-controller-manager's controllers.
//!
//! Each controller is one module that starts by saying what it keeps true. Its decision
//! is a pure function from the desired and observed state to actions, unit-tested without
//! a server; a thin loop feeds it from shared informers (kube-rs watches) and applies the
//! actions through the API, as any remote client would.
//!
//! | module | keeps true |
//! |---|---|
//! | [`nodeipam`] | each Node has a distinct pod CIDR |

pub mod clock;
pub mod events;
pub mod informer;
pub mod nodeipam;

use std::sync::Arc;

use k8s_openapi::api::core::v1::Node;
use kube::api::Api;

use crate::clock::{Clock, SystemClock};
use crate::informer::Informer;

/// Runs every controller until the process ends.
pub async fn run(client: kube::Client) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let nodes = Informer::new();
    nodeipam::start(client.clone(), &nodes, events::Recorder::new(client.clone(), "node-ipam-controller", clock.clone()));
    nodes.start(Api::<Node>::all(client.clone()), nodeipam::NodeCidrs::from_node);
    std::future::pending::<()>().await;
}
