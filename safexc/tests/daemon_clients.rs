//! `safexc create-app`, `deploy`, `undeploy`, `ls`, `grant`, `revoke` and
//! `top --json` against a real daemon (`safexd`'s library, served by this
//! process on a socket in a temporary directory): what they print, their
//! JSON, and their refusals with the daemon's codes.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

use safex::proto::safex_client::SafexClient;
use serde_json::Value;

mod common;
use common::{root, safexc, text};

/// A daemon served by a thread of this process until dropped.
struct Daemon {
    dir: tempfile::TempDir,
    socket: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Principals by the `x-test-uid` header when a request has one (this
/// test's own calls as another uid), else by SO_PEERCRED (safexc's).
fn test_principals() -> safexd::Principals {
    safexd::Principals::Custom(Arc::new(|extensions, metadata| match metadata.get("x-test-uid") {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.parse().ok())
            .map(|uid| safexd::Principal { uid })
            .ok_or_else(|| tonic::Status::unauthenticated("D0006: bad x-test-uid")),
        None => safexd::peer_cred(extensions),
    }))
}

impl Daemon {
    fn start() -> Daemon {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("run/safex.sock");
        let mut config = safexd::Config::new(dir.path().join("state.redb"));
        // The same admission on every machine: a fuel unit at 1 ns.
        config.admission = Some(safexd::admission::Admission {
            ns_per_fuel: Some(1.0),
            ..safexd::admission::Admission::default()
        });
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let path = socket.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let daemon = safexd::Daemon::open(config)
                    .expect("the daemon opens")
                    .with_principals(test_principals());
                let listener = safexd::bind(&path).expect("binds");
                ready_tx.send(()).expect("the test waits");
                let shutdown = async move {
                    let _ = stopped.await;
                };
                daemon.serve(listener, shutdown).await.expect("serves");
            });
        });
        ready_rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the daemon starts");
        Daemon {
            dir,
            socket,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// safexc with `args` and `--socket` this daemon's.
    fn run(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend(["--socket", self.socket.to_str().expect("a UTF-8 path")]);
        safexc(&all)
    }

    /// [`Daemon::run`], which must succeed: its standard output.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out.stderr));
        assert!(out.stderr.is_empty(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    }

    /// [`Daemon::ok`] of a command printing JSON.
    fn json(&self, args: &[&str]) -> Value {
        let stdout = self.ok(args);
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
    }

    /// The uid the kernel reports for this process (and safexc): the owner
    /// of a file it made.
    fn own_uid(&self) -> u32 {
        std::fs::metadata(self.dir.path()).expect("stat").uid()
    }

    /// Creates an application owned by `uid`, through the library.
    fn create_as(&self, uid: u32, name: &str) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let channel = safex::connect_channel(&self.socket).await.expect("connects");
            let mut client = SafexClient::with_interceptor(channel, move |mut request: tonic::Request<()>| {
                request
                    .metadata_mut()
                    .insert("x-test-uid", uid.to_string().parse().expect("ascii"));
                Ok(request)
            });
            let request = safex::proto::CreateApplicationRequest { name: name.into() };
            client.create_application(request).await.expect("creates");
        });
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let served = thread.join();
            if !std::thread::panicking() {
                served.expect("the daemon stops cleanly");
            }
        }
    }
}

/// Asserts that `out` failed with exit status `status` and
/// `error[CODE]: …` on standard error, and no panic; its standard error.
fn refused(out: &Output, status: i32, code: &str) -> String {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(status), "{stderr}");
    assert!(stderr.starts_with(&format!("error[{code}]: ")), "{code}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    stderr
}

/// The extension `id` in `ls --json`'s output.
fn listed(list: &Value, id: u64) -> Option<&Value> {
    list["applications"]
        .as_array()?
        .iter()
        .flat_map(|a| a["extensions"].as_array().into_iter().flatten())
        .find(|e| e["id"] == id)
}

/// Waits (polling `ls --json`, up to 60 s) until extension `id` has run.
fn ran(daemon: &Daemon, id: u64) -> Value {
    let t = Instant::now();
    loop {
        let list = daemon.json(&["ls", "--json"]);
        let invocations = listed(&list, id).map(|e| e["counters"]["invocations"].as_u64().expect("a count"));
        if invocations.is_some_and(|n| n > 0) {
            return list;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "extension {id} does not run: {list}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn applications_are_created_deployed_listed_granted_revoked_and_undeployed() {
    let daemon = Daemon::start();
    let uid = daemon.own_uid();

    let stdout = daemon.ok(&["create-app", "video"]);
    assert_eq!(stdout, format!("application video created, owner uid {uid}\n"));
    let app = daemon.json(&["create-app", "audio", "--json"]);
    assert_eq!(
        (app["name"].as_str(), app["owner_uid"].as_u64()),
        (Some("audio"), Some(u64::from(uid)))
    );
    assert_eq!(app["extensions"], serde_json::json!([]));
    // The host's code for a name taken, the daemon's for a bad name.
    refused(&daemon.run(&["create-app", "video"]), 1, "L0104");
    refused(&daemon.run(&["create-app", "my video"]), 1, "D0005");

    let object = root().join("examples/obj/cpu_pid.o");
    let size = std::fs::metadata(&object).expect("examples/obj/cpu_pid.o").len();
    let ext = daemon.json(&["deploy", "video", "examples/obj/cpu_pid.o", "--json"]);
    assert_eq!(ext["name"], "cpu_pid");
    assert_eq!(ext["application"], "video");
    assert_eq!(ext["object_bytes"], size);
    assert_eq!(ext["state"], "active");
    assert!(
        ["checked", "cached"].contains(&ext["acceptance"].as_str().unwrap_or("")),
        "{ext}"
    );
    let id = ext["id"].as_u64().expect("an id");
    let stdout = daemon.ok(&["deploy", "audio", "examples/obj/cpu_avg.o"]);
    assert!(stdout.starts_with("deployed cpu_avg as extension "), "{stdout}");
    assert!(stdout.contains(" of audio ("), "{stdout}");

    // `-` is standard input.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_safexc"))
        .args(["deploy", "audio", "-", "--json", "--socket"])
        .arg(&daemon.socket)
        .stdin(std::fs::File::open(&object).expect("opens"))
        .output()
        .expect("runs safexc");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let piped: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        (piped["name"].as_str(), piped["object_bytes"].as_u64()),
        (Some("cpu_pid"), Some(size))
    );
    daemon.ok(&["undeploy", &piped["id"].to_string()]);

    // Counters move: the service manager runs the monitors every period.
    let list = ran(&daemon, id);
    assert!(list["ticks"].as_u64() > Some(0), "{list}");
    assert_eq!(list["period_us"], 10_000);
    let names: Vec<&str> = list["applications"]
        .as_array()
        .expect("applications")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(names, ["audio", "video"]);
    let e = listed(&list, id).expect("listed");
    for field in [
        "invocations",
        "aborts",
        "exceptions",
        "out_of_fuel",
        "deadlines",
        "host_aborts",
        "fuel_used",
        "events_raised",
        "time_ns",
    ] {
        assert!(e["counters"][field].is_u64(), "{field}: {e}");
    }
    assert!(e["counters"]["fuel_used"].as_u64() > Some(0), "{e}");
    assert!(e.get("mean_time_ns").is_some(), "{e}");

    let only = daemon.json(&["ls", "video", "--json"]);
    assert_eq!(only["applications"].as_array().map(Vec::len), Some(1), "{only}");
    let stdout = daemon.ok(&["ls"]);
    assert!(stdout.starts_with("service manager: period 10.000 ms, "), "{stdout}");
    assert!(
        stdout.contains(&format!("\napplication video  owner uid {uid}  not blocked\n")),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("\n{id}: cpu_pid  ")), "{stdout}");
    assert!(
        stdout.contains("\tinvocations ") && stdout.contains("\ttraps 0  exceptions 0"),
        "{stdout}"
    );
    refused(&daemon.run(&["ls", "nothing"]), 1, "D0002");
    // A listing that cannot be written is L0002, as every command's output.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_safexc"))
        .args(["ls", "--socket", daemon.socket.to_str().expect("UTF-8")])
        .stdout(full)
        .output()
        .expect("runs safexc");
    refused(&out, 1, "L0002");

    // Grants, shown to the owner; replaced, revoked.
    let other = uid.wrapping_add(1);
    let stdout = daemon.ok(&["grant", "video", &other.to_string(), "rw"]);
    assert_eq!(stdout, format!("granted uid {other} `rw` on video\n"));
    let granted = daemon.json(&["grant", "video", &other.to_string(), "r", "--json"]);
    assert_eq!(
        granted,
        serde_json::json!({"application": "video", "uid": other, "rights": "r"})
    );
    let only = daemon.json(&["ls", "video", "--json"]);
    assert_eq!(
        only["applications"][0]["grants"],
        serde_json::json!([{"uid": other, "rights": "r"}])
    );
    assert!(daemon.ok(&["ls", "video"]).contains(&format!("  grants {other}:r\n")));
    refused(&daemon.run(&["grant", "video", &uid.to_string(), "r"]), 1, "D0016");
    refused(&daemon.run(&["grant", "nothing", &other.to_string(), "r"]), 1, "D0002");
    let stdout = daemon.ok(&["revoke", "video", &other.to_string()]);
    assert_eq!(stdout, format!("revoked the rights of uid {other} on video\n"));
    refused(&daemon.run(&["revoke", "video", &other.to_string()]), 1, "D0017");
    let only = daemon.json(&["ls", "video", "--json"]);
    assert_eq!(only["applications"][0]["grants"], serde_json::json!([]));

    // top --json: two polls an interval apart. The interval may see no
    // invocation on a loaded machine: asked again until one does.
    let t = Instant::now();
    let (snapshot, row) = loop {
        let snapshot = daemon.json(&["top", "--json", "--interval-ms", "200"]);
        let row = snapshot["extensions"]
            .as_array()
            .expect("extensions")
            .iter()
            .find(|e| e["id"] == id)
            .cloned()
            .expect("the extension is a row");
        if row["interval"]["invocations"].as_u64() > Some(0) {
            break (snapshot, row);
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "no invocation in any interval: {snapshot}"
        );
    };
    assert_eq!(snapshot["interval_ms"], 200);
    assert_eq!(snapshot["sort"], "rate");
    assert_eq!(snapshot["period_us"], 10_000);
    assert!(snapshot["ticks_in_interval"].is_u64(), "{snapshot}");
    assert_eq!(snapshot["extensions"].as_array().map(Vec::len), Some(2), "{snapshot}");
    let elapsed = snapshot["elapsed_ns"].as_f64().expect("elapsed");
    assert!(elapsed > 0.0, "{snapshot}");
    let delta = row["interval"]["invocations"].as_f64().expect("a count");
    let rate = row["invocations_per_s"].as_f64().expect("a rate");
    assert!((rate - delta / elapsed * 1e9).abs() <= 1e-6 * rate, "{row}");
    let fuel = row["interval"]["fuel_used"].as_f64().expect("fuel");
    assert_eq!(row["fuel_per_invocation"].as_f64(), Some(fuel / delta), "{row}");
    assert!(row["totals"]["invocations"].as_f64() >= Some(delta), "{row}");
    assert_eq!(
        (row["name"].as_str(), row["application"].as_str()),
        (Some("cpu_pid"), Some("video"))
    );
    assert_eq!(
        (row["state"].as_str(), row["new"].as_bool(), row["restarted"].as_bool()),
        (Some("active"), Some(false), Some(false))
    );
    for kind in ["aborts", "exceptions", "out_of_fuel", "deadlines", "host_aborts"] {
        assert!(
            row["interval"][kind].is_u64() && row["totals"][kind].is_u64(),
            "{kind}: {row}"
        );
    }
    let rates: Vec<f64> = snapshot["extensions"]
        .as_array()
        .expect("extensions")
        .iter()
        .map(|e| e["invocations_per_s"].as_f64().unwrap_or(-1.0))
        .collect();
    assert!(rates.windows(2).all(|w| w[0] >= w[1]), "sorted by rate: {rates:?}");
    let by_name = daemon.json(&["top", "--json", "--interval-ms", "10", "--sort", "name"]);
    let names: Vec<&str> = by_name["extensions"]
        .as_array()
        .expect("extensions")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(names, ["cpu_avg", "cpu_pid"]);

    let stdout = daemon.ok(&["undeploy", &id.to_string()]);
    assert_eq!(stdout, format!("undeployed extension {id}\n"));
    assert!(listed(&daemon.json(&["ls", "--json"]), id).is_none());
    refused(&daemon.run(&["undeploy", &id.to_string()]), 1, "D0003");
    let ext = daemon.json(&["deploy", "video", "examples/obj/cpu_pid.o", "--json"]);
    let again = ext["id"].as_u64().expect("an id");
    assert!(again > id, "ids are not reused");
    let undeployed = daemon.json(&["undeploy", &again.to_string(), "--json"]);
    assert_eq!(undeployed, serde_json::json!({"id": again, "undeployed": true}));
}

#[test]
fn refusals_carry_their_codes() {
    let daemon = Daemon::start();
    let uid = daemon.own_uid();
    daemon.ok(&["create-app", "mine"]);

    // Another principal's application, an unknown one, a bad object.
    daemon.create_as(uid.wrapping_add(7), "theirs");
    let stderr = refused(&daemon.run(&["deploy", "theirs", "examples/obj/cpu_pid.o"]), 1, "D0001");
    assert!(stderr.contains(&format!("uid {}", uid.wrapping_add(7))), "{stderr}");
    refused(&daemon.run(&["ls", "theirs"]), 1, "D0001");
    refused(&daemon.run(&["grant", "theirs", "5", "r"]), 1, "D0001");
    refused(
        &daemon.run(&["deploy", "nothing", "examples/obj/cpu_pid.o"]),
        1,
        "D0002",
    );
    let garbage = daemon.dir.path().join("garbage.o");
    std::fs::write(&garbage, b"not an object at all").expect("writes");
    let out = daemon.run(&["deploy", "mine", garbage.to_str().expect("UTF-8")]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error[L") || stderr.starts_with("error[C"),
        "the host's code: {stderr}"
    );
    refused(&daemon.run(&["undeploy", "999999"]), 1, "D0003");
    // A remote daemon the local one does not know (`safexd --peer`).
    let stderr = refused(&daemon.run(&["ls", "--host", "elsewhere"]), 1, "D0022");
    assert!(stderr.contains("no peer daemon `elsewhere` (peers: none)"), "{stderr}");

    // Files: missing, a directory, over the limit (not read, not sent: the
    // daemon never sees it).
    let stderr = refused(&daemon.run(&["deploy", "mine", "no/such.o"]), 1, "L0001");
    assert!(stderr.contains("no/such.o"), "{stderr}");
    refused(&daemon.run(&["deploy", "mine", "examples"]), 1, "L0001");
    let big = daemon.dir.path().join("big.o");
    let file = std::fs::File::create(&big).expect("creates");
    file.set_len(safex::MAX_OBJECT_BYTES as u64 + 1).expect("a sparse file");
    let stderr = refused(
        &daemon.run(&["deploy", "mine", big.to_str().expect("UTF-8")]),
        1,
        "D0004",
    );
    assert!(
        stderr.contains(&format!("{} bytes", safex::MAX_OBJECT_BYTES + 1)),
        "{stderr}"
    );
    assert_eq!(
        daemon.json(&["ls", "mine", "--json"])["applications"][0]["extensions"],
        serde_json::json!([])
    );

    // Command lines: uids, rights, intervals, sort fields; top without a
    // terminal.
    for args in [
        &["grant", "mine", "abc", "r"][..],
        &["grant", "mine", "-1", "r"],
        &["grant", "mine", "4294967296", "r"],
        &["grant", "mine", "5", "x"],
        &["grant", "mine", "5", "wr"],
        &["revoke", "mine", "-5"],
        &["undeploy", "one"],
        &["top", "--json", "--interval-ms", "0"],
        &["top", "--json", "--interval-ms", "60001"],
        &["top", "--json", "--interval-ms", "99999999999999999999999"],
        &["top", "--json", "--sort", "bogus"],
        &["top"],
    ] {
        let stderr = refused(&daemon.run(args), 2, "L0003");
        if args == ["grant", "mine", "5", "x"] {
            assert!(stderr.contains("[possible values: r, w, rw]"), "{stderr}");
        }
        if args == ["top"] {
            assert!(stderr.contains("--json"), "{stderr}");
        }
    }

    // Nobody at the socket: every command is D0012, as JSON too.
    let none = daemon.dir.path().join("none.sock");
    let none = none.to_str().expect("UTF-8");
    for args in [
        &["ls"][..],
        &["create-app", "x"],
        &["deploy", "mine", "examples/obj/cpu_pid.o"],
        &["undeploy", "1"],
        &["grant", "mine", "5", "r"],
        &["revoke", "mine", "5"],
        &["top", "--json", "--interval-ms", "10"],
    ] {
        let mut all = args.to_vec();
        all.extend(["--socket", none]);
        let stderr = refused(&safexc(&all), 1, "D0012");
        assert!(stderr.contains("none.sock"), "{args:?}: {stderr}");
    }
    let out = safexc(&["--message-format", "json", "ls", "--socket", none]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let report: Value = serde_json::from_str(stderr.trim()).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!(report["code"]["code"], "D0012");
    assert!(report["code"]["explanation"].is_string(), "{report}");
}

#[test]
fn explain_knows_the_daemon_s_codes() {
    let out = safexc(&["explain", "d0001"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let doc = safex::codes::explain("D0001").expect("documented");
    assert!(stdout.starts_with(&format!("D0001: {}\n\n", doc.title)), "{stdout}");
    assert!(
        stdout.contains("\nExample:\n    $ safexc deploy video cpu_pid.o"),
        "{stdout}"
    );
    for code in safex::codes::CODES {
        let out = safexc(&["explain", code.code]);
        assert_eq!(out.status.code(), Some(0), "{}: {}", code.code, text(&out.stderr));
        assert!(text(&out.stdout).starts_with(&format!("{}: {}\n", code.code, code.title)));
    }
    let all = text(&safexc(&["explain", "--all"]).stdout);
    assert!(all.contains("D0012  cannot connect to the daemon\n"), "{all}");
    let stderr = text(&safexc(&["explain", "D9999"]).stderr);
    assert!(stderr.contains("D0xxx"), "{stderr}");
}

/// The extension list of `ls --json` has what `docs/clients.md` says.
#[test]
fn the_documented_json_fields_are_the_printed_ones() {
    let doc = std::fs::read_to_string(root().join("docs/clients.md")).expect("docs/clients.md");
    for field in [
        "owner_uid",
        "blocked",
        "grants",
        "acceptance",
        "quarantined",
        "object_bytes",
        "mean_time_ns",
        "invocations_per_s",
        "fuel_per_invocation",
        "ticks_in_interval",
        "elapsed_ns",
        "restarted",
    ] {
        assert!(
            doc.contains(&format!("\"{field}\"")),
            "docs/clients.md does not show `{field}`"
        );
    }
}

/// `watch` prints an application's notices as they come, a line each (or a
/// JSON object each), and stops after `--count`.
#[test]
fn watch_prints_the_notices_of_an_application() {
    let daemon = Daemon::start();
    daemon.ok(&["create-app", "watched"]);
    daemon.ok(&["deploy", "watched", "examples/obj/cpu_pid.o"]);
    // The monitor raises its error every tick; the handler writes the
    // adjustment through the guard.
    let lines = daemon.ok(&["watch", "watched", "--count", "6", "--json"]);
    let notices: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object a line"))
        .collect();
    assert_eq!(notices.len(), 6, "{lines}");
    assert!(notices.iter().all(|n| n["tick"].as_u64().is_some()), "{lines}");
    let event = notices.iter().find(|n| n["kind"] == "event").expect("an event");
    assert_eq!(
        (&event["event"], &event["handlers"]),
        (&Value::from("Error"), &Value::from(1))
    );
    let change = notices.iter().find(|n| n["kind"] == "change").expect("a change");
    assert_eq!(change["attribute"], "cpu_qos.timeslice_adjustment");
    assert_eq!(
        (&change["entry"], &change["outcome"]),
        (&Value::from("cpu_pid.cpu_pid"), &Value::from("written"))
    );
    let text = daemon.ok(&["watch", "watched", "--count", "2"]);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.lines().all(|l| l.starts_with("tick ")), "{text}");
    assert!(
        text.contains("event Error = ") || text.contains("change cpu_qos.timeslice_adjustment"),
        "{text}"
    );
    let counted = daemon.ok(&["watch", "watched", "--count", "40", "--counters-ms", "10"]);
    assert!(counted.contains("counters cpu_pid (extension "), "{counted}");
    refused(&daemon.run(&["watch", "nothing", "--count", "1"]), 1, "D0002");
    refused(
        &daemon.run(&["watch", "watched", "--counters-ms", "3600001"]),
        2,
        "L0003",
    );
}
