//! Admission control: a deploy that would take the reservations past the
//! admitted share of the period is refused with `D0019` and the numbers;
//! an undeploy gives its reservation back; a declared budget reserves what
//! it declares; reservations are restored with their extensions.

mod common;

use std::time::Duration;

use common::{CPU_PID, object, start_with};
use safexd::admission::Admission;

/// A monitor and a handler with a budget of 1,000 units each.
const FRUGAL: &str = "extension frugal;\nimport cpu;\nbudget 1000;\n\
                      monitor void m(cap<cpu_qos> app) { raise_event(\"Error\", 1); }\n\
                      handler void h(cap<cpu_qos> app, int e) on \"Error\" { }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_past_the_admitted_share_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    // 5 % of 10 ms: 500 µs. A fuel unit at 10 ns: `cpu_pid` (a monitor and
    // a handler of the daemon's default 10,000 units) reserves 2 × 100 µs.
    let configure = |config: &mut safexd::Config| {
        config.period = Duration::from_millis(10);
        config.admission = Some(Admission {
            percent: 5.0,
            ns_per_fuel: Some(10.0),
        });
    };
    let daemon = start_with(dir.path(), configure).await;
    let client = daemon.client().await;
    client.create_application("a").await.expect("creates");
    let first = client.deploy("a", CPU_PID).await.expect("200 µs of 500");
    client.deploy("a", CPU_PID).await.expect("400 µs of 500");
    let refused = client.deploy("a", CPU_PID).await.expect_err("600 µs of 500");
    assert_eq!(refused.code, "D0019", "{refused}");
    for figure in [
        "reserves 200.0 µs",
        "2 entry points × 10000 fuel units at 10.000 ns",
        "400.0 µs are reserved already",
        "at most 500.0 µs (5 % of the 10000 µs period)",
    ] {
        assert!(
            refused.message.contains(figure),
            "`{figure}` not in: {}",
            refused.message
        );
    }
    // A refused deploy leaves nothing behind.
    let list = client.list(Some("a")).await.expect("lists");
    assert_eq!(list.applications[0].extensions.len(), 2);
    // A declared budget reserves what it declares: 2 × 10 µs.
    let frugal = object(FRUGAL);
    for _ in 0..5 {
        client.deploy("a", frugal.clone()).await.expect("20 µs each");
    }
    assert_eq!(
        client.deploy("a", frugal.clone()).await.expect_err("520 µs").code,
        "D0019"
    );
    // An undeploy gives its reservation back: 300 µs, and 200 more fit
    // exactly.
    client.undeploy(first.id).await.expect("undeploys");
    client.deploy("a", CPU_PID).await.expect("500 µs of 500");
    assert_eq!(
        client.deploy("a", frugal.clone()).await.expect_err("520 µs").code,
        "D0019"
    );
    drop(client);
    daemon.stop().await;
    // Restored, the extensions reserve what they did.
    let daemon = start_with(dir.path(), configure).await;
    let client = daemon.client().await;
    let list = client.list(Some("a")).await.expect("lists");
    assert_eq!(list.applications[0].extensions.len(), 7);
    let refused = client.deploy("a", frugal).await.expect_err("520 µs");
    assert!(refused.message.contains("500.0 µs are reserved already"), "{refused}");
    drop(client);
    daemon.stop().await;
}
