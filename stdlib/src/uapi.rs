//! The `/dev/safex` interface: the ioctl commands of the kernel loader
//! module (`kmod/`) and their argument structs, as `#[repr(C)]` Rust for
//! `safexc` and as the C header `kmod/safex_uapi.h` for the module.
//!
//! Everything here is defined once, through three macros that define the
//! Rust item and record it as data at the same time: [`CStruct`] (every
//! field's name, C type, offset and size, taken from the Rust struct with
//! `offset_of!` and `size_of`), [`CConsts`] and [`CIoctl`]. Their doc
//! comments are the documentation of the interface: `stdlib::c_header`
//! renders the header from [`HEADER`] and [`CONVENTIONS`], comments
//! included, with a `_Static_assert` for every size, offset and command
//! number, so neither the C text nor its comments can drift from the
//! Rust. The layouts have no implicit padding and sizes that are multiples
//! of 8 (a test checks), so 32-bit user space sees the same layout.
//!
//! Command numbers are Linux's `_IOC(dir, type, nr, size)` ([`ioc`]).

use std::mem::{align_of, offset_of, size_of};

/// The header's opening comment: what every command has in common. One
/// entry per line; `""` is a blank line.
pub const CONVENTIONS: &[&str] = &[
    "The /dev/safex interface between `safexc` and the SafeX loader module.",
    "Every command needs CAP_SYS_ADMIN (and the device is mode 0600).",
    "",
    "Every argument struct starts with its own size (in: sizeof the struct);",
    "the module refuses another size (EINVAL), non-zero reserved fields and",
    "flags (EINVAL), an unreadable or unwritable argument (EFAULT), and",
    "unknown commands (ENOTTY). Names are NUL-terminated within their",
    "SAFEX_NAME_MAX bytes (EINVAL otherwise); names the module returns longer",
    "than that are cut.",
];

/// `_IOC`'s direction bit for a command that reads its argument from user
/// space (`_IOC_WRITE`: user space writes it).
pub const IOC_WRITE: u32 = 1;
/// `_IOC`'s direction bit for a command that writes its argument back to
/// user space (`_IOC_READ`).
pub const IOC_READ: u32 = 2;

/// Linux's `_IOC(dir, type, nr, size)`: the direction in bits 30-31, the
/// argument's size in bits 16-29, the type in bits 8-15 and the number in
/// bits 0-7. Out-of-range parts fail to compile in a `const`.
pub const fn ioc(dir: u32, ty: u32, nr: u32, size: usize) -> u32 {
    assert!(dir < 4 && ty < 256 && nr < 256 && size < 1 << 14);
    dir << 30 | (size as u32) << 16 | ty << 8 | nr
}

/// `_IOW(type, nr, T)`: the kernel reads the argument.
pub const fn iow(ty: u32, nr: u32, size: usize) -> u32 {
    ioc(IOC_WRITE, ty, nr, size)
}

/// `_IOR(type, nr, T)`: the kernel writes the argument.
pub const fn ior(ty: u32, nr: u32, size: usize) -> u32 {
    ioc(IOC_READ, ty, nr, size)
}

/// `_IOWR(type, nr, T)`: the kernel reads and writes the argument.
pub const fn iowr(ty: u32, nr: u32, size: usize) -> u32 {
    ioc(IOC_WRITE | IOC_READ, ty, nr, size)
}

/// A field type the header can declare: its C type, its array suffix, and
/// its zero value.
pub trait CType: Copy {
    /// The C type (`__u32`, `char`, `struct safex_entry_info`).
    const TYPE: &'static str;
    /// After the field's name: `""`, or `[SAFEX_NAME_MAX]` for an array.
    const ARRAY: &'static str = "";
    const ZERO: Self;
}

impl CType for u32 {
    const TYPE: &'static str = "__u32";
    const ZERO: u32 = 0;
}

impl CType for i32 {
    const TYPE: &'static str = "__s32";
    const ZERO: i32 = 0;
}

impl CType for u64 {
    const TYPE: &'static str = "__u64";
    const ZERO: u64 = 0;
}

impl CType for i64 {
    const TYPE: &'static str = "__s64";
    const ZERO: i64 = 0;
}

/// A name: NUL-terminated within [`NAME_MAX`] bytes ([`encode_name`]).
impl CType for [u8; NAME_MAX] {
    const TYPE: &'static str = "char";
    const ARRAY: &'static str = "[SAFEX_NAME_MAX]";
    const ZERO: Self = [0; NAME_MAX];
}

impl CType for [EntryInfo; MAX_ENTRIES] {
    const TYPE: &'static str = "struct safex_entry_info";
    const ARRAY: &'static str = "[SAFEX_MAX_ENTRIES]";
    const ZERO: Self = [EntryInfo::ZERO; MAX_ENTRIES];
}

/// A struct of the interface, as the header declares it.
#[derive(Debug)]
pub struct CStruct {
    /// The C name, without `struct`.
    pub name: &'static str,
    /// The comment before it, one entry per line.
    pub doc: &'static [&'static str],
    pub fields: &'static [CField],
    /// `size_of` the Rust struct.
    pub size: usize,
    /// `align_of` the Rust struct.
    pub align: usize,
}

/// A field of a [`CStruct`].
#[derive(Debug)]
pub struct CField {
    pub name: &'static str,
    /// [`CType::TYPE`] and [`CType::ARRAY`] of the Rust field's type.
    pub ty: &'static str,
    pub array: &'static str,
    /// `offset_of!` the Rust field.
    pub offset: usize,
    /// `size_of` the Rust field's type.
    pub size: usize,
    /// Its comment, one line (rendered after the declaration).
    pub doc: &'static [&'static str],
}

/// How a constant is written in C.
#[derive(Clone, Copy, Debug)]
pub enum CValue {
    Decimal(u64),
    Hex(u64),
    /// A string: the bytes up to (without) the terminating NUL.
    Str(&'static [u8]),
}

/// A `#define SAFEX_NAME value`.
#[derive(Debug)]
pub struct CConst {
    /// The Rust name; the C name is `SAFEX_` and this.
    pub name: &'static str,
    pub value: CValue,
    pub doc: &'static [&'static str],
}

/// Constants defined together, with a comment for the group.
#[derive(Debug)]
pub struct CConsts {
    pub doc: &'static [&'static str],
    pub consts: &'static [CConst],
}

/// A command: `#define SAFEX_NAME _IOWR(SAFEX_IOC_MAGIC, nr, struct arg)`.
#[derive(Debug)]
pub struct CIoctl {
    /// The Rust name; the C name is `SAFEX_` and this.
    pub name: &'static str,
    /// `iow`, `ior` or `iowr`: the C macro in capitals with a `_`.
    pub dir: &'static str,
    pub nr: u32,
    pub arg: &'static CStruct,
    /// The command's number, as [`ioc`] computes it.
    pub value: u32,
    pub doc: &'static [&'static str],
}

/// One part of the header.
#[derive(Debug)]
pub enum Item {
    Struct(&'static CStruct),
    Consts(&'static CConsts),
    /// A command, by number ([`IOCTLS`] has its definition).
    Ioctl(u32),
}

/// Defines `#[repr(C)]` structs and records each as `Self::C`, a [`CStruct`].
macro_rules! c_structs {
    ($(
        $(#[doc = $doc:literal])*
        struct $name:ident = $cname:literal {
            $( $(#[doc = $fdoc:literal])* $field:ident: $ty:ty, )*
        }
    )*) => {$(
        $(#[doc = $doc])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name {
            $( $(#[doc = $fdoc])* pub $field: $ty, )*
        }

        impl $name {
            /// Every field zero.
            pub const ZERO: $name = $name { $($field: <$ty as CType>::ZERO,)* };
            /// `size_of::<Self>()`, what an argument's `size` field holds.
            pub const SIZE: u32 = size_of::<$name>() as u32;
            /// The struct as the header declares it.
            pub const C: CStruct = CStruct {
                name: $cname,
                doc: &[$($doc),*],
                fields: &[$(CField {
                    name: stringify!($field),
                    ty: <$ty as CType>::TYPE,
                    array: <$ty as CType>::ARRAY,
                    offset: offset_of!($name, $field),
                    size: size_of::<$ty>(),
                    doc: &[$($fdoc),*],
                }),*],
                size: size_of::<$name>(),
                align: align_of::<$name>(),
            };
        }
    )*};
}

/// Defines constants and records them as the [`CConsts`] `$table`. A
/// constant ends in `, hex` to be written in hexadecimal, `, str` if it is
/// a NUL-terminated byte string.
macro_rules! c_consts {
    (
        $(#[doc = $gdoc:literal])*
        $table:ident:
        $( $(#[doc = $doc:literal])* $name:ident: $ty:ty = $value:expr $(, $fmt:ident)?; )*
    ) => {
        $( $(#[doc = $doc])* pub const $name: $ty = $value; )*
        $(#[doc = $gdoc])*
        pub const $table: CConsts = CConsts {
            doc: &[$($gdoc),*],
            consts: &[$(CConst {
                name: stringify!($name),
                value: c_consts!(@value $name $($fmt)?),
                doc: &[$($doc),*],
            }),*],
        };
    };
    (@value $name:ident) => { CValue::Decimal($name as u64) };
    (@value $name:ident hex) => { CValue::Hex($name as u64) };
    (@value $name:ident str) => { CValue::Str($name.split_last().expect("NUL-terminated").1) };
}

/// Defines the command numbers and records them in [`IOCTLS`].
macro_rules! c_ioctls {
    ($( $(#[doc = $doc:literal])* $name:ident = $dir:ident($nr:literal, $arg:ident); )*) => {
        $(
            $(#[doc = $doc])*
            #[doc = concat!("\n\nArgument: [`", stringify!($arg), "`].")]
            pub const $name: u32 = $dir(IOC_MAGIC, $nr, size_of::<$arg>());
        )*
        /// Every command, in the order of their numbers.
        pub const IOCTLS: &[CIoctl] = &[$(CIoctl {
            name: stringify!($name),
            dir: stringify!($dir),
            nr: $nr,
            arg: &$arg::C,
            value: $name,
            doc: &[$($doc),*],
        }),*];
    };
}

c_consts! {
    BASICS:
    /// The ioctl type of every command.
    IOC_MAGIC: u32 = 0x5a, hex;
    /// Changes with any change of this interface.
    UAPI_VERSION: u32 = 2;
    /// The bytes of a name, its NUL included.
    NAME_MAX: usize = 64;
    /// Entry points an extension may have in the kernel.
    MAX_ENTRIES: usize = 16;
    /// The largest signed object, in bytes (16 MiB).
    MAX_OBJECT: u32 = 16 << 20;
    /// And its NUL: 8 bytes.
    SIG_MAGIC: &[u8; 8] = b"SXSIG01\0", str;
}

c_consts! {
    APPS:
    /// Applications at most.
    MAX_APPS: u32 = 64;
}

c_consts! {
    EXTENSIONS:
    /// Extensions at most, the system's guard included.
    MAX_EXTENSIONS: u32 = 256;
    /// Flag: install the object as the system's guard (app ""): every entry
    /// point a guard, holding every right; EEXIST if an attribute it guards
    /// has a guard. The CPU service manager applies a task's reservation only
    /// from the timeslice guard's results.
    LOAD_GUARD: u32 = 1;
}

c_consts! {
    /// What an entry point is (safex_entry_info.kind).
    ENTRY_KINDS:
    ENTRY_MONITOR: u32 = 0;
    ENTRY_HANDLER: u32 = 1;
    ENTRY_GUARD: u32 = 2;
}

c_consts! {
    /// Whether an extension runs (safex_ext_info.state).
    STATES:
    STATE_ACTIVE: u32 = 0;
    STATE_QUARANTINED: u32 = 1;
}

c_consts! {
    STATS:
    /// Flag: the counters start again from 0 once read.
    STATS_RESET: u32 = 1;
}

c_consts! {
    /// What SAFEX_IOC_ATTR does (safex_attr.op).
    ATTR_OPS:
    ATTR_READ: u32 = 0;
    ATTR_WRITE: u32 = 1;
}

c_consts! {
    /// What a record of the log is about (safex_log_record.kind).
    LOG_KINDS:
    /// an attribute write by an extension
    LOG_CHANGE: u32 = 1;
    /// an invocation ended by a trap
    LOG_TRAP: u32 = 2;
    /// that trap quarantined the extension
    LOG_QUARANTINE: u32 = 3;
    /// a reservation applied to a task
    LOG_APPLIED: u32 = 4;
}

c_consts! {
    /// How an attribute write ended (safex_log_record.outcome of a CHANGE).
    CHANGE_OUTCOMES:
    CHANGE_WRITTEN: u32 = 0;
    /// the guard blocked the application
    CHANGE_BLOCKED: u32 = 1;
    CHANGE_GUARD_TRAPPED: u32 = 2;
}

c_consts! {
    LOG:
    /// The log keeps the last this many records.
    LOG_SIZE: u32 = 4096;
}

c_structs! {
    /// What a module speaks: its interface and extension ABI versions.
    struct Version = "safex_version" {
        /// in: sizeof(struct safex_version)
        size: u32,
        /// out: SAFEX_UAPI_VERSION
        uapi: u32,
        /// out: the extension ABI (SAFEX_ABI_VERSION)
        abi: u32,
        /// in: 0
        reserved: u32,
    }

    /// A signed object in user memory: `safexc sign`'s output, the object's
    /// bytes followed by an RSASSA-PKCS1-v1_5/SHA-256 signature over them,
    /// its length (u32, little-endian) and the magic "SXSIG01\0".
    struct Object = "safex_object" {
        /// in: sizeof(struct safex_object)
        size: u32,
        /// in: 0
        reserved: u32,
        /// in: address of the signed object
        data: u64,
        /// in: its length in bytes, at most SAFEX_MAX_OBJECT
        len: u64,
    }

    /// Creates an application, or updates one: the task whose CPU its
    /// extensions manage, its period and the CPU time promised per period
    /// (the cpu_qos attributes period, target_cpu and target_util follow).
    /// With a task, the module gives it a SCHED_DEADLINE reservation of
    /// target_us per period_us (none for a target of 0), which the timeslice
    /// guard's results then change; its periods begin now. ESRCH: no such
    /// task; EINVAL: period outside [1 ms, 1 s] or a target outside [0,
    /// period]; ENOSPC: SAFEX_MAX_APPS applications exist; EBUSY: Linux's
    /// admission control for deadline tasks refused the reservation, EPERM:
    /// the task may not run on every CPU (the task is not attached).
    struct App = "safex_app" {
        /// in
        size: u32,
        /// in: 0
        flags: u32,
        /// in
        name: [u8; NAME_MAX],
        /// in: the task, or 0 for none
        pid: i32,
        /// in
        period_us: u32,
        /// in
        target_us: u64,
        /// out: the application's id
        id: u32,
        /// in: 0
        reserved: u32,
    }

    /// Loads a signed object as an extension of application `app` (which must
    /// exist: ENOENT). Every error of SAFEX_IOC_CHECK, then the application's
    /// own checks: EPERM, an entry point asks for the guard right or is a
    /// guard; ENOENT, the object declares an attribute class the module does
    /// not have; EINVAL, its declaration differs from the module's; ENOSPC,
    /// too many extensions. On success the extension runs from the next
    /// service round.
    struct Load = "safex_load" {
        /// in
        size: u32,
        /// in: 0 or SAFEX_LOAD_GUARD
        flags: u32,
        /// in: the signed object
        data: u64,
        /// in: its length
        len: u64,
        /// in
        app: [u8; NAME_MAX],
        /// out: the extension's id
        id: u32,
        /// in: 0
        reserved: u32,
    }

    /// Unloads extension `id` (ENOENT if none), freeing its code and data.
    struct Unload = "safex_unload" {
        /// in
        size: u32,
        /// in
        id: u32,
    }

    /// An entry point of a loaded extension.
    struct EntryInfo = "safex_entry_info" {
        name: [u8; NAME_MAX],
        /// a handler's event, a guard's class.attr
        target: [u8; NAME_MAX],
        /// SAFEX_ENTRY_*
        kind: u32,
        reserved: u32,
    }

    /// A loaded extension and its counters.
    struct ExtInfo = "safex_ext_info" {
        id: u32,
        /// SAFEX_STATE_*
        state: u32,
        name: [u8; NAME_MAX],
        /// "" for the system's guard
        app: [u8; NAME_MAX],
        /// entry points; entry[0..entries)
        entries: u32,
        reserved: u32,
        /// completed or trapped
        invocations: u64,
        /// traps since loaded or released
        aborts: u64,
        /// stopped by the deadline timer
        deadlines: u64,
        out_of_fuel: u64,
        /// uncaught exceptions
        exceptions: u64,
        /// a helper ended the invocation
        host_aborts: u64,
        fuel_used: u64,
        /// in invocations
        time_ns: u64,
        events_raised: u64,
        entry: [EntryInfo; MAX_ENTRIES],
    }

    /// Lists the loaded extensions, by increasing id, the system's timeslice
    /// guard included: fills at most `count` records at `exts` and sets
    /// `count` to the number loaded (call again with more room if it grew).
    struct List = "safex_list" {
        /// in
        size: u32,
        /// in: room at exts; out: extensions loaded
        count: u32,
        /// in: address of `count` struct safex_ext_info
        exts: u64,
    }

    /// Reads or writes (the system's write: read-only attributes too, no
    /// guard; the range holds: ERANGE) an attribute of an application.
    /// `attr` is `class.attr`, or an attribute name no other class has.
    /// ENOENT: no such application or attribute.
    struct Attr = "safex_attr" {
        /// in
        size: u32,
        /// in: SAFEX_ATTR_READ or _WRITE
        op: u32,
        /// in
        app: [u8; NAME_MAX],
        /// in
        attr: [u8; NAME_MAX],
        /// in (write), out (read)
        value: i64,
    }

    /// One record of the change/trap log.
    struct LogRecord = "safex_log_record" {
        /// 0, 1, 2, ... since insmod
        seq: u64,
        /// ktime_get_ns()
        time_ns: u64,
        /// SAFEX_LOG_*
        kind: u32,
        /// application id
        app: u32,
        /// extension id (APPLIED: 0)
        ext: u32,
        /// entry point index (APPLIED: 0)
        entry: u32,
        /// CHANGE: attribute class index
        class_id: u32,
        /// CHANGE: attribute index
        attr: u32,
        /// TRAP: SAFEX_STATUS_* (OUT_OF_FUEL also for a deadline)
        status: u32,
        /// CHANGE: SAFEX_CHANGE_*; TRAP: 1 if the deadline stopped it
        outcome: u32,
        /// CHANGE: the value before
        old_value: i64,
        /// CHANGE: the value written; APPLIED: the runtime in us
        new_value: i64,
        /// CHANGE: the guard's result (WRITTEN with a guard)
        applied: i64,
        /// TRAP: func << 40 | block << 20 | inst, -1 without a site
        trap_site: i64,
    }

    /// Reads the log from sequence number `from`: fills at most `count`
    /// records at `records`, sets `count` to the number filled, `next` to the
    /// sequence number to ask for next, and `lost` to how many records from
    /// `from` on were overwritten before this read (the log keeps the last
    /// SAFEX_LOG_SIZE).
    struct Log = "safex_log" {
        /// in
        size: u32,
        /// in: room; out: filled
        count: u32,
        /// in
        from: u64,
        /// in: address of `count` struct safex_log_record
        records: u64,
        /// out
        next: u64,
        /// out
        lost: u64,
    }

    /// Invokes entry point `entry` of extension `id` `repeat` times for its
    /// application (a monitor ignores `value`; a guard cannot be invoked:
    /// EPERM), as the service manager would, and returns the last
    /// invocation's result and the time all took. ENOENT: no such extension
    /// or entry; ESHUTDOWN: quarantined; EINVAL: repeat outside [1, 10^6].
    struct Invoke = "safex_invoke" {
        /// in
        size: u32,
        /// in
        id: u32,
        /// in
        entry: u32,
        /// in
        repeat: u32,
        /// in
        value: i64,
        /// out: what the last invocation returned
        ret: i64,
        /// out: its SAFEX_STATUS_*
        status: u32,
        /// out: 1 if the deadline timer stopped it
        deadline: u32,
        /// out: all invocations
        elapsed_ns: u64,
    }

    /// The CPU service manager's counters since insmod or the last reset:
    /// its periodic rounds (not those of SAFEX_IOC_ROUND), the longest time
    /// between the starts of two of them, and the reservations the scheduler
    /// refused (EBUSY: Linux's admission control for deadline tasks).
    struct Stats = "safex_stats" {
        /// in
        size: u32,
        /// in: 0 or SAFEX_STATS_RESET
        flags: u32,
        /// out: the rounds' period, us; 0 without periodic rounds (autorun=0)
        period_us: u64,
        /// out
        rounds: u64,
        /// out: 0 until two rounds ran
        longest_gap_ns: u64,
        /// out
        refused: u64,
        /// out: ktime_get_ns() when read
        now_ns: u64,
    }

    /// Runs `rounds` service rounds now, in the caller's context, as the
    /// periodic timer does (monitors, then handlers on their events, then the
    /// guarded reservations applied), and returns the time they took.
    /// EINVAL: rounds outside [1, 10^6].
    struct Round = "safex_round" {
        /// in
        size: u32,
        /// in
        rounds: u32,
        /// out
        elapsed_ns: u64,
    }
}

c_ioctls! {
    IOC_VERSION = iowr(0, Version);
    /// Checks a signed object without loading it: 0 if it would be accepted.
    /// First the signature, each case its own error: ENODATA, not signed or
    /// a malformed signature trailer; EBADMSG, not a signature of the
    /// module's key (another key's, or its bytes changed: the kernel's RSA
    /// padding check); EKEYREJECTED, the key's signature of other bytes (the
    /// object changed after signing: the digest comparison); ENOKEY, the
    /// module was loaded without a key; E2BIG, larger than SAFEX_MAX_OBJECT.
    /// Then, the signature good, the object itself (a key holder's mistake,
    /// not an attack, but the module does not trust it to be of SafeX's
    /// shape): ENOEXEC, not an x86-64 ELF relocatable object of SafeX's
    /// sections, symbols and relocations with a well-formed .safex.meta;
    /// EPROTO, built for another extension ABI; EACCES, built with --no-fuel
    /// (no bound on its run time); E2BIG, more entry points, code or data
    /// than the module takes.
    IOC_CHECK = iow(1, Object);
    IOC_APP = iowr(2, App);
    IOC_LOAD = iowr(3, Load);
    IOC_UNLOAD = iow(4, Unload);
    IOC_LIST = iowr(5, List);
    IOC_ATTR = iowr(6, Attr);
    IOC_LOG = iowr(7, Log);
    IOC_INVOKE = iowr(8, Invoke);
    IOC_ROUND = iowr(9, Round);
    /// Lets quarantined extension `id` run again, its abort count reset.
    IOC_RELEASE = iow(10, Unload);
    IOC_STATS = iowr(11, Stats);
}

/// The header, in order: each section is separated from the next by a
/// blank line.
pub const HEADER: &[&[Item]] = &[
    &[Item::Consts(&BASICS)],
    &[Item::Struct(&Version::C), Item::Ioctl(IOC_VERSION)],
    &[Item::Struct(&Object::C)],
    &[Item::Ioctl(IOC_CHECK)],
    &[Item::Struct(&App::C), Item::Consts(&APPS), Item::Ioctl(IOC_APP)],
    &[Item::Struct(&Load::C), Item::Consts(&EXTENSIONS), Item::Ioctl(IOC_LOAD)],
    &[Item::Struct(&Unload::C), Item::Ioctl(IOC_UNLOAD)],
    &[Item::Consts(&ENTRY_KINDS)],
    &[Item::Struct(&EntryInfo::C)],
    &[Item::Consts(&STATES)],
    &[Item::Struct(&ExtInfo::C)],
    &[Item::Struct(&List::C), Item::Ioctl(IOC_LIST)],
    &[Item::Consts(&ATTR_OPS)],
    &[Item::Struct(&Attr::C), Item::Ioctl(IOC_ATTR)],
    &[Item::Consts(&LOG_KINDS)],
    &[Item::Consts(&CHANGE_OUTCOMES)],
    &[Item::Struct(&LogRecord::C)],
    &[Item::Struct(&Log::C), Item::Consts(&LOG), Item::Ioctl(IOC_LOG)],
    &[Item::Struct(&Invoke::C), Item::Ioctl(IOC_INVOKE)],
    &[Item::Struct(&Round::C), Item::Ioctl(IOC_ROUND)],
    &[Item::Ioctl(IOC_RELEASE)],
    &[Item::Struct(&Stats::C), Item::Consts(&STATS), Item::Ioctl(IOC_STATS)],
];

/// The command numbered `value`.
pub fn ioctl(value: u32) -> Option<&'static CIoctl> {
    IOCTLS.iter().find(|c| c.value == value)
}

/// Every struct of the header, in its order.
pub fn structs() -> impl Iterator<Item = &'static CStruct> {
    HEADER.iter().flat_map(|s| s.iter()).filter_map(|item| match item {
        Item::Struct(s) => Some(*s),
        _ => None,
    })
}

/// `name` as a name field: `None` unless it is shorter than [`NAME_MAX`]
/// bytes (room for the NUL) and has no NUL of its own.
pub fn encode_name(name: &str) -> Option<[u8; NAME_MAX]> {
    if name.len() >= NAME_MAX || name.contains('\0') {
        return None;
    }
    let mut field = [0; NAME_MAX];
    field[..name.len()].copy_from_slice(name.as_bytes());
    Some(field)
}

/// A name field's text: its bytes up to the first NUL (all of them if it
/// has none), invalid UTF-8 replaced.
pub fn decode_name(field: &[u8; NAME_MAX]) -> String {
    let len = field.iter().position(|&b| b == 0).unwrap_or(NAME_MAX);
    String::from_utf8_lossy(&field[..len]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_numbers_are_linux_ioc() {
        assert_eq!(IOC_VERSION, 0xc010_5a00);
        assert_eq!(IOC_CHECK, 0x4018_5a01);
        assert_eq!(IOC_UNLOAD, 0x4008_5a04);
        assert_eq!(IOC_LIST, 0xc010_5a05);
        assert_eq!(IOC_RELEASE, 0x4008_5a0a);
        assert_eq!(ior(IOC_MAGIC, 0, 4), 0x8004_5a00);
        for (nr, c) in IOCTLS.iter().enumerate() {
            assert_eq!(c.nr as usize, nr, "{}", c.name);
            assert_eq!(c.value & 0xff, c.nr, "{}", c.name);
            assert_eq!((c.value >> 8) & 0xff, IOC_MAGIC, "{}", c.name);
            assert_eq!(((c.value >> 16) & 0x3fff) as usize, c.arg.size, "{}", c.name);
        }
    }

    #[test]
    fn layouts_have_no_padding_and_match_32_bit_user_space() {
        let sizes: Vec<(&str, usize)> = structs().map(|s| (s.name, s.size)).collect();
        assert_eq!(
            sizes,
            [
                ("safex_version", 16),
                ("safex_object", 24),
                ("safex_app", 96),
                ("safex_load", 96),
                ("safex_unload", 8),
                ("safex_entry_info", 136),
                ("safex_ext_info", 2392),
                ("safex_list", 16),
                ("safex_attr", 144),
                ("safex_log_record", 80),
                ("safex_log", 40),
                ("safex_invoke", 48),
                ("safex_round", 16),
                ("safex_stats", 48),
            ]
        );
        for s in structs() {
            // Fields in declaration order, each right after the one before:
            // no hole, and none after the last.
            let mut at = 0;
            for f in s.fields {
                assert_eq!(
                    f.offset, at,
                    "{}.{} is not right after the field before",
                    s.name, f.name
                );
                // A 64-bit field is 8-aligned even where C aligns it to 4
                // (i386), so the layout is the same for 32-bit callers.
                if f.ty.ends_with("64") {
                    assert_eq!(f.offset % 8, 0, "{}.{}", s.name, f.name);
                }
                at += f.size;
            }
            assert_eq!(at, s.size, "{}: padding after the last field", s.name);
            assert_eq!(s.size % 8, 0, "{}: size not a multiple of 8", s.name);
            assert!(s.align <= 8, "{}", s.name);
        }
    }

    #[test]
    fn argument_structs_start_with_their_size() {
        let args: Vec<&str> = IOCTLS.iter().map(|c| c.arg.name).collect();
        for s in structs().filter(|s| args.contains(&s.name)) {
            assert_eq!((s.fields[0].name, s.fields[0].ty), ("size", "__u32"), "{}", s.name);
        }
    }

    #[test]
    fn the_header_has_every_command_once() {
        let listed: Vec<u32> = HEADER
            .iter()
            .flat_map(|s| s.iter())
            .filter_map(|item| match item {
                Item::Ioctl(v) => Some(*v),
                _ => None,
            })
            .collect();
        for c in IOCTLS {
            assert_eq!(listed.iter().filter(|&&v| v == c.value).count(), 1, "{}", c.name);
        }
        assert_eq!(listed.len(), IOCTLS.len());
    }

    #[test]
    fn docs_fit_c_comments() {
        let mut docs: Vec<&str> = CONVENTIONS.to_vec();
        for s in structs() {
            docs.extend(s.doc);
            for f in s.fields {
                assert!(f.doc.len() <= 1, "{}.{}: a field's comment is one line", s.name, f.name);
                docs.extend(f.doc);
            }
        }
        for c in IOCTLS {
            docs.extend(c.doc);
        }
        for doc in docs {
            assert!(!doc.contains("*/") && !doc.contains("/*"), "{doc}");
        }
    }

    #[test]
    fn names_are_nul_terminated_within_name_max() {
        let field = encode_name("cpu_pid").unwrap();
        assert_eq!(decode_name(&field), "cpu_pid");
        assert!(encode_name(&"x".repeat(NAME_MAX - 1)).is_some());
        assert!(encode_name(&"x".repeat(NAME_MAX)).is_none());
        assert!(encode_name("a\0b").is_none());
        assert_eq!(decode_name(&[b'y'; NAME_MAX]), "y".repeat(NAME_MAX));
        assert_eq!(SIG_MAGIC, b"SXSIG01\0");
    }
}
