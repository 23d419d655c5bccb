//! Naming the constructs a module is never allowed to reach.
//!
//! TAL has no instruction for locks, interrupt control or allocation; a
//! module can only *ask* for them by calling a symbol it does not define, or
//! by inline assembly. Both are always rejected; this module only decides
//! which reason to give, so that the author learns what is wrong and why.

/// Interrupt and preemption control, by exact name or prefix.
const MASKING_PREFIXES: &[&str] = &[
    "local_irq_",
    "local_bh_",
    "preempt_",
    "arch_local_irq_",
    "native_irq_",
    "raw_local_irq_",
    "irq_save",
    "irq_restore",
    "disable_irq",
    "enable_irq",
    "__cli",
    "__sti",
];
const MASKING_NAMES: &[&str] = &[
    "cli",
    "sti",
    "stop_machine",
    "local_irq_save",
    "save_flags",
    "restore_flags",
];

/// Locks and other synchronization, by `_`-separated word of the name.
const LOCK_WORDS: &[&str] = &[
    "lock",
    "unlock",
    "trylock",
    "spin",
    "spinlock",
    "rwlock",
    "seqlock",
    "seqcount",
    "mutex",
    "semaphore",
    "sem",
    "futex",
    "rcu",
    "cmpxchg",
    "xchg",
    "barrier",
    "completion",
    "down",
    "up",
    "mb",
    "wmb",
    "rmb",
];
/// Name prefixes of synchronization families whose words carry suffixes.
const LOCK_PREFIXES: &[&str] = &[
    "atomic",
    "pthread_",
    "wait_event",
    "wait_for_completion",
    "synchronize_",
];

const ALLOC_NAMES: &[&str] = &[
    "malloc",
    "calloc",
    "realloc",
    "free",
    "kmalloc",
    "kzalloc",
    "kcalloc",
    "krealloc",
    "kfree",
    "vmalloc",
    "vzalloc",
    "vfree",
    "kvmalloc",
    "kvfree",
    "alloc_pages",
    "__get_free_pages",
    "free_pages",
    "kmem_cache_alloc",
    "kmem_cache_free",
    "mmap",
    "brk",
    "sbrk",
];

/// The code and message for a call to a symbol the module does not define.
pub(crate) fn classify_symbol(symbol: &str) -> (&'static str, String) {
    let s = symbol.to_ascii_lowercase();
    let s = s.as_str();
    if MASKING_NAMES.contains(&s) || MASKING_PREFIXES.iter().any(|p| s.starts_with(p)) || s.contains("irqsave") {
        return (
            "V0710",
            format!(
                "interrupt masking: `{symbol}` disables interrupts or preemption; the timer that enforces the \
                 extension's time limit could no longer stop it"
            ),
        );
    }
    if s.split('_').any(|word| LOCK_WORDS.contains(&word)) || LOCK_PREFIXES.iter().any(|p| s.starts_with(p)) {
        return (
            "V0720",
            format!(
                "lock use: `{symbol}` is a synchronization primitive; an extension aborted while holding it would \
                 leave it held. Shared state is reached only through the SafeX API"
            ),
        );
    }
    if ALLOC_NAMES.contains(&s) {
        return (
            "V0721",
            format!(
                "memory allocation: `{symbol}` is not available; extensions use globals and stack slots of static size"
            ),
        );
    }
    (
        "V0730",
        format!(
            "call to unknown external symbol `{symbol}`: an extension can call only its own functions and SafeX helpers"
        ),
    )
}

/// The code and message for inline assembly.
pub(crate) fn classify_asm(text: &str) -> (&'static str, String) {
    let lower = text.to_ascii_lowercase();
    let masks = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| matches!(word, "cli" | "sti" | "popf" | "popfq" | "popfd" | "wrmsr" | "hlt"));
    if masks {
        (
            "V0710",
            format!(
                "interrupt masking: inline assembly `{text}` changes the interrupt flag; the timer that enforces \
                 the extension's time limit could no longer stop it"
            ),
        )
    } else {
        (
            "V0711",
            format!("inline assembly `{text}`: it cannot be type-checked, so it is never allowed"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_symbols() {
        for s in [
            "local_irq_disable",
            "local_irq_save",
            "preempt_disable",
            "cli",
            "spin_lock_irqsave",
            "disable_irq",
        ] {
            assert_eq!(classify_symbol(s).0, "V0710", "{s}");
        }
        for s in [
            "spin_lock",
            "mutex_lock",
            "mutex_unlock",
            "down",
            "up",
            "atomic_inc",
            "rcu_read_lock",
            "read_lock_bh",
        ] {
            assert_eq!(classify_symbol(s).0, "V0720", "{s}");
        }
        for s in ["malloc", "free", "kmalloc", "kfree"] {
            assert_eq!(classify_symbol(s).0, "V0721", "{s}");
        }
        for s in [
            "printk",
            "memcpy",
            "do_exit",
            "update",
            "clock_gettime",
            "block_app",
            "download",
        ] {
            assert_eq!(classify_symbol(s).0, "V0730", "{s}");
        }
    }

    #[test]
    fn classifies_asm() {
        assert_eq!(classify_asm("cli").0, "V0710");
        assert_eq!(classify_asm("pushf; cli; popf").0, "V0710");
        assert_eq!(classify_asm("nop").0, "V0711");
        assert_eq!(classify_asm("mov %rax, %cr3").0, "V0711");
    }
}
