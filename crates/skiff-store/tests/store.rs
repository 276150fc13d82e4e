use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use skiff_store::{EventKind, MakeValue, Revision, Store, StoreError, StoreOptions};

fn val(s: &str) -> MakeValue {
    let s = s.to_owned();
    Box::new(move |_| Bytes::from(s))
}

/// A value that embeds the revision it was written at.
fn stamped(tag: &str) -> MakeValue {
    let tag = tag.to_owned();
    Box::new(move |rev| Bytes::from(format!("{tag}@{rev}")))
}

fn temp_db() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.db");
    (dir, path)
}

async fn next_event(w: &mut skiff_store::Watcher) -> Arc<skiff_store::Event> {
    tokio::time::timeout(Duration::from_secs(5), w.next())
        .await
        .expect("timed out waiting for an event")
        .expect("watch ended")
        .expect("watch error")
}

async fn assert_idle(w: &mut skiff_store::Watcher) {
    assert!(
        tokio::time::timeout(Duration::from_millis(50), w.next())
            .await
            .is_err(),
        "expected no further event"
    );
}

async fn crud(store: Store) {
    assert_eq!(store.revision(), 0);
    assert!(store.get("a").is_none());

    let a = store.create("a", val("one")).await.unwrap();
    assert_eq!(
        (
            a.key.as_str(),
            &a.value[..],
            a.create_revision,
            a.mod_revision
        ),
        ("a", &b"one"[..], 1, 1)
    );
    assert_eq!(store.get("a").unwrap(), a);
    assert_eq!(store.revision(), 1);

    assert_eq!(
        store.create("a", val("again")).await.unwrap_err(),
        StoreError::AlreadyExists
    );
    assert_eq!(store.get("a").unwrap().value, "one");

    assert_eq!(
        store.update("a", Some(7), val("x")).await.unwrap_err(),
        StoreError::Conflict { current: 1 }
    );
    let a2 = store.update("a", Some(1), val("two")).await.unwrap();
    assert_eq!(
        (a2.create_revision, a2.mod_revision, &a2.value[..]),
        (1, 2, &b"two"[..])
    );
    let a3 = store.update("a", None, val("three")).await.unwrap();
    assert_eq!((a3.create_revision, a3.mod_revision), (1, 3));
    assert_eq!(
        store.update("missing", None, val("x")).await.unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        store
            .update("missing", Some(1), val("x"))
            .await
            .unwrap_err(),
        StoreError::NotFound
    );

    assert_eq!(
        store.delete("a", Some(2)).await.unwrap_err(),
        StoreError::Conflict { current: 3 }
    );
    let (last, del_rev) = store.delete("a", Some(3)).await.unwrap();
    assert_eq!(last, a3);
    assert_eq!(del_rev, 4);
    assert!(store.get("a").is_none());
    assert_eq!(
        store.delete("a", None).await.unwrap_err(),
        StoreError::NotFound
    );

    // Rejected writes do not consume revisions.
    assert_eq!(store.revision(), 4);
    let a = store.create("a", val("reborn")).await.unwrap();
    assert_eq!((a.create_revision, a.mod_revision), (5, 5));
    let b = store.create("b", val("b")).await.unwrap();
    let (_, rev) = store.delete("b", None).await.unwrap();
    assert_eq!((b.mod_revision, rev), (6, 7));
}

#[tokio::test]
async fn crud_memory() {
    crud(Store::memory()).await;
}

#[tokio::test]
async fn crud_sqlite() {
    let (_dir, path) = temp_db();
    crud(Store::sqlite(&path).unwrap()).await;
}

#[tokio::test]
async fn make_value_gets_the_revision_of_the_write() {
    let store = Store::memory();
    store.create("x", val("filler")).await.unwrap();
    let kv = store.create("k", stamped("k")).await.unwrap();
    assert_eq!(kv.value, "k@2");
    let kv = store.update("k", None, stamped("k")).await.unwrap();
    assert_eq!((kv.mod_revision, &kv.value[..]), (3, &b"k@3"[..]));
    assert_eq!(store.get("k").unwrap().value, "k@3");
}

#[tokio::test]
async fn make_value_not_called_when_rejected() {
    let store = Store::memory();
    store.create("k", val("v")).await.unwrap();
    let called = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let c = called.clone();
    let make: MakeValue = Box::new(move |_| {
        c.store(true, std::sync::atomic::Ordering::SeqCst);
        Bytes::new()
    });
    assert_eq!(
        store.create("k", make).await.unwrap_err(),
        StoreError::AlreadyExists
    );
    assert!(!called.load(std::sync::atomic::Ordering::SeqCst));
}

async fn panicking_make_propagates(store: Store) {
    let s = store.clone();
    let res = tokio::spawn(async move {
        s.create("boom", Box::new(|_| panic!("builder exploded")))
            .await
    })
    .await;
    assert!(res.unwrap_err().is_panic());
    // Nothing was written, no revision consumed, and the store still works.
    assert!(store.get("boom").is_none());
    assert_eq!(store.revision(), 0);
    assert_eq!(store.create("ok", val("v")).await.unwrap().mod_revision, 1);
}

#[tokio::test]
async fn panicking_make_value_memory() {
    panicking_make_propagates(Store::memory()).await;
}

#[tokio::test]
async fn panicking_make_value_sqlite() {
    let (_dir, path) = temp_db();
    panicking_make_propagates(Store::sqlite(&path).unwrap()).await;
}

#[tokio::test]
async fn list_prefix_start_after_limit() {
    let store = Store::memory();
    for k in ["a/1", "b/1", "b/2", "b/3", "b/4", "b0", "c/1"] {
        store.create(k, val(k)).await.unwrap();
    }
    let keys =
        |r: &skiff_store::ListResult| r.items.iter().map(|kv| kv.key.clone()).collect::<Vec<_>>();

    let all = store.list("b/", None, None);
    assert_eq!(keys(&all), ["b/1", "b/2", "b/3", "b/4"]);
    assert!(!all.more);
    assert_eq!(all.revision, 7);
    assert_eq!(all.items[1].value, "b/2");
    assert_eq!(all.items[1].create_revision, 3);

    let page1 = store.list("b/", None, Some(2));
    assert_eq!(keys(&page1), ["b/1", "b/2"]);
    assert!(page1.more);
    let page2 = store.list("b/", Some("b/2"), Some(2));
    assert_eq!(keys(&page2), ["b/3", "b/4"]);
    assert!(!page2.more, "nothing under the prefix after b/4");
    let page3 = store.list("b/", Some("b/4"), Some(2));
    assert!(page3.items.is_empty() && !page3.more);

    // start_after need not exist.
    assert_eq!(keys(&store.list("b/", Some("b/25"), None)), ["b/3", "b/4"]);
    // start_after before the prefix starts at the prefix.
    assert_eq!(keys(&store.list("b/", Some("a"), Some(1))), ["b/1"]);
    let zero = store.list("b/", None, Some(0));
    assert!(zero.items.is_empty() && zero.more);

    assert_eq!(store.list("", None, None).items.len(), 7);
    assert!(store.list("zzz", None, None).items.is_empty());

    assert_eq!(store.count("b/"), 4);
    assert_eq!(store.count("b"), 5);
    assert_eq!(store.count(""), 7);
    assert_eq!(store.count("nope"), 0);
    store.delete("b/2", None).await.unwrap();
    assert_eq!(store.count("b/"), 3);
    assert_eq!(keys(&store.list("b/", Some("b/1"), Some(1))), ["b/3"]);
}

#[tokio::test]
async fn revisions_and_data_survive_reopen_including_deletes() {
    let (_dir, path) = temp_db();
    {
        let store = Store::sqlite(&path).unwrap();
        store.create("a", stamped("a")).await.unwrap(); // 1
        store.create("b", stamped("b")).await.unwrap(); // 2
        store.update("a", None, stamped("a")).await.unwrap(); // 3
        store.create("c", stamped("c")).await.unwrap(); // 4
        store.delete("c", None).await.unwrap(); // 5
        store.delete("b", None).await.unwrap(); // 6
        assert_eq!(store.revision(), 6);
    }
    {
        let store = Store::sqlite(&path).unwrap();
        assert_eq!(
            store.revision(),
            6,
            "deletes must advance the persisted revision"
        );
        let a = store.get("a").unwrap();
        assert_eq!(
            (a.create_revision, a.mod_revision, &a.value[..]),
            (1, 3, &b"a@3"[..])
        );
        assert!(store.get("b").is_none());
        assert!(store.get("c").is_none());
        assert_eq!(store.count(""), 1);
        // The next write continues the sequence; nothing is reused.
        let c = store.create("c", stamped("c")).await.unwrap();
        assert_eq!(c.mod_revision, 7);
        store.delete("c", None).await.unwrap(); // 8
    }
    let store = Store::sqlite(&path).unwrap();
    assert_eq!(store.revision(), 8);
    assert_eq!(store.create("d", val("d")).await.unwrap().mod_revision, 9);
}

#[tokio::test]
async fn reopen_with_many_keys() {
    let (_dir, path) = temp_db();
    let mut expected = Vec::new();
    {
        let store = Store::sqlite(&path).unwrap();
        for i in 0..500 {
            let kv = store
                .create(&format!("k/{i:04}"), stamped("v"))
                .await
                .unwrap();
            expected.push(kv);
        }
    }
    let store = Store::sqlite(&path).unwrap();
    let listed = store.list("k/", None, None);
    assert_eq!(listed.items, expected);
    assert_eq!(listed.revision, 500);
}

#[tokio::test]
async fn second_open_of_same_file_is_refused() {
    let (_dir, path) = temp_db();
    let store = Store::sqlite(&path).unwrap();
    store.create("a", val("a")).await.unwrap();
    match Store::sqlite(&path) {
        Err(StoreError::Io(msg)) => assert!(msg.contains("locked"), "{msg}"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a second store on the same file must be refused"),
    }
    drop(store);
    let store = Store::sqlite(&path).unwrap();
    assert_eq!(store.get("a").unwrap().value, "a");
}

#[tokio::test]
async fn open_fails_cleanly_for_bad_path() {
    let (dir, _) = temp_db();
    let err = Store::sqlite(&dir.path().join("no/such/dir/x.db"))
        .err()
        .expect("must fail");
    assert!(matches!(err, StoreError::Io(_)), "{err:?}");
}

async fn concurrent_creates(
    store: &Store,
    tasks: usize,
    per_task: usize,
) -> Vec<skiff_store::KeyValue> {
    let mut handles = Vec::new();
    for t in 0..tasks {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in 0..per_task {
                out.push(
                    store
                        .create(&format!("c/{t}/{i}"), stamped("c"))
                        .await
                        .unwrap(),
                );
            }
            out
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_get_distinct_revisions_and_are_durable() {
    let (_dir, path) = temp_db();
    let (tasks, per_task) = (16, 100);
    let n = (tasks * per_task) as i64;
    let written = {
        let store = Store::sqlite(&path).unwrap();
        let written = concurrent_creates(&store, tasks, per_task).await;
        let revs: HashSet<Revision> = written.iter().map(|kv| kv.mod_revision).collect();
        assert_eq!(revs.len() as i64, n, "revisions must be distinct");
        assert_eq!(revs.iter().min(), Some(&1));
        assert_eq!(revs.iter().max(), Some(&n));
        assert_eq!(store.revision(), n);
        for kv in &written {
            assert_eq!(kv.value, format!("c@{}", kv.mod_revision));
        }
        written
    };
    let store = Store::sqlite(&path).unwrap();
    assert_eq!(store.revision(), n);
    assert_eq!(store.count("c/"), n as usize);
    for kv in &written {
        assert_eq!(store.get(&kv.key).as_ref(), Some(kv));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_memory() {
    let store = Store::memory();
    let written = concurrent_creates(&store, 8, 200).await;
    let revs: HashSet<Revision> = written.iter().map(|kv| kv.mod_revision).collect();
    assert_eq!(revs.len(), 1600);
    assert_eq!(store.revision(), 1600);
}

/// Racing creates of one key (likely in one group-commit batch): exactly one wins, and
/// a loser never observes the key missing after being told it exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_creates_of_one_key() {
    let (_dir, path) = temp_db();
    let store = Store::sqlite(&path).unwrap();
    for round in 0..20 {
        let key = format!("race/{round}");
        let mut handles = Vec::new();
        for t in 0..8 {
            let (store, key) = (store.clone(), key.clone());
            handles.push(tokio::spawn(async move {
                let res = store.create(&key, val(&t.to_string())).await;
                if res.is_err() {
                    assert!(
                        store.get(&key).is_some(),
                        "told AlreadyExists but key not readable"
                    );
                }
                res
            }));
        }
        let mut wins = 0;
        for h in handles {
            match h.await.unwrap() {
                Ok(_) => wins += 1,
                Err(e) => assert_eq!(e, StoreError::AlreadyExists),
            }
        }
        assert_eq!(wins, 1);
    }
    assert_eq!(store.revision(), 20);
}

/// CAS updates from many tasks: every success saw the previous value, so the number of
/// successes equals the number of revisions the key advanced.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cas_updates_are_linearizable() {
    let (_dir, path) = temp_db();
    let store = Store::sqlite(&path).unwrap();
    store.create("counter", val("0")).await.unwrap();
    let mut handles = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut ok = 0;
            for _ in 0..50 {
                let cur = store.get("counter").unwrap();
                let n: u64 = std::str::from_utf8(&cur.value).unwrap().parse().unwrap();
                match store
                    .update("counter", Some(cur.mod_revision), val(&(n + 1).to_string()))
                    .await
                {
                    Ok(_) => ok += 1,
                    Err(StoreError::Conflict { current }) => assert!(current > cur.mod_revision),
                    Err(e) => panic!("{e}"),
                }
            }
            ok
        }));
    }
    let mut total = 0u64;
    for h in handles {
        total += h.await.unwrap();
    }
    let cur = store.get("counter").unwrap();
    assert_eq!(cur.value, total.to_string());
    assert_eq!(cur.mod_revision, 1 + total as i64);
}

// ---- watch ----

#[tokio::test]
async fn watch_replays_history_then_follows_live() {
    let store = Store::memory();
    store.create("a", val("a1")).await.unwrap(); // 1
    store.update("a", None, val("a2")).await.unwrap(); // 2
    store.create("b", val("b1")).await.unwrap(); // 3
    store.delete("a", None).await.unwrap(); // 4

    let mut w = store.watch("", 1).unwrap();
    let e = next_event(&mut w).await;
    assert_eq!(
        (e.revision, e.kind, e.key.as_str()),
        (2, EventKind::Updated, "a")
    );
    assert_eq!(
        (&e.value[..], e.prev_value.as_deref()),
        (&b"a2"[..], Some(&b"a1"[..]))
    );
    let e = next_event(&mut w).await;
    assert_eq!(
        (e.revision, e.kind, &e.value[..], e.prev_value.as_deref()),
        (3, EventKind::Created, &b"b1"[..], None)
    );
    let e = next_event(&mut w).await;
    assert_eq!(
        (e.revision, e.kind, e.key.as_str(), &e.value[..]),
        (4, EventKind::Deleted, "a", &b"a2"[..])
    );
    assert_eq!(e.prev_value.as_deref(), Some(&b"a2"[..]));
    assert_idle(&mut w).await;

    store.create("c", val("c1")).await.unwrap();
    let e = next_event(&mut w).await;
    assert_eq!(
        (e.revision, e.kind, e.key.as_str()),
        (5, EventKind::Created, "c")
    );
    assert_eq!(w.last_revision(), 5);

    // Watching from the current revision gives only what comes next.
    let mut w2 = store.watch("", store.revision()).unwrap();
    assert_idle(&mut w2).await;
    store.update("c", None, val("c2")).await.unwrap();
    assert_eq!(next_event(&mut w2).await.revision, 6);
    assert_eq!(next_event(&mut w).await.revision, 6);
}

#[tokio::test]
async fn watch_filters_by_prefix() {
    let store = Store::memory();
    store.create("pods/a", val("x")).await.unwrap(); // 1
    store.create("svc/a", val("x")).await.unwrap(); // 2
    store.create("pods/b", val("x")).await.unwrap(); // 3
    let mut w = store.watch("pods/", 0).unwrap();
    assert_eq!(next_event(&mut w).await.key, "pods/a");
    assert_eq!(next_event(&mut w).await.key, "pods/b");
    store.create("svc/b", val("x")).await.unwrap(); // 4
    store.delete("pods/a", None).await.unwrap(); // 5
    let e = next_event(&mut w).await;
    assert_eq!(
        (e.key.as_str(), e.revision, e.kind),
        ("pods/a", 5, EventKind::Deleted)
    );
    assert_idle(&mut w).await;
}

#[tokio::test]
async fn watch_from_future_revision_skips_until_then() {
    let store = Store::memory();
    let mut w = store.watch("", 2).unwrap();
    for k in ["a", "b", "c"] {
        store.create(k, val(k)).await.unwrap();
    }
    let e = next_event(&mut w).await;
    assert_eq!((e.revision, e.key.as_str()), (3, "c"));
}

#[tokio::test]
async fn watch_too_old_revision_is_compacted() {
    let store = Store::memory_with(StoreOptions {
        history: 10,
        ..Default::default()
    });
    assert_eq!(store.oldest_revision(), 0);
    for i in 0..30 {
        store.create(&format!("k{i}"), val("v")).await.unwrap();
    }
    assert_eq!(store.oldest_revision(), 20);
    assert_eq!(
        store.watch("", 19).err(),
        Some(StoreError::Compacted { oldest: 20 })
    );
    assert_eq!(
        store.watch("", 0).err(),
        Some(StoreError::Compacted { oldest: 20 })
    );
    let mut w = store.watch("", 20).unwrap();
    for rev in 21..=30 {
        assert_eq!(next_event(&mut w).await.revision, rev);
    }
    assert_idle(&mut w).await;
    // The current revision is always watchable.
    assert!(store.watch("", 30).is_ok());
}

#[tokio::test]
async fn watch_with_no_history_allows_only_current() {
    let store = Store::memory_with(StoreOptions {
        history: 0,
        ..Default::default()
    });
    store.create("a", val("v")).await.unwrap();
    assert_eq!(store.oldest_revision(), 1);
    assert_eq!(
        store.watch("", 0).err(),
        Some(StoreError::Compacted { oldest: 1 })
    );
    let mut w = store.watch("", 1).unwrap();
    store.create("b", val("v")).await.unwrap();
    assert_eq!(next_event(&mut w).await.key, "b");
}

#[tokio::test]
async fn after_reopen_history_starts_at_loaded_revision() {
    let (_dir, path) = temp_db();
    {
        let store = Store::sqlite(&path).unwrap();
        for k in ["a", "b", "c"] {
            store.create(k, val(k)).await.unwrap();
        }
        assert_eq!(store.oldest_revision(), 0);
    }
    let store = Store::sqlite(&path).unwrap();
    assert_eq!(store.oldest_revision(), 3);
    assert_eq!(
        store.watch("", 2).err(),
        Some(StoreError::Compacted { oldest: 3 })
    );
    let mut w = store.watch("", 3).unwrap();
    store.delete("b", None).await.unwrap();
    let e = next_event(&mut w).await;
    assert_eq!(
        (e.revision, e.kind, &e.value[..]),
        (4, EventKind::Deleted, &b"b"[..])
    );
}

#[tokio::test]
async fn slow_watcher_gets_lagged_once_then_ends() {
    let store = Store::memory_with(StoreOptions {
        watch_buffer: 16,
        ..Default::default()
    });
    let mut slow = store.watch("", 0).unwrap();
    let mut filtered = store.watch("other/", 0).unwrap();
    for i in 0..100 {
        store.create(&format!("k{i}"), val("v")).await.unwrap();
    }
    assert_eq!(slow.next().await.unwrap().unwrap_err(), StoreError::Lagged);
    assert!(slow.next().await.is_none());
    assert!(slow.next().await.is_none());
    // Lag is about events received, not events matched: memory stays bounded either way.
    assert_eq!(
        filtered.next().await.unwrap().unwrap_err(),
        StoreError::Lagged
    );
    // A fresh watcher can resume from history.
    let mut w = store.watch("", 50).unwrap();
    assert_eq!(next_event(&mut w).await.revision, 51);
}

#[tokio::test]
async fn watcher_keeping_up_never_lags() {
    let store = Store::memory_with(StoreOptions {
        watch_buffer: 4,
        ..Default::default()
    });
    let mut w = store.watch("", 0).unwrap();
    for i in 1..=50 {
        store.create(&format!("k{i}"), val("v")).await.unwrap();
        assert_eq!(next_event(&mut w).await.revision, i);
    }
}

#[tokio::test]
async fn watch_ends_when_store_dropped() {
    let (_dir, path) = temp_db();
    for store in [Store::memory(), Store::sqlite(&path).unwrap()] {
        let mut w = store.watch("", 0).unwrap();
        store.create("a", val("v")).await.unwrap();
        drop(store);
        // Events already published are still delivered, then the stream ends.
        assert_eq!(next_event(&mut w).await.key, "a");
        let end = tokio::time::timeout(Duration::from_secs(5), w.next())
            .await
            .expect("should end");
        assert!(end.is_none());
    }
}

/// Watchers opened at arbitrary moments while writes are in flight see exactly the
/// revisions after their start point: no gap, no duplicate, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn watch_has_no_gap_or_duplicate_under_concurrent_writes() {
    let (_dir, path) = temp_db();
    let store = Store::sqlite(&path).unwrap();
    let total: i64 = 8 * 150;
    let writers: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..150 {
                    let key = format!("w/{t}/{i}");
                    store.create(&key, stamped("v")).await.unwrap();
                    if i % 3 == 0 {
                        store.delete(&key, None).await.unwrap();
                    }
                }
            })
        })
        .collect();
    let mut watchers = Vec::new();
    while watchers.len() < 10 {
        let after = store.revision();
        watchers.push((after, store.watch("w/", after).unwrap()));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for h in writers {
        h.await.unwrap();
    }
    let end = store.revision();
    assert_eq!(end, total + 8 * 50);
    for (after, mut w) in watchers {
        let mut expect = after + 1;
        while expect <= end {
            let e = next_event(&mut w).await;
            assert_eq!(e.revision, expect, "watcher after {after}");
            if e.kind != EventKind::Deleted {
                assert_eq!(e.value, format!("v@{}", e.revision));
            }
            expect += 1;
        }
        assert_idle(&mut w).await;
    }
}

/// Rough throughput/latency check (`cargo test -p skiff-store --release -- --ignored --nocapture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn throughput_report() {
    let (_dir, path) = temp_db();
    let store = Store::sqlite(&path).unwrap();
    let value = Bytes::from(vec![b'x'; 1500]);
    let start = std::time::Instant::now();
    for i in 0..500 {
        let v = value.clone();
        store
            .create(&format!("seq/{i}"), Box::new(move |_| v))
            .await
            .unwrap();
    }
    let seq = start.elapsed();
    println!(
        "sequential: {:.0} creates/s ({:?} each)",
        500.0 / seq.as_secs_f64(),
        seq / 500
    );

    let clients = 8;
    let per_client = 2500;
    let start = std::time::Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (store, value) = (store.clone(), value.clone());
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per_client);
                for i in 0..per_client {
                    let v = value.clone();
                    let t = std::time::Instant::now();
                    store
                        .create(&format!("par/{c}/{i}"), Box::new(move |_| v))
                        .await
                        .unwrap();
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(h.await.unwrap());
    }
    let elapsed = start.elapsed();
    lat.sort();
    println!(
        "{clients} clients: {:.0} creates/s, p50 {:?}, p99 {:?}, max {:?}",
        lat.len() as f64 / elapsed.as_secs_f64(),
        lat[lat.len() / 2],
        lat[lat.len() * 99 / 100],
        lat[lat.len() - 1]
    );
}

fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        / 1024
}

/// Memory check for 100,000 values of 1.5 KB (`-- --ignored --nocapture memory_report`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn memory_report() {
    let (_dir, mut path) = temp_db();
    // Set SKIFF_STORE_MEM_DB to keep the file, and run again to measure a fresh-process
    // reopen (in one process, glibc keeps the writer thread's freed arena around).
    if let Ok(p) = std::env::var("SKIFF_STORE_MEM_DB") {
        path = p.into();
    }
    println!("start: {} MiB", rss_mib());
    if !path.exists() {
        let store = Store::sqlite(&path).unwrap();
        let handles: Vec<_> = (0..16)
            .map(|c| {
                let store = store.clone();
                tokio::spawn(async move {
                    for i in 0..100_000 / 16 {
                        let key = format!("/registry/configmaps/ns{c}/cm-{i:06}");
                        store
                            .create(&key, Box::new(|_| Bytes::from(vec![b'x'; 1500])))
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        println!("after writing {} keys: {} MiB", store.count(""), rss_mib());
    }
    let store = Store::sqlite(&path).unwrap();
    println!(
        "after reopen with {} keys: {} MiB",
        store.count(""),
        rss_mib()
    );
}
