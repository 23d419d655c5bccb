//! Branches on the overflow flag.
//!
//! Cranelift 0.135 lowers `brif` on the flag of `sadd_overflow`,
//! `ssub_overflow` or `smul_overflow` to `seto r8; test r8, r8; jne L`
//! (it fuses only `icmp` with a branch). On the emitted code this pass
//! turns each such sequence into a multi-byte `nop` over the `seto` and
//! `test`, and `jo L` in place of the `jne` (`jno L` for `je L`): the
//! arithmetic instruction right before `seto` set OF, a `nop` leaves the
//! flags alone, and the branch keeps its place, length and target. The byte
//! `seto` wrote is used only by the `test` (lowering branches on each
//! overflow flag and uses it for nothing else), so its register is dead.
//!
//! The code is decoded from its start, up to the first byte a RIP-relative
//! operand reads (Cranelift places its constants after all the code; bytes
//! past that are not decoded as instructions). A sequence is left as it is
//! if a branch of the function lands inside it, or a relocation covers it;
//! an indirect jump anywhere leaves the whole function as it is.

use iced_x86::{Code, Decoder, DecoderOptions, Instruction, OpKind};

/// Multi-byte `nop`s by length (Intel's recommended forms).
const NOPS: [&[u8]; 8] = [
    &[],
    &[0x90],
    &[0x66, 0x90],
    &[0x0f, 0x1f, 0x00],
    &[0x0f, 0x1f, 0x40, 0x00],
    &[0x0f, 0x1f, 0x44, 0x00, 0x00],
    &[0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
    &[0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
];

/// Rewrites `seto; test; jne/je` in `code` (see the module); `relocs` are
/// the offsets of 4-byte relocated fields. Returns how many it rewrote.
pub fn branch_on_overflow(code: &mut [u8], relocs: &[u32]) -> usize {
    let mut insts: Vec<Instruction> = Vec::new();
    let mut targets: Vec<u64> = Vec::new();
    let mut data_start = code.len() as u64;
    let mut decoder = Decoder::with_ip(64, code, 0, DecoderOptions::NONE);
    let mut inst = Instruction::default();
    while decoder.can_decode() && decoder.ip() < data_start {
        decoder.decode_out(&mut inst);
        if inst.is_invalid() {
            break;
        }
        if matches!(inst.code(), Code::Jmp_rm64 | Code::Jmp_m1664 | Code::Jmp_m1632) {
            return 0;
        }
        if inst.op_count() > 0 && inst.op0_kind() == OpKind::NearBranch64 {
            targets.push(inst.near_branch_target());
        }
        if inst.is_ip_rel_memory_operand() {
            data_start = data_start.min(inst.ip_rel_memory_address());
        }
        insts.push(inst);
    }
    let mut patches = Vec::new();
    for w in insts.windows(3) {
        let (set, test, jump) = (&w[0], &w[1], &w[2]);
        if set.code() != Code::Seto_rm8 || set.op0_kind() != OpKind::Register {
            continue;
        }
        let r = set.op0_register();
        if test.code() != Code::Test_rm8_r8
            || test.op0_kind() != OpKind::Register
            || test.op0_register() != r
            || test.op1_register() != r
        {
            continue;
        }
        let (opcode_at, new_opcode) = match jump.code() {
            Code::Jne_rel32_64 => (jump.ip() + 1, 0x80),
            Code::Je_rel32_64 => (jump.ip() + 1, 0x81),
            Code::Jne_rel8_64 => (jump.ip(), 0x70),
            Code::Je_rel8_64 => (jump.ip(), 0x71),
            _ => continue,
        };
        let (start, end) = (set.ip(), jump.next_ip());
        if end > data_start
            || targets.iter().any(|&t| t > start && t < end)
            || relocs.iter().any(|&o| u64::from(o) < end && u64::from(o) + 4 > start)
        {
            continue;
        }
        let gap = (jump.ip() - start) as usize;
        if gap >= NOPS.len() {
            continue;
        }
        patches.push((start as usize, gap, opcode_at as usize, new_opcode));
    }
    for &(start, gap, opcode_at, new_opcode) in &patches {
        code[start..start + gap].copy_from_slice(NOPS[gap]);
        code[opcode_at] = new_opcode;
    }
    patches.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sub rbx, r11; seto sil; test sil, sil; jne +0x10; ret`, then the
    /// same with `je` (rel8), then a `jmp` into the `test` of a third one.
    #[test]
    fn rewrites_seto_test_jcc_unless_a_branch_lands_inside() {
        let mut code = vec![
            0x4c, 0x29, 0xdb, // sub rbx, r11
            0x40, 0x0f, 0x90, 0xc6, // seto sil
            0x40, 0x84, 0xf6, // test sil, sil
            0x0f, 0x85, 0x10, 0x00, 0x00, 0x00, // jne +0x10
            0x4c, 0x01, 0xdb, // add rbx, r11
            0x0f, 0x90, 0xc0, // seto al
            0x84, 0xc0, // test al, al
            0x74, 0x02, // je +2
            0xc3, // ret
            0xc3, // ret
        ];
        let before = code.clone();
        assert_eq!(branch_on_overflow(&mut code, &[]), 2);
        assert_eq!(&code[3..10], NOPS[7]);
        assert_eq!(&code[10..16], &[0x0f, 0x80, 0x10, 0x00, 0x00, 0x00], "jo, same target");
        assert_eq!(&code[19..24], NOPS[5]);
        assert_eq!(&code[24..26], &[0x71, 0x02], "jno, same target");
        // A relocation over the first sequence keeps it.
        let mut kept = before.clone();
        assert_eq!(branch_on_overflow(&mut kept, &[12]), 1);
        assert_eq!(&kept[..16], &before[..16]);
        // A branch into the second sequence's `test` keeps it.
        let mut jumped = before.clone();
        jumped.truncate(26);
        jumped.extend_from_slice(&[0xeb, 0xfa, 0xc3]); // jmp to 22 (the `test al, al`)
        assert_eq!(branch_on_overflow(&mut jumped, &[]), 1);
        assert_eq!(&jumped[19..26], &before[19..26]);
    }
}
