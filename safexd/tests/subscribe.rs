//! `Subscribe`: events, attribute changes (an extension's and the API's),
//! traps, `trace` records and counters reach a subscriber of the
//! application; a principal without `r` cannot subscribe, and a revoke ends
//! a grantee's stream; the daemon stops with streams open.

mod common;

use std::time::{Duration, Instant};

use common::{CPU_PID, object, start};
use safex::notice::Kind;
use safex::proto::{CreateApplicationRequest, GrantRequest, RevokeRequest, SubscribeRequest, WriteAttributeRequest};
use safex::{Error, Subscription};

/// A monitor that traces, then divides by zero: a trace record and a trap
/// each tick until the extension is quarantined.
const FAULTY: &str = "extension faulty;\nimport cpu;\nint zero = 0;\n\
                      monitor void m(cap<cpu_qos> app) { trace(41); trace(100 / zero); }\n";

/// Reads notices until `want` returns true of one (10 s at most); returns
/// every notice read.
async fn until(sub: &mut Subscription, what: &str, want: impl Fn(&Kind) -> bool) -> Vec<Kind> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let notice = tokio::time::timeout(left, sub.next())
            .await
            .unwrap_or_else(|_| panic!("no {what} in 10 s; saw {seen:?}"))
            .unwrap_or_else(|| panic!("the stream ended before {what}; saw {seen:?}"))
            .expect("a notice");
        let kind = notice.kind.expect("a kind");
        let done = want(&kind);
        seen.push(kind);
        if done {
            return seen;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_sees_events_changes_traps_traces_and_counters() {
    let dir = tempfile::tempdir().expect("temp dir");
    let daemon = start(dir.path()).await;
    let client = daemon.client().await;
    client.create_application("video").await.expect("creates");
    let mut sub = client.subscribe("video", 20).await.expect("subscribes");
    client
        .write_attribute("video", "period", 100_000)
        .await
        .expect("writes");
    let api_write = until(&mut sub, "the API's write", |k| matches!(k, Kind::Change(_))).await;
    let Some(Kind::Change(c)) = api_write.last() else {
        unreachable!()
    };
    assert_eq!(
        (c.attribute.as_str(), c.old, c.new, c.extension_id, c.outcome.as_str()),
        ("cpu_qos.period", 0, 100_000, 0, "written")
    );
    client
        .write_attribute("video", "target_cpu", 5000)
        .await
        .expect("writes");
    let pid = client.deploy("video", CPU_PID).await.expect("deploys");
    // The monitor raises the error as an event, the handler writes the
    // adjustment through its guard.
    until(
        &mut sub,
        "an event",
        |k| matches!(k, Kind::Event(e) if e.event == "Error" && e.value == 5000 && e.handlers == 1),
    )
    .await;
    until(&mut sub, "the handler's write", |k| {
        matches!(k, Kind::Change(c) if c.attribute == "cpu_qos.timeslice_adjustment"
            && c.extension_id == pid.id && c.entry == "cpu_pid.cpu_pid" && c.outcome == "written")
    })
    .await;
    until(&mut sub, "counters", |k| {
        matches!(k, Kind::Counters(c) if c.extensions.iter().any(|e|
            e.id == pid.id && e.counters.as_ref().is_some_and(|c| c.invocations > 0)))
    })
    .await;
    let faulty = client.deploy("video", object(FAULTY)).await.expect("deploys");
    until(&mut sub, "a trace", |k| {
        matches!(k, Kind::Trace(t) if t.extension_id == faulty.id && t.entry == "faulty.m" && t.value == 41 && t.site > 0)
    })
    .await;
    let traps = until(
        &mut sub,
        "the quarantine",
        |k| matches!(k, Kind::Trap(t) if t.quarantined),
    )
    .await;
    let traps: Vec<_> = traps
        .iter()
        .filter_map(|k| match k {
            Kind::Trap(t) => Some(t),
            _ => None,
        })
        .collect();
    assert!(!traps.is_empty());
    for t in traps {
        assert_eq!((t.extension_id, t.entry.as_str()), (faulty.id, "faulty.m"));
        assert!(t.trap.starts_with("DivideByZero"), "{}", t.trap);
    }
    // Another application's notices are not this subscriber's.
    client.create_application("other").await.expect("creates");
    client.write_attribute("other", "period", 7).await.expect("writes");
    client.write_attribute("video", "period", 8).await.expect("writes");
    let seen = until(
        &mut sub,
        "the second write",
        |k| matches!(k, Kind::Change(c) if c.new == 8),
    )
    .await;
    assert!(
        !seen.iter().any(|k| matches!(k, Kind::Change(c) if c.new == 7)),
        "{seen:?}"
    );
    // The daemon stops with the stream open: it ends.
    daemon.stop().await;
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(_)) = sub.next().await {}
    })
    .await;
    assert!(end.is_ok(), "the stream did not end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_readers_subscribe_and_a_revoke_ends_the_stream() {
    let dir = tempfile::tempdir().expect("temp dir");
    let daemon = start(dir.path()).await;
    let mut owner = daemon.client_as(1000).await;
    let mut other = daemon.client_as(2000).await;
    let app = |name: &str| name.to_string();
    owner
        .create_application(CreateApplicationRequest { name: app("db") })
        .await
        .expect("creates");
    let subscribe = |name: &str, counters_interval_ms| SubscribeRequest {
        application: app(name),
        counters_interval_ms,
    };
    let grant = |rights: &str| GrantRequest {
        application: app("db"),
        principal_uid: 2000,
        rights: rights.to_string(),
    };
    let code = |r: Result<_, tonic::Status>| Error::from_status(&r.expect_err("refused")).code;
    assert_eq!(code(other.subscribe(subscribe("db", 0)).await), "D0001");
    assert_eq!(code(other.subscribe(subscribe("nope", 0)).await), "D0002");
    assert_eq!(code(owner.subscribe(subscribe("db", 3_600_001)).await), "D0018");
    owner.grant(grant("w")).await.expect("grants");
    assert_eq!(
        code(other.subscribe(subscribe("db", 0)).await),
        "D0001",
        "`w` does not read"
    );
    owner.grant(grant("r")).await.expect("grants");
    let mut sub: Subscription = other
        .subscribe(subscribe("db", 0))
        .await
        .expect("subscribes")
        .into_inner()
        .into();
    let write = WriteAttributeRequest {
        application: app("db"),
        attribute: "period".into(),
        value: 9,
    };
    owner.write_attribute(write).await.expect("writes");
    until(&mut sub, "the write", |k| matches!(k, Kind::Change(c) if c.new == 9)).await;
    let revoke = RevokeRequest {
        application: app("db"),
        principal_uid: 2000,
    };
    owner.revoke(revoke).await.expect("revokes");
    let ended = common::next_in_time(&mut sub).await;
    assert_eq!(ended.expect("an error").expect_err("revoked").code, "D0001");
    assert!(sub.next().await.is_none());
    // A grant that no longer reads ends it too.
    owner.grant(grant("rw")).await.expect("grants");
    let mut sub: Subscription = other
        .subscribe(subscribe("db", 0))
        .await
        .expect("subscribes")
        .into_inner()
        .into();
    owner.grant(grant("w")).await.expect("grants");
    let ended = common::next_in_time(&mut sub).await;
    assert_eq!(ended.expect("an error").expect_err("no longer reads").code, "D0001");
    daemon.stop().await;
}

/// A blocking client between calls never reads the server's shutdown (its
/// runtime runs only during calls): the daemon stops anyway, once its
/// grace has passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_stops_with_an_idle_blocking_client() {
    let dir = tempfile::tempdir().expect("temp dir");
    let daemon = start(dir.path()).await;
    let socket = dir.path().join("safex.sock");
    let (connected, is_connected) = std::sync::mpsc::channel();
    let (go_on, proceed) = std::sync::mpsc::channel::<()>();
    let idle = std::thread::spawn(move || {
        let client = safex::BlockingClient::connect(&socket).expect("connects");
        client.list(None).expect("lists");
        connected.send(()).expect("the test waits");
        let _ = proceed.recv();
        client.list(None).expect_err("stopped").code
    });
    is_connected.recv().expect("connected");
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(20), daemon.stop())
        .await
        .expect("the daemon stops");
    assert!(
        started.elapsed() >= safexd::SHUTDOWN_GRACE / 2,
        "it waited for the client a while"
    );
    go_on.send(()).expect("the client waits");
    let code = idle.join().expect("the client");
    assert!(code == "D0013" || code == "D0008", "{code}");
}
