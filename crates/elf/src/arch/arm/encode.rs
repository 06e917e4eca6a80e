//! Thumb-1 encoders: each 16-bit instruction from its fields, and the patches the planner
//! applies to PC-relative ones (range checks in [`crate::arch::encode`]).

use super::{Fixup, Insn, Target};
use crate::arch::encode::{signed, unsigned};

/// One 16-bit Thumb instruction, written as the manual draws the halfword.
pub(super) fn t16(half: u16, asm: impl Into<String>) -> Insn {
    Insn::new(&half.to_le_bytes(), asm)
}

pub(super) fn half(bytes: &[u8]) -> u16 {
    u16::from_le_bytes([bytes[0], bytes[1]])
}

/// `movs rd, #imm8` (T1: 00100 Rd imm8).
pub(super) fn movs(rd: u16, imm: u8, comment: &str) -> Insn {
    t16(
        0x2000 | (rd << 8) | u16::from(imm),
        format!("movs r{rd}, #{imm}{comment}"),
    )
}

/// `adr r1, message` (T1: 10100 Rd imm8) = r1 = Align(pc + 4, 4) + 4 * imm8: forward only,
/// to a word-aligned target within 1020 bytes ([`Isa::data_align`] is 4, and the message
/// comes right after the code, which is under 100 bytes).
pub(super) fn adr_r1_message() -> Insn {
    t16(0xa100, "adr r1, message").fixup(Fixup::Encode {
        target: Target::Data,
        encode: encode_adr,
    })
}

pub(super) fn encode_adr(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    encode_adr_at(bytes, pc, target)
}

/// `adr`'s offset: forward from Align(pc + 4, 4), in words, 8 bits (0..=1020 bytes).
pub(super) fn encode_adr_at(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let distance = target as i64 - ((pc as i64 + 4) & !3);
    let words = unsigned(distance, 8, 4, "adr")?;
    let h = (half(bytes) & 0xff00) | words as u16;
    bytes[..2].copy_from_slice(&h.to_le_bytes());
    Ok(())
}

/// `b target` (T2: 11100 imm11): pc + 4 + 2 * imm11, within ±2 KiB.
pub(super) fn branch(target: Target, asm: &str) -> Insn {
    t16(0xe000, asm).fixup(Fixup::Encode {
        target,
        encode: encode_branch,
    })
}

/// `b`'s offset from pc + 4, in halfwords, 11 bits (±2 KiB).
pub(super) fn encode_branch(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let distance = target as i64 - (pc as i64 + 4);
    let halfwords = signed(distance, 11, 2, "b")?;
    let h = 0xe000 | (halfwords as u16 & 0x07ff);
    bytes[..2].copy_from_slice(&h.to_le_bytes());
    Ok(())
}

/// `bne target` (T1: 1101 cond=0001 imm8): pc + 4 + 2 * imm8, within -256..254.
pub(super) fn bne(target: Target, asm: &str) -> Insn {
    t16(0xd100, asm)
        .fixup(Fixup::Encode {
            target,
            encode: encode_bcond,
        })
        .reads_flags()
}

/// `b<cond>`'s offset from pc + 4, in halfwords, 8 bits (-256..254 bytes).
pub(super) fn encode_bcond(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let distance = target as i64 - (pc as i64 + 4);
    let halfwords = signed(distance, 8, 2, "b<cond>")?;
    let h = (half(bytes) & 0xff00) | (halfwords as u16 & 0xff);
    bytes[..2].copy_from_slice(&h.to_le_bytes());
    Ok(())
}

/// r2 = `len` (r2 is not zero at entry under qemu-user) in Thumb-1 only: `movs r2, #imm8`
/// for the top (up to) 8 bits, then for each further run of up to 8 bits that holds a one,
/// `lsls r2, r2, #shift` to make room for it and `adds r2, #imm8`, and a last `lsls` for
/// trailing zeros. One instruction below 256, two for `imm8 << n`, at most seven (14 bytes)
/// for 26 bits.
pub(super) fn set_r2(len: usize) -> Vec<Insn> {
    let n = u32::try_from(len).expect("message length is checked by Program");
    if n < 0x100 {
        return vec![movs(2, n as u8, " ; length")];
    }
    // lsls r2, r2, #k (T1: 00000 imm5 Rm=2 Rd=2); adds r2, #imm8 (T2: 00110 Rdn=2 imm8).
    let lsls = |k: u32| t16(((k << 6) | 0x12) as u16, format!("lsls r2, r2, #{k}"));
    let adds = |v: u32| t16(0x3200 | v as u16, format!("adds r2, #{v}"));
    // Bits below `low` are still to come; r2 holds n >> low.
    let mut low = 31 - n.leading_zeros() - 7;
    let mut out = vec![movs(2, (n >> low) as u8, "")];
    while low > 0 {
        let rest = n & ((1 << low) - 1);
        if rest == 0 {
            out.push(lsls(low));
            break;
        }
        let top = 31 - rest.leading_zeros();
        let next = top.saturating_sub(7);
        out.push(lsls(low - next));
        out.push(adds(rest >> next));
        low = next;
    }
    let last = out.last_mut().unwrap();
    last.asm = format!("{} ; length {n}", last.asm);
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use capstone::prelude::*;

    pub(crate) fn thumb() -> Capstone {
        Capstone::new()
            .arm()
            .mode(capstone::arch::arm::ArchMode::Thumb)
            .build()
            .unwrap()
    }

    /// Capstone's text for one instruction, numbers in decimal.
    pub(crate) fn read(cs: &Capstone, bytes: &[u8], pc: u64) -> (String, String, usize) {
        let d = cs.disasm_count(bytes, pc, 1).unwrap();
        let d = d.iter().next().expect("decodes");
        let ops = d.op_str().unwrap_or("").to_string();
        (d.mnemonic().unwrap().to_string(), decimal(&ops), d.len())
    }

    fn decimal(s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("0x") {
            out.push_str(&rest[..i]);
            let digits: String = rest[i + 2..]
                .chars()
                .take_while(|c| c.is_ascii_hexdigit())
                .collect();
            out.push_str(&u64::from_str_radix(&digits, 16).unwrap().to_string());
            rest = &rest[i + 2 + digits.len()..];
        }
        out.push_str(rest);
        out
    }

    /// Every way of building the length decodes as listed and computes it.
    #[test]
    fn lengths_of_every_size_build() {
        let cs = thumb();
        let lengths = [
            0usize, 14, 255, 256, 257, 300, 1020, 0x4002, 0xffff, 0x1_0001, 0x10_0000,
        ];
        let more = [0x10_0003, 0x12_3456, 0x3e8_0001, 0x3ff_ffff, (1 << 26) - 1];
        for len in lengths.into_iter().chain(more).chain(0..5000) {
            let insns = set_r2(len);
            assert!(insns.len() <= 7, "{len}");
            let mut r2 = 0u32;
            for i in &insns {
                let (m, ops, _) = read(&cs, &i.bytes, 0);
                let listed = i.asm.split(" ;").next().unwrap();
                assert_eq!(format!("{m} {ops}"), listed, "{len}");
                let imm: u32 = ops.rsplit('#').next().unwrap().parse().unwrap();
                r2 = match m.as_str() {
                    "movs" => imm,
                    "lsls" => r2 << imm,
                    "adds" => r2 + imm,
                    _ => unreachable!("{listed}"),
                };
            }
            assert_eq!(r2 as usize, len);
        }
    }

    #[test]
    fn branches_and_adr() {
        let cs = thumb();
        let mut b = branch(Target::Data, "b target").bytes;
        encode_branch(&mut b, 0x10000, 0x10004).unwrap();
        assert_eq!(b, 0xe000u16.to_le_bytes());
        encode_branch(&mut b, 0x10040, 0x10000).unwrap();
        assert_eq!(read(&cs, &b, 0x10040).1, format!("#{}", 0x10000));
        encode_branch(&mut b, 0x10000, 0x10802).unwrap();
        assert_eq!(read(&cs, &b, 0x10000).1, format!("#{}", 0x10802));
        assert!(encode_branch(&mut b, 0x10000, 0x10804).is_err());
        assert!(encode_branch(&mut b, 0x10000, 0x10005).is_err());
        let mut c = bne(Target::Data, "bne wait").bytes;
        encode_bcond(&mut c, 0x10060, 0x1005a).unwrap();
        assert_eq!(
            read(&cs, &c, 0x10060),
            ("bne".into(), format!("#{}", 0x1005a), 2)
        );
        assert!(encode_bcond(&mut c, 0x10000, 0x10104).is_err());
        let mut a = adr_r1_message().bytes;
        // pc = Align(0x10016 + 4, 4) = 0x10018.
        encode_adr(&mut a, 0x10016, 0x1004c).unwrap();
        assert_eq!(a, 0xa10du16.to_le_bytes());
        let (m, ops, _) = read(&cs, &a, 0x10016);
        assert_eq!(m, "adr");
        assert!(ops.starts_with("r1, "), "{ops}");
        assert!(encode_adr(&mut a, 0x10016, 0x10014).is_err());
        assert!(encode_adr(&mut a, 0x10016, 0x1004e).is_err());
    }
}
