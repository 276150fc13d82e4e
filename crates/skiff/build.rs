//! Release builds link the functions an idle `skiff agent` runs next to each other (the
//! list is crates/skiff/agent.order, written by scripts/agent-symbol-order.py). The agent
//! shares this binary with the control plane and the kernel maps code in 64 KiB blocks, so
//! without the order an idle agent kept 12 MB of mostly control-plane code resident.
use std::{env, path::Path};

fn main() {
    println!("cargo:rerun-if-changed=agent.order");
    // rustc links x86_64 Linux binaries with its bundled lld, which takes the option; other
    // linkers (GNU ld) would reject it.
    let lld = env::var("TARGET").as_deref() == Ok("x86_64-unknown-linux-gnu");
    if lld && env::var("PROFILE").as_deref() == Ok("release") {
        let order = Path::new(env!("CARGO_MANIFEST_DIR")).join("agent.order");
        println!("cargo:rustc-link-arg-bin=skiff=-Wl,--symbol-ordering-file={}", order.display());
        // Names the build does not have (another toolchain, code changed since) are skipped.
        println!("cargo:rustc-link-arg-bin=skiff=-Wl,--no-warn-symbol-ordering");
    }
}
