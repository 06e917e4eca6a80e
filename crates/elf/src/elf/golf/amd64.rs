//! amd64, kernel fit: hand-laid files.
//!
//! What fs/binfmt_elf.c (Linux 6.x, `load_elf_binary`) checks, and so what these files may
//! bend (each listing line names the rule it relies on):
//!
//! - K1: only the 4 magic bytes of e_ident are read; e_version, e_shoff, e_flags, e_ehsize
//!   and the section-header fields are never read (the whole header comes from a 256-byte
//!   zero-filled buffer).
//! - K2: e_type is ET_EXEC or ET_DYN; e_machine is EM_X86_64 (`elf_check_arch`);
//!   e_phentsize is 56 and e_phnum * 56 is at most 64 KiB and a page; the program headers
//!   are read at e_phoff with one exact-length read, so they must lie inside the file.
//! - K3: per PT_LOAD: p_offset - (p_vaddr mod 4096) is the page-aligned file offset mapped
//!   (0 here); p_vaddr, p_memsz and p_vaddr + p_memsz below TASK_SIZE (2^47 - 4096 with
//!   4-level paging); p_filesz <= p_memsz; p_paddr is never read, and p_align only for
//!   ET_DYN, where a value that is not a power of two is skipped (`maximum_alignment`).
//! - K4: p_flags: only PF_R, PF_W and PF_X are looked at (`make_prot`); amd64 needs PF_X
//!   (no read-implies-exec for 64-bit processes). On x86, a writable page is readable.
//! - K5: ET_EXEC maps at p_vaddr; ET_DYN without PT_INTERP maps wherever mmap puts it and
//!   adds that load bias (the mapped address minus p_vaddr's page) to e_entry.
//! - K6: the file mapping may run past the end of the file (pages there are never
//!   touched); a read-only private mapping is not charged against the commit limit.
//! - K7: a new process starts with every general register zero, EFLAGS = IF only (so `jg`
//!   and `jne` after a `cmp` with a smaller value are taken), and rsp at argc.

use super::super::layout::Fields;
use super::super::machine::{machine, Machine};
use super::super::plan::Payload;
use super::super::spec::*;
use super::assemble;
use crate::arch::Insn;
use crate::Platform;

/// e_type of a position-independent file; the loader picks its address (K5).
const ET_DYN: u16 = 3;

/// The hello file's message offset: p_align, and past it (K3: ET_EXEC never reads p_align).
const HELLO_MESSAGE: usize = 72;
/// e_entry's high half is p_flags, and its bytes are `jne +18` (to byte 48): 0x75 is
/// PF_X | PF_R (+ bits nobody reads, K4), 0x12 the jump. The image loads at p_flags << 32.
const HELLO_FLAGS: u32 = 0x1275;
const HELLO_BASE: u64 = (HELLO_FLAGS as u64) << 32;

/// amd64 hello, kernel fit: 72 bytes + the message. The program header starts at e_entry
/// (offset 24), so e_entry's low half is p_type = PT_LOAD and the entry point is file offset
/// 1, where "ELF" is three REX prefixes of the first instruction; e_entry's high half is
/// p_flags, which is also the `jne` that leaves e_version for e_flags. The message starts in
/// p_align. Registers: all zero at entry (K7).
///
/// ```text
///  0 7f                e_ident[EI_MAG0]
///  1 45 4c 46          "ELF": REX prefixes (the last one, 0x46, is ignored) <- entry (K1)
///  4 48 8d 35 3d 00 00 00  e_ident[4..11]  lea rsi, [rip + message]          (K1)
/// 11 b2 LL             e_ident[11..13]       mov dl, LL ; length            (K1)
/// 13 b0 01             e_ident[13..15]       mov al, 1 ; SYS_write          (K1)
/// 15 3d                e_ident[15]           cmp eax, <e_type, e_machine> ; ZF = 0
/// 16 02 00 3e 00       e_type, e_machine                                    (K2)
/// 20 6a 3c             e_version             push 60 ; SYS_exit, for later  (K1)
/// 22 90                e_version             nop
/// 23 bf                e_version             mov edi, <p_type> ; fd 1
/// 24 01 00 00 00       e_entry = p_type = PT_LOAD
/// 28 75 12 00 00       e_entry = p_flags     jne +18 (always: ZF from the cmp) (K4, K7)
/// 32 18 00 .. 00       e_phoff = p_offset = 24                              (K2, K3)
/// 40 18 00 00 00 75 12 00 00  e_shoff = p_vaddr = 0x1275_0000_0018          (K3, K5)
/// 48 0f 05             e_flags = p_paddr     syscall ; write(1, message, LL) (K1, K3)
/// 50 58                e_flags               pop rax ; 60
/// 51 31 ff             e_flags, e_ehsize     xor edi, edi ; status 0
/// 53 3d                e_ehsize              cmp eax, <e_phentsize, e_phnum>
/// 54 38 00 01 00       e_phentsize, e_phnum                                 (K2)
/// 56 01 00             e_phnum = p_filesz    (p_filesz = p_memsz = 0x050f_0001, K3, K6)
/// 58 0f 05             e_shentsize           syscall ; exit(0)
/// 60 00 .. 00          p_filesz, p_memsz (= p_filesz)
/// 72 message           p_align, and on                                      (K3)
/// ```
///
/// The file maps 85 MB read-only from p_vaddr, nearly all past the end of the file (K6).
/// 86 bytes for "Hello, world!\n", the least this message allows on 4-level paging: it has no
/// zero byte, so it cannot share p_memsz (whose top bytes are zero, K3) and starts at 72 at
/// the earliest; the ET_DYN layout below leaves no room before byte 73. A message shorter
/// than 8 bytes still pads the file to the end of the program header (80 bytes, K2); one
/// longer than 255 bytes goes to the planner (`mov dl` holds the length).
pub fn kernel_hello(message: &[u8]) -> Option<Payload> {
    let len = u8::try_from(message.len()).ok()?;
    let m = machine(Platform::Amd64);
    let rel = (HELLO_MESSAGE - 11) as u8;
    let code: Vec<(usize, Insn)> = vec![
        (
            4,
            Insn::new(
                &[0x48, 0x8d, 0x35, rel, 0, 0, 0],
                "lea rsi, [rip + message]",
            ),
        ),
        (
            11,
            Insn::new(&[0xb2, len], format!("mov dl, {len} ; length")),
        ),
        (13, Insn::new(&[0xb0, 0x01], "mov al, 1 ; SYS_write")),
        (
            15,
            Insn::new(&[0x3d], "cmp eax, 0x3e0002 ; e_type, e_machine: ZF = 0").swallows(4),
        ),
        (
            20,
            Insn::new(&[0x6a, 0x3c], "push 60 ; SYS_exit, popped after the write"),
        ),
        (22, Insn::new(&[0x90], "nop")),
        (
            23,
            Insn::new(&[0xbf], "mov edi, 1 ; p_type = PT_LOAD: fd 1").swallows(4),
        ),
        (
            28,
            Insn::new(
                &[0x75, (48 - 30) as u8],
                "jne target ; p_flags = PF_R | PF_X, taken: ZF is 0",
            )
            .reads_flags(),
        ),
        (48, Insn::new(&[0x0f, 0x05], "syscall ; write")),
        (50, Insn::new(&[0x58], "pop rax ; 60")),
        (51, Insn::new(&[0x31, 0xff], "xor edi, edi ; status 0")),
        (
            53,
            Insn::new(&[0x3d], "cmp eax, 0x10038 ; e_phentsize, e_phnum").swallows(4),
        ),
        (58, Insn::new(&[0x0f, 0x05], "syscall ; exit")),
    ];
    // p_filesz = p_memsz: e_phnum = 1 in the low half, the exit syscall above it.
    let size = u64::from_le_bytes([0x01, 0x00, 0x0f, 0x05, 0, 0, 0, 0]);
    let f = x24_fields(&m, HELLO_BASE, HELLO_FLAGS, size);
    let len = (HELLO_MESSAGE + message.len()).max(E_ENTRY_PHDR_END);
    Some(assemble(
        f,
        code,
        len,
        Some((HELLO_MESSAGE, message)),
        HELLO_BASE,
        1,
    ))
}

/// pause's e_entry high half = p_flags: `jne +18` to byte 48, like hello's.
const PAUSE_FLAGS: u32 = HELLO_FLAGS;
const PAUSE_BASE: u64 = (PAUSE_FLAGS as u64) << 32;
/// Where pause's code goes on past the program header (p_align, K3).
const PAUSE_TAIL: usize = 72;

/// amd64 pause, kernel fit: hello's header (program header at e_entry, `jne` in p_flags),
/// with p_filesz's bytes holding the jump to the code past the header. It blocks SIGINT and
/// SIGTERM, ignores SIGCHLD, waits with rt_sigtimedwait and exits 0 on a signal (see
/// `arch::amd64` for why). The stack holds the sigset 0x4002 and, below it, the sigaction
/// {handler = SIG_IGN, flags = that same qword: SA_NOCLDWAIT | 0x4000, a bit Linux drops};
/// the signal set for rt_sigtimedwait is that qword again.
///
/// ```text
///  1 45 4c 46          "ELF": REX prefixes                              <- entry (K1)
///  4 68 02 40 00 00    e_ident[4..9]         push 0x4002 ; set = {SIGINT, SIGTERM}
///  9 54 5e             e_ident[9..11]        push rsp ; pop rsi ; rsi = &set
/// 11 b0 0e             e_ident[11..13]       mov al, 14 ; SYS_rt_sigprocmask
/// 13 90 90             e_ident[13..15]       nop ; nop
/// 15 3d                e_ident[15]           cmp eax, <e_type, e_machine> ; ZF = 0 (K2)
/// 20 41 b2 08          e_version             mov r10b, 8 ; sigsetsize     (K1)
/// 23 68                e_version             push <p_type> ; act = {SIG_IGN, 0x4002}
/// 28 75 12             e_entry = p_flags     jne +18 (always)              (K4, K7)
/// 48 0f 05             e_flags = p_paddr     syscall ; rt_sigprocmask(SIG_BLOCK, &set, 0, 8)
/// 50 54 5e             e_flags               push rsp ; pop rsi ; rsi = &act
/// 52 90                e_ehsize              nop
/// 53 3d                e_ehsize              cmp eax, <e_phentsize, e_phnum>   (K2)
/// 58 eb 0c             p_filesz              jmp 72 (p_filesz = p_memsz = 0x0ceb_0001, K3, K6)
/// 72 40 b7 11          p_align, on           mov dil, 17 ; SIGCHLD           (K3)
///    b0 0d 0f 05                             rt_sigaction(SIGCHLD, &act, 0, 8)
///    58 54 5f 31 f6                          pop rax ; rdi = &set ; rsi = 0
///    31 c0 b0 80 0f 05 85 c0 78 f6           wait: rt_sigtimedwait, again on -EINTR
///    b0 3c 31 ff 0f 05                       exit(0)
/// ```
///
/// 100 bytes, against 105 from the planner; the file maps 216 MB read-only (K6).
pub fn kernel_pause() -> Payload {
    let m = machine(Platform::Amd64);
    let t = PAUSE_TAIL;
    let mut code: Vec<(usize, Insn)> = vec![
        (
            4,
            Insn::new(
                &[0x68, 0x02, 0x40, 0x00, 0x00],
                "push 0x4002 ; set = {SIGINT, SIGTERM}",
            ),
        ),
        (9, Insn::new(&[0x54], "push rsp")),
        (10, Insn::new(&[0x5e], "pop rsi ; rsi = &set")),
        (
            11,
            Insn::new(&[0xb0, 0x0e], "mov al, 14 ; SYS_rt_sigprocmask"),
        ),
        (13, Insn::new(&[0x90], "nop")),
        (14, Insn::new(&[0x90], "nop")),
        (
            15,
            Insn::new(&[0x3d], "cmp eax, 0x3e0002 ; e_type, e_machine: ZF = 0").swallows(4),
        ),
        (
            20,
            Insn::new(&[0x41, 0xb2, 0x08], "mov r10b, 8 ; sigsetsize"),
        ),
        (
            23,
            Insn::new(
                &[0x68],
                "push 1 ; p_type: act = {SIG_IGN, flags = the set's qword}",
            )
            .swallows(4),
        ),
        (
            28,
            Insn::new(
                &[0x75, (48 - 30) as u8],
                "jne target ; p_flags = PF_R | PF_X, taken: ZF is 0",
            )
            .reads_flags(),
        ),
        (48, Insn::new(&[0x0f, 0x05], "syscall ; rt_sigprocmask")),
        (50, Insn::new(&[0x54], "push rsp")),
        (51, Insn::new(&[0x5e], "pop rsi ; rsi = &act")),
        (52, Insn::new(&[0x90], "nop")),
        (
            53,
            Insn::new(&[0x3d], "cmp eax, 0x10038 ; e_phentsize, e_phnum").swallows(4),
        ),
        (
            58,
            Insn::new(&[0xeb, (t - 60) as u8], "jmp target ; p_filesz"),
        ),
        (t, Insn::new(&[0x40, 0xb7, 0x11], "mov dil, 17 ; SIGCHLD")),
        (
            t + 3,
            Insn::new(&[0xb0, 0x0d], "mov al, 13 ; SYS_rt_sigaction"),
        ),
        (t + 5, Insn::new(&[0x0f, 0x05], "syscall")),
        (t + 7, Insn::new(&[0x58], "pop rax ; rsp = &set")),
        (t + 8, Insn::new(&[0x54], "push rsp")),
        (t + 9, Insn::new(&[0x5f], "pop rdi ; rdi = &set")),
        (
            t + 10,
            Insn::new(&[0x31, 0xf6], "xor esi, esi ; no siginfo"),
        ),
    ];
    code.extend(wait_then_exit(t + 12));
    let f = x24_fields(
        &m,
        PAUSE_BASE,
        PAUSE_FLAGS,
        u64::from_le_bytes([0x01, 0x00, 0xeb, (t - 60) as u8, 0, 0, 0, 0]),
    );
    assemble(f, code, t + 28, None, PAUSE_BASE, 1)
}

/// The header of hello and pause: the program header at e_entry (offset 24), entered at
/// byte 1, loaded at `base` = `flags` << 32, with p_filesz = p_memsz = `size`.
/// The label of pause's wait loop.
const WAIT: u8 = 1;

/// pause's last 16 bytes in both fits, from `at`: rt_sigtimedwait(rdi = &set, rsi = NULL,
/// rdx = NULL: no timeout, r10 = 8), again while it fails (-EINTR after a stop and a
/// continue), then exit(0): rax is the signal's number, small and positive.
fn wait_then_exit(at: usize) -> [(usize, Insn); 8] {
    [
        (at, Insn::new(&[0x31, 0xc0], "xor eax, eax").label(WAIT)),
        (
            at + 2,
            Insn::new(&[0xb0, 0x80], "mov al, 128 ; SYS_rt_sigtimedwait"),
        ),
        (at + 4, Insn::new(&[0x0f, 0x05], "syscall")),
        (at + 6, Insn::new(&[0x85, 0xc0], "test eax, eax")),
        (
            // Back 10 bytes, to `xor eax, eax`.
            at + 8,
            Insn::new(
                &[0x78, (-10i8) as u8],
                "js wait ; -EINTR (stopped and continued)",
            )
            .reads_flags(),
        ),
        (at + 10, Insn::new(&[0xb0, 0x3c], "mov al, 60 ; SYS_exit")),
        (at + 12, Insn::new(&[0x31, 0xff], "xor edi, edi ; status 0")),
        (at + 14, Insn::new(&[0x0f, 0x05], "syscall")),
    ]
}

fn x24_fields(m: &Machine, base: u64, flags: u32, size: u64) -> Fields {
    use ehdr64::*;
    use phdr64::*;
    let mut f = Fields::new(m);
    let ph = E_ENTRY;
    debug_assert_eq!(flags & (PF_R | PF_X), PF_R | PF_X);
    debug_assert_eq!(base, u64::from(flags) << 32);
    f.put(EI_MAG0, "e_ident[EI_MAG0..=EI_MAG3]", &ELFMAG);
    f.u16(E_TYPE, "e_type", ET_EXEC);
    f.u16(E_MACHINE, "e_machine", m.e_machine);
    f.u64(E_ENTRY, "e_entry", base + 1);
    f.u32(ph + P_TYPE, "p_type (= e_entry low half)", PT_LOAD);
    f.u32(ph + P_FLAGS, "p_flags (= e_entry high half)", flags);
    f.u64(E_PHOFF, "e_phoff", ph as u64);
    f.u64(ph + P_OFFSET, "p_offset (= e_phoff)", ph as u64);
    f.u64(ph + P_VADDR, "p_vaddr (= e_shoff)", base + ph as u64);
    f.u16(E_PHENTSIZE, "e_phentsize (in p_paddr)", phdr64::SIZE as u16);
    f.u16(E_PHNUM, "e_phnum (in p_filesz)", 1);
    f.u64(ph + P_FILESZ, "p_filesz", size);
    f.u64(ph + P_MEMSZ, "p_memsz", size);
    f
}

/// The end of a program header at e_entry (K2: it must lie inside the file).
const E_ENTRY_PHDR_END: usize = ehdr64::E_ENTRY + phdr64::SIZE;

/// The program header of the exit file starts at e_ident[12] (K2).
const EXIT_PHOFF: usize = 12;
/// e_entry: its low half is p_offset's high half (zero, K3), its high half p_vaddr's low
/// half; with p_vaddr = 12 << 32 | 12, the entry point is file offset 0 (K5).
const EXIT_ENTRY: u64 = (EXIT_PHOFF as u64) << 32;
/// The file's length: the entry's `jg` lands on byte 71.
const EXIT_LEN: usize = 73;

/// amd64 exit, kernel fit: 73 bytes, ET_DYN with the program header at e_ident[12]. p_flags
/// is e_type | e_machine << 16 = 0x003e_0003: PF_X | PF_W (K4; 0x3e0000 is read by no one),
/// which is why the file is ET_DYN. The entry point is byte 0, where the magic decodes as
/// `jg +0x45` (taken, K7) to byte 71, which jumps back into e_ident.
///
/// ```text
///  0 7f 45             e_ident[EI_MAG0..2]   jg +0x45 (to 71)                <- entry (K7)
///  2 4c 46             e_ident[2..4]
///  4 40 b7 CC          e_ident[4..7]         mov dil, CC ; status (omitted when 0) (K1)
///  7 b0 3c             e_ident[7..9]         mov al, 60 ; SYS_exit
///  9 0f 05             e_ident[9..11]        syscall
/// 12 01 00 00 00       e_ident[12..16] = p_type = PT_LOAD                      (K1, K2)
/// 16 03 00 3e 00       e_type = ET_DYN, e_machine = p_flags = PF_X | PF_W      (K2, K4)
/// 20 0c 00 00 00 00 00 00 00  e_version, e_entry low = p_offset = 12          (K1, K3)
/// 28 0c 00 00 00 0c 00 00 00  e_entry high, e_phoff low = p_vaddr = 12 << 32 | 12 (K3, K5)
/// 36 00 .. 00          e_phoff high, e_shoff low = p_paddr                     (K3)
/// 44 00 00 38 00 01 00 00 00  e_shoff high, e_flags = p_filesz = p_memsz     (K1, K3)
/// 52 00 00 38 00 01 00 00 00  e_ehsize, e_phentsize, e_phnum = p_memsz = 0x1_0038_0000 (K2, K3)
/// 60 00 .. 00          e_shnum.., past the header = p_align = 0 (not a power of two, K3)
/// 71 eb xx             jmp 4
/// ```
///
/// p_memsz holds e_phnum, so the segment is 4 GiB of address space: p_filesz is the same, so
/// there is no zero fill and the mapping runs on past the end of the file, untouched (K6);
/// but it is writable (PF_W), so the kernel charges its 4 GiB against the commit limit,
/// which vm.overcommit_memory 0 (the default) grants up to RAM + swap and mode 2 may refuse. 73 is the least this
/// layout allows: the magic's `jg` lands on 71, and a program header at 12 ends at 68.
pub fn kernel_exit(status: u8) -> Payload {
    let m = machine(Platform::Amd64);
    let mut code: Vec<(usize, Insn)> = vec![(
        0,
        Insn::new(
            &[0x7f, 0x45],
            "jg target ; the magic: taken, EFLAGS is IF only",
        )
        .reads_flags(),
    )];
    let mut at = 4;
    if status != 0 {
        code.push((
            at,
            Insn::new(&[0x40, 0xb7, status], format!("mov dil, {status}")),
        ));
        at += 3;
    }
    code.push((at, Insn::new(&[0xb0, 0x3c], "mov al, 60 ; SYS_exit")));
    code.push((at + 2, Insn::new(&[0x0f, 0x05], "syscall")));
    // The jump back runs first; the listing is in execution order.
    let back = (4i64 - EXIT_LEN as i64) as u8;
    code.insert(
        1,
        (
            EXIT_LEN - 2,
            Insn::new(&[0xeb, back], "jmp target ; into e_ident"),
        ),
    );
    let mut f = Fields::new(&m);
    {
        use ehdr64::*;
        use phdr64::*;
        let ph = EXIT_PHOFF;
        let memsz = u64::from_le_bytes([0, 0, 0x38, 0, 0x01, 0, 0, 0]);
        f.put(EI_MAG0, "e_ident[EI_MAG0..=EI_MAG3]", &ELFMAG);
        f.u32(ph + P_TYPE, "p_type (= e_ident[12..16])", PT_LOAD);
        f.u16(E_TYPE, "e_type (in p_flags)", ET_DYN);
        f.u16(E_MACHINE, "e_machine (in p_flags)", m.e_machine);
        f.u32(
            ph + P_FLAGS,
            "p_flags (= e_type, e_machine)",
            u32::from(ET_DYN) | u32::from(m.e_machine) << 16,
        );
        f.u64(
            ph + P_OFFSET,
            "p_offset (= e_version, e_entry low half)",
            ph as u64,
        );
        f.u64(E_ENTRY, "e_entry", EXIT_ENTRY);
        f.u64(
            ph + P_VADDR,
            "p_vaddr (= e_entry high half, e_phoff low half)",
            EXIT_ENTRY | ph as u64,
        );
        f.u64(E_PHOFF, "e_phoff", ph as u64);
        f.u64(
            ph + P_FILESZ,
            "p_filesz (= e_shoff high half, e_flags)",
            memsz,
        );
        f.u16(E_PHENTSIZE, "e_phentsize (in p_memsz)", phdr64::SIZE as u16);
        f.u16(E_PHNUM, "e_phnum (in p_memsz)", 1);
        f.u64(ph + P_MEMSZ, "p_memsz", memsz);
        f.u64(ph + P_ALIGN, "p_align", 0);
    }
    assemble(f, code, EXIT_LEN, None, EXIT_ENTRY, 0)
}

/// The portable hello's load address: e_entry's second and third bytes are `00 eb 0c`, the
/// `adc al, 0` that e_entry's low byte (0x14, the entry offset) starts and the `jmp +12`
/// (to e_shoff) after it. Below 4 GiB, so `mov esi, imm32` reaches the message.
const PORTABLE_HELLO_BASE: u64 = 0x0ceb_0000;
/// The portable hello's message offset: p_align, the last field of the program header.
const PORTABLE_HELLO_MESSAGE: usize = 104;

/// amd64 hello, portable fit: the honest 112-byte header of `layout::portable` (e_ident
/// whole, e_ehsize and e_phentsize right, the program header at e_phnum), with the message
/// in p_align: 104 bytes + the message. The code runs through e_version, e_entry's low
/// bytes, e_shoff + e_flags and p_paddr, the fields neither Linux nor qemu-user reads (P1-P3
/// below); registers: all zero at entry (K7; qemu-user zeroes them too).
///
/// - P1: qemu-user (`load_elf_image`, 7.2) checks e_ident's class, data and version, e_type,
///   e_machine, e_ehsize and e_phentsize; e_version, e_shoff and e_flags (x86 has no ABI
///   flags) are never read; binfmt_misc matches e_ident (padding zero), e_type and
///   e_machine.
/// - P2: an ET_EXEC file maps at p_vaddr, anywhere in the user address space: e_entry's
///   bytes above the entry offset are the load address, chosen to be code.
/// - P3: p_paddr is read by no one, and p_align only for ET_DYN (K3; qemu-user 7.2 too), so
///   the message may start there.
///
/// ```text
///  0 7f 45 4c 46 02 01 01 00 00 .. 00  e_ident, honest                        (P1)
/// 16 02 00 3e 00       e_type = ET_EXEC, e_machine = EM_X86_64                  (P1)
/// 20 6a 3c             e_version             push 60 ; SYS_exit, for later <- entry (P1)
/// 22 b2 LL             e_version             mov dl, LL ; length
/// 24 14 00             e_entry               adc al, 0 ; 0x14 is the entry offset (P2)
/// 26 eb 0c             e_entry               jmp +12 ; base 0x0ceb_0000         (P2)
/// 28 00 00 00 00       e_entry
/// 32 38 00 .. 00       e_phoff = 56
/// 40 b0 01             e_shoff               mov al, 1 ; SYS_write              (P1)
/// 42 89 c7             e_shoff               mov edi, eax ; fd 1
/// 44 be AA AA AA AA    e_shoff               mov esi, message
/// 49 90                e_flags               nop                                (P1)
/// 50 eb 1c             e_flags               jmp +28 (to p_paddr)
/// 52 40 00 38 00       e_ehsize, e_phentsize                                    (P1)
/// 56 01 00 00 00       e_phnum, e_shentsize = p_type = PT_LOAD
/// 60 05 00 00 00       e_shnum, e_shstrndx = p_flags = PF_R | PF_X
/// 64 00 .. 00          p_offset = 0
/// 72 00 00 eb 0c 00 .. p_vaddr = 0x0ceb_0000                                    (P2)
/// 80 0f 05             p_paddr               syscall ; write(1, message, LL)    (P3)
/// 82 58                p_paddr               pop rax ; 60
/// 83 31 ff             p_paddr               xor edi, edi ; status 0
/// 85 0f 05             p_paddr               syscall ; exit(0)
/// 87 00                p_paddr               (never reached)
/// 88 LEN, LEN          p_filesz = p_memsz = the file's length
/// 104 message          p_align, and on                                          (P3)
/// ```
///
/// 118 bytes for "Hello, world!\n", against 126 from the planner; a message of 8 bytes or
/// fewer still pads the file to the end of the program header (112 bytes); one longer than
/// 255 bytes goes to the planner (`mov dl` holds the length).
/// The honest portable header both hand-laid portable files share: e_ident as
/// binfmt_misc matches it, ET_EXEC, e_ehsize and e_phentsize as qemu-user checks them, the
/// program header at e_phnum (P1), p_flags exactly R+X, the whole file loaded at `base`
/// (chosen so that e_entry's high bytes are code, P2).
fn portable_fields(m: &Machine, base: u64, entry: usize, file_len: usize) -> Fields {
    use ehdr64::*;
    use phdr64::*;
    let ph = E_PHNUM;
    let mut f = Fields::new(m);
    f.e_ident(m);
    f.u16(E_TYPE, "e_type", ET_EXEC);
    f.u16(E_MACHINE, "e_machine", m.e_machine);
    f.u64(
        E_ENTRY,
        "e_entry (its high bytes: code)",
        base + entry as u64,
    );
    f.u64(E_PHOFF, "e_phoff", ph as u64);
    f.u16(E_EHSIZE, "e_ehsize", ehdr64::SIZE as u16);
    f.u16(E_PHENTSIZE, "e_phentsize", phdr64::SIZE as u16);
    f.u16(E_PHNUM, "e_phnum", 1);
    f.u32(ph + P_TYPE, "p_type (= e_phnum, e_shentsize)", PT_LOAD);
    f.u32(ph + P_FLAGS, "p_flags (= e_shnum, e_shstrndx)", PF_R | PF_X);
    f.u64(ph + P_OFFSET, "p_offset", 0);
    f.u64(ph + P_VADDR, "p_vaddr", base);
    f.u64(ph + P_FILESZ, "p_filesz", file_len as u64);
    f.u64(ph + P_MEMSZ, "p_memsz", file_len as u64);
    f
}

pub fn portable_hello(message: &[u8]) -> Option<Payload> {
    let len = u8::try_from(message.len()).ok()?;
    let m = machine(Platform::Amd64);
    let base = PORTABLE_HELLO_BASE;
    let entry = ehdr64::E_VERSION;
    let msg = u32::try_from(base + PORTABLE_HELLO_MESSAGE as u64).ok()?;
    let file_len = (PORTABLE_HELLO_MESSAGE + message.len()).max(PORTABLE_HELLO_MESSAGE + 8);
    let [a0, a1, a2, a3] = msg.to_le_bytes();
    let code: Vec<(usize, Insn)> = vec![
        (
            20,
            Insn::new(&[0x6a, 0x3c], "push 60 ; SYS_exit, popped after the write"),
        ),
        (
            22,
            Insn::new(&[0xb2, len], format!("mov dl, {len} ; length")),
        ),
        (
            24,
            Insn::new(&[0x14, 0x00], "adc al, 0 ; e_entry's low bytes"),
        ),
        (
            26,
            Insn::new(
                &[0xeb, (40 - 28) as u8],
                "jmp target ; e_entry: the base's third byte",
            ),
        ),
        (40, Insn::new(&[0xb0, 0x01], "mov al, 1 ; SYS_write")),
        (42, Insn::new(&[0x89, 0xc7], "mov edi, eax ; fd 1")),
        (44, Insn::new(&[0xbe, a0, a1, a2, a3], "mov esi, message")),
        (49, Insn::new(&[0x90], "nop")),
        (
            50,
            Insn::new(&[0xeb, (80 - 52) as u8], "jmp target ; to p_paddr"),
        ),
        (80, Insn::new(&[0x0f, 0x05], "syscall ; write")),
        (82, Insn::new(&[0x58], "pop rax ; 60")),
        (83, Insn::new(&[0x31, 0xff], "xor edi, edi ; status 0")),
        (85, Insn::new(&[0x0f, 0x05], "syscall ; exit")),
    ];
    let f = portable_fields(&m, base, entry, file_len);
    Some(assemble(
        f,
        code,
        file_len,
        Some((PORTABLE_HELLO_MESSAGE, message)),
        base,
        entry,
    ))
}

/// amd64 pause, portable fit: the portable hello's header (entered at e_version, the load
/// address 0x0ceb_0000 in e_entry's bytes, P1-P3), with the code running on from p_align.
/// The same program as the planner's: it blocks SIGINT and SIGTERM, ignores SIGCHLD, waits
/// with rt_sigtimedwait and exits 0 on a signal.
///
/// ```text
/// 20 41 b2 08          e_version             mov r10b, 8 ; sigsetsize <- entry (P1)
/// 23 90                e_version             nop
/// 24 14 00             e_entry               adc al, 0 ; 0x14 is the entry offset (P2)
/// 26 eb 0c             e_entry               jmp +12 ; base 0x0ceb_0000         (P2)
/// 40 68 02 40 00 00    e_shoff               push 0x4002 ; set = {SIGINT, SIGTERM} (P1)
/// 45 54 5e             e_shoff               push rsp ; pop rsi ; rsi = &set
/// 47 b0 0e             e_shoff               mov al, 14 ; SYS_rt_sigprocmask
/// 49 90                e_flags               nop                                (P1)
/// 50 eb 1c             e_flags               jmp +28 (to p_paddr)
/// 80 0f 05             p_paddr               syscall ; rt_sigprocmask(SIG_BLOCK, &set, 0, 8) (P3)
/// 82 50 6a 01 54       p_paddr               push rax ; push 1 ; push rsp ; act = {SIG_IGN, 0}
/// 86 eb 10             p_paddr               jmp +16 (to p_align)
/// 88 LEN, LEN          p_filesz = p_memsz = the file's length
/// 104 5e               p_align               pop rsi ; rsi = &act                (P3)
///     40 b7 11 b0 0d 0f 05                   rt_sigaction(SIGCHLD, &act, 0, 8)
///     48 8d 7e 10 31 f6                      rdi = &set ; rsi = 0
///     31 c0 b0 80 0f 05 85 c0 78 f6          wait: rt_sigtimedwait, again on -EINTR
///     b0 3c 31 ff 0f 05                      exit(0)
/// ```
///
/// 134 bytes, against 137 from the planner.
pub fn portable_pause() -> Payload {
    use ehdr64::*;
    let m = machine(Platform::Amd64);
    let base = PORTABLE_HELLO_BASE;
    let entry = E_VERSION;
    let t = PORTABLE_HELLO_MESSAGE;
    let file_len = t + 30;
    let mut code: Vec<(usize, Insn)> = vec![
        (
            20,
            Insn::new(&[0x41, 0xb2, 0x08], "mov r10b, 8 ; sigsetsize"),
        ),
        (23, Insn::new(&[0x90], "nop")),
        (
            24,
            Insn::new(&[0x14, 0x00], "adc al, 0 ; e_entry's low bytes"),
        ),
        (
            26,
            Insn::new(
                &[0xeb, (40 - 28) as u8],
                "jmp target ; e_entry: the base's third byte",
            ),
        ),
        (
            40,
            Insn::new(
                &[0x68, 0x02, 0x40, 0x00, 0x00],
                "push 0x4002 ; set = {SIGINT, SIGTERM}",
            ),
        ),
        (45, Insn::new(&[0x54], "push rsp")),
        (46, Insn::new(&[0x5e], "pop rsi ; rsi = &set")),
        (
            47,
            Insn::new(&[0xb0, 0x0e], "mov al, 14 ; SYS_rt_sigprocmask"),
        ),
        (49, Insn::new(&[0x90], "nop")),
        (
            50,
            Insn::new(&[0xeb, (80 - 52) as u8], "jmp target ; to p_paddr"),
        ),
        (80, Insn::new(&[0x0f, 0x05], "syscall ; rt_sigprocmask")),
        (82, Insn::new(&[0x50], "push rax ; act.sa_flags = 0")),
        (
            83,
            Insn::new(&[0x6a, 0x01], "push 1 ; act.sa_handler = SIG_IGN"),
        ),
        (85, Insn::new(&[0x54], "push rsp")),
        (
            86,
            Insn::new(&[0xeb, (t - 88) as u8], "jmp target ; to p_align"),
        ),
        (t, Insn::new(&[0x5e], "pop rsi ; rsi = &act")),
        (
            t + 1,
            Insn::new(&[0x40, 0xb7, 0x11], "mov dil, 17 ; SIGCHLD"),
        ),
        (
            t + 4,
            Insn::new(&[0xb0, 0x0d], "mov al, 13 ; SYS_rt_sigaction"),
        ),
        (t + 6, Insn::new(&[0x0f, 0x05], "syscall")),
        (
            t + 8,
            Insn::new(&[0x48, 0x8d, 0x7e, 0x10], "lea rdi, [rsi + 16] ; &set"),
        ),
        (
            t + 12,
            Insn::new(&[0x31, 0xf6], "xor esi, esi ; no siginfo"),
        ),
    ];
    code.extend(wait_then_exit(t + 14));
    let f = portable_fields(&m, base, entry, file_len);
    assemble(f, code, file_len, None, base, entry)
}
