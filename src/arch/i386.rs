//! IA-32 (linux/386): `int 0x80` with the number in eax, arguments in ebx, ecx, edx, esi.
//!
//! Linux clears eax..edi at the ELF entry point (`ELF_PLAT_INIT` for i386, and
//! `elf_common_init` for a 32-bit process on a 64-bit kernel); qemu-user starts from zeroed
//! registers too.

use super::{x86, Addressing, Code, Fixup, Insn, Isa, Target};
use crate::Program;

/// arch/x86/entry/syscalls/syscall_32.tbl
pub const SYS_EXIT: u8 = 1;
pub const SYS_WRITE: u8 = 4;
pub const SYS_RT_SIGACTION: u8 = 174;
pub const SYS_RT_SIGPROCMASK: u8 = 175;
pub const SYS_RT_SIGTIMEDWAIT: u8 = 177;

use super::signal::{SIGCHLD, SIGSET_SIZE, SIG_IGN, STOP_SIGNALS};

pub struct I386;

const WAIT: u8 = 0;

impl Isa for I386 {
    fn lower(&self, program: &Program, _addressing: Addressing) -> Code {
        let mut insns = Vec::new();
        let mut data = Vec::new();
        match program {
            Program::Exit(code) => {
                if *code != 0 {
                    insns.push(Insn::new(&[0xb3, *code], format!("mov bl, {code}")));
                }
                insns.push(Insn::new(&[0x40], "inc eax ; SYS_exit"));
                insns.push(Insn::new(&[0xcd, 0x80], "int 0x80"));
            }
            Program::Hello(message) => {
                data.extend_from_slice(message);
                insns.push(Insn::new(&[0xb0, SYS_WRITE], "mov al, 4 ; SYS_write"));
                insns.push(Insn::new(&[0x43], "inc ebx ; fd 1 = stdout"));
                insns.push(Insn::new(&[0xb9, 0, 0, 0, 0], "mov ecx, message").fixup(
                    Fixup::Abs32 {
                        at: 1,
                        target: Target::Data,
                    },
                ));
                insns.push(x86::set_edx(message.len()));
                insns.push(Insn::new(&[0xcd, 0x80], "int 0x80"));
                // eax holds what write returned; ebx is 1, the SYS_exit number.
                insns.push(Insn::new(&[0x93], "xchg ebx, eax ; eax = 1 = SYS_exit"));
                insns.push(Insn::new(&[0x31, 0xdb], "xor ebx, ebx ; status 0"));
                insns.push(Insn::new(&[0xcd, 0x80], "int 0x80"));
            }
            Program::Serve(_) => unimplemented!("serve on i386"),
            Program::Pause => {
                let [s0, s1, s2, s3] = u32::from(STOP_SIGNALS).to_le_bytes();
                insns.extend([
                    // rt_sigprocmask(SIG_BLOCK = ebx = 0, &set, NULL = edx, 8): a blocked
                    // signal is never "ignored", so a PID-namespace init still receives it.
                    Insn::new(&[0x50], "push eax ; set[1] = 0"),
                    Insn::new(
                        &[0x68, s0, s1, s2, s3],
                        "push 0x4002 ; set[0] = {SIGINT, SIGTERM}",
                    ),
                    Insn::new(&[0x89, 0xe1], "mov ecx, esp ; ecx = &set"),
                    Insn::new(&[0x6a, SIGSET_SIZE], "push 8"),
                    Insn::new(&[0x5e], "pop esi ; sigsetsize"),
                    Insn::new(
                        &[0xb0, SYS_RT_SIGPROCMASK],
                        "mov al, 175 ; SYS_rt_sigprocmask",
                    ),
                    Insn::new(&[0xcd, 0x80], "int 0x80"),
                    // rt_sigaction(SIGCHLD, &{SIG_IGN, flags 0}, NULL, 8): the kernel reaps
                    // our children and the orphans handed to us as PID 1.
                    Insn::new(&[0x50], "push eax ; act.sa_flags = 0"),
                    Insn::new(&[0x6a, SIG_IGN], "push 1 ; act.sa_handler = SIG_IGN"),
                    Insn::new(&[0x89, 0xe1], "mov ecx, esp ; ecx = &act"),
                    Insn::new(&[0xb3, SIGCHLD], "mov bl, 17 ; SIGCHLD"),
                    Insn::new(&[0xb0, SYS_RT_SIGACTION], "mov al, 174 ; SYS_rt_sigaction"),
                    Insn::new(&[0xcd, 0x80], "int 0x80"),
                    // rt_sigtimedwait(&set, NULL, NULL = no timeout, 8), again if interrupted.
                    Insn::new(&[0x8d, 0x59, 0x08], "lea ebx, [ecx + 8] ; ebx = &set"),
                    Insn::new(&[0x31, 0xc9], "xor ecx, ecx ; no siginfo"),
                    Insn::new(&[0x31, 0xc0], "xor eax, eax").label(WAIT),
                    Insn::new(
                        &[0xb0, SYS_RT_SIGTIMEDWAIT],
                        "mov al, 177 ; SYS_rt_sigtimedwait",
                    ),
                    Insn::new(&[0xcd, 0x80], "int 0x80"),
                    Insn::new(&[0x85, 0xc0], "test eax, eax"),
                    Insn::new(&[0x78, 0x00], "js wait ; -EINTR (stopped and continued)")
                        .fixup(Fixup::Rel8 {
                            at: 1,
                            target: Target::Label(WAIT),
                        })
                        .reads_flags(),
                    // A signal arrived: exit(0). eax = its number, small and positive.
                    Insn::new(&[0x31, 0xdb], "xor ebx, ebx ; status 0"),
                    Insn::new(&[0xb0, SYS_EXIT], "mov al, 1 ; SYS_exit"),
                    Insn::new(&[0xcd, 0x80], "int 0x80"),
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
}
