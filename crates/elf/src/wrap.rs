//! `smidge wrap`: the user's own machine code (e.g. `nasm -f bin` output) under the
//! smallest ELF header of a platform and [`Fit`].
//!
//! The code is opaque and position-dependent, so it goes in whole, contiguous and unchanged,
//! right where the header's fixed fields end (sharing the last header bytes the loaders
//! ignore, such as `p_align`), at an address that depends only on the platform and the fit,
//! never on the code: assemble with `org` set to [`base`] (`smidge wrap --print-base`) and
//! the code can address its own data absolutely.
//!
//! | platform      | fit      | code address (`org`) | code's file offset = ELF bytes added | smallest file |
//! |---------------|----------|----------------------|--------------------------------------|---------------|
//! | linux/amd64   | portable | `0x10068`            | 104                                  | 112           |
//! | linux/amd64   | kernel   | `0x500000048`        | 72                                   | 80            |
//! | linux/386     | portable | `0x20003c`           | 60                                   | 64            |
//! | linux/386     | kernel   | `0x1002e`            | 46                                   | 46            |
//! | linux/arm64   | both     | `0x10068`            | 104                                  | 112           |
//! | linux/arm/v7  | both     | `0x10048`            | 72                                   | 76            |
//! | linux/riscv64 | both     | `0x10068`            | 104                                  | 112           |
//! | linux/ppc64le | both     | `0x10068`            | 104                                  | 112           |
//! | linux/s390x   | both     | `0x1006e`            | 110                                  | 118           |
//!
//! These addresses are part of smidge's interface: a test pins them. The wrapped file is
//! the header bytes above plus the code, nothing after it, and at least the smallest file
//! (code shorter than the header bytes it shares with the program header is padded with
//! zeros). The x86 kernel fits also drop trailing zero bytes of the code that the loader's
//! zero-filled last page gives back. The addresses are 4-byte aligned except for 386 kernel
//! and s390x (2-byte aligned): code that needs more alignment pads itself.
//!
//! Execution starts at the code address plus [`WrapOptions::entry`], with the registers as
//! the kernel leaves them at an ELF entry point. On linux/amd64 with the kernel fit e_entry
//! is fixed at `0x500000001` (the header's "ELF" runs as prefixes into byte 4), and a jump
//! there leads to the entry; on linux/arm/v7 an odd entry offset starts in Thumb state.
//!
//! [`WrapOptions::bss`] adds zero-filled bytes right after the code (p_memsz > p_filesz)
//! and makes the segment writable (PF_W); without it the segment is read-only (read and
//! execute). The golfed x86 kernel-fit headers cannot do that (their p_flags and
//! p_filesz/p_memsz are other fields too), so there `--bss` is an error that points to the
//! portable fit.
//!
//! ```
//! use smidge_elf::wrap::{self, WrapOptions};
//! use smidge_elf::{Fit, Platform};
//!
//! # fn main() -> Result<(), smidge_elf::wrap::WrapError> {
//! // mov edi, 7 ; mov eax, 60 ; syscall   (exit(7), linux/amd64)
//! let code = [0xbf, 7, 0, 0, 0, 0xb8, 60, 0, 0, 0, 0x0f, 0x05];
//! let w = wrap::wrap(&code, Platform::Amd64, Fit::Kernel, WrapOptions::default())?;
//! assert_eq!(w.base, wrap::base(Platform::Amd64, Fit::Kernel));
//! assert_eq!(w.base, 0x5_0000_0048);
//! assert_eq!(w.bytes.len(), 72 + code.len());
//! # Ok(())
//! # }
//! ```

use crate::elf::layout::{Entry, Layout, Segment};
use crate::{Fit, Platform};
use std::ops::Range;

/// The most `--bss` zero-fills: 64 MiB.
pub const MAX_BSS: u64 = 64 << 20;

/// The most code smidge wraps (the linux/386 kernel fit takes less, see [`max_code`]).
pub const MAX_CODE: usize = 1 << 30;

/// Where execution starts and how much zero-filled memory follows the code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WrapOptions {
    /// Offset of the entry point in the code (`--entry`); 0 = its first byte.
    pub entry: usize,
    /// Zero-filled, writable bytes right after the code (`--bss`), at most [`MAX_BSS`].
    pub bss: u64,
}

/// A wrapped executable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wrapped {
    /// The ELF file.
    pub bytes: Vec<u8>,
    /// Load address of the code's first byte: what `--print-base` prints and the code's
    /// `org`. Always [`base`] of the platform and fit.
    pub base: u64,
    /// File offset of the code's first byte.
    pub offset: usize,
    /// Address where the code starts running: `base + entry`.
    pub entry: u64,
    /// e_entry as written; equals `entry` except on linux/amd64 with the kernel fit, where
    /// it is `0x500000001` and a jump leads to `entry`.
    pub e_entry: u64,
    /// The zero-filled addresses after the code (empty without `--bss`).
    pub bss: Range<u64>,
}

/// Why code cannot be wrapped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WrapError {
    #[error("the code is empty: nothing to wrap")]
    EmptyCode,
    #[error("entry offset {entry} is outside the {len}-byte code")]
    EntryOutOfRange { entry: usize, len: usize },
    #[error(
        "entry offset {entry} is not a multiple of {align}: {platform} instructions start at \
         {align}-byte boundaries"
    )]
    EntryMisaligned {
        entry: usize,
        align: usize,
        platform: Platform,
    },
    #[error("--bss {bss} is more than the {max} bytes (64 MiB) smidge zero-fills", max = MAX_BSS)]
    BssTooLarge { bss: u64 },
    #[error(
        "the {platform} {fit} header cannot zero-fill memory or make it writable (its p_flags \
         and segment sizes are other header fields); use --fit portable for --bss"
    )]
    BssUnsupported { platform: Platform, fit: Fit },
    #[error("{len} bytes of code do not fit the {platform} {fit} layout: at most {max} bytes")]
    CodeTooLarge {
        len: usize,
        max: usize,
        platform: Platform,
        fit: Fit,
    },
}

/// The file offset of the code's first byte: where the last hole of the layout (the one
/// that runs on past the headers) starts, at an instruction boundary.
fn code_offset(layout: &Layout, platform: Platform) -> usize {
    let last = layout
        .holes()
        .pop()
        .expect("a layout has a hole after its headers");
    last.start.next_multiple_of(instruction_align(platform))
}

/// Where instructions of `platform` may start (the user's, not smidge's own: 32-bit ARM
/// code is A32 unless entered in Thumb state, through an odd entry offset).
pub fn instruction_align(platform: Platform) -> usize {
    match platform {
        Platform::Amd64 | Platform::I386 => 1,
        Platform::Riscv64 | Platform::S390x => 2,
        Platform::Arm64 | Platform::ArmV7 | Platform::Ppc64le => 4,
    }
}

/// The load address of wrapped code's first byte on `platform` in `fit` (`--print-base`):
/// assemble the code with this `org`. See the table in the [module docs](self).
pub fn base(platform: Platform, fit: Fit) -> u64 {
    let layout = Layout::new(platform, fit);
    let offset = code_offset(&layout, platform);
    layout.base(offset) + offset as u64
}

/// The most bytes of code `platform` and `fit` take: the linux/386 kernel fit's p_memsz is
/// its e_entry, so its file must end below the entry address (0x10000 + 46 plus the
/// entry offset); everywhere else [`MAX_CODE`].
pub fn max_code(platform: Platform, fit: Fit) -> usize {
    let layout = Layout::new(platform, fit);
    let offset = code_offset(&layout, platform);
    let base = layout.base(offset);
    // The largest file for which the layout still loads at the same address.
    if layout.base(offset + MAX_CODE) == base {
        MAX_CODE
    } else {
        let mut lo = offset; // base(lo) == base
        let mut hi = offset + MAX_CODE; // base(hi) != base
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if layout.base(mid) == base {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo - offset
    }
}

/// Puts `code` under the smallest ELF header of `platform` and `fit`, at [`base`], entered
/// at `options.entry`, followed by `options.bss` zero-filled bytes.
pub fn wrap(
    code: &[u8],
    platform: Platform,
    fit: Fit,
    options: WrapOptions,
) -> Result<Wrapped, WrapError> {
    let len = code.len();
    if len == 0 {
        return Err(WrapError::EmptyCode);
    }
    let max = max_code(platform, fit);
    if len > max {
        return Err(WrapError::CodeTooLarge {
            len,
            max,
            platform,
            fit,
        });
    }
    let entry = options.entry;
    if entry >= len {
        return Err(WrapError::EntryOutOfRange { entry, len });
    }
    let align = instruction_align(platform);
    // ARM: an odd address is Thumb code (at the even address below it).
    let thumb = platform == Platform::ArmV7 && !entry.is_multiple_of(2);
    if !entry.is_multiple_of(align) && !thumb {
        return Err(WrapError::EntryMisaligned {
            entry,
            align,
            platform,
        });
    }
    if options.bss > MAX_BSS {
        return Err(WrapError::BssTooLarge { bss: options.bss });
    }
    let layout = Layout::new(platform, fit);
    if options.bss > 0 && !layout.zero_fill() {
        return Err(WrapError::BssUnsupported { platform, fit });
    }

    let offset = code_offset(&layout, platform);
    // The program header must be whole even when the code is shorter than the bytes it
    // shares with it.
    let file_len = (offset + len).max(layout.header_len());
    let load = layout.base(file_len);
    debug_assert_eq!(load + offset as u64, base(platform, fit));
    let segment = Segment {
        bss: options.bss,
        writable: options.bss > 0,
    };
    let (e_entry_offset, jump) = match layout.entry() {
        Entry::Free => (offset + entry, None),
        // e_entry is fixed and runs into the first instruction at `code`: make that a jump.
        Entry::Prefixed { offset: at, code } => (at, Some(code)),
    };
    let mut bytes = vec![0u8; file_len];
    layout
        .fields_with(e_entry_offset, 0, file_len, segment)
        .write(&mut bytes);
    if let Some(at) = jump {
        let jump = x86_jump(at, offset + entry);
        debug_assert!(bytes[at..at + jump.len()].iter().all(|&b| b == 0));
        bytes[at..at + jump.len()].copy_from_slice(&jump);
    }
    debug_assert!(bytes[offset..].iter().all(|&b| b == 0));
    bytes[offset..offset + len].copy_from_slice(code);

    // Trailing zeros come back from the zero-filled rest of the file's last page (only
    // where the layout allows trimming, and only within that page: a whole page past the
    // end of the file would not read as zeros but fault).
    if let Some(min) = layout.trim_to() {
        let last_page = (file_len - 1) & !(PAGE - 1);
        let min = min.max(last_page + 1);
        while bytes.len() > min && bytes.last() == Some(&0) {
            bytes.pop();
        }
    }

    let base = load + offset as u64;
    let end = base + len as u64;
    Ok(Wrapped {
        bytes,
        base,
        offset,
        entry: base + entry as u64,
        e_entry: load + e_entry_offset as u64,
        bss: end..end + options.bss,
    })
}

/// The smallest page size of the platforms whose layouts trim (x86).
const PAGE: usize = 4096;

/// An x86 `jmp` at file offset `at` to file offset `to`: `jmp short` (EB cb) when it
/// reaches, else `jmp near` (E9 cd). On amd64 it follows the header's "ELF" bytes, which
/// decode as REX prefixes a jump ignores (its operand size is fixed at 64 bits).
fn x86_jump(at: usize, to: usize) -> Vec<u8> {
    let rel8 = to as i64 - (at as i64 + 2);
    match i8::try_from(rel8) {
        Ok(r) => vec![0xeb, r as u8],
        Err(_) => {
            let rel32 = i32::try_from(to as i64 - (at as i64 + 5)).expect("within the file");
            let mut j = vec![0xe9];
            j.extend_from_slice(&rel32.to_le_bytes());
            j
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented code addresses (module docs): a change breaks users' `org`.
    const BASES: [(Platform, Fit, u64, usize); 14] = [
        (Platform::Amd64, Fit::Portable, 0x1_0068, 104),
        (Platform::Amd64, Fit::Kernel, 0x5_0000_0048, 72),
        (Platform::I386, Fit::Portable, 0x20_003c, 60),
        (Platform::I386, Fit::Kernel, 0x1_002e, 46),
        (Platform::Arm64, Fit::Portable, 0x1_0068, 104),
        (Platform::Arm64, Fit::Kernel, 0x1_0068, 104),
        (Platform::ArmV7, Fit::Portable, 0x1_0048, 72),
        (Platform::ArmV7, Fit::Kernel, 0x1_0048, 72),
        (Platform::Riscv64, Fit::Portable, 0x1_0068, 104),
        (Platform::Riscv64, Fit::Kernel, 0x1_0068, 104),
        (Platform::Ppc64le, Fit::Portable, 0x1_0068, 104),
        (Platform::Ppc64le, Fit::Kernel, 0x1_0068, 104),
        (Platform::S390x, Fit::Portable, 0x1_006e, 110),
        (Platform::S390x, Fit::Kernel, 0x1_006e, 110),
    ];

    #[test]
    fn bases_are_the_documented_ones() {
        for (platform, fit, address, offset) in BASES {
            assert_eq!(base(platform, fit), address, "{platform} {fit}");
            for len in [1, 4, 100, 5000] {
                let code = vec![0xccu8; len];
                let w = wrap(&code, platform, fit, WrapOptions::default()).unwrap();
                assert_eq!(w.base, address, "{platform} {fit} {len}");
                assert_eq!(w.offset, offset, "{platform} {fit}");
                let header = Layout::new(platform, fit).header_len();
                assert_eq!(w.bytes.len(), (offset + len).max(header));
                assert_eq!(&w.bytes[offset..offset + len], &code[..]);
            }
        }
    }

    #[test]
    fn entry_is_e_entry_except_amd64_kernel() {
        for (platform, fit, address, _) in BASES {
            let code = [0u8; 16];
            let options = WrapOptions { entry: 8, bss: 0 };
            let w = wrap(&code, platform, fit, options).unwrap();
            assert_eq!(w.entry, address + 8);
            if (platform, fit) == (Platform::Amd64, Fit::Kernel) {
                assert_eq!(w.e_entry, 0x5_0000_0001);
            } else {
                assert_eq!(w.e_entry, w.entry, "{platform} {fit}");
            }
        }
    }

    #[test]
    fn amd64_kernel_jumps_from_byte_4() {
        let code = vec![0x90u8; 300];
        for (entry, jump) in [
            (0, vec![0xeb, 66]),
            (61, vec![0xeb, 127]),
            (62, vec![0xe9, 62 + 72 - 9, 0, 0, 0]),
            (299, vec![0xe9, 0x6a, 0x01, 0, 0]),
        ] {
            let w = wrap(
                &code,
                Platform::Amd64,
                Fit::Kernel,
                WrapOptions { entry, bss: 0 },
            )
            .unwrap();
            assert_eq!(&w.bytes[4..4 + jump.len()], &jump[..], "entry {entry}");
            assert_eq!(&w.bytes[1..4], b"ELF");
        }
    }

    #[test]
    fn bss_sets_memsz_and_pf_w() {
        // linux/386 portable: p_filesz at 48, p_memsz at 52, p_flags at 56 (program header
        // at 32, p_offset 0x34).
        let code = [0x90u8; 10];
        let w = wrap(
            &code,
            Platform::I386,
            Fit::Portable,
            WrapOptions {
                entry: 0,
                bss: 4096,
            },
        )
        .unwrap();
        let u32_at = |at: usize| u32::from_le_bytes(w.bytes[at..at + 4].try_into().unwrap());
        assert_eq!(u32_at(48), 70 - 0x34);
        assert_eq!(u32_at(52), 70 - 0x34 + 4096);
        assert_eq!(u32_at(56), 7);
        assert_eq!(w.bss, 0x20_0046..0x20_0046 + 4096);
        // Without --bss: read and execute only, p_memsz = p_filesz.
        let w = wrap(&code, Platform::I386, Fit::Portable, WrapOptions::default()).unwrap();
        let u32_at = |at: usize| u32::from_le_bytes(w.bytes[at..at + 4].try_into().unwrap());
        assert_eq!((u32_at(52), u32_at(56)), (70 - 0x34, 5));
        assert!(w.bss.is_empty());
    }

    #[test]
    fn errors() {
        let p = Platform::Amd64;
        let f = Fit::Portable;
        let o = WrapOptions::default();
        assert_eq!(wrap(&[], p, f, o), Err(WrapError::EmptyCode));
        assert_eq!(
            wrap(&[0x90; 4], p, f, WrapOptions { entry: 4, bss: 0 }),
            Err(WrapError::EntryOutOfRange { entry: 4, len: 4 })
        );
        assert_eq!(
            wrap(
                &[0; 8],
                Platform::Arm64,
                f,
                WrapOptions { entry: 2, bss: 0 }
            ),
            Err(WrapError::EntryMisaligned {
                entry: 2,
                align: 4,
                platform: Platform::Arm64
            })
        );
        // Thumb: an odd entry on arm/v7.
        assert!(wrap(
            &[0; 8],
            Platform::ArmV7,
            f,
            WrapOptions { entry: 3, bss: 0 }
        )
        .is_ok());
        assert_eq!(
            wrap(
                &[0x90],
                p,
                f,
                WrapOptions {
                    entry: 0,
                    bss: MAX_BSS + 1
                }
            ),
            Err(WrapError::BssTooLarge { bss: MAX_BSS + 1 })
        );
        assert!(wrap(
            &[0x90],
            p,
            f,
            WrapOptions {
                entry: 0,
                bss: MAX_BSS
            }
        )
        .is_ok());
        for platform in [Platform::Amd64, Platform::I386] {
            assert_eq!(
                wrap(
                    &[0x90],
                    platform,
                    Fit::Kernel,
                    WrapOptions { entry: 0, bss: 1 }
                ),
                Err(WrapError::BssUnsupported {
                    platform,
                    fit: Fit::Kernel
                })
            );
        }
        assert_eq!(max_code(Platform::I386, Fit::Kernel), 0x1_0000 - 46);
        assert_eq!(max_code(Platform::Amd64, Fit::Kernel), MAX_CODE);
        let big = vec![0x90; 0x1_0000 - 45];
        assert_eq!(
            wrap(&big, Platform::I386, Fit::Kernel, o),
            Err(WrapError::CodeTooLarge {
                len: big.len(),
                max: 0x1_0000 - 46,
                platform: Platform::I386,
                fit: Fit::Kernel
            })
        );
        assert!(wrap(&big[1..], Platform::I386, Fit::Kernel, o).is_ok());
    }

    #[test]
    fn trims_trailing_zeros_only_within_the_last_page() {
        let mut code = vec![0x90u8; 10];
        code.extend([0; 20]);
        let w = wrap(&code, Platform::Amd64, Fit::Kernel, WrapOptions::default()).unwrap();
        assert_eq!(w.bytes.len(), 72 + 10);
        // 10 bytes of code, then zeros past the next page boundary: the page that holds the
        // end of the file must stay, down to its first byte.
        let mut code = vec![0x90u8; 10];
        code.resize(10_000, 0);
        let w = wrap(&code, Platform::Amd64, Fit::Kernel, WrapOptions::default()).unwrap();
        assert_eq!(w.bytes.len(), 8192 + 1);
        // The portable fit never trims (p_filesz is exact).
        let w = wrap(
            &code,
            Platform::Amd64,
            Fit::Portable,
            WrapOptions::default(),
        )
        .unwrap();
        assert_eq!(w.bytes.len(), 104 + 10_000);
    }
}
