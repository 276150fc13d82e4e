//! Durability under kill -9: a child process (this test binary re-executed) writes
//! through the SQLite store and prints each acknowledged write; the parent SIGKILLs it
//! mid-stream, reopens the file and checks every acknowledged write is there.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use skiff_store::{Revision, Store};

const CHILD_ENV: &str = "SKIFF_STORE_CRASH_CHILD";
const TASKS: usize = 6;
const ACKS_BEFORE_KILL: usize = 600;

/// Writer side. Does nothing unless started by the parent test.
#[test]
fn crash_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let store = Store::sqlite(std::path::Path::new(&path)).unwrap();
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let store = store.clone();
                tokio::spawn(async move {
                    // Bounded so an orphaned child cannot run forever.
                    for i in 0..200_000usize {
                        let key = format!("k/{t}/{i}");
                        let k2 = key.clone();
                        let kv = store
                            .create(
                                &key,
                                Box::new(move |rev| Bytes::from(format!("{k2}@{rev}"))),
                            )
                            .await
                            .unwrap();
                        ack(&format!("C {key} {}", kv.mod_revision));
                        if i.is_multiple_of(3) {
                            let k2 = key.clone();
                            let kv = store
                                .update(
                                    &key,
                                    Some(kv.mod_revision),
                                    Box::new(move |rev| Bytes::from(format!("{k2}@{rev}"))),
                                )
                                .await
                                .unwrap();
                            ack(&format!("U {key} {}", kv.mod_revision));
                        }
                        if i.is_multiple_of(5) {
                            let (_, rev) = store.delete(&key, None).await.unwrap();
                            ack(&format!("D {key} {rev}"));
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
    });
}

fn ack(line: &str) {
    let mut out = std::io::stdout().lock();
    // The parent reading stdout is the only reason to live.
    if writeln!(out, "ACK {line}")
        .and_then(|_| out.flush())
        .is_err()
    {
        std::process::exit(0);
    }
}

#[derive(Debug)]
enum Acked {
    Present {
        create: Revision,
        modified: Revision,
        update_may_follow: bool,
        delete_may_follow: bool,
    },
    Deleted,
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let mut acked: HashMap<String, Acked> = HashMap::new();
    let mut max_rev: Revision = 0;
    let mut creates = 0;
    let mut handle = |line: &str, acked: &mut HashMap<String, Acked>| -> bool {
        // The harness may print "test crash_child ... " on the same line as the first ack.
        let Some(at) = line.find("ACK ") else {
            return false;
        };
        let rest = &line[at + 4..];
        let parts: Vec<&str> = rest.split(' ').collect();
        let (op, key, rev) = (
            parts[0],
            parts[1].to_string(),
            parts[2].parse::<Revision>().unwrap(),
        );
        let i: usize = key.rsplit('/').next().unwrap().parse().unwrap();
        max_rev = max_rev.max(rev);
        match op {
            "C" => {
                let st = Acked::Present {
                    create: rev,
                    modified: rev,
                    update_may_follow: i.is_multiple_of(3),
                    delete_may_follow: i.is_multiple_of(5),
                };
                acked.insert(key, st);
                return true;
            }
            "U" => match acked.get_mut(&key) {
                Some(Acked::Present {
                    modified,
                    update_may_follow,
                    ..
                }) => {
                    *modified = rev;
                    *update_may_follow = false;
                }
                other => panic!("update ack for {key} in state {other:?}"),
            },
            "D" => {
                acked.insert(key, Acked::Deleted);
            }
            _ => panic!("bad line {line}"),
        }
        false
    };
    while creates < ACKS_BEFORE_KILL {
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => line,
            Err(e) => {
                let _ = child.kill();
                panic!("child stopped acknowledging after {creates} creates: {e}");
            }
        };
        if handle(&line, &mut acked) {
            creates += 1;
        }
    }
    // SIGKILL on Unix: no destructors, no clean SQLite close.
    child.kill().unwrap();
    child.wait().unwrap();
    // Lines already in the pipe were acknowledged before the kill too.
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
        handle(&line, &mut acked);
    }

    let store = Store::sqlite(&path).unwrap();
    assert!(
        store.revision() >= max_rev,
        "revision {} < acked {max_rev}",
        store.revision()
    );
    let mut checked = 0;
    for (key, st) in &acked {
        let got = store.get(key);
        match (st, got) {
            (Acked::Deleted, got) => assert!(got.is_none(), "acked delete of {key} lost"),
            (
                Acked::Present {
                    delete_may_follow: true,
                    ..
                },
                None,
            ) => {} // unacked delete landed
            (Acked::Present { .. }, None) => panic!("acked write of {key} lost"),
            (
                Acked::Present {
                    create,
                    modified,
                    update_may_follow,
                    ..
                },
                Some(kv),
            ) => {
                assert_eq!(kv.create_revision, *create, "{key}");
                if kv.mod_revision != *modified {
                    assert!(
                        *update_may_follow && kv.mod_revision > *modified,
                        "{key}: {kv:?} vs {st:?}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 0);
    // Every value on disk is intact and was written at the revision it claims.
    for kv in store.list("k/", None, None).items {
        assert_eq!(kv.value, format!("{}@{}", kv.key, kv.mod_revision));
    }
    // A restart never reuses a revision.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let kv = rt
        .block_on(store.create("after-crash", Box::new(|_| Bytes::new())))
        .unwrap();
    assert!(kv.mod_revision > max_rev);
}
