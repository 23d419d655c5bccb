//! Accepting an object: every check a host makes before any of its code
//! runs, in one pipeline that `Host::load`, `safexc verify` and `safexc
//! sign` all use (the kernel module, which cannot run it, accepts only
//! objects `sign` signed after it passed: `crate::signed`).
//!
//! In order: the object reads back cleanly (ELF, sections, hashes,
//! relocations, the compiler fingerprint: [`read`]); it was built with
//! fuel checks; its TAL passes the verifier; its code is exactly what that
//! TAL compiles to. [`check`] runs them all and reports every error it
//! finds, not only the first: once the object reads, the fuel flag and the
//! verifier are both looked at, and re-lowering runs on verified TAL only
//! (lowering assumes it). [`load`] then maps the code W^X and links it. No
//! option turns a check off. `CodeImage::link` alone skips them and is for
//! measurement harnesses only.
//!
//! Two ways around re-lowering (Cranelift compiling the TAL again, 90 % of
//! a load), each standing on the full checks having run once:
//!
//! - A **signed object** whose signature verifies with a key the host
//!   trusts ([`Loader::trust`]) was checked by `safexc sign`, as the kernel
//!   module relies on: [`load_signed`] checks the signature, then only what
//!   the module also checks on its own behalf (the object reads back, it
//!   has fuel checks, the compiler's sections and symbols only, every
//!   function starts with `endbr64`, every call lands on a function:
//!   [`check_signed_object`]), and links it. Neither the verifier nor
//!   Cranelift runs.
//! - An unsigned object already accepted by this [`LoadCache`]: the result
//!   of the checks is kept under the SHA-256 of exactly the bytes checked
//!   and the verifier configuration they were checked with.
//!
//! [`Loader`] chooses between the three; `Host::load` uses it.

use crate::image::{CodeImage, LinkError};
use crate::signed::{self, PublicKey};
use codegen::CodegenError;
use codegen::object::{ObjectParts, PAD_BYTE, RelocKind};
use std::collections::HashMap;
use std::sync::Arc;
use tal_ir::Location;

/// A loaded, linked extension.
pub struct Loaded {
    /// The object's checked parts, shared with the [`LoadCache`] that
    /// holds them (they are never changed).
    pub parts: Arc<ObjectParts>,
    pub image: CodeImage,
    /// What its acceptance rested on.
    pub accepted: Accepted,
}

/// What an object's acceptance rested on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// Every check ran on it: reading, fuel, the verifier, re-lowering.
    Checked,
    /// Every check ran on the same bytes, with the same verifier
    /// configuration, earlier ([`LoadCache`]).
    Cached,
    /// A trusted key's signature, and the structural checks
    /// ([`load_signed`]).
    Signed,
}

/// Why an object was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// `Cxxxx` (object), `Vxxxx` (verifier) or `Lxxxx` (loader).
    pub code: &'static str,
    pub message: String,
    /// Where in the object's TAL the verifier found it.
    pub location: Option<Location>,
}

impl LoadError {
    pub fn new(code: &'static str, message: impl Into<String>) -> LoadError {
        LoadError {
            code,
            message: message.into(),
            location: None,
        }
    }
}

impl From<CodegenError> for LoadError {
    fn from(e: CodegenError) -> LoadError {
        LoadError::new(e.code, e.message)
    }
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "error[{}]: {}", self.code, self.message)
    }
}

impl std::error::Error for LoadError {}

/// An object the checks refused: every reason found, in pipeline order,
/// and the object's parts if it read back (for showing verifier errors on
/// its TAL).
#[derive(Debug)]
pub struct Refused {
    pub first: LoadError,
    pub more: Vec<LoadError>,
    pub parts: Option<Box<ObjectParts>>,
}

impl Refused {
    /// Every error, first to last.
    pub fn errors(&self) -> impl Iterator<Item = &LoadError> {
        std::iter::once(&self.first).chain(&self.more)
    }

    /// The first error, its message naming the codes of the others: what a
    /// host that reports one error says.
    pub fn into_first(self) -> LoadError {
        let mut first = self.first;
        if !self.more.is_empty() {
            let codes: Vec<&str> = self.more.iter().map(|e| e.code).collect();
            first.message = format!("{} (and {} more: {})", first.message, codes.len(), codes.join(", "));
        }
        first
    }
}

/// Reads an object's parts ([`codegen::object::read_object`]), saying "not
/// a SafeX object" when it is an ELF file without SafeX's sections (a
/// program, a library, another compiler's object).
pub fn read(bytes: &[u8]) -> Result<ObjectParts, LoadError> {
    codegen::object::read_object(bytes).map_err(|e| {
        let has = |section: &[u8]| bytes.windows(section.len()).any(|w| w == section);
        let foreign = bytes.starts_with(b"\x7fELF") && !has(b".safex.tal\0") && !has(b".safex.meta\0");
        if foreign && !e.message.starts_with("not a SafeX object") {
            LoadError::new(
                e.code,
                format!(
                    "not a SafeX object: an ELF file without `.safex.tal` and `.safex.meta` sections ({})",
                    e.message
                ),
            )
        } else {
            e.into()
        }
    })
}

/// Runs every check on an object; `Ok` with its parts if it passes them all.
pub fn check(bytes: &[u8], config: &verifier::Config) -> Result<ObjectParts, Refused> {
    let parts = read(bytes).map_err(|first| Refused {
        first,
        more: Vec::new(),
        parts: None,
    })?;
    let mut errors = Vec::new();
    if parts.meta.no_fuel {
        errors.push(LoadError::new(
            "L0020",
            "the object was built with --no-fuel: without fuel checks its run time has no bound",
        ));
    }
    match verifier::verify(&parts.module, config) {
        Err(rejected) => errors.extend(rejected.into_iter().map(|e| LoadError {
            code: e.code,
            message: format!("the object's TAL is rejected: {}", e.message),
            location: Some(e.location),
        })),
        Ok(()) => {
            if let Err(e) = codegen::check::relowering_matches(bytes, &parts) {
                errors.push(e.into());
            }
        }
    }
    let mut errors = errors.into_iter();
    match errors.next() {
        None => Ok(parts),
        Some(first) => Err(Refused {
            first,
            more: errors.collect(),
            parts: Some(Box::new(parts)),
        }),
    }
}

/// Checks ([`check`]) and links an object. A refusal is its first error,
/// naming the others' codes.
pub fn load(bytes: &[u8], config: &verifier::Config) -> Result<Loaded, LoadError> {
    let parts = check(bytes, config).map_err(Refused::into_first)?;
    link(Arc::new(parts), Accepted::Checked)
}

/// Maps and links checked parts.
fn link(parts: Arc<ObjectParts>, accepted: Accepted) -> Result<Loaded, LoadError> {
    let image = CodeImage::link(&parts).map_err(|LinkError { code, message }| LoadError::new(code, message))?;
    Ok(Loaded { parts, image, accepted })
}

/// `endbr64`, which every function compiled code starts with.
const ENDBR64: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];

/// The sections the object writer makes (`docs/object.md`), `.rela.text`
/// only when there are calls; each once, and no other.
const SECTIONS: [&[u8]; 10] = [
    b"",
    b".text",
    b".rela.text",
    b".rodata",
    b".safex.tal",
    b".safex.meta",
    b".note.GNU-stack",
    b".symtab",
    b".strtab",
    b".shstrtab",
];

/// The checks a signed object still gets once a trusted key's signature
/// verified, which stands for the verifier and re-lowering (run by `safexc
/// sign`). They are what the kernel module checks behind the signature,
/// so that a key holder's mistake is a refusal, not undefined behaviour:
///
/// - the object reads back ([`read`]: ELF shape, the sections, the
///   metadata and its digests of `.safex.tal`, `.text` and the relocations,
///   the ABI and compiler, symbols, relocation kinds and fields: `C00xx`);
/// - it was built with fuel checks (`L0020`);
/// - it has the object writer's sections and no other, each once; a symbol
///   per function and no other; only `R_X86_64_PLT32` relocations; `int3`
///   between functions; every function starting with `endbr64` (`L0048`).
///
/// Linking then checks every call lands on the first byte of a function
/// (`L0030`). What is not checked is what only the verifier and
/// re-lowering see: that the code is what the TAL compiles to and the TAL
/// is safe. That is the signer's word.
pub fn check_signed_object(object: &[u8]) -> Result<ObjectParts, LoadError> {
    let parts = read(object)?;
    if parts.meta.no_fuel {
        return Err(LoadError::new(
            "L0020",
            "the object was built with --no-fuel: without fuel checks its run time has no bound",
        ));
    }
    let malformed = |why: String| LoadError::new("L0048", format!("the signed object is not as compiled: {why}"));
    let symbols = sections_as_written(object).map_err(malformed)?;
    if symbols != parts.functions.len() as u64 + 1 {
        return Err(malformed(format!(
            "it has {} symbols besides the null symbol; the compiler writes one per function, {}",
            symbols.saturating_sub(1),
            parts.functions.len()
        )));
    }
    if let Some(r) = parts.relocs.iter().find(|r| r.kind != RelocKind::Plt32) {
        return Err(malformed(format!(
            "the relocation at {:#x} is not R_X86_64_PLT32, the only kind the compiler writes",
            r.offset
        )));
    }
    let mut end = 0;
    for f in &parts.functions {
        // The reader checked that the functions tile `.text` in order.
        let (start, size) = (f.offset as usize, f.size as usize);
        let (Some(gap), Some(code)) = (parts.text.get(end..start), parts.text.get(start..start + size)) else {
            return Err(malformed(format!("function `{}` lies outside `.text`", f.name)));
        };
        if gap.iter().any(|&b| b != PAD_BYTE) {
            return Err(malformed(format!("the padding before `{}` is not all `int3`", f.name)));
        }
        if !code.starts_with(&ENDBR64) {
            return Err(malformed(format!(
                "the code of `{}` does not start with `endbr64`, as compiled code does",
                f.name
            )));
        }
        end = start + size;
    }
    Ok(parts)
}

/// Checks that `object` (which [`read`] accepted) has the sections the
/// object writer makes and no other, each once; the number of entries of
/// its symbol table.
fn sections_as_written(object: &[u8]) -> Result<u64, String> {
    use ::object::read::elf::{FileHeader as _, SectionHeader as _};
    let endian = ::object::LittleEndian;
    let bad = |e: ::object::read::Error| format!("its section table cannot be read: {e}");
    let header = ::object::elf::FileHeader64::<::object::LittleEndian>::parse(object).map_err(bad)?;
    let sections = header.sections(endian, object).map_err(bad)?;
    let mut seen = [false; SECTIONS.len()];
    let mut symbols = 0;
    for s in sections.iter() {
        let name = sections.section_name(endian, s).map_err(bad)?;
        let Some(i) = SECTIONS.iter().position(|&n| n == name) else {
            return Err(format!(
                "it has a section `{}`, which the compiler does not write",
                String::from_utf8_lossy(name)
            ));
        };
        if std::mem::replace(&mut seen[i], true) {
            return Err(format!("it has two sections `{}`", String::from_utf8_lossy(name)));
        }
        if name == b".symtab" {
            // The reader checked its entries are 24 bytes.
            symbols = s.sh_size(endian) / 24;
        }
    }
    match SECTIONS
        .iter()
        .zip(seen)
        .find(|&(&n, seen)| !seen && n != b".rela.text")
    {
        Some((name, _)) => Err(format!(
            "it has no section `{}`, which the compiler writes",
            String::from_utf8_lossy(name)
        )),
        None => Ok(symbols),
    }
}

/// Loads a signed object whose signature one of `keys` made: the signature
/// ([`signed::verify_any`]: `L0040`, `L0041`, `L0043`, `L0047`), then
/// [`check_signed_object`] on the object inside, then linking. No verifier,
/// no re-lowering.
pub fn load_signed(signed: &[u8], keys: &[PublicKey]) -> Result<Loaded, LoadError> {
    let object = signed::verify_any(signed, keys)?;
    let parts = check_signed_object(object)?;
    link(Arc::new(parts), Accepted::Signed)
}

/// What the verifier configuration a result was checked with contributes
/// to its cache key: every field (destructured, so that a field added to
/// `verifier::Config` fails to compile here until it is keyed too).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct ConfigKey {
    stack_limit: u64,
    max_errors: usize,
}

impl ConfigKey {
    fn of(config: &verifier::Config) -> ConfigKey {
        let verifier::Config {
            stack_limit,
            max_errors,
        } = *config;
        ConfigKey {
            stack_limit,
            max_errors,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct CacheKey {
    /// SHA-256 of the object's bytes, all of them.
    sha256: [u8; 32],
    len: usize,
    config: ConfigKey,
}

struct CacheEntry {
    parts: Arc<ObjectParts>,
    /// The object's length, what the byte bound counts.
    len: usize,
    /// When it was last used, on the cache's clock: the least recently
    /// used entry goes first.
    used: u64,
}

/// The results of the full checks of objects accepted before, so that
/// loading the same bytes again costs a SHA-256 and linking.
///
/// An entry is the checked parts of one object under the SHA-256 of all of
/// its bytes (and their length) and the verifier configuration it was
/// checked with: another byte, or another configuration, is another key,
/// and only a SHA-256 collision could make two objects share one. Only
/// objects that passed every check enter; refusals are not kept (each is
/// checked again). It trusts no name, path or signature.
///
/// Bounded: at most `max_entries` objects, of at most `max_bytes` bytes in
/// all (an object larger than that is never kept); past either bound the
/// least recently used entries are dropped. The parts of an object take a
/// small multiple of its size in memory. With `max_entries` 0 it keeps
/// nothing and hashes nothing.
pub struct LoadCache {
    max_entries: usize,
    max_bytes: usize,
    entries: HashMap<CacheKey, CacheEntry>,
    bytes: usize,
    clock: u64,
    hits: u64,
    misses: u64,
}

impl LoadCache {
    /// An empty cache of at most `max_entries` objects and `max_bytes`
    /// bytes of them.
    pub fn new(max_entries: usize, max_bytes: usize) -> LoadCache {
        LoadCache {
            max_entries,
            max_bytes,
            entries: HashMap::new(),
            bytes: 0,
            clock: 0,
            hits: 0,
            misses: 0,
        }
    }

    /// [`check`]s an object, or finds that the same bytes passed every
    /// check with the same configuration before; a refusal is its first
    /// error, naming the others' codes.
    pub fn check(
        &mut self,
        bytes: &[u8],
        config: &verifier::Config,
    ) -> Result<(Arc<ObjectParts>, Accepted), LoadError> {
        if self.max_entries == 0 || bytes.len() > self.max_bytes {
            let parts = check(bytes, config).map_err(Refused::into_first)?;
            return Ok((Arc::new(parts), Accepted::Checked));
        }
        // The key is computed from the very slice that is checked next,
        // which cannot change while it is borrowed.
        let key = CacheKey {
            sha256: codegen::meta::sha256(bytes),
            len: bytes.len(),
            config: ConfigKey::of(config),
        };
        self.clock += 1;
        if let Some(entry) = self.entries.get_mut(&key) {
            entry.used = self.clock;
            self.hits += 1;
            return Ok((Arc::clone(&entry.parts), Accepted::Cached));
        }
        self.misses += 1;
        let parts = Arc::new(check(bytes, config).map_err(Refused::into_first)?);
        self.insert(key, Arc::clone(&parts), bytes.len());
        Ok((parts, Accepted::Checked))
    }

    /// [`LoadCache::check`], then linking: [`load`] with the cache.
    pub fn load(&mut self, bytes: &[u8], config: &verifier::Config) -> Result<Loaded, LoadError> {
        let (parts, accepted) = self.check(bytes, config)?;
        link(parts, accepted)
    }

    fn insert(&mut self, key: CacheKey, parts: Arc<ObjectParts>, len: usize) {
        while self.entries.len() >= self.max_entries || self.bytes + len > self.max_bytes {
            let Some(oldest) = self.entries.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| *k) else {
                break;
            };
            if let Some(gone) = self.entries.remove(&oldest) {
                self.bytes -= gone.len;
            }
        }
        self.bytes += len;
        self.entries.insert(
            key,
            CacheEntry {
                parts,
                len,
                used: self.clock,
            },
        );
    }

    /// Objects kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of the objects kept.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Loads that found their object kept, and loads that checked it.
    pub fn hits(&self) -> u64 {
        self.hits
    }

    pub fn misses(&self) -> u64 {
        self.misses
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}

/// How a host accepts objects: the public keys it trusts and its
/// [`LoadCache`].
///
/// - A **signed** object (one ending with the `SXSIG01` trailer), when
///   some key is trusted: its signature must be one of those keys'
///   (`L0043` if it is none's, `L0047` if it is one's of other bytes, as
///   the kernel module refuses them), then [`load_signed`]: no verifier, no
///   re-lowering. It never enters the cache.
/// - A signed object when no key is trusted: its signature means nothing
///   to this host, which runs every check on the object inside, as on an
///   unsigned one. (A malformed trailer is `L0041` either way.)
/// - An **unsigned** object: every check, through the cache.
pub struct Loader {
    keys: Vec<PublicKey>,
    cache: LoadCache,
}

impl Loader {
    /// A loader trusting no key, with a cache of at most `cache_entries`
    /// objects and `cache_bytes` bytes.
    pub fn new(cache_entries: usize, cache_bytes: usize) -> Loader {
        Loader {
            keys: Vec::new(),
            cache: LoadCache::new(cache_entries, cache_bytes),
        }
    }

    /// Trusts signatures of `key` from now on (a key trusted already is
    /// not added twice).
    pub fn trust(&mut self, key: PublicKey) {
        if !self.keys.contains(&key) {
            self.keys.push(key);
        }
    }

    /// The keys trusted.
    pub fn trusted(&self) -> &[PublicKey] {
        &self.keys
    }

    pub fn cache(&self) -> &LoadCache {
        &self.cache
    }

    pub fn cache_mut(&mut self) -> &mut LoadCache {
        &mut self.cache
    }

    /// Accepts and links an object as the type's documentation says; the
    /// verifier runs with `config` wherever it runs.
    pub fn load(&mut self, bytes: &[u8], config: &verifier::Config) -> Result<Loaded, LoadError> {
        match signed::split(bytes)? {
            Some(_) if !self.keys.is_empty() => load_signed(bytes, &self.keys),
            Some((object, _)) => self.cache.load(object, config),
            None => self.cache.load(bytes, config),
        }
    }
}
