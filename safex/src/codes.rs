//! The daemon's error codes, `Dxxxx`: what the daemon (`safexd`) and this
//! library refuse on their own account. Refusals of the host's checks keep
//! the host's codes (`Lxxxx`, `Cxxxx`, `Vxxxx`; `safexc explain CODE`).
//! Codes are stable: a code is never reused for another meaning.

/// One documented code.
#[derive(Clone, Copy, Debug)]
pub struct Code {
    pub code: &'static str,
    pub title: &'static str,
    pub explanation: &'static str,
}

/// The caller is not the application's owner, and was not granted the
/// right the request needs.
pub const NOT_OWNER: &str = "D0001";
/// No application of that name.
pub const UNKNOWN_APPLICATION: &str = "D0002";
/// No deployed extension of that id.
pub const UNKNOWN_EXTENSION: &str = "D0003";
/// An object over the size limit.
pub const TOO_LARGE: &str = "D0004";
/// An application name out of the allowed form.
pub const BAD_NAME: &str = "D0005";
/// The connection's peer credentials could not be read.
pub const NO_PRINCIPAL: &str = "D0006";
/// The state store failed.
pub const STORE: &str = "D0007";
/// The daemon is stopping.
pub const STOPPING: &str = "D0008";
/// The socket cannot be served.
pub const SOCKET: &str = "D0009";
/// The state cannot be opened or restored.
pub const STATE: &str = "D0010";
/// The command line is invalid.
pub const COMMAND_LINE: &str = "D0011";
/// The client cannot connect.
pub const CONNECT: &str = "D0012";
/// A gRPC failure without a code of the project.
pub const TRANSPORT: &str = "D0013";
/// A key file named by `--trust` cannot be read.
pub const TRUST_FILE: &str = "D0014";
/// A write of an attribute that a guard decides.
pub const GUARDED: &str = "D0015";
/// A grant that cannot be made: rights other than `r`, `w`, `rw`, or the
/// owner as the grantee.
pub const BAD_GRANT: &str = "D0016";
/// A revoke of a grant that does not exist.
pub const UNKNOWN_GRANT: &str = "D0017";
/// A subscription's counters interval over an hour.
pub const BAD_SUBSCRIPTION: &str = "D0018";
/// A deploy that would reserve more of the service manager's period than
/// the daemon admits.
pub const ADMISSION: &str = "D0019";
/// A blocking client's wait for a notice timed out (in the client).
pub const TIMED_OUT: &str = "D0020";
/// A TLS file that cannot be read, or a TLS configuration refused.
pub const TLS: &str = "D0021";
/// A request for a peer daemon this one does not know.
pub const UNKNOWN_PEER: &str = "D0022";
/// An argument the C library (libsafex) refuses before calling the daemon.
pub const BAD_ARGUMENT: &str = "D0200";
/// A failure inside the C library itself (a panic caught at its boundary).
pub const INTERNAL: &str = "D0201";
/// `proto/safex.proto` does not compile (at build time).
pub const PROTO: &str = "D0100";

/// Every `D` code, sorted.
pub const CODES: &[Code] = &[
    Code {
        code: NOT_OWNER,
        title: "permission denied: the application is another principal's",
        explanation: "Only the principal that created an application (the uid of the process that called \
            CreateApplication) may deploy to it, undeploy from it, grant or revoke rights on it; reading its \
            attributes and listing it need the owner or a grant of `r`, writing its attributes the owner or a \
            grant of `w` (Grant). The caller is known by the uid the kernel reports for its connection to the \
            daemon's socket.",
    },
    Code {
        code: UNKNOWN_APPLICATION,
        title: "unknown application",
        explanation: "No application of that name exists on the daemon. Create it first (CreateApplication).",
    },
    Code {
        code: UNKNOWN_EXTENSION,
        title: "unknown extension",
        explanation: "No deployed extension has that id: it was never deployed or was undeployed. List gives \
            the ids of the caller's extensions.",
    },
    Code {
        code: TOO_LARGE,
        title: "payload too large",
        explanation: "An object has at most 16 MiB (safex::MAX_OBJECT_BYTES). The daemon refuses a larger one \
            before any check runs, and the client library refuses it before sending it.",
    },
    Code {
        code: BAD_NAME,
        title: "invalid application name",
        explanation: "An application name has 1 to 64 characters, each a letter, a digit, `_`, `.` or `-`.",
    },
    Code {
        code: NO_PRINCIPAL,
        title: "the caller's principal is unknown",
        explanation: "The daemon could not read the peer credentials (SO_PEERCRED) of the connection, so it \
            does not know which uid calls, and refuses the request.",
    },
    Code {
        code: STORE,
        title: "the state store failed",
        explanation: "Writing the daemon's state (the redb file given by --state) failed; the request was \
            undone, so the daemon's state and its file still agree. The message carries the store's error.",
    },
    Code {
        code: STOPPING,
        title: "the daemon is stopping",
        explanation: "The daemon's host thread is gone (the daemon is shutting down); the request did not run.",
    },
    Code {
        code: SOCKET,
        title: "cannot serve the socket",
        explanation: "safexd could not listen on its socket: its directory cannot be created, another daemon \
            answers on it, the path is a file that is not a socket, or binding failed.",
    },
    Code {
        code: STATE,
        title: "cannot open the state",
        explanation: "safexd could not open or create its state file (--state), the file is not the daemon's \
            state or has another schema version, or the host could not be started.",
    },
    Code {
        code: COMMAND_LINE,
        title: "invalid command line",
        explanation: "safexd was given an unknown flag or a value out of range (--period-ms is 1 to 60000). \
            The exit status is 2.",
    },
    Code {
        code: CONNECT,
        title: "cannot connect to the daemon",
        explanation: "Nothing accepts connections on the socket path (the daemon is not running, or listens \
            elsewhere: safexd --socket), or the caller may not open it.",
    },
    Code {
        code: TRANSPORT,
        title: "the call failed in gRPC",
        explanation: "The call failed without an answer of the daemon: the connection broke, or a message \
            exceeded gRPC's own limits. The message carries gRPC's status.",
    },
    Code {
        code: TRUST_FILE,
        title: "cannot read a trusted key",
        explanation: "A file named by safexd --trust cannot be read. (A file that is read but is not an \
            RSA-2048 public key is the host's L0042.)",
    },
    Code {
        code: GUARDED,
        title: "the attribute is guarded: only its guard decides its value",
        explanation: "WriteAttribute is the system's write (targets, periods, measurements), which runs no \
            guard; an attribute with a guard (`cpu_qos.timeslice_adjustment`, whose guard turns a request into \
            a reservation) changes only through an extension's `set_attribute`, which its guard sees. Write the \
            inputs the extensions read instead.",
    },
    Code {
        code: BAD_GRANT,
        title: "invalid grant",
        explanation: "Grant takes the rights `r` (ReadAttribute, List of the application), `w` \
            (WriteAttribute) or `rw`, exactly so, and a principal other than the application's owner (who has \
            every right already).",
    },
    Code {
        code: UNKNOWN_GRANT,
        title: "no such grant",
        explanation: "Revoke names a principal that holds no grant on the application (never granted, or \
            revoked already); nothing changed. List shows the application's grants to its owner.",
    },
    Code {
        code: BAD_SUBSCRIPTION,
        title: "invalid subscription",
        explanation: "Subscribe takes a counters interval of 0 (no counters) to 3600000 milliseconds; a \
            shorter one than the service manager's period gives counters once per tick.",
    },
    Code {
        code: ADMISSION,
        title: "the deploy would overcommit the service manager's period",
        explanation: "Each deployed extension reserves its worst case per service-manager period: its fuel \
            budget times the daemon's measured cost per fuel unit, or its deadline if that is less, for every \
            entry point the manager runs each period. The daemon refuses a deploy that would take the sum of \
            reservations past its admitted share of the period (`--admit-percent`, default 5 %); the message \
            names the extension's reservation, the sum already reserved and the limit. Undeploy something, \
            lower the extension's budget, or give the daemon a longer period or a larger share.",
    },
    Code {
        code: TIMED_OUT,
        title: "no notice in time",
        explanation: "A blocking client waited for the next notice of a subscription for the time it was \
            given and none came; the subscription goes on, and the next call waits again.",
    },
    Code {
        code: TLS,
        title: "TLS files refused",
        explanation: "safexd --listen serves TCP with mutual TLS, which takes --tls-cert (the daemon's \
            certificate, PEM), --tls-key (its private key, PEM) and --tls-client-ca (the CA whose client \
            certificates it accepts, PEM); one of them cannot be read, or they do not make a TLS configuration \
            (a key that is not the certificate's, a file that is not PEM). The daemon does not start. Clients \
            (safexc --host) get the same code for their --tls-* files.",
    },
    Code {
        code: UNKNOWN_PEER,
        title: "no such peer daemon",
        explanation: "A request named a remote daemon (the client's `on_host`, safexc --host) that this \
            daemon was not started with (`safexd --peer NAME=HOST:PORT`); the message lists the peers it knows. \
            Nothing was sent.",
    },
    Code {
        code: PROTO,
        title: "the API definition does not compile",
        explanation: "Building the safex crate compiles proto/safex.proto with protox; an error there stops \
            the build with this code and protox's message.",
    },
    Code {
        code: BAD_ARGUMENT,
        title: "argument refused by the C library",
        explanation: "A libsafex function (safex.h) was given a NULL pointer where one is required, a name \
            that is not UTF-8, or a subscription with another client than the one that made it; nothing was \
            sent to the daemon. The function returned -EINVAL; safex_client_last_error says which argument.",
    },
    Code {
        code: INTERNAL,
        title: "the C library failed",
        explanation: "A libsafex function panicked (a bug in the library): the panic was caught at the C \
            boundary, so it never unwinds into C, and the function returned an error. Please report it with \
            the message.",
    },
];

/// The documentation of `code`.
pub fn explain(code: &str) -> Option<&'static Code> {
    CODES.iter().find(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes_are_sorted_unique_and_documented() {
        let codes = super::CODES;
        assert!(codes.windows(2).all(|w| w[0].code < w[1].code), "sorted, each once");
        for c in codes {
            assert!(c.code.len() == 5 && c.code.starts_with('D'), "{}", c.code);
            assert!(!c.title.is_empty() && c.explanation.len() > 40, "{}", c.code);
            assert_eq!(super::explain(c.code).map(|e| e.code), Some(c.code));
        }
    }
}
