//! The `ctx.refuel` routines user-space hosts give compiled code (ABI 6).
//!
//! Compiled code calls `refuel` with Cranelift's `preserve_all`
//! convention: the context in `rdi`, nothing returned, and every register
//! preserved, so that the call, on the cold path of a fuel check, costs
//! the hot path no register. Rust cannot define a function of that
//! convention, so each routine here is assembly: [`exhausted`] touches no
//! register at all, and the host's saves every register the System V
//! convention lets a Rust function clobber (the nine caller-saved integer
//! registers and the sixteen vector registers; the flags are never live
//! across a call in compiled code) around a call of `api`'s
//! `refuel_from_host`.

use stdlib::abi::Refuel;

std::arch::global_asm!(
    ".pushsection .text.safex_refuel,\"ax\",@progbits",
    ".p2align 4",
    ".hidden safex_refuel_exhausted",
    ".globl safex_refuel_exhausted",
    ".type safex_refuel_exhausted,@function",
    "safex_refuel_exhausted:",
    "endbr64",
    "ret",
    ".size safex_refuel_exhausted, .-safex_refuel_exhausted",
    ".p2align 4",
    ".hidden safex_refuel_host",
    ".globl safex_refuel_host",
    ".type safex_refuel_host,@function",
    "safex_refuel_host:",
    "endbr64",
    // A frame like any other, for unwinders and profilers.
    "push rbp",
    "mov rbp, rsp",
    // Nine pushes leave `rsp` 8 off a 16-byte boundary (the call pushed
    // 8, `rbp` 8 more): 264 bytes restore it and hold the vector registers.
    "push rax",
    "push rcx",
    "push rdx",
    "push rsi",
    "push rdi",
    "push r8",
    "push r9",
    "push r10",
    "push r11",
    "sub rsp, 264",
    "movdqu [rsp + 0], xmm0",
    "movdqu [rsp + 16], xmm1",
    "movdqu [rsp + 32], xmm2",
    "movdqu [rsp + 48], xmm3",
    "movdqu [rsp + 64], xmm4",
    "movdqu [rsp + 80], xmm5",
    "movdqu [rsp + 96], xmm6",
    "movdqu [rsp + 112], xmm7",
    "movdqu [rsp + 128], xmm8",
    "movdqu [rsp + 144], xmm9",
    "movdqu [rsp + 160], xmm10",
    "movdqu [rsp + 176], xmm11",
    "movdqu [rsp + 192], xmm12",
    "movdqu [rsp + 208], xmm13",
    "movdqu [rsp + 224], xmm14",
    "movdqu [rsp + 240], xmm15",
    // `rdi` still holds the context.
    "call {refuel}",
    "movdqu xmm0, [rsp + 0]",
    "movdqu xmm1, [rsp + 16]",
    "movdqu xmm2, [rsp + 32]",
    "movdqu xmm3, [rsp + 48]",
    "movdqu xmm4, [rsp + 64]",
    "movdqu xmm5, [rsp + 80]",
    "movdqu xmm6, [rsp + 96]",
    "movdqu xmm7, [rsp + 112]",
    "movdqu xmm8, [rsp + 128]",
    "movdqu xmm9, [rsp + 144]",
    "movdqu xmm10, [rsp + 160]",
    "movdqu xmm11, [rsp + 176]",
    "movdqu xmm12, [rsp + 192]",
    "movdqu xmm13, [rsp + 208]",
    "movdqu xmm14, [rsp + 224]",
    "movdqu xmm15, [rsp + 240]",
    "add rsp, 264",
    "pop r11",
    "pop r10",
    "pop r9",
    "pop r8",
    "pop rdi",
    "pop rsi",
    "pop rdx",
    "pop rcx",
    "pop rax",
    "pop rbp",
    "ret",
    ".size safex_refuel_host, .-safex_refuel_host",
    ".popsection",
    refuel = sym crate::api::refuel_from_host,
);

unsafe extern "C" {
    // Never called from Rust: their convention is `preserve_all`, and the
    // host's takes a context in `rdi`.
    fn safex_refuel_exhausted();
    fn safex_refuel_host();
}

/// The `refuel` of a context whose whole budget is in `ctx.fuel`: it does
/// nothing, so an exhausted check traps. For running compiled code
/// outside a host (tests, benchmarks).
pub fn exhausted() -> Refuel {
    Refuel(safex_refuel_exhausted)
}

/// The host's `refuel`: `api::refuel_from_host` behind the trampoline.
pub(crate) fn host() -> Refuel {
    Refuel(safex_refuel_host)
}
