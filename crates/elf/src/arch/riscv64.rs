//! RISC-V 64 (linux/riscv64, RV64GC): `ecall` with the number in a7, arguments in a0..a5,
//! the result in a0 (every other register survives the call).
//!
//! Every Linux riscv64 system is RV64GC, so the code uses the C extension: most of it is
//! 16-bit compressed instructions (`c.li`, `c.addi`, `c.j`, ...), the rest 32-bit; both are
//! stored little-endian, as 16-bit parcels, at even addresses ([`Isa::align`] is 2).
//!
//! Registers at the ELF entry point: only sp is relied on. Linux's `start_thread`
//! (arch/riscv/kernel/process.c) sets `regs->epc = pc; regs->sp = sp;` and nothing else,
//! and arch/riscv/include/asm/elf.h defines no `ELF_PLAT_INIT`, so the other registers keep
//! whatever the caller of execve had in them (a0 is execve's own return value). qemu-user
//! zeroes its `target_pt_regs` (linux-user/main.c) but `init_thread` for riscv
//! (linux-user/elfload.c) sets only `regs->sepc = infop->entry; regs->sp =
//! infop->start_stack;` too. So every register the code reads it sets first; `zero` (x0)
//! is zero by the ISA.
//!
//! qemu-user reads e_flags: with EF_RISCV_RVE (0x8) set it takes the syscall number from t0
//! instead of a7 (linux-user/riscv/cpu_loop.c), so that bit must stay clear; the header
//! field cannot be a free hole for code or data on this platform.
//!
//! The message is addressed PC-relatively, in four instructions that each stand alone
//! (see [`message_address`]), because the planner may put a jump between any two of them.

use super::{Addressing, Code, Fixup, Insn, Isa, Target};
use crate::Program;

/// include/uapi/asm-generic/unistd.h (riscv64 uses the generic table).
pub const SYS_WRITE: i32 = 64;
pub const SYS_EXIT: i32 = 93;
pub const SYS_RT_SIGACTION: i32 = 134;
pub const SYS_RT_SIGPROCMASK: i32 = 135;
pub const SYS_RT_SIGTIMEDWAIT: i32 = 137;
pub const SYS_CLOSE: i32 = 57;
pub const SYS_EXIT_GROUP: i32 = 94;
pub const SYS_SOCKET: i32 = 198;
pub const SYS_BIND: i32 = 200;
pub const SYS_LISTEN: i32 = 201;
pub const SYS_ACCEPT: i32 = 202;
pub const SYS_SENDTO: i32 = 206;
pub const SYS_RECVFROM: i32 = 207;
pub const SYS_SETSOCKOPT: i32 = 208;
pub const SYS_SHUTDOWN: i32 = 210;
pub const SYS_CLONE: i32 = 220;

use super::net;
use super::signal;
use crate::program::Serve;

// The signal constants (super::signal) in the type of this file's encoders.
const SIGCHLD: i32 = signal::SIGCHLD as i32;
const STOP_SIGNALS: i32 = signal::STOP_SIGNALS as i32;
const SIG_IGN: i32 = signal::SIG_IGN as i32;
const SIGSET_SIZE: i32 = signal::SIGSET_SIZE as i32;
const SIG_BLOCK: i32 = signal::SIG_BLOCK as i32;
const SIGINT: i32 = signal::SIGINT as i32;
const SIGTERM: i32 = signal::SIGTERM as i32;

// The socket constants (super::net) likewise.
const AF_INET: i32 = net::AF_INET as i32;
const SOCK_STREAM: i32 = net::SOCK_STREAM as i32;
const SO_REUSEADDR: i32 = net::SO_REUSEADDR as i32;
const SO_RCVTIMEO: i32 = net::SO_RCVTIMEO as i32;
const SOCKADDR_IN_SIZE: i32 = net::SOCKADDR_IN_SIZE as i32;
const SHUT_WR: i32 = net::SHUT_WR as i32;
const RECV_SEND_FLAGS: i32 = (net::MSG_NOSIGNAL | net::MSG_TRUNC) as i32;
const CLONE_THREAD_FLAGS: i32 = net::CLONE_THREAD_FLAGS as i32;
/// `sizeof(struct timeval)` on a 64-bit platform: SO_RCVTIMEO's optlen.
const TIMEVAL_SIZE: i32 = 16;

pub struct Riscv64;

/// The label of the rt_sigtimedwait loop.
const WAIT: u8 = 0;
// serve's labels
const EXIT: u8 = 1;
const EXIT_ERRNO: u8 = 2;
const SPAWN: u8 = 3;
const ACCEPT: u8 = 4;
const READ: u8 = 5;
const CLOSE: u8 = 6;

// Register numbers (x0..x31) under their ABI names.
const ZERO: u32 = 0;
const SP: u32 = 2;
const A0: u32 = 10;
const A1: u32 = 11;
const A2: u32 = 12;
const A3: u32 = 13;
const A4: u32 = 14;
const A5: u32 = 15;
const A6: u32 = 16;
const A7: u32 = 17;
const S0: u32 = 8;
const S1: u32 = 9;

fn reg_name(r: u32) -> &'static str {
    match r {
        ZERO => "zero",
        SP => "sp",
        A0 => "a0",
        A1 => "a1",
        A2 => "a2",
        A3 => "a3",
        A4 => "a4",
        A5 => "a5",
        A6 => "a6",
        A7 => "a7",
        S0 => "s0",
        S1 => "s1",
        _ => unreachable!("register x{r} is not used"),
    }
}

fn fits_signed(v: i64, bits: u32) -> bool {
    let half = 1i64 << (bits - 1);
    (-half..half).contains(&v)
}

fn half(v: u32) -> Vec<u8> {
    (v as u16).to_le_bytes().to_vec()
}

fn word(v: u32) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

/// The low 6 bits of a CI-format immediate: imm[5] at bit 12, imm[4:0] at bits 6..2.
fn ci_imm(imm: i32) -> u32 {
    let imm = imm as u32;
    ((imm >> 5) & 1) << 12 | (imm & 0x1f) << 2
}

/// `c.li rd, imm` (CI, funct3 010, op 01): rd = imm, -32..=31.
fn c_li(rd: u32, imm: i32) -> Vec<u8> {
    assert!(fits_signed(imm.into(), 6) && rd != ZERO);
    half(0b010 << 13 | ci_imm(imm) | rd << 7 | 0b01)
}

/// `c.addi rd, imm` (CI, funct3 000, op 01): rd += imm, -32..=31, imm != 0.
fn c_addi(rd: u32, imm: i32) -> Vec<u8> {
    assert!(fits_signed(imm.into(), 6) && imm != 0 && rd != ZERO);
    half(ci_imm(imm) | rd << 7 | 0b01)
}

/// `c.lui rd, imm` (CI, funct3 011, op 01): rd = imm << 12, imm in 1..=31 here.
fn c_lui(rd: u32, imm: i32) -> Vec<u8> {
    assert!((1..32).contains(&imm) && rd != ZERO && rd != SP);
    half(0b011 << 13 | ci_imm(imm) | rd << 7 | 0b01)
}

/// `c.addi16sp sp, imm` (CI, funct3 011, rd = sp, op 01): sp += imm, a multiple of 16;
/// bit 12 = imm[9], bits 6..2 = imm[4|6|8:7|5].
fn c_addi16sp(imm: i32) -> Vec<u8> {
    assert!(imm != 0 && imm % 16 == 0 && fits_signed(imm.into(), 10));
    let i = imm as u32;
    let bits = ((i >> 9) & 1) << 12
        | ((i >> 4) & 1) << 6
        | ((i >> 6) & 1) << 5
        | ((i >> 7) & 3) << 3
        | ((i >> 5) & 1) << 2;
    half(0b011 << 13 | bits | SP << 7 | 0b01)
}

/// `c.addi4spn rd', sp, imm` (CIW, funct3 000, op 00): rd' = sp + imm, a non-zero multiple
/// of 4 below 1024; rd' is x8..x15; bits 12..5 = imm[5:4|9:6|2|3].
fn c_addi4spn(rd: u32, imm: u32) -> Vec<u8> {
    assert!((8..16).contains(&rd) && imm != 0 && imm.is_multiple_of(4) && imm < 1024);
    let bits = ((imm >> 4) & 3) << 11
        | ((imm >> 6) & 0xf) << 7
        | ((imm >> 2) & 1) << 6
        | ((imm >> 3) & 1) << 5;
    half(bits | (rd - 8) << 2)
}

/// `c.sdsp rs2, imm(sp)` (CSS, funct3 111, op 10): stores 8 bytes at sp + imm, a multiple
/// of 8 below 512; bits 12..7 = imm[5:3|8:6].
fn c_sdsp(rs2: u32, imm: u32) -> Vec<u8> {
    assert!(imm.is_multiple_of(8) && imm < 512);
    let bits = ((imm >> 3) & 7) << 10 | ((imm >> 6) & 7) << 7;
    half(0b111 << 13 | bits | rs2 << 2 | 0b10)
}

/// `c.slli rd, shamt` (CI, funct3 000, op 10): rd <<= shamt, 1..=63.
fn c_slli(rd: u32, shamt: i32) -> Vec<u8> {
    assert!((1..64).contains(&shamt) && rd != ZERO);
    half(ci_imm(shamt) | rd << 7 | 0b10)
}

/// `c.srli rd', shamt` (CB, funct3 100, funct2 00, op 01): rd' >>= shamt (logical); rd' is
/// x8..x15.
fn c_srli(rd: u32, shamt: i32) -> Vec<u8> {
    assert!((1..64).contains(&shamt) && (8..16).contains(&rd));
    let s = shamt as u32;
    half(0b100 << 13 | ((s >> 5) & 1) << 12 | (rd - 8) << 7 | (s & 0x1f) << 2 | 0b01)
}

/// `c.sd rs2', imm(rs1')` (CS, funct3 111, op 00): stores 8 bytes at rs1' + imm, a multiple
/// of 8 below 256; bits 12..10 = imm[5:3], bits 6..5 = imm[7:6]; rs1', rs2' are x8..x15.
fn c_sd(rs2: u32, imm: u32, rs1: u32) -> Vec<u8> {
    assert!(imm.is_multiple_of(8) && imm < 256 && (8..16).contains(&rs1) && (8..16).contains(&rs2));
    let bits = ((imm >> 3) & 7) << 10 | ((imm >> 6) & 3) << 5;
    half(0b111 << 13 | bits | (rs1 - 8) << 7 | (rs2 - 8) << 2)
}

/// `c.mv rd, rs2` (CR, funct4 1000, op 10): rd = rs2.
fn c_mv(rd: u32, rs2: u32) -> Vec<u8> {
    assert!(rd != ZERO && rs2 != ZERO);
    half(0b1000 << 12 | rd << 7 | rs2 << 2 | 0b10)
}

/// `addi rd, rs1, imm` (I-type, opcode 0010011): rd = rs1 + imm, -2048..=2047 (the
/// assembler's `li rd, imm` when rs1 is zero; capstone prints it as `addi`).
fn addi(rd: u32, rs1: u32, imm: i32) -> Vec<u8> {
    assert!(fits_signed(imm.into(), 12));
    word((imm as u32) << 20 | rs1 << 15 | rd << 7 | 0b0010011)
}

/// `lui rd, imm` (U-type, opcode 0110111): rd = imm << 12, sign-extended from bit 31.
fn lui(rd: u32, imm: u32) -> Vec<u8> {
    assert!(imm < 1 << 20);
    word(imm << 12 | rd << 7 | 0b0110111)
}

/// `auipc rd, imm` (U-type, opcode 0010111): rd = pc + (imm << 12).
fn auipc(rd: u32, imm: u32) -> Vec<u8> {
    word(imm << 12 | rd << 7 | 0b0010111)
}

/// `blt rs1, zero, offset` (B-type, funct3 100, opcode 1100011), written `bltz`; the offset
/// (even, ±4 KiB) is filled in by [`encode_bltz`].
fn bltz(rs1: u32) -> Vec<u8> {
    word(rs1 << 15 | ZERO << 20 | 0b100 << 12 | 0b1100011)
}

/// `bge rs1, rs2, offset` (B-type, funct3 101, opcode 1100011); the offset is filled in by
/// [`encode_bltz`], which patches any B-type branch.
fn bge(rs1: u32, rs2: u32) -> Vec<u8> {
    word(rs2 << 20 | rs1 << 15 | 0b101 << 12 | 0b1100011)
}

/// `sub rd, rs1, rs2` (R-type, funct7 0100000, opcode 0110011); `neg rd, rs2` is
/// `sub rd, zero, rs2`.
fn sub(rd: u32, rs1: u32, rs2: u32) -> Vec<u8> {
    word(0b0100000 << 25 | rs2 << 20 | rs1 << 15 | rd << 7 | 0b0110011)
}

/// `c.swsp rs2, imm(sp)` (CSS, funct3 110, op 10): stores 4 bytes at sp + imm, a multiple
/// of 4 below 256; bits 12..7 = imm[5:2|7:6].
fn c_swsp(rs2: u32, imm: u32) -> Vec<u8> {
    assert!(imm.is_multiple_of(4) && imm < 256);
    let bits = ((imm >> 2) & 0xf) << 9 | ((imm >> 6) & 3) << 7;
    half(0b110 << 13 | bits | rs2 << 2 | 0b10)
}

/// `c.bnez rs1', offset` (CB, funct3 111, op 01); rs1' is x8..x15; the offset (±256 bytes)
/// is filled in by [`encode_c_bnez`].
fn c_bnez(rs1: u32) -> Vec<u8> {
    assert!((8..16).contains(&rs1));
    half(0b111 << 13 | (rs1 - 8) << 7 | 0b01)
}

/// `li rd, imm` in the fewest bytes, for rd not yet holding anything useful.
fn li(rd: u32, imm: i32, comment: &str) -> Vec<Insn> {
    let name = reg_name(rd);
    let c = |s: String| {
        if comment.is_empty() {
            s
        } else {
            format!("{s} ; {comment}")
        }
    };
    if fits_signed(imm.into(), 6) {
        return vec![Insn::new(&c_li(rd, imm), c(format!("c.li {name}, {imm}")))];
    }
    if fits_signed(imm.into(), 12) {
        return vec![Insn::new(
            &addi(rd, ZERO, imm),
            c(format!("addi {name}, zero, {imm}")),
        )];
    }
    // Upper 20 bits rounded so that the low 12 bits are a signed -2048..=2047.
    let hi = (imm + 0x800) >> 12;
    let lo = imm - (hi << 12);
    assert!(imm >= 0 && hi < 1 << 19, "li {name}, {imm}: out of range");
    let mut insns = vec![if hi < 32 {
        Insn::new(&c_lui(rd, hi), format!("c.lui {name}, {hi}"))
    } else {
        Insn::new(&lui(rd, hi as u32), format!("lui {name}, {hi}"))
    }];
    if lo != 0 {
        insns.push(if fits_signed(lo.into(), 6) {
            Insn::new(&c_addi(rd, lo), format!("c.addi {name}, {lo}"))
        } else {
            Insn::new(&addi(rd, rd, lo), format!("addi {name}, {name}, {lo}"))
        });
    }
    let last = insns.last_mut().unwrap();
    last.asm = c(std::mem::take(&mut last.asm));
    insns
}

/// `c.j`: bits 12..2 = offset[11|4|9:8|10|6|7|3:1|5], ±2 KiB from the jump itself.
fn encode_c_j(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let off = target.wrapping_sub(pc) as i64;
    if !fits_signed(off, 12) || off % 2 != 0 {
        return Err(format!("c.j cannot reach {target:#x} (offset {off})"));
    }
    let o = off as u32;
    let bits = ((o >> 11) & 1) << 12
        | ((o >> 4) & 1) << 11
        | ((o >> 8) & 3) << 9
        | ((o >> 10) & 1) << 8
        | ((o >> 6) & 1) << 7
        | ((o >> 7) & 1) << 6
        | ((o >> 1) & 7) << 3
        | ((o >> 5) & 1) << 2;
    bytes.copy_from_slice(&half(0b101 << 13 | bits | 0b01));
    Ok(())
}

/// `bltz`: imm[12|10:5] at bits 31..25, imm[4:1|11] at bits 11..7, ±4 KiB.
fn encode_bltz(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let off = target.wrapping_sub(pc) as i64;
    if !fits_signed(off, 13) || off % 2 != 0 {
        return Err(format!("bltz cannot reach {target:#x} (offset {off})"));
    }
    let o = off as u32;
    let insn = u32::from_le_bytes(bytes[..4].try_into().unwrap()) & 0x01ff_f07f;
    let imm = ((o >> 12) & 1) << 31
        | ((o >> 5) & 0x3f) << 25
        | ((o >> 1) & 0xf) << 8
        | ((o >> 11) & 1) << 7;
    bytes.copy_from_slice(&word(insn | imm));
    Ok(())
}

/// `c.bnez` (and `c.beqz`): bits 12..10 = offset[8|4:3], bits 6..2 = offset[7:6|2:1|5],
/// ±256 bytes from the branch itself.
fn encode_c_bnez(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let off = target.wrapping_sub(pc) as i64;
    if !fits_signed(off, 9) || off % 2 != 0 {
        return Err(format!("c.bnez cannot reach {target:#x} (offset {off})"));
    }
    let o = off as u32;
    let bits = ((o >> 8) & 1) << 12
        | ((o >> 3) & 3) << 10
        | ((o >> 6) & 3) << 5
        | ((o >> 1) & 3) << 3
        | ((o >> 5) & 1) << 2;
    let insn = u16::from_le_bytes(bytes[..2].try_into().unwrap()) as u32 & 0xe383;
    bytes.copy_from_slice(&half(insn | bits));
    Ok(())
}

/// `c.lui rd, hi`: the target's [`message_page`] as an absolute address (an image below
/// 4 GiB); c.lui reaches the pages 1..=31 (addresses 0x800..0x1f7ff), which holds the
/// default base, 64 KiB, and the start of every image smidge lays out there.
fn encode_c_lui(bytes: &mut [u8], _pc: u64, target: u64) -> Result<(), String> {
    let hi = message_page(target) >> 12;
    if !(1..32).contains(&hi) {
        return Err(format!("c.lui cannot reach {target:#x}"));
    }
    let insn = u16::from_le_bytes(bytes[..2].try_into().unwrap()) as u32 & !ci_imm(-1);
    bytes.copy_from_slice(&half(insn | ci_imm(hi as i32)));
    Ok(())
}

/// The 4 KiB page nearest the message, rounded so that the message is within -2048..=2047
/// of it (the reach of an `addi`).
fn message_page(target: u64) -> u64 {
    (target + 0x800) & !0xfff
}

/// `auipc rd, hi`: hi is the distance in pages from the auipc's page to [`message_page`]
/// (bits 31..12; ±2 GiB).
fn encode_auipc(bytes: &mut [u8], pc: u64, target: u64) -> Result<(), String> {
    let pages = (message_page(target) >> 12) as i64 - (pc >> 12) as i64;
    if !fits_signed(pages, 20) {
        return Err(format!("auipc cannot reach {target:#x}"));
    }
    let insn = u32::from_le_bytes(bytes[..4].try_into().unwrap()) & 0xfff;
    bytes.copy_from_slice(&word(insn | (pages as u32) << 12));
    Ok(())
}

/// `addi rd, rd, lo`: lo is the message's distance from [`message_page`] (bits 31..20); it
/// does not depend on where the addi itself is.
fn encode_addi_lo(bytes: &mut [u8], _pc: u64, target: u64) -> Result<(), String> {
    let lo = target.wrapping_sub(message_page(target)) as i64;
    debug_assert!(fits_signed(lo, 12));
    let insn = u32::from_le_bytes(bytes[..4].try_into().unwrap()) & 0x000f_ffff;
    bytes.copy_from_slice(&word(insn | (lo as u32) << 20));
    Ok(())
}

/// An instruction as the listing writes it, its bytes checked against the same instruction
/// encoded from its fields (`encoded`), so a typo in either cannot go unnoticed.
fn listed(bytes: &[u8], encoded: Vec<u8>, asm: impl Into<String>) -> Insn {
    let asm = asm.into();
    assert_eq!(bytes, &encoded[..], "listing bytes of `{asm}`");
    Insn::new(bytes, asm)
}

/// `ecall` (SYSTEM, every field zero but the opcode).
fn ecall() -> Insn {
    listed(&[0x73, 0x00, 0x00, 0x00], word(0b1110011), "ecall")
}

/// a1 = the address of the message, PC-relatively, in four instructions that each stand
/// alone, so the planner may put a jump between any two of them: `auipc` reaches the
/// message's page (keeping its own offset within its page), two shifts clear that offset
/// (the image is mapped at a page boundary, so page offsets are file offsets), `addi` adds
/// the message's offset from that page.
fn message_address() -> Vec<Insn> {
    vec![
        listed(
            &[0x97, 0x05, 0x00, 0x00],
            auipc(A1, 0),
            "auipc a1, message ; a1 = pc + the pages up to the message's",
        )
        .fixup(Fixup::Encode {
            target: Target::Data,
            encode: encode_auipc,
        }),
        listed(&[0xb1, 0x81], c_srli(A1, 12), "c.srli a1, 12"),
        listed(
            &[0xb2, 0x05],
            c_slli(A1, 12),
            "c.slli a1, 12 ; a1 = that page",
        ),
        listed(
            &[0x93, 0x85, 0x05, 0x00],
            addi(A1, A1, 0),
            "addi a1, a1, message ; a1 = message",
        )
        .fixup(Fixup::Encode {
            target: Target::Data,
            encode: encode_addi_lo,
        }),
    ]
}

/// rd = the address of `target` (named `what` in the listing), in instructions that each
/// stand alone (the planner may put a jump between them): below 4 GiB `c.lui` its page and
/// `addi` its offset from that page; else PC-relatively, as [`message_address`] does.
fn address(rd: u32, target: Target, what: &str, addressing: Addressing) -> Vec<Insn> {
    let r = reg_name(rd);
    let lo = Insn::new(&addi(rd, rd, 0), format!("addi {r}, {r}, {what}")).fixup(Fixup::Encode {
        target,
        encode: encode_addi_lo,
    });
    match addressing {
        Addressing::Abs32 => vec![
            Insn::new(&c_lui(rd, 16), format!("c.lui {r}, {what}")).fixup(Fixup::Encode {
                target,
                encode: encode_c_lui,
            }),
            lo,
        ],
        Addressing::PcRelative => vec![
            Insn::new(&auipc(rd, 0), format!("auipc {r}, {what}")).fixup(Fixup::Encode {
                target,
                encode: encode_auipc,
            }),
            Insn::new(&c_srli(rd, 12), format!("c.srli {r}, 12")),
            Insn::new(&c_slli(rd, 12), format!("c.slli {r}, 12")),
            lo,
        ],
    }
}

impl Riscv64 {
    fn lower_program(&self, program: &Program, addressing: Addressing) -> Code {
        let mut insns = Vec::new();
        let mut data = Vec::new();
        match program {
            Program::Exit(code) => {
                insns.extend(li(A0, (*code).into(), "status"));
                insns.push(listed(
                    &[0x93, 0x08, 0xd0, 0x05],
                    addi(A7, ZERO, SYS_EXIT),
                    "addi a7, zero, 93 ; SYS_exit",
                ));
                insns.push(ecall());
            }
            Program::Hello(message) => {
                data.extend_from_slice(message);
                let len = i32::try_from(message.len()).expect("message length is checked");
                insns.push(listed(
                    &[0x05, 0x45],
                    c_li(A0, 1),
                    "c.li a0, 1 ; fd 1 = stdout",
                ));
                insns.extend(message_address());
                insns.extend(li(A2, len, "length"));
                insns.push(listed(
                    &[0x93, 0x08, 0x00, 0x04],
                    addi(A7, ZERO, SYS_WRITE),
                    "addi a7, zero, 64 ; SYS_write",
                ));
                insns.push(ecall());
                // a0 now holds what write returned (possibly a negative errno).
                insns.push(listed(&[0x01, 0x45], c_li(A0, 0), "c.li a0, 0 ; status 0"));
                insns.push(listed(
                    &[0xf5, 0x08],
                    c_addi(A7, SYS_EXIT - SYS_WRITE),
                    "c.addi a7, 29 ; SYS_exit = SYS_write + 29",
                ));
                insns.push(ecall());
            }
            Program::Serve(serve) => {
                data.extend_from_slice(&serve.response);
                insns = self.serve(serve, addressing);
            }
            Program::Pause => {
                insns.extend([
                    // 32 bytes of stack (sp stays 16-byte aligned; the psABI has no red
                    // zone): act = {sa_handler, sa_flags, sa_mask} at sp (the struct sigaction
                    // of include/uapi/asm-generic/signal.h: riscv has no sa_restorer), and
                    // set at sp + 16, which is also act.sa_mask.
                    listed(&[0x3d, 0x71], c_addi16sp(-32), "c.addi16sp sp, -32"),
                    listed(
                        &[0x0c, 0x08],
                        c_addi4spn(A1, 16),
                        "c.addi4spn a1, sp, 16 ; a1 = &set",
                    ),
                    listed(
                        &[0x11, 0x66],
                        c_lui(A2, STOP_SIGNALS >> 12),
                        "c.lui a2, 4 ; a2 = 0x4000",
                    ),
                    listed(
                        &[0x09, 0x06],
                        c_addi(A2, STOP_SIGNALS & 0xfff),
                        "c.addi a2, 2 ; a2 = 0x4002 = {SIGINT, SIGTERM}",
                    ),
                    listed(&[0x90, 0xe1], c_sd(A2, 0, A1), "c.sd a2, 0(a1) ; set"),
                    listed(&[0x05, 0x45], c_li(A0, SIG_IGN), "c.li a0, 1 ; SIG_IGN"),
                    listed(
                        &[0x2a, 0xe0],
                        c_sdsp(A0, 0),
                        "c.sdsp a0, 0(sp) ; act.sa_handler",
                    ),
                    listed(
                        &[0x02, 0xe4],
                        c_sdsp(ZERO, 8),
                        "c.sdsp zero, 8(sp) ; act.sa_flags = 0",
                    ),
                    // rt_sigprocmask(SIG_BLOCK, &set, NULL, 8): a blocked signal is never
                    // "ignored", so the kernel queues SIGTERM/SIGINT even for a
                    // PID-namespace init whose handler is SIG_DFL.
                    listed(&[0x01, 0x45], c_li(A0, SIG_BLOCK), "c.li a0, 0 ; SIG_BLOCK"),
                    listed(&[0x01, 0x46], c_li(A2, 0), "c.li a2, 0 ; no old set"),
                    listed(
                        &[0xa1, 0x46],
                        c_li(A3, SIGSET_SIZE),
                        "c.li a3, 8 ; sigsetsize",
                    ),
                    listed(
                        &[0x93, 0x08, 0x70, 0x08],
                        addi(A7, ZERO, SYS_RT_SIGPROCMASK),
                        "addi a7, zero, 135 ; SYS_rt_sigprocmask",
                    ),
                    ecall(),
                    // rt_sigaction(SIGCHLD, &{SIG_IGN, flags 0}, NULL, 8): children (and
                    // orphans handed to us as PID 1) are reaped by the kernel.
                    listed(&[0x45, 0x45], c_li(A0, SIGCHLD), "c.li a0, 17 ; SIGCHLD"),
                    listed(&[0x8a, 0x85], c_mv(A1, SP), "c.mv a1, sp ; &act"),
                    listed(
                        &[0xfd, 0x18],
                        c_addi(A7, SYS_RT_SIGACTION - SYS_RT_SIGPROCMASK),
                        "c.addi a7, -1 ; SYS_rt_sigaction",
                    ),
                    ecall(),
                    // rt_sigtimedwait(&set, NULL, NULL = no timeout, 8), again if
                    // interrupted (-EINTR after SIGSTOP/SIGCONT).
                    listed(
                        &[0x8d, 0x08],
                        c_addi(A7, SYS_RT_SIGTIMEDWAIT - SYS_RT_SIGACTION),
                        "c.addi a7, 3 ; SYS_rt_sigtimedwait",
                    ),
                    listed(&[0x81, 0x45], c_li(A1, 0), "c.li a1, 0 ; no siginfo"),
                    listed(
                        &[0x08, 0x08],
                        c_addi4spn(A0, 16),
                        "c.addi4spn a0, sp, 16 ; &set",
                    )
                    .label(WAIT),
                    ecall(),
                    listed(&[0x63, 0x40, 0x05, 0x00], bltz(A0), "bltz a0, wait").fixup(
                        Fixup::Encode {
                            target: Target::Label(WAIT),
                            encode: encode_bltz,
                        },
                    ),
                    // A signal arrived (a0 = its number): exit(0).
                    listed(&[0x01, 0x45], c_li(A0, 0), "c.li a0, 0 ; status 0"),
                    listed(
                        &[0x93, 0x08, 0xd0, 0x05],
                        addi(A7, ZERO, SYS_EXIT),
                        "addi a7, zero, 93 ; SYS_exit",
                    ),
                    ecall(),
                ]);
            }
        }
        Code { insns, data }
    }
}

super::programs_via_lower!(Riscv64);

impl Isa for Riscv64 {
    /// `c.j target` (CJ, funct3 101, op 01), ±2 KiB; the offset is filled in by
    /// `encode_c_j`.
    fn jump(&self, target: Target) -> Insn {
        Insn::new(&[0x01, 0xa0], "c.j target").fixup(Fixup::Encode {
            target,
            encode: encode_c_j,
        })
    }

    /// `c.nop` (`c.addi zero, 0`).
    fn nop(&self) -> Insn {
        Insn::new(&[0x01, 0x00], "c.nop")
    }

    /// The C extension's 16-bit instructions: 2-byte alignment.
    fn align(&self) -> usize {
        2
    }
}

impl Riscv64 {
    /// The `serve` listing (see [`crate::program::Serve`] for what it does). Registers: s0
    /// holds the listening socket, s1 the connection, a2 the response length (also how much
    /// one read discards), a3 the send/recv flags, a4 ends up 0 (no addresses) and a5 holds
    /// the clone flags (positive: qemu-user's sendto rejects a negative address length even
    /// with no address); a7 keeps the last syscall number, so nearby ones are a `c.addi`
    /// away. Nothing is assumed about the registers at the entry point.
    fn serve(&self, serve: &Serve, addressing: Addressing) -> Vec<Insn> {
        // The clone loop shifts a4 (the optlen 16 of setsockopt) left by 10 each time: zero
        // after exactly log2(WORKERS) shifts (every thread clones again: 2^rounds threads),
        // and then a4 is the NULL that recvfrom and sendto want.
        const fn rounds(mut a4: u64) -> u32 {
            let mut n = 0;
            while a4 != 0 {
                a4 <<= 10;
                n += 1;
            }
            n
        }
        const _: () = assert!(1 << rounds(TIMEVAL_SIZE as u64) == Serve::WORKERS);
        // The SIGCHLD action's handler word is also the timeout's seconds and the int 1.
        const _: () = assert!(Serve::TIMEOUT_SECS == SIG_IGN as u32);
        // bind's address length.
        const _: () = assert!(SOCKADDR_IN_SIZE <= SO_RCVTIMEO && SO_RCVTIMEO <= 128);
        const _: () = assert!(CLONE_THREAD_FLAGS == 0x50f << 8);
        // sockaddr_in's first 4 bytes as a little-endian word: sin_family, then sin_port
        // (big endian); `lui` sets bits 31..12 (the port), `c.addi` adds AF_INET.
        let port = u32::from(u16::from_le_bytes(serve.port.to_be_bytes()));
        let len = i32::try_from(serve.response.len()).expect("the response length is checked");
        // rt_sigaction(SIGINT, then SIGTERM, &act, NULL, 8), act = {sa_handler = exit,
        // sa_flags = 0, sa_mask} (riscv has no sa_restorer: the kernel returns through the
        // vdso's sigreturn) written over argc and argv: the mask is what argv[1] held, and
        // only matters while the handler runs, which exits at once.
        let mut v = address(A1, Target::Label(EXIT), "exit", addressing);
        v.extend([
            listed(
                &[0x2e, 0xe0],
                c_sdsp(A1, 0),
                "c.sdsp a1, 0(sp) ; act.sa_handler",
            ),
            listed(
                &[0x02, 0xe4],
                c_sdsp(ZERO, 8),
                "c.sdsp zero, 8(sp) ; act.sa_flags = 0",
            ),
            listed(&[0x8a, 0x85], c_mv(A1, SP), "c.mv a1, sp ; &act"),
            listed(&[0x01, 0x46], c_li(A2, 0), "c.li a2, 0 ; no old action"),
            listed(
                &[0xa1, 0x46],
                c_li(A3, SIGSET_SIZE),
                "c.li a3, 8 ; sigsetsize",
            ),
            listed(&[0x09, 0x45], c_li(A0, SIGINT), "c.li a0, 2 ; SIGINT"),
            listed(
                &[0x93, 0x08, 0x60, 0x08],
                addi(A7, ZERO, SYS_RT_SIGACTION),
                "addi a7, zero, 134 ; SYS_rt_sigaction",
            ),
            ecall(),
            listed(&[0x3d, 0x45], c_li(A0, SIGTERM), "c.li a0, 15 ; SIGTERM"),
            ecall(),
            // rt_sigaction(SIGCHLD, &{SIG_IGN, flags 0}, NULL, 8): the kernel reaps children.
            // The same 16 bytes are later the timeval {1 s, 0} and the int 1 of setsockopt.
            listed(
                &[0x05, 0x47],
                c_li(A4, SIG_IGN),
                "c.li a4, 1 ; SIG_IGN, tv_sec = 1, int 1",
            ),
            listed(
                &[0x3a, 0xe0],
                c_sdsp(A4, 0),
                "c.sdsp a4, 0(sp) ; act.sa_handler",
            ),
            listed(&[0x45, 0x45], c_li(A0, SIGCHLD), "c.li a0, 17 ; SIGCHLD"),
            ecall(),
            // socket(AF_INET, SOCK_STREAM, 0 = a2)
            listed(&[0x09, 0x45], c_li(A0, AF_INET), "c.li a0, 2 ; AF_INET"),
            listed(
                &[0x85, 0x45],
                c_li(A1, SOCK_STREAM),
                "c.li a1, 1 ; SOCK_STREAM (= SOL_SOCKET next)",
            ),
            listed(
                &[0x93, 0x08, 0x60, 0x0c],
                addi(A7, ZERO, SYS_SOCKET),
                "addi a7, zero, 198 ; SYS_socket",
            ),
            ecall(),
            listed(&[0x2a, 0x84], c_mv(S0, A0), "c.mv s0, a0 ; s0 = the socket"),
            // setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &1, 16), then SO_RCVTIMEO, &{1 s, 0}
            // (qemu-user wants optlen to be exactly sizeof(struct timeval) for that one).
            listed(
                &[0x09, 0x46],
                c_li(A2, SO_REUSEADDR),
                "c.li a2, 2 ; SO_REUSEADDR",
            ),
            listed(&[0x8a, 0x86], c_mv(A3, SP), "c.mv a3, sp ; &{1, 0}"),
            listed(
                &[0x41, 0x47],
                c_li(A4, TIMEVAL_SIZE),
                "c.li a4, 16 ; optlen",
            ),
            listed(
                &[0xa9, 0x08],
                c_addi(A7, SYS_SETSOCKOPT - SYS_SOCKET),
                "c.addi a7, 10 ; SYS_setsockopt",
            ),
            ecall(),
            listed(&[0x22, 0x85], c_mv(A0, S0), "c.mv a0, s0"),
            listed(
                &[0x51, 0x46],
                c_li(A2, SO_RCVTIMEO),
                "c.li a2, 20 ; SO_RCVTIMEO",
            ),
            ecall(),
            // bind(fd, &{AF_INET, htons(port), INADDR_ANY}, 20); on failure exit(errno). The
            // word goes over the low half of the 1 at sp (the high half is INADDR_ANY); the
            // length is SO_RCVTIMEO's 20, which bind takes as well as 16 (it wants at least
            // sizeof(struct sockaddr_in) and at most sizeof(struct sockaddr_storage)).
            listed(&[0x22, 0x85], c_mv(A0, S0), "c.mv a0, s0"),
            Insn::new(
                &lui(A6, port << 4),
                format!("lui a6, {} ; port {}", port << 4, serve.port),
            ),
            listed(&[0x09, 0x08], c_addi(A6, AF_INET), "c.addi a6, 2 ; AF_INET"),
            listed(
                &[0x42, 0xc0],
                c_swsp(A6, 0),
                "c.swsp a6, 0(sp) ; sockaddr_in (sin_zero: what follows)",
            ),
            listed(&[0x8a, 0x85], c_mv(A1, SP), "c.mv a1, sp"),
            listed(
                &[0xe1, 0x18],
                c_addi(A7, SYS_BIND - SYS_SETSOCKOPT),
                "c.addi a7, -8 ; SYS_bind",
            ),
            ecall(),
            listed(&[0x01, 0xe1], c_bnez(A0), "c.bnez a0, exit_errno").fixup(Fixup::Encode {
                target: Target::Label(EXIT_ERRNO),
                encode: encode_c_bnez,
            }),
            // listen(fd, a1): a stack address, far above somaxconn, which caps it.
            listed(&[0x22, 0x85], c_mv(A0, S0), "c.mv a0, s0"),
            listed(
                &[0x85, 0x08],
                c_addi(A7, SYS_LISTEN - SYS_BIND),
                "c.addi a7, 1 ; SYS_listen, backlog = a1",
            ),
            ecall(),
            // clone(thread flags, a1 = sp: the same stack) six times, every thread cloning
            // again: 64 threads. The workers use no memory, so they can share the stack.
            listed(
                &[0x93, 0x07, 0xf0, 0x50],
                addi(A5, ZERO, CLONE_THREAD_FLAGS >> 8),
                "addi a5, zero, 1295",
            ),
            listed(
                &[0xa2, 0x07],
                c_slli(A5, 8),
                "c.slli a5, 8 ; CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM",
            ),
            listed(
                &[0xcd, 0x08],
                c_addi(A7, SYS_CLONE - SYS_LISTEN),
                "c.addi a7, 19 ; SYS_clone",
            ),
            listed(&[0x3e, 0x85], c_mv(A0, A5), "c.mv a0, a5").label(SPAWN),
            ecall(),
            listed(
                &[0x2a, 0x07],
                c_slli(A4, 10),
                "c.slli a4, 10 ; 16 << 60 = 0",
            ),
            listed(&[0x01, 0xe3], c_bnez(A4), "c.bnez a4, spawn").fixup(Fixup::Encode {
                target: Target::Label(SPAWN),
                encode: encode_c_bnez,
            }),
            // Every thread: a1 = NULL, a3 = MSG_NOSIGNAL | MSG_TRUNC (send: EPIPE instead of
            // SIGPIPE; recv: discard), a2 = the response length.
            listed(
                &[0x81, 0x45],
                c_li(A1, 0),
                "c.li a1, 0 ; accept's NULL address",
            ),
            listed(
                &[0x91, 0x66],
                c_lui(A3, RECV_SEND_FLAGS >> 12),
                "c.lui a3, 4 ; MSG_NOSIGNAL",
            ),
            listed(
                &[0x93, 0x86, 0x06, 0x02],
                addi(A3, A3, RECV_SEND_FLAGS & 0xfff),
                "addi a3, a3, 32 ; | MSG_TRUNC",
            ),
        ]);
        v.extend(li(A2, len, "length"));
        v.extend([
            // accept(fd, NULL, a2); an error (the timeout) flows on as a bad descriptor.
            listed(&[0x22, 0x85], c_mv(A0, S0), "c.mv a0, s0").label(ACCEPT),
            listed(
                &[0x93, 0x08, 0xa0, 0x0c],
                addi(A7, ZERO, SYS_ACCEPT),
                "addi a7, zero, 202 ; SYS_accept",
            ),
            ecall(),
            listed(
                &[0xaa, 0x84],
                c_mv(S1, A0),
                "c.mv s1, a0 ; s1 = the connection",
            ),
            // recvfrom(conn, NULL, len, MSG_TRUNC, NULL, a5): waits for bytes, discards them.
            listed(&[0x26, 0x85], c_mv(A0, S1), "c.mv a0, s1").label(READ),
            listed(&[0x81, 0x45], c_li(A1, 0), "c.li a1, 0 ; no buffer"),
            listed(
                &[0x93, 0x08, 0xf0, 0x0c],
                addi(A7, ZERO, SYS_RECVFROM),
                "addi a7, zero, 207 ; SYS_recvfrom",
            ),
            ecall(),
            listed(
                &[0x63, 0x50, 0xa0, 0x00],
                bge(ZERO, A0),
                "blez a0, close ; end of file, error or timeout (bge zero, a0)",
            )
            .fixup(Fixup::Encode {
                target: Target::Label(CLOSE),
                encode: encode_bltz,
            }),
            // sendto(conn, response, len, MSG_NOSIGNAL, NULL, a5): after the first time the
            // socket is shut for sending, so later ones fail with EPIPE and send nothing.
            listed(&[0x26, 0x85], c_mv(A0, S1), "c.mv a0, s1"),
        ]);
        v.extend(address(A1, Target::Data, "response", addressing));
        v.extend([
            listed(
                &[0xfd, 0x18],
                c_addi(A7, SYS_SENDTO - SYS_RECVFROM),
                "c.addi a7, -1 ; SYS_sendto",
            ),
            ecall(),
            // shutdown(conn, SHUT_WR): the client reads end of file after the response.
            listed(&[0x26, 0x85], c_mv(A0, S1), "c.mv a0, s1"),
            listed(&[0x85, 0x45], c_li(A1, SHUT_WR), "c.li a1, 1 ; SHUT_WR"),
            listed(
                &[0x91, 0x08],
                c_addi(A7, SYS_SHUTDOWN - SYS_SENDTO),
                "c.addi a7, 4 ; SYS_shutdown",
            ),
            ecall(),
            Insn::new(&[0x01, 0xa0], "c.j read ; until the client closes").fixup(Fixup::Encode {
                target: Target::Label(READ),
                encode: encode_c_j,
            }),
            // close(conn)
            listed(&[0x26, 0x85], c_mv(A0, S1), "c.mv a0, s1").label(CLOSE),
            listed(
                &[0x93, 0x08, 0x90, 0x03],
                addi(A7, ZERO, SYS_CLOSE),
                "addi a7, zero, 57 ; SYS_close",
            ),
            ecall(),
            Insn::new(&[0x01, 0xa0], "c.j accept").fixup(Fixup::Encode {
                target: Target::Label(ACCEPT),
                encode: encode_c_j,
            }),
            // exit_group(0) as the SIGINT/SIGTERM handler (entered with a0 = the signal), or
            // exit_group(errno) after a failed bind (a0 = -errno).
            listed(&[0x01, 0x45], c_li(A0, 0), "c.li a0, 0").label(EXIT),
            listed(
                &[0x33, 0x05, 0xa0, 0x40],
                sub(A0, ZERO, A0),
                "neg a0, a0 ; status",
            )
            .label(EXIT_ERRNO),
            listed(
                &[0x93, 0x08, 0xe0, 0x05],
                addi(A7, ZERO, SYS_EXIT_GROUP),
                "addi a7, zero, 94 ; SYS_exit_group",
            ),
            ecall(),
        ]);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The expected words are what llvm-mc (-triple=riscv64 -mattr=+c) assembles.
    #[test]
    fn serve_encoders() {
        let mut b = c_bnez(A4);
        encode_c_bnez(&mut b, 0x10010, 0x10000).unwrap();
        assert_eq!(b, [0x65, 0xfb]); // c.bnez a4, -16
        let mut b = c_bnez(A0);
        encode_c_bnez(&mut b, 0x10000, 0x100c8).unwrap();
        assert_eq!(b, [0x61, 0xe5]); // c.bnez a0, 200
        assert!(encode_c_bnez(&mut b, 0x10000, 0x10100).is_err());
        let mut l = c_lui(A1, 16);
        encode_c_lui(&mut l, 0, 0x10900).unwrap();
        assert_eq!(l, [0xc5, 0x65]); // c.lui a1, 17 (then addi a1, a1, -1792)
        assert!(encode_c_lui(&mut l, 0, 0x20000).is_err());
        assert_eq!(c_swsp(A6, 0), [0x42, 0xc0]);
        assert_eq!(sub(A0, ZERO, A0), [0x33, 0x05, 0xa0, 0x40]); // neg a0, a0
        assert_eq!(lui(A6, 0xa1460), [0x37, 0x08, 0x46, 0xa1]);
    }

    #[test]
    fn serve_addresses_either_way() {
        let serve = Serve::new(8080, &Default::default()).unwrap();
        let listing = |addressing| {
            Riscv64
                .serve(&serve, addressing)
                .iter()
                .map(|i| i.asm.split_whitespace().next().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        let abs = listing(Addressing::Abs32);
        let rel = listing(Addressing::PcRelative);
        assert_eq!(abs.iter().filter(|m| *m == "c.lui").count(), 3);
        assert!(!abs.contains(&"auipc".to_string()));
        assert_eq!(rel.iter().filter(|m| *m == "auipc").count(), 2);
        assert_eq!(rel.len(), abs.len() + 4);
    }
}
