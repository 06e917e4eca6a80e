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

use super::signal;

// The signal constants (super::signal) in the type of this file's encoders.
const SIGCHLD: i32 = signal::SIGCHLD as i32;
const STOP_SIGNALS: i32 = signal::STOP_SIGNALS as i32;
const SIG_IGN: i32 = signal::SIG_IGN as i32;
const SIGSET_SIZE: i32 = signal::SIGSET_SIZE as i32;
const SIG_BLOCK: i32 = signal::SIG_BLOCK as i32;

pub struct Riscv64;

/// The label of the rt_sigtimedwait loop.
const WAIT: u8 = 0;

// Register numbers (x0..x31) under their ABI names.
const ZERO: u32 = 0;
const SP: u32 = 2;
const A0: u32 = 10;
const A1: u32 = 11;
const A2: u32 = 12;
const A3: u32 = 13;
const A7: u32 = 17;

fn reg_name(r: u32) -> &'static str {
    match r {
        ZERO => "zero",
        SP => "sp",
        A0 => "a0",
        A1 => "a1",
        A2 => "a2",
        A3 => "a3",
        A7 => "a7",
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
    assert!(imm < 1 << 19);
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

impl Isa for Riscv64 {
    fn lower(&self, program: &Program, _addressing: Addressing) -> Code {
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
            Program::Serve(_) => unimplemented!("serve on riscv64"),
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

    /// `c.j target` (CJ, funct3 101, op 01), ±2 KiB; the offset is filled in by
    /// [`encode_c_j`].
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
