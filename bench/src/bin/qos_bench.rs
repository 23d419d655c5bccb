//! The QoS service round against native C and eBPF, measured in one run:
//! `cargo run --release -p bench --bin qos_bench`.
//!
//! The round is the PID step of `bench/c/qos_logic.h` (a copy of
//! `../shared/bench/qos_logic.h`) over N processes, N = 3 and 64, summing
//! the timeslices. Four contenders run it from the same initial state:
//!
//! - **native**: the header compiled at -O2 (`bench/c/qos_native.c`, built
//!   by `bench/build.rs` with the `cc` crate), called through a function
//!   pointer;
//! - **eBPF**: the same header as a socket-filter program
//!   (`bench/c/qos.bpf.c`, built by `build.rs` with `clang -target bpf -O2`
//!   when clang exists), loaded through the `bpf` syscall and run with
//!   `BPF_PROG_TEST_RUN`, one syscall repeating the program for a whole
//!   batch (so the figure includes the test harness's per-run cost, as any
//!   eBPF program run by the kernel pays its hook's). Without clang or
//!   without the right to load BPF, the benchmark says why and skips it;
//! - **SafeX direct**: `bench/pop/qos_round.pop`, compiled as `safexc
//!   compile` does, its monitor called through a function pointer with a
//!   context, fuel on (the host's start fuel stored before each call);
//! - **SafeX `Host::invoke`**: the same object loaded into a user-space
//!   host (default configuration, but a deadline of 1 s: fuel is still
//!   handed out in slices, and a batch the system preempts for over 1 ms,
//!   on a busy 2-CPU machine, does not end in a deadline trap) and
//!   invoked.
//!
//! The SafeX contenders run two objects, each printed as its own rows: the
//! round with its inputs (`target`, `actual`) stored by its own `setup`
//! ("inputs from setup": bounded values the code generator's analysis of
//! globals sees), and the same source followed by `bench/pop/qos_measure.pop`
//! ("inputs from outside": a handler `measure(value)` the benchmark calls
//! after `setup` to write each process's `target` and `actual`, values the
//! analysis must take as anything, as in a real QoS round that gets its
//! measurements from outside every period). Native C and eBPF run the same
//! code for both (their compilers never knew the inputs).
//!
//! Every contender first runs 1,000 rounds from the initial state, and its
//! last sum must be 1237 (N = 3) or 34828 (N = 64), and the state's FNV
//! checksum (`qos_checksum`) the native one. Then batches of rounds of each
//! contender alternate (the order rotating), each batch timed in CPU time
//! of this thread (`CLOCK_THREAD_CPUTIME_ID`, which includes the kernel's
//! time in `BPF_PROG_TEST_RUN`), until at least 31 batches each and two
//! seconds; the figures are medians over batches of ns per round, and the
//! ratios medians of the per-batch ratios. The code sizes of the SafeX
//! functions and the eBPF program (as JIT-compiled) follow.

#![deny(clippy::undocumented_unsafe_blocks)]

use runtime::image::CodeImage;
use runtime::{EntryRef, ExtId, Host, HostConfig};
use std::hint::black_box;
use stdlib::abi::{Ctx, HelperFn, Returned};

const SOURCE: &str = include_str!("../../pop/qos_round.pop");
/// The same round with its inputs from outside: `qos_round.pop` followed by
/// `qos_measure.pop`, a handler `measure(value)` that writes the next
/// process's `target` or `actual` with whatever value it receives.
const SOURCE_OUTSIDE: &str = concat!(
    include_str!("../../pop/qos_round.pop"),
    include_str!("../../pop/qos_measure.pop")
);

/// Where the round's inputs (`target`, `actual`) come from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Inputs {
    /// Stored by the extension's own `setup`, with bounded values the
    /// compiler's analysis of globals sees.
    Setup,
    /// Delivered by `measure(value)` after `setup`, values the compiler
    /// must take as anything (what a real QoS round gets each period).
    Outside,
}

impl Inputs {
    fn label(self) -> &'static str {
        match self {
            Inputs::Setup => "inputs from setup",
            Inputs::Outside => "inputs from outside",
        }
    }
}
/// Rounds run from the initial state before the last sum is checked.
const CHECK_ROUNDS: u32 = 1_000;
/// The last sum after `CHECK_ROUNDS` rounds (`../shared/bench/README.md`).
const EXPECTED: [(u32, i64); 2] = [(3, 1237), (64, 34828)];
const MAXP: usize = 64;

// ------------------------------------------------------------------ native

/// `struct qos_proc` of `qos_logic.h`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
struct QosProc {
    target: i32,
    actual: i32,
    prev_actual: i32,
    e_prev: i32,
    u_prev: i64,
    timeslice: i32,
    blocked: u32,
}
const _: () = assert!(std::mem::size_of::<QosProc>() == 32);

unsafe extern "C" {
    /// Resets the native table to the initial state, with `n` processes.
    fn qos_native_init(n: u32);
    /// One round of the native table: the sum of the timeslices.
    fn qos_native_round() -> i64;
    /// `qos_init_one`.
    fn qos_native_init_one(p: *mut QosProc, i: u32);
    /// `qos_checksum` of the native table.
    fn qos_native_checksum() -> u64;
}

fn initial_state() -> [QosProc; MAXP] {
    let mut procs = [QosProc::default(); MAXP];
    for (i, p) in procs.iter_mut().enumerate() {
        // SAFETY: `p` is a valid, exclusive `struct qos_proc`.
        unsafe { qos_native_init_one(p, i as u32) };
    }
    procs
}

/// `qos_checksum` over rows of the seven fields, as `i64`s.
fn checksum(rows: impl Iterator<Item = [i64; 7]>) -> u64 {
    let mut h: u64 = 1469598103934665603;
    for row in rows {
        for f in row {
            h ^= f as u64;
            h = h.wrapping_mul(1099511628211);
        }
    }
    h
}

// -------------------------------------------------------------------- eBPF

mod bpf {
    //! Just enough of the `bpf` syscall to load `qos.bpf.o` (one map, one
    //! program, its map references patched) and run it.

    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

    const BPF_MAP_CREATE: libc::c_long = 0;
    const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
    const BPF_PROG_LOAD: libc::c_long = 5;
    const BPF_PROG_TEST_RUN: libc::c_long = 10;
    const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
    const BPF_MAP_TYPE_ARRAY: u32 = 2;
    const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;
    const BPF_PSEUDO_MAP_FD: u8 = 1;
    const LD_IMM64: u8 = 0x18;

    /// `union bpf_attr`, as 128 zeroed bytes written field by field.
    #[repr(C, align(8))]
    struct Attr([u8; 128]);

    impl Attr {
        fn new() -> Attr {
            Attr([0; 128])
        }
        fn u32(mut self, at: usize, v: u32) -> Attr {
            self.0[at..at + 4].copy_from_slice(&v.to_ne_bytes());
            self
        }
        fn u64(mut self, at: usize, v: u64) -> Attr {
            self.0[at..at + 8].copy_from_slice(&v.to_ne_bytes());
            self
        }
        fn get_u32(&self, at: usize) -> u32 {
            u32::from_ne_bytes(self.0[at..at + 4].try_into().expect("4 bytes"))
        }
    }

    fn sys(cmd: libc::c_long, attr: &mut Attr) -> Result<i64, String> {
        // SAFETY: `attr` is a `union bpf_attr` of the size passed, valid
        // for the command; the pointers in it point to live buffers.
        let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.0.as_mut_ptr(), attr.0.len() as u32) };
        if r < 0 {
            Err(std::io::Error::last_os_error().to_string())
        } else {
            Ok(r)
        }
    }

    fn fd(r: i64) -> OwnedFd {
        // SAFETY: the syscall returned a new file descriptor we own.
        unsafe { OwnedFd::from_raw_fd(r as RawFd) }
    }

    /// The loaded program and its state map.
    pub struct Program {
        prog: OwnedFd,
        map: OwnedFd,
        /// The size of the map's one value.
        value_size: usize,
        /// An Ethernet header's worth of packet, the least a socket
        /// filter's test run takes.
        packet: [u8; 64],
    }

    impl Program {
        /// Loads the program in section `section` of ELF object `elf`,
        /// with an array map of one `value_size`-byte value for every
        /// `ld_imm64` of the symbol `map_symbol`.
        pub fn load(elf: &[u8], section: &str, map_symbol: &str, value_size: usize) -> Result<Program, String> {
            use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget};
            let file = object::File::parse(elf).map_err(|e| format!("qos.bpf.o: {e}"))?;
            let text = file
                .section_by_name(section)
                .ok_or_else(|| format!("qos.bpf.o has no `{section}` section"))?;
            let mut insns = text.data().map_err(|e| e.to_string())?.to_vec();
            let map = fd(sys(
                BPF_MAP_CREATE,
                &mut Attr::new()
                    .u32(0, BPF_MAP_TYPE_ARRAY)
                    .u32(4, 4)
                    .u32(8, value_size as u32)
                    .u32(12, 1),
            )
            .map_err(|e| format!("BPF_MAP_CREATE: {e}"))?);
            for (offset, reloc) in text.relocations() {
                let RelocationTarget::Symbol(sym) = reloc.target() else {
                    return Err("qos.bpf.o: a relocation not against a symbol".into());
                };
                let name = file
                    .symbol_by_index(sym)
                    .and_then(|s| s.name())
                    .map_err(|e| e.to_string())?;
                let at = offset as usize;
                if name != map_symbol || insns.get(at) != Some(&LD_IMM64) {
                    return Err(format!("qos.bpf.o: unexpected relocation against `{name}`"));
                }
                // src_reg (high nibble of byte 1) = BPF_PSEUDO_MAP_FD, imm = fd.
                insns[at + 1] = (insns[at + 1] & 0x0f) | (BPF_PSEUDO_MAP_FD << 4);
                insns[at + 4..at + 8].copy_from_slice(&map.as_raw_fd().to_ne_bytes());
            }
            let license = c"GPL";
            let load = |log: &mut [u8], level: u32| {
                sys(
                    BPF_PROG_LOAD,
                    &mut Attr::new()
                        .u32(0, BPF_PROG_TYPE_SOCKET_FILTER)
                        .u32(4, (insns.len() / 8) as u32)
                        .u64(8, insns.as_ptr() as u64)
                        .u64(16, license.as_ptr() as u64)
                        .u32(24, level)
                        .u32(28, log.len() as u32)
                        .u64(32, if log.is_empty() { 0 } else { log.as_mut_ptr() as u64 }),
                )
            };
            // Without a log first (a verbose one overflows any buffer on
            // this loop); on failure again with one, for its last lines.
            let prog = load(&mut [], 0).map_err(|e| {
                let mut log = vec![0u8; 1 << 20];
                let _ = load(&mut log, 1);
                let log = String::from_utf8_lossy(&log);
                let tail: Vec<&str> = log.trim_end_matches('\0').lines().rev().take(3).collect();
                format!("BPF_PROG_LOAD: {e}: {}", tail.join(" / "))
            })?;
            Ok(Program {
                prog: fd(prog),
                map,
                value_size,
                packet: [0; 64],
            })
        }

        /// Replaces the map's value.
        pub fn set_state(&self, value: &[u8]) -> Result<(), String> {
            assert_eq!(value.len(), self.value_size);
            let key = 0u32;
            sys(
                BPF_MAP_UPDATE_ELEM,
                &mut Attr::new()
                    .u32(0, self.map.as_raw_fd() as u32)
                    .u64(8, &key as *const u32 as u64)
                    .u64(16, value.as_ptr() as u64),
            )
            .map(drop)
            .map_err(|e| format!("BPF_MAP_UPDATE_ELEM: {e}"))
        }

        /// Runs the program `repeat` times in one `BPF_PROG_TEST_RUN`:
        /// the last run's return value and the kernel's mean time per run
        /// in nanoseconds.
        pub fn run(&mut self, repeat: u32) -> Result<(u32, u32), String> {
            let mut attr = Attr::new()
                .u32(0, self.prog.as_raw_fd() as u32)
                .u32(8, self.packet.len() as u32)
                .u64(16, self.packet.as_mut_ptr() as u64)
                .u32(32, repeat);
            sys(BPF_PROG_TEST_RUN, &mut attr).map_err(|e| format!("BPF_PROG_TEST_RUN: {e}"))?;
            Ok((attr.get_u32(4), attr.get_u32(36)))
        }

        /// The program's size as JIT-compiled and as translated BPF, in bytes.
        pub fn sizes(&self) -> Result<(u32, u32), String> {
            let mut info = [0u8; 256];
            sys(
                BPF_OBJ_GET_INFO_BY_FD,
                &mut Attr::new()
                    .u32(0, self.prog.as_raw_fd() as u32)
                    .u32(4, info.len() as u32)
                    .u64(8, info.as_mut_ptr() as u64),
            )
            .map_err(|e| format!("BPF_OBJ_GET_INFO_BY_FD: {e}"))?;
            let word = |at: usize| u32::from_ne_bytes(info[at..at + 4].try_into().expect("4 bytes"));
            Ok((word(16), word(20)))
        }
    }
}

/// `struct qos_state` of `qos.bpf.c`: the count, then the processes.
fn bpf_state(n: u32, procs: &[QosProc; MAXP]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + 32 * MAXP);
    v.extend_from_slice(&n.to_ne_bytes());
    v.extend_from_slice(&[0; 4]);
    for p in procs {
        for f in [p.target, p.actual, p.prev_actual, p.e_prev] {
            v.extend_from_slice(&f.to_ne_bytes());
        }
        v.extend_from_slice(&p.u_prev.to_ne_bytes());
        v.extend_from_slice(&p.timeslice.to_ne_bytes());
        v.extend_from_slice(&p.blocked.to_ne_bytes());
    }
    v
}

/// The eBPF program, or why there is none.
fn load_bpf() -> Result<bpf::Program, String> {
    let path = env!("QOS_BPF_OBJECT");
    if path.is_empty() {
        return Err(env!("QOS_BPF_STATUS").to_string());
    }
    let elf = std::fs::read(path).map_err(|e| format!("{path}: {e} (rebuild the benchmark)"))?;
    bpf::Program::load(&elf, "socket", "qos_state", 8 + 32 * MAXP)
}

// ------------------------------------------------------------------- SafeX

unsafe extern "C" fn no_helper(_: *mut Ctx, _: i64, _: i64, _: i64) -> i64 {
    panic!("the QoS round calls no helper")
}
static HELPERS: [HelperFn; 5] = [no_helper; 5];

type Monitor = unsafe extern "C" fn(*mut Ctx, i64) -> Returned;
type Handler = unsafe extern "C" fn(*mut Ctx, i64, i64) -> Returned;

/// The compiled extension, called directly: its code, data region and a
/// context.
struct Direct {
    _image: CodeImage,
    round: Monitor,
    setup: Handler,
    /// `measure`, in the object that has it.
    measure: Option<Handler>,
    /// The fuel each call of `round`, `setup` and `measure` starts with:
    /// the extension's budget less the entry's first stretch (what a host
    /// does).
    start_fuel: (i64, i64, i64),
    data: Vec<i64>,
    ctx: Ctx,
    offsets: Offsets,
}

/// Cell offsets of the extension's globals in its data region.
#[derive(Clone, Copy)]
struct Offsets {
    sum: usize,
    /// The seven per-process arrays, in `qos_proc`'s field order.
    fields: [usize; 7],
}

impl Offsets {
    fn of(lookup: impl Fn(&str) -> usize) -> Offsets {
        Offsets {
            sum: lookup("sum"),
            fields: [
                "target",
                "actual",
                "prev_actual",
                "e_prev",
                "u_prev",
                "timeslice",
                "blocked",
            ]
            .map(&lookup),
        }
    }

    fn checksum(&self, data: &[i64], n: u32) -> u64 {
        checksum((0..n as usize).map(|i| self.fields.map(|f| data[f + i])))
    }
}

impl Direct {
    fn new(object: &[u8]) -> Direct {
        let parts = codegen::object::read_object(object).expect("reads back");
        let image = CodeImage::link(&parts).expect("links");
        let module = &parts.module;
        let layout = tal_ir::layout::GlobalLayout::new(module).expect("a layout");
        let entry = |name: &str| {
            let id = module.func_by_name(name).expect("entry point");
            let f = &module.funcs[id.index()];
            let fuel = module.budget.unwrap_or(1_000_000) as i64 - f.entry_fuel().expect("entry fuel") as i64;
            (image.function(id.index()).expect("linked"), fuel)
        };
        let (round, round_fuel) = entry("qos_round");
        let (setup, setup_fuel) = entry("setup");
        let (measure, measure_fuel) = match module.func_by_name("measure") {
            Some(_) => {
                let (f, fuel) = entry("measure");
                (Some(f), fuel)
            }
            None => (None, 0),
        };
        let offsets = Offsets::of(|name| {
            let g = module.globals.iter().position(|g| g.name == name).expect("global");
            layout.offsets[g] as usize
        });
        let mut data = layout.initial_data(1 << 20).expect("small data region");
        let ctx = Ctx::new(
            0,
            HELPERS.as_ptr(),
            data.as_mut_ptr(),
            std::ptr::null(),
            runtime::refuel::exhausted(),
        );
        Direct {
            // SAFETY: an entry point with one value parameter (the monitor)
            // is `extern "C" fn(ctx, cap) -> Returned`, with two (the
            // handler) `(ctx, cap, value)` (stdlib::abi); the image lives
            // as long as `self`.
            round: unsafe { std::mem::transmute::<*const u8, Monitor>(round) },
            // SAFETY: as above.
            setup: unsafe { std::mem::transmute::<*const u8, Handler>(setup) },
            // SAFETY: as above.
            measure: measure.map(|f| unsafe { std::mem::transmute::<*const u8, Handler>(f) }),
            _image: image,
            start_fuel: (round_fuel, setup_fuel, measure_fuel),
            data,
            ctx,
            offsets,
        }
    }

    fn setup(&mut self, n: u32) {
        self.ctx.fuel = self.start_fuel.1;
        // SAFETY: `setup` is this image's handler; the context points at
        // this extension's live data region and a helper table, and nothing
        // else uses either during the call.
        let r = unsafe { (self.setup)(&mut self.ctx, 1, i64::from(n)) };
        assert_eq!(r.status, 0, "setup trapped");
    }

    fn measure(&mut self, value: i64) {
        let measure = self.measure.expect("an object with `measure`");
        self.ctx.fuel = self.start_fuel.2;
        // SAFETY: as in `setup`, for `measure`.
        let r = unsafe { measure(&mut self.ctx, 1, value) };
        assert_eq!(r.status, 0, "measure trapped");
    }

    #[inline(always)]
    fn round(&mut self) -> i64 {
        self.ctx.fuel = self.start_fuel.0;
        // SAFETY: as in `setup`, for the monitor.
        let r = unsafe { (self.round)(&mut self.ctx, black_box(1)) };
        if r.status != 0 {
            panic!("the round trapped: status {}", r.status);
        }
        self.data[self.offsets.sum]
    }
}

/// The extension loaded into a host.
struct Hosted {
    host: Host,
    ext: ExtId,
    round: EntryRef,
    setup: EntryRef,
    measure: Option<EntryRef>,
    offsets: Offsets,
}

impl Hosted {
    fn new(object: &[u8]) -> Hosted {
        let config = HostConfig {
            deadline: Some(std::time::Duration::from_secs(1)),
            ..HostConfig::default()
        };
        let mut host = runtime::system::host(config, true).expect("a host");
        let app = host.create_app("qos").expect("an application");
        let ext = host.load(app, object).expect("loads");
        let offsets = Offsets::of(|name| host.global_offset(ext, name).expect("global"));
        Hosted {
            round: host.entry(ext, "qos_round").expect("entry"),
            setup: host.entry(ext, "setup").expect("entry"),
            measure: host.entry(ext, "measure"),
            host,
            ext,
            offsets,
        }
    }

    fn data(&self) -> &[i64] {
        self.host.data(self.ext).expect("loaded")
    }

    fn setup(&mut self, n: u32) {
        self.host.invoke(self.setup, Some(i64::from(n))).expect("setup runs");
    }

    fn measure(&mut self, value: i64) {
        let measure = self.measure.expect("an object with `measure`");
        self.host.invoke(measure, Some(value)).expect("measure runs");
    }

    /// The fuel units one round uses (what decides whether the host's
    /// `refuel` runs in it).
    fn units_of_round(&mut self) -> u64 {
        let before = self.host.counters(self.ext).expect("loaded").fuel_used;
        self.round();
        self.host.counters(self.ext).expect("loaded").fuel_used - before
    }

    #[inline(always)]
    fn round(&mut self) -> i64 {
        if let Err(t) = self.host.invoke(self.round, None) {
            panic!("the round trapped: {t:?}");
        }
        self.data()[self.offsets.sum]
    }
}

// ------------------------------------------------------------- measurement

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec to write.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(r, 0, "clock_gettime");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// One contender: runs `rounds` rounds; the last round's sum.
type Batch<'a> = Box<dyn FnMut(u32) -> i64 + 'a>;

/// Per contender, the median ns per round over batches, and the median of
/// its per-batch ratio to contender 0.
fn measure(rounds: u32, contenders: &mut [(&str, Batch<'_>)]) -> Vec<(f64, f64)> {
    const MIN_BATCHES: usize = 31;
    const MIN_TIME: std::time::Duration = std::time::Duration::from_secs(2);
    let k = contenders.len();
    let mut times: Vec<Vec<f64>> = Vec::new();
    let started = std::time::Instant::now();
    while times.len() < MIN_BATCHES || started.elapsed() < MIN_TIME {
        let mut row = vec![0.0; k];
        for j in 0..k {
            let which = (j + times.len()) % k;
            let run = &mut contenders[which].1;
            let t0 = thread_cpu_ns();
            black_box(run(rounds));
            let t1 = thread_cpu_ns();
            row[which] = (t1 - t0) as f64 / f64::from(rounds);
        }
        times.push(row);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (0..k)
        .map(|j| {
            (
                median(times.iter().map(|t| t[j]).collect()),
                median(times.iter().map(|t| t[j] / t[0]).collect()),
            )
        })
        .collect()
}

fn main() {
    let objects = [
        (
            Inputs::Setup,
            bench::compile_object("qos_round.pop", SOURCE, false).expect("compiles"),
        ),
        (
            Inputs::Outside,
            bench::compile_object("qos_round.pop", SOURCE_OUTSIDE, false).expect("compiles"),
        ),
    ];
    let mut bpf = load_bpf();
    if let Err(why) = &bpf {
        println!("eBPF column skipped: {why}");
    }
    let initial = initial_state();

    let mut notes = Vec::new();
    println!(
        "| inputs | N | native C -O2 | eBPF JIT (test_run) | SafeX direct | SafeX Host::invoke | direct / native | invoke / native | invoke / eBPF |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for (inputs, object) in &objects {
        for (n, expected) in EXPECTED {
            run_row(*inputs, object, n, expected, &initial, &mut bpf, &mut notes);
        }
    }

    for note in notes {
        println!("{note}");
    }
    println!();
    println!("Code size (bytes of machine code):");
    for (inputs, object) in &objects {
        let parts = codegen::object::read_object(object).expect("reads back");
        let sizes: Vec<String> = parts
            .module
            .funcs
            .iter()
            .enumerate()
            .map(|(i, f)| format!("`{}` {} B", f.name, parts.functions[i].size))
            .collect();
        println!("  SafeX, {}: {}", inputs.label(), sizes.join(", "));
    }
    if let Ok(prog) = &bpf {
        match prog.sizes() {
            Ok((jited, xlated)) => println!("  eBPF `qos_round`: {jited} bytes JIT-compiled ({xlated} bytes of BPF)"),
            Err(e) => println!("  eBPF: {e}"),
        }
    }
}

/// Validates every contender on one variant at one N, then measures them
/// interleaved and prints the row.
fn run_row(
    inputs: Inputs,
    object: &[u8],
    n: u32,
    expected: i64,
    initial: &[QosProc; MAXP],
    bpf: &mut Result<bpf::Program, String>,
    notes: &mut Vec<String>,
) {
    // Validation: 1,000 rounds from the initial state, every contender.
    // SAFETY: the native table is only used from this thread.
    unsafe { qos_native_init(n) };
    let mut last = 0;
    for _ in 0..CHECK_ROUNDS {
        // SAFETY: as above.
        last = unsafe { qos_native_round() };
    }
    assert_eq!(last, expected, "native, N={n}");
    // SAFETY: as above.
    let native_sum = unsafe { qos_native_checksum() };
    let label = inputs.label();
    // The inputs from outside: each process's target, then actual, the
    // values of the initial state (`setup` wrote the same ones).
    let measurements = || {
        initial[..n as usize]
            .iter()
            .flat_map(|p| [i64::from(p.target), i64::from(p.actual)])
    };

    let mut direct = Direct::new(object);
    direct.setup(n);
    if inputs == Inputs::Outside {
        measurements().for_each(|v| direct.measure(v));
    }
    for _ in 0..CHECK_ROUNDS {
        last = direct.round();
    }
    assert_eq!(last, expected, "SafeX direct, {label}, N={n}");
    assert_eq!(
        direct.offsets.checksum(&direct.data, n),
        native_sum,
        "SafeX direct's state, {label}, N={n}"
    );

    let mut hosted = Hosted::new(object);
    hosted.setup(n);
    if inputs == Inputs::Outside {
        measurements().for_each(|v| hosted.measure(v));
    }
    for _ in 0..CHECK_ROUNDS {
        last = hosted.round();
    }
    assert_eq!(last, expected, "SafeX Host::invoke, {label}, N={n}");
    assert_eq!(
        hosted.offsets.checksum(hosted.data(), n),
        native_sum,
        "SafeX hosted state, {label}, N={n}"
    );
    notes.push(format!(
        "{label}, N={n}: fuel units per round: {}",
        hosted.units_of_round()
    ));

    let mut kernel_ns = None;
    if let Ok(prog) = bpf.as_mut() {
        prog.set_state(&bpf_state(n, initial)).expect("sets the map");
        let (ret, _) = prog.run(CHECK_ROUNDS).expect("runs");
        assert_eq!(i64::from(ret as i32), expected, "eBPF, N={n}");
    }

    // Timing, from where validation left every contender.
    let rounds = if n <= 8 { 20_000 } else { 2_000 };
    let mut contenders: Vec<(&str, Batch<'_>)> = vec![(
        "native",
        Box::new(|r| {
            let round: unsafe extern "C" fn() -> i64 = black_box(qos_native_round);
            let mut last = 0;
            for _ in 0..r {
                // SAFETY: the native table is only used from this thread.
                last = unsafe { round() };
            }
            last
        }),
    )];
    let has_bpf = bpf.is_ok();
    if let Ok(prog) = bpf.as_mut() {
        let kernel_ns = &mut kernel_ns;
        contenders.push((
            "eBPF",
            Box::new(move |r| {
                let (ret, ns) = prog.run(r).expect("runs");
                *kernel_ns = Some(ns);
                i64::from(ret as i32)
            }),
        ));
    }
    contenders.push((
        "direct",
        Box::new(|r| {
            let mut last = 0;
            for _ in 0..r {
                last = direct.round();
            }
            last
        }),
    ));
    contenders.push((
        "invoke",
        Box::new(|r| {
            let mut last = 0;
            for _ in 0..r {
                last = hosted.round();
            }
            last
        }),
    ));
    let m = measure(rounds, &mut contenders);
    drop(contenders);
    let (native, rest) = (m[0], &m[1..]);
    let (ebpf, direct_m, invoke_m) = if has_bpf {
        (Some(rest[0]), rest[1], rest[2])
    } else {
        (None, rest[0], rest[1])
    };
    let ebpf_cell = ebpf.map_or("skipped".to_string(), |e| format!("{:.1} ns", e.0));
    let vs_ebpf = ebpf.map_or("–".to_string(), |e| format!("{:.2}x", invoke_m.1 / e.1));
    println!(
        "| {label} | {n} | {:.1} ns | {ebpf_cell} | {:.1} ns | {:.1} ns | {:.2}x | {:.2}x | {vs_ebpf} |",
        native.0, direct_m.0, invoke_m.0, direct_m.1, invoke_m.1
    );
    if let Some(ns) = kernel_ns {
        notes.push(format!(
            "{label}, N={n}: the kernel's own mean time per eBPF run (BPF_PROG_TEST_RUN's `duration`), last batch: {ns} ns"
        ));
    }
}
