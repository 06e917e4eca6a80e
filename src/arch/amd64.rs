//! x86-64 (linux/amd64): `syscall` with the number in rax, arguments in rdi, rsi, rdx, r10.
//!
//! At the ELF entry point Linux clears every general register but rsp
//! (`ELF_PLAT_INIT` → `elf_common_init` in arch/x86), and qemu-user starts from zeroed
//! registers too, so the code only sets the bytes it needs (`mov al, 1` rather than
//! `mov eax, 1`).

use super::{x86, Addressing, Code, Fixup, Insn, Isa, Target};
use crate::Program;

/// arch/x86/entry/syscalls/syscall_64.tbl
pub const SYS_WRITE: u8 = 1;
pub const SYS_RT_SIGACTION: u8 = 13;
pub const SYS_RT_SIGPROCMASK: u8 = 14;
pub const SYS_EXIT: u8 = 60;
pub const SYS_RT_SIGTIMEDWAIT: u8 = 128;

use super::signal::{SIGCHLD, SIGSET_SIZE, SIG_IGN, STOP_SIGNALS};

pub struct Amd64;

const WAIT: u8 = 0;

impl Isa for Amd64 {
    fn lower(&self, program: &Program, addressing: Addressing) -> Code {
        let mut insns = Vec::new();
        let mut data = Vec::new();
        match program {
            Program::Exit(code) => {
                insns.push(Insn::new(&[0xb0, SYS_EXIT], "mov al, 60 ; SYS_exit"));
                if *code != 0 {
                    insns.push(Insn::new(&[0x40, 0xb7, *code], format!("mov dil, {code}")));
                }
                insns.push(Insn::new(&[0x0f, 0x05], "syscall"));
            }
            Program::Hello(message) => {
                data.extend_from_slice(message);
                insns.push(Insn::new(&[0xb0, SYS_WRITE], "mov al, 1 ; SYS_write"));
                insns.push(Insn::new(&[0x89, 0xc7], "mov edi, eax ; fd 1 = stdout"));
                insns.push(match addressing {
                    Addressing::Abs32 => {
                        Insn::new(&[0xbe, 0, 0, 0, 0], "mov esi, message").fixup(Fixup::Abs32 {
                            at: 1,
                            target: Target::Data,
                        })
                    }
                    Addressing::PcRelative => {
                        Insn::new(&[0x48, 0x8d, 0x35, 0, 0, 0, 0], "lea rsi, [rip + message]")
                            .fixup(Fixup::Rel32 {
                                at: 3,
                                target: Target::Data,
                            })
                    }
                });
                insns.push(x86::set_edx(message.len()));
                insns.push(Insn::new(&[0x0f, 0x05], "syscall"));
                // rax now holds what write returned (possibly a negative errno), so set all of it.
                insns.push(Insn::new(&[0x6a, SYS_EXIT], "push 60 ; SYS_exit"));
                insns.push(Insn::new(&[0x58], "pop rax"));
                insns.push(Insn::new(&[0x31, 0xff], "xor edi, edi ; status 0"));
                insns.push(Insn::new(&[0x0f, 0x05], "syscall"));
            }
            Program::Pause => {
                let [s0, s1, s2, s3] = u32::from(STOP_SIGNALS).to_le_bytes();
                insns.extend([
                    // rt_sigprocmask(SIG_BLOCK = rdi = 0, &set, NULL = rdx, 8): a blocked
                    // signal is never "ignored", so the kernel queues SIGTERM/SIGINT even for a
                    // PID-namespace init whose handler is SIG_DFL.
                    Insn::new(
                        &[0x68, s0, s1, s2, s3],
                        "push 0x4002 ; set = {SIGINT, SIGTERM}",
                    ),
                    Insn::new(&[0x54], "push rsp"),
                    Insn::new(&[0x5e], "pop rsi ; rsi = &set"),
                    Insn::new(&[0x41, 0xb2, SIGSET_SIZE], "mov r10b, 8 ; sigsetsize"),
                    Insn::new(
                        &[0xb0, SYS_RT_SIGPROCMASK],
                        "mov al, 14 ; SYS_rt_sigprocmask",
                    ),
                    Insn::new(&[0x0f, 0x05], "syscall"),
                    // rt_sigaction(SIGCHLD, &{SIG_IGN, flags 0}, NULL, 8): children (and
                    // orphans handed to us as PID 1) are reaped by the kernel, zombies never stay.
                    Insn::new(&[0x50], "push rax ; act.sa_flags = 0"),
                    Insn::new(&[0x6a, SIG_IGN], "push 1 ; act.sa_handler = SIG_IGN"),
                    Insn::new(&[0x54], "push rsp"),
                    Insn::new(&[0x5e], "pop rsi ; rsi = &act"),
                    Insn::new(&[0x40, 0xb7, SIGCHLD], "mov dil, 17 ; SIGCHLD"),
                    Insn::new(&[0xb0, SYS_RT_SIGACTION], "mov al, 13 ; SYS_rt_sigaction"),
                    Insn::new(&[0x0f, 0x05], "syscall"),
                    // rt_sigtimedwait(&set, NULL, NULL = no timeout, 8), again if interrupted.
                    Insn::new(
                        &[0x48, 0x8d, 0x7e, 0x10],
                        "lea rdi, [rsi + 16] ; rdi = &set",
                    ),
                    Insn::new(&[0x31, 0xf6], "xor esi, esi ; no siginfo"),
                    Insn::new(&[0x31, 0xc0], "xor eax, eax").label(WAIT),
                    Insn::new(
                        &[0xb0, SYS_RT_SIGTIMEDWAIT],
                        "mov al, 128 ; SYS_rt_sigtimedwait",
                    ),
                    Insn::new(&[0x0f, 0x05], "syscall"),
                    Insn::new(&[0x85, 0xc0], "test eax, eax"),
                    Insn::new(&[0x78, 0x00], "js wait ; -EINTR (stopped and continued)")
                        .fixup(Fixup::Rel8 {
                            at: 1,
                            target: Target::Label(WAIT),
                        })
                        .reads_flags(),
                    // A signal arrived: exit(0). rax = its number, small and positive.
                    Insn::new(&[0xb0, SYS_EXIT], "mov al, 60 ; SYS_exit"),
                    Insn::new(&[0x31, 0xff], "xor edi, edi ; status 0"),
                    Insn::new(&[0x0f, 0x05], "syscall"),
                ]);
            }
        }
        Code { insns, data }
    }

    fn jump(&self, target: Target) -> Insn {
        x86::jump(target)
    }

    fn skip(&self, fixed: usize) -> Option<Insn> {
        x86::skip(fixed)
    }

    fn nop(&self) -> Insn {
        x86::nop()
    }

    fn tolerates_prefix(&self, insn: &Insn, prefix: &[u8]) -> bool {
        x86::tolerates_rex_prefix(insn, prefix)
    }
}
