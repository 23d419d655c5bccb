//! What the SafeX API deliberately leaves out, by name.
//!
//! Extensions never take locks, mask interrupts or allocate: the front-end
//! refuses such calls in source, and the verifier refuses them in TAL. Both
//! classify a symbol with this one list so that they give the same reason.

/// Why a symbol outside the SafeX API is refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Forbidden {
    /// Disables interrupts or preemption: the kernel could no longer
    /// schedule around the extension, nor a timer fire while it runs.
    InterruptMasking,
    /// A lock or other synchronization primitive: an extension aborted while
    /// holding it would leave it held.
    Lock,
    /// Dynamic memory: extensions use globals and stack slots of static size.
    Allocation,
}

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

/// Classifies a symbol name; `None` for a symbol that is merely unknown.
pub fn classify_symbol(symbol: &str) -> Option<Forbidden> {
    let s = symbol.to_ascii_lowercase();
    let s = s.as_str();
    if MASKING_NAMES.contains(&s) || MASKING_PREFIXES.iter().any(|p| s.starts_with(p)) || s.contains("irqsave") {
        Some(Forbidden::InterruptMasking)
    } else if s.split('_').any(|word| LOCK_WORDS.contains(&word)) || LOCK_PREFIXES.iter().any(|p| s.starts_with(p)) {
        Some(Forbidden::Lock)
    } else if ALLOC_NAMES.contains(&s) {
        Some(Forbidden::Allocation)
    } else {
        None
    }
}

/// Whether inline assembly text changes the interrupt flag.
pub fn asm_masks_interrupts(text: &str) -> bool {
    text.to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| matches!(word, "cli" | "sti" | "popf" | "popfq" | "popfd" | "wrmsr" | "hlt"))
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
            assert_eq!(classify_symbol(s), Some(Forbidden::InterruptMasking), "{s}");
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
            assert_eq!(classify_symbol(s), Some(Forbidden::Lock), "{s}");
        }
        for s in ["malloc", "free", "kmalloc", "kfree"] {
            assert_eq!(classify_symbol(s), Some(Forbidden::Allocation), "{s}");
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
            assert_eq!(classify_symbol(s), None, "{s}");
        }
    }

    #[test]
    fn classifies_asm() {
        assert!(asm_masks_interrupts("cli"));
        assert!(asm_masks_interrupts("pushf; cli; popf"));
        assert!(!asm_masks_interrupts("nop"));
        assert!(!asm_masks_interrupts("mov %rax, %cr3"));
    }
}
