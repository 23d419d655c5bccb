//! The daemon served in-process on a socket in a temporary directory, and
//! the built binary: deployments, counters, attributes, principals,
//! refusals with their codes, restart recovery, concurrent clients.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{CPU_PID, Running};
use safex::{Acceptance, Client, Error};
use safexd::{Config, Daemon};

/// A daemon at `period`, admitting every deploy: these tests deploy more
/// than a period admits; admission has tests of its own (`admission.rs`).
async fn start(dir: &Path, period: Duration) -> Running {
    common::start_with(dir, |config| {
        config.period = period;
        config.admission = None;
    })
    .await
}

/// This process's uid, as the kernel reports it: the owner of a file it
/// just made.
fn own_uid(dir: &Path) -> u32 {
    std::fs::metadata(dir).expect("stat").uid()
}

fn code<T: std::fmt::Debug>(r: Result<T, tonic::Status>) -> String {
    Error::from_status(&r.expect_err("refused")).code
}

fn invocations(list: &safex::ListResponse, app: &str) -> u64 {
    list.applications
        .iter()
        .filter(|a| a.name == app)
        .flat_map(|a| &a.extensions)
        .map(|e| e.counters.as_ref().map_or(0, |c| c.invocations))
        .sum()
}

/// Waits (polling, up to 10 s) until `app`'s invocations pass `above`.
async fn invocations_pass(client: &Client, app: &str, above: u64) -> u64 {
    let t = Instant::now();
    loop {
        let n = invocations(&client.list(Some(app)).await.expect("lists"), app);
        if n > above {
            return n;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "{app}: invocations stay at {n}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployed_extensions_run_and_attributes_are_read_and_written() {
    let dir = tempfile::tempdir().expect("temp dir");
    let daemon = start(dir.path(), Duration::from_millis(2)).await;
    let client = daemon.client().await;

    let app = client.create_application("video").await.expect("creates");
    assert_eq!(
        (app.name.as_str(), app.owner_uid),
        ("video", own_uid(dir.path())),
        "the SO_PEERCRED uid"
    );
    let ext = client.deploy("video", CPU_PID).await.expect("deploys");
    assert_eq!(ext.name, "cpu_pid");
    assert_eq!(ext.application, "video");
    assert_eq!(ext.object_bytes, CPU_PID.len() as u64);
    assert!(
        [Acceptance::Checked as i32, Acceptance::Cached as i32].contains(&ext.acceptance),
        "{:?}",
        ext.acceptance
    );

    assert_eq!(
        client
            .write_attribute("video", "target_cpu", 20_000)
            .await
            .expect("writes"),
        "cpu_qos.target_cpu"
    );
    let read = client.read_attribute("video", "target_cpu").await.expect("reads");
    assert_eq!((read.attribute.as_str(), read.value), ("cpu_qos.target_cpu", 20_000));

    let first = invocations_pass(&client, "video", 0).await;
    let second = invocations_pass(&client, "video", first).await;
    assert!(second > first);
    let list = client.list(None).await.expect("lists");
    assert!(list.ticks > 0);
    assert_eq!(list.period_us, 2_000);
    assert_eq!(list.applications.len(), 1);
    let listed = &list.applications[0].extensions;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, ext.id);
    assert_eq!(listed[0].counters.as_ref().map(|c| c.aborts), Some(0));

    // The PID's handler ran on the monitor's error (20000 - 0) and wrote
    // the adjustment through the guard.
    let adjustment = client
        .read_attribute("video", "timeslice_adjustment")
        .await
        .expect("reads");
    assert_ne!(adjustment.value, 0);
    assert!(adjustment.applied.is_some(), "the guard's result");

    // Values out of an attribute's range and unknown attributes are the
    // host's refusals.
    let e = client
        .write_attribute("video", "timeslice_adjustment", 1 << 40)
        .await
        .expect_err("out of range");
    assert!(e.code.starts_with('L'), "{e}");
    // A guarded attribute changes only through its guard.
    let e = client
        .write_attribute("video", "timeslice_adjustment", 5)
        .await
        .expect_err("guarded");
    assert_eq!(e.code, "D0015", "{e}");
    let e = client
        .read_attribute("video", "no_such_attr")
        .await
        .expect_err("unknown");
    assert!(e.code.starts_with('L'), "{e}");

    client.undeploy(ext.id).await.expect("undeploys");
    assert!(
        client.list(Some("video")).await.expect("lists").applications[0]
            .extensions
            .is_empty()
    );
    assert_eq!(client.undeploy(ext.id).await.expect_err("gone").code, "D0003");
    drop(client);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_principal_cannot_use_an_application() {
    let dir = tempfile::tempdir().expect("temp dir");
    let daemon = start(dir.path(), Duration::from_millis(10)).await;
    let owner = daemon.client().await;
    let me = own_uid(dir.path());
    let other_uid = me.wrapping_add(4242);
    let mut other = daemon.client_as(other_uid).await;

    owner.create_application("mine").await.expect("creates");
    let ext = owner.deploy("mine", CPU_PID).await.expect("deploys");
    owner.write_attribute("mine", "target_cpu", 7).await.expect("writes");

    let write = safex::proto::WriteAttributeRequest {
        application: "mine".into(),
        attribute: "target_cpu".into(),
        value: 99,
    };
    assert_eq!(code(other.write_attribute(write).await), "D0001");
    let read = safex::proto::ReadAttributeRequest {
        application: "mine".into(),
        attribute: "target_cpu".into(),
    };
    assert_eq!(code(other.read_attribute(read).await), "D0001");
    assert_eq!(
        code(other.undeploy(safex::proto::UndeployRequest { id: ext.id }).await),
        "D0001"
    );
    let deploy = safex::proto::DeployRequest {
        application: "mine".into(),
        object: CPU_PID.to_vec(),
    };
    assert_eq!(code(other.deploy(deploy).await), "D0001");
    let only = safex::proto::ListRequest {
        application: "mine".into(),
    };
    assert_eq!(code(other.list(only).await), "D0001");
    let all = other
        .list(safex::proto::ListRequest::default())
        .await
        .expect("lists")
        .into_inner();
    assert!(all.applications.is_empty(), "another's applications are not listed");
    // The name is the daemon's: another principal cannot take it.
    let create = safex::proto::CreateApplicationRequest { name: "mine".into() };
    assert_eq!(code(other.create_application(create).await), "L0104");
    // Its own application is its own.
    let create = safex::proto::CreateApplicationRequest { name: "theirs".into() };
    let theirs = other.create_application(create).await.expect("creates").into_inner();
    assert_eq!(theirs.application.map(|a| a.owner_uid), Some(other_uid));
    assert_eq!(
        owner
            .write_attribute("theirs", "target_cpu", 1)
            .await
            .expect_err("not mine")
            .code,
        "D0001"
    );

    // Nothing of the owner's changed.
    assert_eq!(
        owner.read_attribute("mine", "target_cpu").await.expect("reads").value,
        7
    );
    let list = owner.list(None).await.expect("lists");
    assert_eq!(
        list.applications.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        ["mine"]
    );
    assert_eq!(list.applications[0].extensions.len(), 1);

    // Unknown names and ids.
    assert_eq!(
        owner.deploy("nobody", CPU_PID).await.expect_err("unknown").code,
        "D0002"
    );
    assert_eq!(owner.undeploy(ext.id + 100).await.expect_err("unknown").code, "D0003");
    assert_eq!(
        owner.create_application("a b").await.expect_err("bad name").code,
        "D0005"
    );
    drop((owner, other));
    daemon.stop().await;
}

fn read_of(app: &str) -> safex::proto::ReadAttributeRequest {
    safex::proto::ReadAttributeRequest {
        application: app.into(),
        attribute: "target_cpu".into(),
    }
}

fn write_of(app: &str, value: i64) -> safex::proto::WriteAttributeRequest {
    safex::proto::WriteAttributeRequest {
        application: app.into(),
        attribute: "target_cpu".into(),
        value,
    }
}

fn list_of(app: &str) -> safex::proto::ListRequest {
    safex::proto::ListRequest {
        application: app.into(),
    }
}

/// `(uid, rights)` of `app`'s grants as its owner lists them.
async fn grants_of(owner: &Client, app: &str) -> Vec<(u32, String)> {
    let list = owner.list(Some(app)).await.expect("lists");
    list.applications[0]
        .grants
        .iter()
        .map(|g| (g.principal_uid, g.rights.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_give_and_revokes_take_back_rights() {
    let dir = tempfile::tempdir().expect("temp dir");
    let daemon = start(dir.path(), Duration::from_millis(10)).await;
    let owner = daemon.client().await;
    let me = own_uid(dir.path());
    let b = me.wrapping_add(4242);
    let mut other = daemon.client_as(b).await;

    owner.create_application("shared").await.expect("creates");
    let ext = owner.deploy("shared", CPU_PID).await.expect("deploys");
    owner.write_attribute("shared", "target_cpu", 7).await.expect("writes");

    // Before any grant: nothing.
    assert_eq!(code(other.read_attribute(read_of("shared")).await), "D0001");
    assert_eq!(code(other.write_attribute(write_of("shared", 9)).await), "D0001");
    assert_eq!(code(other.list(list_of("shared")).await), "D0001");
    // A principal cannot grant itself, or revoke, on another's application.
    let grant = |app: &str, uid: u32, rights: &str| safex::proto::GrantRequest {
        application: app.into(),
        principal_uid: uid,
        rights: rights.into(),
    };
    let revoke = |app: &str, uid: u32| safex::proto::RevokeRequest {
        application: app.into(),
        principal_uid: uid,
    };
    assert_eq!(code(other.grant(grant("shared", b, "rw")).await), "D0001");
    assert_eq!(code(other.grant(grant("shared", b + 1, "r")).await), "D0001");
    assert_eq!(code(other.revoke(revoke("shared", b)).await), "D0001");
    assert_eq!(code(other.read_attribute(read_of("shared")).await), "D0001");
    assert!(grants_of(&owner, "shared").await.is_empty());

    // `r`: read and list, not write, deploy or undeploy.
    owner.grant("shared", b, "r").await.expect("grants");
    assert_eq!(grants_of(&owner, "shared").await, [(b, "r".to_string())]);
    let read = other
        .read_attribute(read_of("shared"))
        .await
        .expect("reads")
        .into_inner();
    assert_eq!(read.value, 7);
    let listed = other.list(list_of("shared")).await.expect("lists").into_inner();
    assert_eq!(listed.applications[0].owner_uid, me);
    assert_eq!(listed.applications[0].extensions.len(), 1);
    assert!(
        listed.applications[0].grants.is_empty(),
        "grants are shown to the owner only"
    );
    let all = other.list(list_of("")).await.expect("lists").into_inner();
    assert_eq!(
        all.applications.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        ["shared"],
        "listed with the grantee's own"
    );
    assert_eq!(code(other.write_attribute(write_of("shared", 9)).await), "D0001");
    let deploy = safex::proto::DeployRequest {
        application: "shared".into(),
        object: CPU_PID.to_vec(),
    };
    assert_eq!(code(other.deploy(deploy).await), "D0001");
    assert_eq!(
        code(other.undeploy(safex::proto::UndeployRequest { id: ext.id }).await),
        "D0001"
    );
    // A grantee does not grant on.
    assert_eq!(code(other.grant(grant("shared", b + 1, "r")).await), "D0001");

    // `w` alone: write, not read (a grant replaces the rights held).
    owner.grant("shared", b, "w").await.expect("grants");
    other.write_attribute(write_of("shared", 8)).await.expect("writes");
    assert_eq!(code(other.read_attribute(read_of("shared")).await), "D0001");
    assert_eq!(code(other.list(list_of("shared")).await), "D0001");

    // `rw`: both.
    owner.grant("shared", b, "rw").await.expect("grants");
    assert_eq!(grants_of(&owner, "shared").await, [(b, "rw".to_string())]);
    let written = other.write_attribute(write_of("shared", 99)).await.expect("writes");
    assert_eq!(written.into_inner().attribute, "cpu_qos.target_cpu");
    assert_eq!(
        other
            .read_attribute(read_of("shared"))
            .await
            .expect("reads")
            .into_inner()
            .value,
        99
    );
    assert_eq!(
        owner.read_attribute("shared", "target_cpu").await.expect("reads").value,
        99
    );
    // Guarded attributes stay guarded for a grantee.
    let guarded = safex::proto::WriteAttributeRequest {
        application: "shared".into(),
        attribute: "timeslice_adjustment".into(),
        value: 5,
    };
    assert_eq!(code(other.write_attribute(guarded).await), "D0015");

    // Bad grants, and unknown applications.
    for bad in ["", "x", "wr", "R", "rwx"] {
        let e = owner.grant("shared", b, bad).await.expect_err(bad);
        assert_eq!(
            (e.code.as_str(), e.status),
            ("D0016", Some(tonic::Code::InvalidArgument)),
            "{bad:?}"
        );
    }
    assert_eq!(owner.grant("shared", me, "r").await.expect_err("owner").code, "D0016");
    assert_eq!(owner.grant("nobody", b, "r").await.expect_err("unknown").code, "D0002");
    assert_eq!(owner.revoke("nobody", b).await.expect_err("unknown").code, "D0002");
    assert_eq!(grants_of(&owner, "shared").await, [(b, "rw".to_string())], "unchanged");

    // Revoked: neither.
    owner.revoke("shared", b).await.expect("revokes");
    assert_eq!(code(other.read_attribute(read_of("shared")).await), "D0001");
    assert_eq!(code(other.write_attribute(write_of("shared", 1)).await), "D0001");
    assert_eq!(code(other.list(list_of("shared")).await), "D0001");
    assert!(
        other
            .list(list_of(""))
            .await
            .expect("lists")
            .into_inner()
            .applications
            .is_empty()
    );
    assert!(grants_of(&owner, "shared").await.is_empty());
    // A revoke of a grant that does not exist is an error, and changes
    // nothing.
    let e = owner.revoke("shared", b).await.expect_err("revoked already");
    assert_eq!((e.code.as_str(), e.status), ("D0017", Some(tonic::Code::NotFound)));
    assert_eq!(owner.revoke("shared", b + 7).await.expect_err("never").code, "D0017");
    assert_eq!(
        owner.read_attribute("shared", "target_cpu").await.expect("reads").value,
        99
    );
    drop((owner, other));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_survive_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let me = own_uid(dir.path());
    let (b, c, d) = (me.wrapping_add(1), me.wrapping_add(2), me.wrapping_add(3));
    let daemon = start(dir.path(), Duration::from_millis(10)).await;
    let owner = daemon.client().await;
    owner.create_application("kept").await.expect("creates");
    owner.create_application("other").await.expect("creates");
    owner.grant("kept", b, "r").await.expect("grants");
    owner.grant("kept", c, "r").await.expect("grants");
    owner.grant("kept", c, "rw").await.expect("replaces");
    owner.grant("kept", d, "w").await.expect("grants");
    owner.revoke("kept", d).await.expect("revokes");
    owner.grant("other", d, "w").await.expect("grants");
    drop(owner);
    daemon.stop().await;

    let daemon = start(dir.path(), Duration::from_millis(10)).await;
    let owner = daemon.client().await;
    assert_eq!(
        grants_of(&owner, "kept").await,
        [(b, "r".to_string()), (c, "rw".to_string())]
    );
    assert_eq!(grants_of(&owner, "other").await, [(d, "w".to_string())]);
    let mut as_b = daemon.client_as(b).await;
    let mut as_c = daemon.client_as(c).await;
    let mut as_d = daemon.client_as(d).await;
    as_b.read_attribute(read_of("kept")).await.expect("b reads");
    assert_eq!(code(as_b.write_attribute(write_of("kept", 3)).await), "D0001");
    as_c.write_attribute(write_of("kept", 3)).await.expect("c writes");
    assert_eq!(
        as_c.read_attribute(read_of("kept"))
            .await
            .expect("c reads")
            .into_inner()
            .value,
        3
    );
    assert_eq!(code(as_d.write_attribute(write_of("kept", 4)).await), "D0001");
    as_d.write_attribute(write_of("other", 4)).await.expect("d writes");
    // And a revoke after the restart is kept too.
    owner.revoke("kept", b).await.expect("revokes");
    drop((owner, as_b, as_c, as_d));
    daemon.stop().await;

    let daemon = start(dir.path(), Duration::from_millis(10)).await;
    let owner = daemon.client().await;
    assert_eq!(grants_of(&owner, "kept").await, [(c, "rw".to_string())]);
    let mut as_b = daemon.client_as(b).await;
    assert_eq!(code(as_b.read_attribute(read_of("kept")).await), "D0001");
    drop((owner, as_b));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_and_oversize_objects_are_refused_with_their_codes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let daemon = start(dir.path(), Duration::from_millis(10)).await;
    let client = daemon.client().await;
    client.create_application("app").await.expect("creates");

    // What the host itself says of each object, and the daemon must say the
    // same.
    let mut host = runtime::system::host(runtime::HostConfig::default(), true).expect("host");
    let local = host.create_app("app").expect("app");
    let mut flipped = CPU_PID.to_vec();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    let bad: [(&str, Vec<u8>); 3] = [
        ("garbage", b"not an object at all".to_vec()),
        ("empty", Vec::new()),
        ("one byte changed", flipped),
    ];
    for (what, object) in bad {
        let expected = host.load(local, &object).expect_err(what).code;
        let e = client.deploy("app", object).await.expect_err(what);
        assert_eq!(e.code, expected, "{what}: {e}");
        assert_eq!(e.status, Some(tonic::Code::InvalidArgument), "{what}");
    }

    // Over the limit: the library refuses to send it, the daemon refuses to
    // take it.
    let huge = vec![0u8; safex::MAX_OBJECT_BYTES + 1];
    let e = client.deploy("app", huge.clone()).await.expect_err("too large");
    assert_eq!((e.code.as_str(), e.status), ("D0004", None));
    let mut raw = daemon.client_as(own_uid(dir.path())).await;
    let request = safex::proto::DeployRequest {
        application: "app".into(),
        object: huge,
    };
    let status = raw.deploy(request).await.expect_err("too large");
    assert_eq!(Error::from_status(&status).code, "D0004", "{status:?}");
    assert_eq!(status.code(), tonic::Code::ResourceExhausted);
    // Past gRPC's own limit: gRPC's status, no code of ours, no crash.
    let request = safex::proto::DeployRequest {
        application: "app".into(),
        object: vec![0u8; safex::MAX_MESSAGE_BYTES + 1],
    };
    let status = raw.deploy(request).await.expect_err("too large for gRPC");
    assert_eq!(Error::from_status(&status).code, "D0013", "{status:?}");
    assert_eq!(status.code(), tonic::Code::OutOfRange);

    assert!(
        client.list(Some("app")).await.expect("lists").applications[0]
            .extensions
            .is_empty()
    );
    drop((client, raw));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_restores_applications_and_deployments() {
    let dir = tempfile::tempdir().expect("temp dir");
    let daemon = start(dir.path(), Duration::from_millis(2)).await;
    let client = daemon.client().await;
    client.create_application("kept").await.expect("creates");
    client.create_application("empty").await.expect("creates");
    let gone = client.deploy("kept", CPU_PID).await.expect("deploys");
    let kept = client.deploy("kept", CPU_PID).await.expect("deploys");
    client.undeploy(gone.id).await.expect("undeploys");
    drop(client);
    daemon.stop().await;

    let daemon = start(dir.path(), Duration::from_millis(2)).await;
    let client = daemon.client().await;
    let list = client.list(None).await.expect("lists");
    let names: Vec<&str> = list.applications.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["empty", "kept"]);
    let own = own_uid(dir.path());
    assert!(list.applications.iter().all(|a| a.owner_uid == own));
    let exts = &list.applications[1].extensions;
    assert_eq!(exts.iter().map(|e| e.id).collect::<Vec<_>>(), [kept.id]);
    assert_eq!(exts[0].name, "cpu_pid");
    assert_eq!(exts[0].error, "");
    assert_eq!(
        exts[0].acceptance,
        Acceptance::Checked as i32,
        "loaded through every check again"
    );
    // It runs again, and ids go on past the old ones.
    invocations_pass(&client, "kept", 0).await;
    let next = client.deploy("kept", CPU_PID).await.expect("deploys");
    assert!(next.id > kept.id, "{} after {}", next.id, kept.id);
    drop(client);
    daemon.stop().await;
}

/// What one client of `concurrent_clients_lose_nothing` was told.
struct Acknowledged {
    app: String,
    /// Deployed and not undeployed, in deployment order.
    live: Vec<u64>,
    undeployed: Vec<u64>,
    /// The last value written to `target_cpu`.
    last: i64,
    /// Grantee uid → rights.
    grants: BTreeMap<u32, String>,
}

/// One client's share of `concurrent_clients_lose_nothing`: creates its
/// application, then `ops - 1` operations in a fixed cycle of ten: a
/// deploy, two writes each read back, a listing of its application, a
/// grant, an undeploy (tried twice: the second is `D0003`) or a revoke,
/// a listing of its grants, a read. Deploys are one in ten: each loads an
/// object, which the other operations do not.
async fn one_client(client: Client, i: usize, ops: usize, grantees: [u32; 3]) -> Acknowledged {
    let app = format!("app-{i}");
    client.create_application(&app).await.expect("creates");
    let mut done = Acknowledged {
        app,
        live: Vec::new(),
        undeployed: Vec::new(),
        last: 0,
        grants: BTreeMap::new(),
    };
    let app = done.app.as_str();
    for j in 1..ops {
        match j % 10 {
            1 => {
                let ext = client.deploy(app, CPU_PID).await.expect("deploys");
                assert_eq!((ext.application.as_str(), ext.name.as_str()), (app, "cpu_pid"));
                let previous = done.live.iter().chain(&done.undeployed).max();
                assert!(
                    previous.is_none_or(|p| ext.id > *p),
                    "{app}: id {} after {previous:?}",
                    ext.id
                );
                done.live.push(ext.id);
            }
            2 | 6 => {
                done.last = (i * 1000 + j) as i64;
                client
                    .write_attribute(app, "target_cpu", done.last)
                    .await
                    .expect("writes");
            }
            3 | 7 | 0 => assert_eq!(
                client.read_attribute(app, "target_cpu").await.expect("reads").value,
                done.last,
                "{app}: op {j}"
            ),
            4 => {
                let list = client.list(Some(app)).await.expect("lists");
                let listed: Vec<u64> = list.applications[0].extensions.iter().map(|e| e.id).collect();
                assert_eq!(listed, done.live, "{app}: op {j}");
            }
            5 => {
                let uid = grantees[(i + j / 10) % 3];
                let rights = ["r", "w", "rw"][(i + j) % 3];
                client.grant(app, uid, rights).await.expect("grants");
                done.grants.insert(uid, rights.to_string());
            }
            8 if j % 20 == 8 && !done.live.is_empty() => {
                let id = done.live.remove(0);
                client.undeploy(id).await.expect("undeploys");
                assert_eq!(client.undeploy(id).await.expect_err("gone").code, "D0003");
                done.undeployed.push(id);
            }
            8 => {
                if let Some(uid) = done.grants.keys().next().copied() {
                    client.revoke(app, uid).await.expect("revokes");
                    done.grants.remove(&uid);
                }
            }
            _ => {
                let list = client.list(Some(app)).await.expect("lists");
                let grants: BTreeMap<u32, String> = list.applications[0]
                    .grants
                    .iter()
                    .map(|g| (g.principal_uid, g.rights.clone()))
                    .collect();
                assert_eq!(grants, done.grants, "{app}: op {j}");
            }
        }
    }
    done
}

/// The listing has exactly the clients' applications, each with exactly its
/// live deployments (ids unique, none of the undeployed) and its grants.
fn everything_listed(list: &safex::ListResponse, expected: &[Acknowledged]) {
    let names: BTreeSet<&str> = list.applications.iter().map(|a| a.name.as_str()).collect();
    let wanted: BTreeSet<&str> = expected.iter().map(|d| d.app.as_str()).collect();
    assert_eq!(names, wanted, "exactly the clients' applications");
    assert_eq!(list.applications.len(), expected.len(), "each once");
    let mut listed_ids = BTreeSet::new();
    let mut listed = 0;
    for done in expected {
        let app = list.applications.iter().find(|a| a.name == done.app).expect("listed");
        let ids: Vec<u64> = app.extensions.iter().map(|e| e.id).collect();
        assert_eq!(ids, done.live, "{}", done.app);
        for e in &app.extensions {
            assert_eq!(
                (e.application.as_str(), e.name.as_str(), e.error.as_str()),
                (done.app.as_str(), "cpu_pid", ""),
                "{}: extension {}",
                done.app,
                e.id
            );
        }
        let grants: BTreeMap<u32, String> = app.grants.iter().map(|g| (g.principal_uid, g.rights.clone())).collect();
        assert_eq!(grants, done.grants, "{}", done.app);
        listed += ids.len();
        listed_ids.extend(ids);
    }
    assert_eq!(listed_ids.len(), listed, "no id listed twice");
    let acknowledged: BTreeSet<u64> = expected
        .iter()
        .flat_map(|d| d.live.iter().chain(&d.undeployed))
        .copied()
        .collect();
    let deploys: usize = expected.iter().map(|d| d.live.len() + d.undeployed.len()).sum();
    assert_eq!(acknowledged.len(), deploys, "every acknowledged id is unique");
    let undeployed: BTreeSet<u64> = expected.iter().flat_map(|d| d.undeployed.iter().copied()).collect();
    assert!(listed_ids.is_disjoint(&undeployed), "an undeployed extension is listed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_lose_nothing() {
    const CLIENTS: usize = 100;
    const OPS: usize = 100;
    let dir = tempfile::tempdir().expect("temp dir");
    let me = own_uid(dir.path());
    let grantees = [me.wrapping_add(1), me.wrapping_add(2), me.wrapping_add(3)];
    // A period of 25 ms rather than the default 10: today a tick that
    // outlasts the period starves every request
    // (`requests_are_served_when_ticks_outlast_the_period`), and some 500
    // extensions tick for a few ms in a debug build.
    let daemon = start(dir.path(), Duration::from_millis(25)).await;
    let t = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let client = daemon.client().await;
        tasks.push(tokio::spawn(one_client(client, i, OPS, grantees)));
    }
    let mut expected = Vec::new();
    for task in tasks {
        expected.push(task.await.expect("client"));
    }
    eprintln!(
        "{CLIENTS} clients x {OPS} operations: {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let deploys: usize = expected.iter().map(|d| d.live.len() + d.undeployed.len()).sum();
    assert_eq!(deploys, CLIENTS * OPS.div_ceil(10), "every deploy acknowledged");

    let client = daemon.client().await;
    everything_listed(&client.list(None).await.expect("lists"), &expected);
    for done in &expected {
        assert_eq!(
            client
                .read_attribute(&done.app, "target_cpu")
                .await
                .expect("reads")
                .value,
            done.last,
            "{}",
            done.app
        );
    }
    drop(client);
    daemon.stop().await;

    // All of it was kept: the same after a restart, every object loaded
    // again, and ids go on past every acknowledged one.
    let daemon = start(dir.path(), Duration::from_millis(25)).await;
    let client = daemon.client().await;
    everything_listed(&client.list(None).await.expect("lists"), &expected);
    let highest = expected
        .iter()
        .flat_map(|d| d.live.iter().chain(&d.undeployed))
        .max()
        .copied()
        .expect("deployed");
    let busy = expected
        .iter()
        .find(|d| !d.live.is_empty())
        .expect("one has extensions");
    invocations_pass(&client, &busy.app, 0).await;
    let next = client.deploy(&busy.app, CPU_PID).await.expect("deploys");
    assert!(next.id > highest, "{} after {highest}", next.id);
    drop(client);
    daemon.stop().await;
}

/// Requests are served between ticks even when every tick takes longer
/// than the period (here 1 µs, which any tick with an extension outlasts):
/// a job waits behind at most one tick. `Core::run` once decided whether
/// the next tick was late from the time taken *before* the tick, so once
/// ticks outlasted the period it ran them back to back and never took
/// another job (as with `--period-ms 1` and some 40 `cpu_pid` extensions
/// in one application in a debug build). The daemon and the client run in
/// threads of their own, left behind if they hang; the timeout only turns
/// that hang into a failure.
#[test]
fn requests_are_served_when_ticks_outlast_the_period() {
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("run/safex.sock");
    let state = dir.path().join("state.redb");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = socket.clone();
    let server = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let mut config = Config::new(state);
            config.period = Duration::from_micros(1);
            // Admission would refuse every deploy of so short a period.
            config.admission = None;
            let daemon = Daemon::open(config).expect("opens");
            let listener = safexd::bind(&served).expect("binds");
            let shutdown = async move {
                let _ = stopped.await;
            };
            daemon.serve(listener, shutdown).await.expect("served");
        });
    });
    let (answer, answered) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let t = Instant::now();
        let client = loop {
            match safex::BlockingClient::connect(&socket) {
                Ok(client) => break client,
                Err(e) => {
                    assert!(t.elapsed() < Duration::from_secs(20), "{e}");
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        };
        client.create_application("busy").expect("creates");
        for _ in 0..10 {
            client.deploy("busy", CPU_PID).expect("deploys");
        }
        for value in 0..50 {
            client.write_attribute("busy", "target_cpu", value).expect("writes");
        }
        let _ = answer.send(client.list(Some("busy")).expect("lists"));
    });
    let list = answered
        .recv_timeout(Duration::from_secs(60))
        .expect("no answer: the daemon ran ticks back to back");
    assert_eq!(list.applications[0].extensions.len(), 10);
    assert!(list.ticks > 0);
    let _ = stop.send(());
    server.join().expect("stops");
}

/// The built `safexd`, on sockets in a temporary directory.
mod binary {
    use super::*;
    use std::process::{Child, Command, Stdio};

    fn spawn(dir: &Path, socket: &Path, state: &str) -> Child {
        Command::new(env!("CARGO_BIN_EXE_safexd"))
            .arg("--socket")
            .arg(socket)
            .arg("--state")
            .arg(dir.join(state))
            .arg("--period-ms")
            .arg("5")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts safexd")
    }

    /// Waits (polling, up to 20 s) until the daemon answers on `socket`.
    fn connect(socket: &Path, child: &mut Child) -> safex::BlockingClient {
        let t = Instant::now();
        loop {
            match safex::BlockingClient::connect(socket) {
                Ok(client) => return client,
                Err(e) => {
                    assert_eq!(e.code, "D0012", "{e}");
                    assert!(child.try_wait().expect("waits").is_none(), "safexd exited");
                    assert!(t.elapsed() < Duration::from_secs(20), "safexd does not answer: {e}");
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }

    fn stderr_of(child: Child) -> (std::process::ExitStatus, String) {
        let out = child.wait_with_output().expect("waits");
        (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
    }

    #[test]
    fn the_binary_serves_its_socket_and_knows_the_callers_uid() {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("safex.sock");
        let mut child = spawn(dir.path(), &socket, "state.redb");
        let client = connect(&socket, &mut child);

        let app = client.create_application("bin").expect("creates");
        assert_eq!(app.owner_uid, own_uid(dir.path()), "the uid SO_PEERCRED reports");
        let ext = client.deploy("bin", CPU_PID).expect("deploys");
        assert_eq!(
            client.list(None).expect("lists").applications[0].extensions[0].id,
            ext.id
        );
        // The blocking client's grants.
        let grantee = own_uid(dir.path()).wrapping_add(1);
        client.grant("bin", grantee, "rw").expect("grants");
        let grants = &client.list(Some("bin")).expect("lists").applications[0].grants;
        assert_eq!(
            grants
                .iter()
                .map(|g| (g.principal_uid, g.rights.as_str()))
                .collect::<Vec<_>>(),
            [(grantee, "rw")]
        );
        client.revoke("bin", grantee).expect("revokes");
        assert_eq!(client.revoke("bin", grantee).expect_err("revoked").code, "D0017");

        // A second daemon on the same socket is refused, and the first
        // keeps serving.
        let second = spawn(dir.path(), &socket, "other.redb");
        let (status, stderr) = stderr_of(second);
        assert_eq!(status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("error[D0009]"), "{stderr}");
        assert_eq!(client.list(Some("bin")).expect("lists").applications.len(), 1);
        // And so is a second daemon on the same state.
        let second = spawn(dir.path(), &dir.path().join("other.sock"), "state.redb");
        let (status, stderr) = stderr_of(second);
        assert_eq!(status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("error[D0010]"), "{stderr}");
        drop(client);

        let killed = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .expect("kill");
        assert!(killed.success());
        let (status, stderr) = stderr_of(child);
        assert!(status.success(), "{status}: {stderr}");
        assert!(!socket.exists(), "the socket is removed on exit");
    }

    #[test]
    fn a_bad_command_line_is_d0011() {
        let out = Command::new(env!("CARGO_BIN_EXE_safexd"))
            .arg("--period-ms")
            .arg("0")
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).starts_with("error[D0011]: "));
    }
}
