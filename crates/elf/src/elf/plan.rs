//! The layout planner: puts a program's instructions into the holes of a [`Layout`],
//! linking holes with a jump (or a skip over the fixed bytes between them), places the data,
//! then resolves addresses and writes the header fields.

use super::layout::{Entry, Layout};
use super::BuildError;
use crate::arch::{Code, Fixup, Insn, Isa, Target};

/// An instruction at its place in the file.
#[derive(Clone, Debug)]
pub struct Placed {
    pub offset: usize,
    pub insn: Insn,
}

/// A finished executable and how it was laid out.
#[derive(Clone, Debug)]
pub struct Payload {
    /// The file.
    pub bytes: Vec<u8>,
    /// Virtual address of file offset 0.
    pub base: u64,
    /// File offset of the entry point.
    pub entry: usize,
    /// e_entry: the entry point's address, with any mode bits (Thumb's bit 0).
    pub entry_address: u64,
    /// Every instruction, in execution order, with the jumps the planner added.
    pub code: Vec<Placed>,
    /// File offset of the data (the message of `hello`), if any.
    pub data: Option<usize>,
}

pub fn plan(layout: Layout, isa: &dyn Isa, code: Code) -> Result<Payload, BuildError> {
    let mut holes = layout.holes();
    let header_len = layout.header_len();

    // Data that fits a hole whole goes into the smallest such hole (not the one a prefixed
    // entry point runs into); otherwise after the code.
    let entry_hole = match layout.entry() {
        Entry::Prefixed { code, .. } => Some(code),
        Entry::Free => None,
    };
    let data_align = isa.data_align();
    let mut data_at = None;
    if !code.data.is_empty() && isa.data_in_holes() {
        let room =
            |h: &std::ops::Range<usize>| h.end.saturating_sub(h.start.next_multiple_of(data_align));
        let best = holes
            .iter()
            .enumerate()
            .filter(|(_, h)| Some(h.start) != entry_hole)
            .filter(|(_, h)| h.end != usize::MAX && room(h) >= code.data.len())
            .min_by_key(|(_, h)| room(h))
            .map(|(i, _)| i);
        if let Some(i) = best {
            let at = holes[i].start.next_multiple_of(data_align);
            data_at = Some(at);
            holes[i].start = at + code.data.len();
        }
    }

    let jump_len = isa.jump(Target::Data).len();
    let align = isa.align();
    let start = |hole: &std::ops::Range<usize>| hole.start.next_multiple_of(align);
    let mut placed: Vec<Placed> = Vec::new();
    let (mut h, prefix) = match layout.entry() {
        // Start in the first hole the first instruction fits (with room to leave it).
        Entry::Free => {
            let first = code.insns.first().expect("a program has instructions");
            let i = holes
                .iter()
                .position(|r| fits(r, align, first, code.insns.len() == 1, jump_len))
                .expect("the last hole is unbounded");
            (i, None)
        }
        Entry::Prefixed { offset, code: at } => {
            let i = holes
                .iter()
                .position(|r| r.start == at)
                .expect("layout: prefixed entry runs into a hole");
            (i, Some(offset..at))
        }
    };
    let mut pos = start(&holes[h]);
    let n = code.insns.len();
    for (i, insn) in code.insns.iter().enumerate() {
        // Room this instruction needs in the current hole: itself, plus a way out unless
        // nothing follows it.
        // Skipping into the next hole is cheaper than a jump, but only helps if the next
        // instruction fits there.
        let exit_cost = |h: usize, next: Option<&Insn>| -> usize {
            match (transition(isa, &holes, h, next), next) {
                (Some(skip), Some(next))
                    if fits(&holes[h + 1], align, next, i + 2 == n, jump_len) =>
                {
                    skip.len()
                }
                _ => jump_len,
            }
        };
        let next = code.insns.get(i + 1);
        loop {
            let hole = &holes[h];
            let reserve = if i + 1 == n { 0 } else { exit_cost(h, next) };
            if hole.end == usize::MAX || pos + insn.len() + reserve <= hole.end {
                break;
            }
            // Leave this hole: skip into the next one when the bytes between them are an
            // operand-sized run, else jump to the next hole that can take this instruction.
            if let Some(skip) = transition(isa, &holes, h, Some(insn)) {
                let at = holes[h].end - skip.len();
                if pos <= at && fits(&holes[h + 1], align, insn, i + 1 == n, jump_len) {
                    while pos < at {
                        placed.push(Placed {
                            offset: pos,
                            insn: isa.nop(),
                        });
                        pos += 1;
                    }
                    placed.push(Placed {
                        offset: at,
                        insn: skip,
                    });
                    h += 1;
                    pos = start(&holes[h]);
                    continue;
                }
            }
            let to = (h + 1..holes.len())
                .find(|&j| fits(&holes[j], align, insn, i + 1 == n, jump_len))
                .expect("the last hole is unbounded");
            if pos + jump_len > holes[h].end {
                return Err(BuildError::Layout(format!(
                    "no room for a jump at byte {pos} of the {} {:?} layout",
                    layout.platform, layout.fit
                )));
            }
            let label = 0xff - h as u8;
            placed.push(Placed {
                offset: pos,
                insn: isa.jump(Target::Label(label)),
            });
            h = to;
            pos = start(&holes[h]);
            // Mark the first instruction of the new hole as the jump's target.
            placed.push(Placed {
                offset: pos,
                insn: Insn::new(&[], "").label(label),
            });
        }
        placed.push(Placed {
            offset: pos,
            insn: insn.clone(),
        });
        pos += insn.len();
    }
    placed.retain(|p| !p.insn.is_empty() || p.insn.label.is_some());

    let code_end = placed
        .iter()
        .map(|p| p.offset + p.insn.len())
        .max()
        .unwrap_or(header_len);
    let data_at = match data_at {
        Some(at) => at,
        // Aligned only for data something points at (pause has none to align).
        None if code.data.is_empty() && !refers_to_data(&code) => code_end.max(header_len),
        None => code_end.max(header_len).next_multiple_of(data_align),
    };
    let file_len = (data_at + code.data.len()).max(code_end).max(header_len);

    let entry = match &prefix {
        Some(prefix) => prefix.start,
        None => placed.first().map_or(header_len, |p| p.offset),
    };
    let base = layout.base(file_len);

    let mut bytes = vec![0u8; file_len];
    layout
        .fields(entry, isa.entry_bits(), file_len)
        .write(&mut bytes);
    if !code.data.is_empty() {
        bytes[data_at..data_at + code.data.len()].copy_from_slice(&code.data);
    }
    let labels: Vec<(u8, usize)> = placed
        .iter()
        .filter_map(|p| Some((p.insn.label?, p.offset)))
        .collect();
    let label_at = |label: u8| -> usize {
        labels
            .iter()
            .find(|(l, _)| *l == label)
            .map(|&(_, at)| at)
            .expect("jump to a label no instruction carries")
    };
    for p in &mut placed {
        if let Some(fixup) = p.insn.fixup {
            let target = |t: Target| -> u64 {
                base + match t {
                    Target::Data => data_at,
                    Target::Label(l) => label_at(l),
                } as u64
            };
            let end = base + (p.offset + p.insn.len()) as u64;
            match fixup {
                Fixup::Abs32 { at, target: t } => {
                    let v = u32::try_from(target(t))
                        .map_err(|_| BuildError::Layout("32-bit address above 4 GiB".into()))?;
                    p.insn.bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
                }
                Fixup::Rel32 { at, target: t } => {
                    let v = i32::try_from(target(t) as i64 - end as i64)
                        .map_err(|_| BuildError::Layout("rel32 out of range".into()))?;
                    p.insn.bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
                }
                Fixup::Rel8 { at, target: t } => {
                    let v = i8::try_from(target(t) as i64 - end as i64)
                        .map_err(|_| BuildError::Layout("short jump out of range".into()))?;
                    p.insn.bytes[at] = v as u8;
                }
                Fixup::Encode { target: t, encode } => {
                    let pc = base + p.offset as u64;
                    encode(&mut p.insn.bytes, pc, target(t)).map_err(|e| {
                        BuildError::Layout(format!("`{}` at {pc:#x}: {e}", p.insn.asm))
                    })?;
                }
            }
        }
        bytes[p.offset..p.offset + p.insn.len()].copy_from_slice(&p.insn.bytes);
    }
    placed.retain(|p| !p.insn.is_empty());

    if let Some(prefix) = &prefix {
        let first = placed.first().expect("a program has instructions");
        if !isa.tolerates_prefix(&first.insn, &bytes[prefix.clone()]) {
            return Err(BuildError::Layout(format!(
                "`{}` cannot follow the prefix bytes at the entry point",
                first.insn.asm
            )));
        }
    }

    if let Some(min) = layout.trim_to() {
        while bytes.len() > min && bytes.last() == Some(&0) {
            bytes.pop();
        }
    }

    Ok(Payload {
        bytes,
        base,
        entry,
        entry_address: (base + entry as u64) | isa.entry_bits(),
        code: placed,
        data: (!code.data.is_empty()).then_some(data_at),
    })
}

/// Whether an instruction's fixup targets the data.
fn refers_to_data(code: &Code) -> bool {
    code.insns.iter().any(|i| {
        matches!(
            i.fixup,
            Some(
                Fixup::Abs32 {
                    target: Target::Data,
                    ..
                } | Fixup::Rel32 {
                    target: Target::Data,
                    ..
                } | Fixup::Rel8 {
                    target: Target::Data,
                    ..
                } | Fixup::Encode {
                    target: Target::Data,
                    ..
                }
            )
        )
    })
}

/// The skip instruction that leads from hole `h` straight into hole `h + 1`, if the fixed
/// bytes between them are exactly its operand and `next` does not read the flags it changes.
fn transition(
    isa: &dyn Isa,
    holes: &[std::ops::Range<usize>],
    h: usize,
    next: Option<&Insn>,
) -> Option<Insn> {
    let following = holes.get(h + 1)?;
    if next.is_some_and(|n| n.reads_flags) {
        return None;
    }
    isa.skip(following.start - holes[h].end)
}

/// Whether `insn` (and a jump after it, unless it is the last) fits `hole`.
fn fits(
    hole: &std::ops::Range<usize>,
    align: usize,
    insn: &Insn,
    last: bool,
    jump_len: usize,
) -> bool {
    let begin = hole.start.next_multiple_of(align);
    hole.end == usize::MAX || begin + insn.len() + if last { 0 } else { jump_len } <= hole.end
}
