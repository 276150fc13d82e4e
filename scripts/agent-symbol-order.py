#!/usr/bin/env python3
"""Writes crates/skiff/agent.order: the functions an idle `skiff agent` runs.

The agent shares one binary with the control plane. The kernel maps a binary's code in
64 KiB fault-around blocks, so every function the agent runs brings its neighbours with it,
mostly control-plane code: 12.4 MB of an idle agent's 20 MB RSS were code pages. Release
builds link these functions together at the start of .text (crates/skiff/build.rs hands the
list to lld as --symbol-ordering-file), and the agent maps little else.

How: `skiff server` starts, then `skiff agent` under valgrind's callgrind, which records
every function that runs: the agent registers its node, renews its lease and idles, then
stops. Run it as the agent runs (as root, so that it sets up its bridge and cgroups); it
needs valgrind and a release build:

    cargo build --release -p skiff && scripts/agent-symbol-order.py && cargo build --release -p skiff

Symbol names carry rustc's hashes: regenerate after a toolchain or dependency change (names
the build no longer has are skipped; `--check` counts them, and `skiff-bench pod-startup`
prints the agent's idle RSS).
"""
import argparse, os, re, shutil, signal, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def functions_run(callgrind_out, binary):
    """Names of the functions callgrind saw run in `binary`.

    callgrind compresses names: `fn=(12) name` the first time, `fn=(12)` after; `ob=` says
    which object the functions that follow belong to."""
    names = {"ob": {}, "fn": {}}
    in_binary = False
    run = set()
    for line in open(callgrind_out):
        m = re.match(r"^(c?)(ob|fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if not m:
            continue
        called, kind, number, name = m.groups()
        if name:
            names[kind][number] = name
        if called:
            continue
        name = names[kind][number]
        if kind == "ob":
            in_binary = os.path.realpath(name) == binary
        elif in_binary and not name.startswith(("0x", "(")):  # no symbol: nothing to order
            run.add(re.sub(r"'\d+$", "", name))  # 'N marks a recursion level
    return run


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--skiff", default=os.path.join(ROOT, "target/release/skiff"))
    p.add_argument("--out", default=os.path.join(ROOT, "crates/skiff/agent.order"))
    p.add_argument("--idle", type=float, default=40, help="seconds the agent runs: several lease renewals and node status updates")
    p.add_argument("--check", action="store_true", help="only say how many of the listed functions the binary has")
    a = p.parse_args()
    skiff = os.path.realpath(a.skiff)
    if a.check:
        listed = set(open(a.out).read().split())
        nm = subprocess.run(["nm", "--defined-only", skiff], capture_output=True, text=True, check=True).stdout
        have = listed & {line.split(" ", 2)[-1] for line in nm.splitlines()}
        print(f"{len(have)} of the {len(listed)} functions in {os.path.relpath(a.out, ROOT)} are in {a.skiff}")
        return
    if not shutil.which("valgrind"):
        sys.exit("needs valgrind (apt-get install valgrind)")

    work = tempfile.mkdtemp(prefix="skiff-order-")
    server = subprocess.Popen([skiff, "server", "--data-dir", f"{work}/server", "--listen", "127.0.0.1:0",
                               "--store", "memory", "--no-agent", "--cluster-cidr", "10.99.0.0/16"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kubeconfig = f"{work}/server/agent-kubeconfig.yaml"
    agent = None
    try:
        for _ in range(100):
            if os.path.exists(kubeconfig):
                break
            time.sleep(0.1)
        agent = subprocess.Popen(["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={work}/callgrind.out",
                                  skiff, "agent", "--kubeconfig", kubeconfig, "--node-name", "symbol-order",
                                  "--data-dir", f"{work}/agent"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(a.idle)
        if agent.poll() is not None:
            sys.exit(f"the agent exited ({agent.returncode}) before it went idle")
        agent.send_signal(signal.SIGTERM)  # callgrind writes its file as the agent exits
        agent.wait()
        run = functions_run(f"{work}/callgrind.out", skiff)
    finally:
        for proc in (agent, server):
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait()
        subprocess.run([skiff, "reset", "--data-dir", f"{work}/agent"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)

    if not any("skiff_agent" in name for name in run):
        sys.exit("callgrind saw none of the agent's functions run")
    with open(a.out, "w") as f:
        f.write("\n".join(sorted(run)) + "\n")
    print(f"{len(run)} functions written to {os.path.relpath(a.out, ROOT)}")


if __name__ == "__main__":
    main()
