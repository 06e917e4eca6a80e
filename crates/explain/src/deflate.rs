//! DEFLATE streams (RFC 1951) walked block by block: a small inflater that records, for
//! every block, where it starts and ends (in bits: blocks start and end mid-byte), its
//! type, BFINAL, and which bytes of the output it produces. No crate reports block
//! boundaries, so this one decodes the stream itself (puff's canonical-code decoding:
//! slow and simple). The output is bounded; a malformed stream is an error saying where,
//! never a panic.

/// The three block types (BTYPE 00, 01, 10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlockType {
    Stored,
    Fixed,
    Dynamic,
}

impl BlockType {
    pub fn name(self) -> &'static str {
        match self {
            BlockType::Stored => "stored",
            BlockType::Fixed => "fixed Huffman",
            BlockType::Dynamic => "dynamic Huffman",
        }
    }
}

/// One block: bits `start_bit..end_bit` of the stream (bit 0 is the low bit of its first
/// byte), producing bytes `out_start..out_end` of the output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Block {
    pub start_bit: u64,
    pub end_bit: u64,
    pub btype: BlockType,
    pub last: bool,
    pub out_start: u64,
    pub out_end: u64,
}

impl Block {
    pub fn bits(&self) -> u64 {
        self.end_bit - self.start_bit
    }
}

/// A stream inflated: its blocks, what they decode to, and how many bytes the stream
/// takes (its last byte is partly padding up to the byte boundary).
#[derive(Debug)]
pub(crate) struct Inflated {
    pub blocks: Vec<Block>,
    pub out: Vec<u8>,
    pub end_bit: u64,
}

impl Inflated {
    /// The bytes the stream takes, its last partial byte included.
    pub fn len(&self) -> u64 {
        self.end_bit.div_ceil(8)
    }
}

struct Bits<'a> {
    data: &'a [u8],
    pos: u64,
    /// Where `data` starts in the file, for messages.
    base: u64,
}

impl Bits<'_> {
    fn bit(&mut self) -> Result<u32, String> {
        let byte = usize::try_from(self.pos / 8)
            .ok()
            .and_then(|i| self.data.get(i))
            .ok_or_else(|| {
                format!(
                    "the DEFLATE stream is truncated: it ends at byte {} in the middle of a block",
                    self.base + self.data.len() as u64
                )
            })?;
        let b = (byte >> (self.pos % 8)) & 1;
        self.pos += 1;
        Ok(u32::from(b))
    }

    /// `n` bits (at most 16), the first read the lowest.
    fn bits(&mut self, n: u32) -> Result<u32, String> {
        let mut v = 0;
        for i in 0..n {
            v |= self.bit()? << i;
        }
        Ok(v)
    }

    fn at(&self) -> String {
        format!("byte {} (bit {})", self.base + self.pos / 8, self.pos % 8)
    }
}

/// A canonical Huffman code: how many codes of each length, and the symbols in order.
struct Huffman {
    counts: [u16; 16],
    symbols: Vec<u16>,
}

impl Huffman {
    /// The code of `lengths` (0 = symbol unused); an over-subscribed set is an error,
    /// an incomplete one is allowed (a code it lacks is an error when read).
    fn new(lengths: &[u8]) -> Result<Huffman, String> {
        let mut counts = [0u16; 16];
        for &l in lengths {
            counts[usize::from(l)] += 1;
        }
        let mut left: i32 = 1;
        for &c in &counts[1..] {
            left = left * 2 - i32::from(c);
            if left < 0 {
                return Err("over-subscribed Huffman code lengths".into());
            }
        }
        let mut offs = [0u16; 16];
        for len in 1..15 {
            offs[len + 1] = offs[len] + counts[len];
        }
        let mut symbols = vec![0u16; lengths.len()];
        for (sym, &l) in lengths.iter().enumerate() {
            if l != 0 {
                symbols[usize::from(offs[usize::from(l)])] = sym as u16;
                offs[usize::from(l)] += 1;
            }
        }
        counts[0] = 0;
        Ok(Huffman { counts, symbols })
    }

    fn decode(&self, bits: &mut Bits) -> Result<u16, String> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= bits.bit()? as i32;
            let count = i32::from(self.counts[len]);
            if code - first < count {
                return Ok(self.symbols[(index + code - first) as usize]);
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err(format!("a Huffman code no table has, at {}", bits.at()))
    }
}

// RFC 1951's tables, from the encoder smidge writes with.
use smidge_deflate::{CL_ORDER, DIST_BASE, DIST_EXTRA, LEN_BASE, LEN_EXTRA};

/// The output, which never holds (or reserves) more than `max` bytes.
struct Out {
    bytes: Vec<u8>,
    max: u64,
}

impl Out {
    fn room(&mut self, n: usize) -> Result<(), String> {
        let want = self.bytes.len() as u64 + n as u64;
        if want > self.max {
            return Err(format!(
                "the DEFLATE stream decodes to more than {} bytes, the most explain reads",
                crate::archive::thousands(self.max)
            ));
        }
        if self.bytes.capacity() < want as usize {
            let grow = (self.bytes.capacity().max(n).max(1 << 12) as u64)
                .min(self.max - self.bytes.len() as u64);
            self.bytes.reserve_exact(grow as usize);
        }
        Ok(())
    }
}

/// Inflates the DEFLATE stream at the start of `data` (which may go on past it), to at
/// most `max` bytes. `base` is where `data` starts in the file, for messages.
pub(crate) fn inflate(data: &[u8], base: u64, max: u64) -> Result<Inflated, String> {
    let mut bits = Bits { data, pos: 0, base };
    let mut out = Out {
        bytes: Vec::new(),
        max,
    };
    let mut blocks = Vec::new();
    loop {
        let start_bit = bits.pos;
        let out_start = out.bytes.len() as u64;
        let last = bits.bit()? == 1;
        let btype = match bits.bits(2)? {
            0 => BlockType::Stored,
            1 => BlockType::Fixed,
            2 => BlockType::Dynamic,
            _ => {
                return Err(format!(
                    "block {} at byte {} has BTYPE 11, which RFC 1951 reserves",
                    blocks.len(),
                    base + start_bit / 8
                ))
            }
        };
        let within = |e: String| format!("block {} ({}): {e}", blocks.len(), btype.name());
        match btype {
            BlockType::Stored => stored(&mut bits, &mut out).map_err(within)?,
            BlockType::Fixed => {
                let mut lengths = [0u8; 288];
                lengths[..144].fill(8);
                lengths[144..256].fill(9);
                lengths[256..280].fill(7);
                lengths[280..].fill(8);
                let lit = Huffman::new(&lengths).map_err(within)?;
                let dist = Huffman::new(&[5u8; 30]).map_err(within)?;
                codes(&mut bits, &mut out, &lit, &dist).map_err(within)?
            }
            BlockType::Dynamic => {
                let (lit, dist) = dynamic_tables(&mut bits).map_err(within)?;
                codes(&mut bits, &mut out, &lit, &dist).map_err(within)?
            }
        }
        blocks.push(Block {
            start_bit,
            end_bit: bits.pos,
            btype,
            last,
            out_start,
            out_end: out.bytes.len() as u64,
        });
        if last {
            break;
        }
    }
    Ok(Inflated {
        blocks,
        out: out.bytes,
        end_bit: bits.pos,
    })
}

fn stored(bits: &mut Bits, out: &mut Out) -> Result<(), String> {
    bits.pos = bits.pos.div_ceil(8) * 8;
    let len = bits.bits(16)?;
    let nlen = bits.bits(16)?;
    if len != !nlen & 0xffff {
        return Err(format!(
            "LEN {len} and NLEN {nlen} do not complement each other (before {})",
            bits.at()
        ));
    }
    let from = (bits.pos / 8) as usize;
    let chunk = bits.data.get(from..from + len as usize).ok_or_else(|| {
        format!(
            "the DEFLATE stream is truncated: a stored block of {len} bytes at byte {} runs \
                 past its end (byte {})",
            bits.base + from as u64,
            bits.base + bits.data.len() as u64
        )
    })?;
    out.room(chunk.len())?;
    out.bytes.extend_from_slice(chunk);
    bits.pos += u64::from(len) * 8;
    Ok(())
}

fn dynamic_tables(bits: &mut Bits) -> Result<(Huffman, Huffman), String> {
    let hlit = bits.bits(5)? as usize + 257;
    let hdist = bits.bits(5)? as usize + 1;
    let hclen = bits.bits(4)? as usize + 4;
    if hlit > 286 || hdist > 30 {
        return Err(format!(
            "HLIT {hlit} or HDIST {hdist} is more than the codes there are"
        ));
    }
    let mut clens = [0u8; 19];
    for &i in &CL_ORDER[..hclen] {
        clens[i] = bits.bits(3)? as u8;
    }
    let clen = Huffman::new(&clens)?;
    let mut lengths = vec![0u8; hlit + hdist];
    let mut i = 0;
    while i < hlit + hdist {
        let sym = clen.decode(bits)?;
        let (value, repeat) = match sym {
            0..=15 => (sym as u8, 1),
            16 => {
                if i == 0 {
                    return Err(format!(
                        "code 16 repeats a length before there is one, at {}",
                        bits.at()
                    ));
                }
                (lengths[i - 1], 3 + bits.bits(2)? as usize)
            }
            17 => (0, 3 + bits.bits(3)? as usize),
            _ => (0, 11 + bits.bits(7)? as usize),
        };
        if i + repeat > hlit + hdist {
            return Err(format!(
                "code lengths run past HLIT + HDIST ({}), at {}",
                hlit + hdist,
                bits.at()
            ));
        }
        lengths[i..i + repeat].fill(value);
        i += repeat;
    }
    if lengths[256] == 0 {
        return Err("the literal/length code has no end-of-block code".into());
    }
    Ok((
        Huffman::new(&lengths[..hlit])?,
        Huffman::new(&lengths[hlit..])?,
    ))
}

fn codes(bits: &mut Bits, out: &mut Out, lit: &Huffman, dist: &Huffman) -> Result<(), String> {
    loop {
        let sym = lit.decode(bits)?;
        match sym {
            0..=255 => {
                out.room(1)?;
                out.bytes.push(sym as u8);
            }
            256 => return Ok(()),
            _ => {
                let i = usize::from(sym - 257);
                if i >= 29 {
                    return Err(format!("length code {sym} is invalid, at {}", bits.at()));
                }
                let len = usize::from(LEN_BASE[i]) + bits.bits(u32::from(LEN_EXTRA[i]))? as usize;
                let d = usize::from(dist.decode(bits)?);
                if d >= 30 {
                    return Err(format!("distance code {d} is invalid, at {}", bits.at()));
                }
                let distance =
                    usize::from(DIST_BASE[d]) + bits.bits(u32::from(DIST_EXTRA[d]))? as usize;
                if distance > out.bytes.len() {
                    return Err(format!(
                        "a distance of {distance} reaches before the start of the output ({} \
                         bytes so far), at {}",
                        out.bytes.len(),
                        bits.at()
                    ));
                }
                out.room(len)?;
                let from = out.bytes.len() - distance;
                for k in 0..len {
                    let b = out.bytes[from + k];
                    out.bytes.push(b);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn flate2_inflate(z: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(z)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn flate2_deflate(data: &[u8], level: u32) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(level));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// Bytes of some structure: text, runs, and noise from a little LCG.
    fn sample(n: usize, seed: u32) -> Vec<u8> {
        let mut x = seed;
        (0..n)
            .map(|i| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                match (i / 1000) % 3 {
                    0 => b"hello, smidge! "[i % 15],
                    1 => (x >> 24) as u8,
                    _ => 0,
                }
            })
            .collect()
    }

    #[test]
    fn agrees_with_flate2_at_every_level() {
        for (n, seed) in [(0, 1), (1, 2), (100, 3), (70_000, 4), (300_000, 5)] {
            let data = sample(n, seed);
            for level in [0, 1, 6, 9] {
                let z = flate2_deflate(&data, level);
                let got = inflate(&z, 0, 1 << 30).unwrap();
                assert_eq!(got.out, flate2_inflate(&z), "n {n} level {level}");
                assert_eq!(got.out, data);
                assert_eq!(got.len(), z.len() as u64, "n {n} level {level}");
                // Blocks follow each other and cover the stream and the output exactly.
                let mut bit = 0;
                let mut out = 0;
                for b in &got.blocks {
                    assert_eq!((b.start_bit, b.out_start), (bit, out));
                    bit = b.end_bit;
                    out = b.out_end;
                }
                assert_eq!((bit, out), (got.end_bit, data.len() as u64));
                assert!(got.blocks.last().unwrap().last);
                if level == 0 {
                    assert!(got.blocks.iter().all(|b| b.btype == BlockType::Stored));
                }
            }
        }
    }

    #[test]
    fn agrees_with_flate2_on_smidges_own_encoder() {
        for (n, seed) in [(94, 7), (5000, 8), (200_000, 9)] {
            let data = sample(n, seed);
            let z = smidge_deflate::deflate(&data);
            assert_eq!(inflate(&z, 0, 1 << 30).unwrap().out, flate2_inflate(&z));
        }
    }

    #[test]
    fn truncated_and_bounded_streams_are_errors() {
        let data = sample(50_000, 11);
        let z = flate2_deflate(&data, 6);
        for cut in [0, 1, 2, z.len() / 2, z.len() - 1] {
            let e = inflate(&z[..cut], 100, 1 << 30).unwrap_err();
            assert!(e.contains("truncated"), "{cut}: {e}");
        }
        let e = inflate(&z, 0, 1000).unwrap_err();
        assert!(e.contains("more than 1,000 bytes"), "{e}");
        assert!(inflate(&[0xff; 64], 0, 1000).is_err());
    }

    #[test]
    fn random_streams_never_panic() {
        let mut x = 99u32;
        for _ in 0..2000 {
            let n = (x % 200) as usize;
            let bytes: Vec<u8> = (0..n)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            let _ = inflate(&bytes, 0, 1 << 20);
        }
    }
}
