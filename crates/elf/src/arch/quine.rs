//! What every instruction set's quine listing (`arch/<isa>/quine.rs`) is given: the
//! addresses of the pieces [`crate::quine`] lays out, and FIPS 180-4's constants.
//!
//! The program, whatever the instruction set:
//! 1. expand the template (`runs` runs of: zeros to skip, u8; bytes to copy, u8; the
//!    bytes) from `template` into the zero-filled output at `out`;
//! 2. copy its own `program_len` bytes, as the loader mapped them at `base`, to `program`;
//! 3. SHA-256 (FIPS 180-4 §6.2) of the padded layer, `layer` up to `sha_end` (whole
//!    64-byte blocks; the padding is in place, zero-filled memory and template bytes);
//! 4. the digest's 64 lowercase hex digits to `hex`;
//! 5. `write(1, out, out_len)`, again after a short write, then `exit(0)` (a failed write
//!    may exit non-zero).
//!
//! Every address is below 4 GiB. `scratch` is [`SCRATCH_LEN`] zero-filled bytes for W, the
//! working variables, K and H, laid out as the listing likes.
//!
//! The SHA-256 test program ([`super::Programs::sha256_test`]) is steps 3 and 4, then
//! `write(1, hex, 64)` and `exit(0)`: the tests run it against the sha2 crate.

/// The addresses a quine listing works with (see the module's text).
#[derive(Clone, Copy, Debug, Default)]
pub struct Addresses {
    /// The template, and how many (skip, count) runs it holds (1 to 255).
    pub template: u32,
    pub runs: u32,
    /// The output, in zero-filled memory.
    pub out: u32,
    /// Where the loader mapped file offset 0, and where the program's bytes go in the
    /// output.
    pub base: u32,
    pub program: u32,
    pub program_len: u32,
    /// The layer (the SHA-256 message, padded) from `layer` to `sha_end`.
    pub layer: u32,
    pub sha_end: u32,
    /// Where the 64 hex digits go.
    pub hex: u32,
    /// How many bytes to write from `out`.
    pub out_len: u32,
    /// [`SCRATCH_LEN`] zero-filled bytes.
    pub scratch: u32,
}

/// The zero-filled scratch memory every quine gets: W (256 bytes), the working variables
/// (amd64 slides them up one word a round: 288 bytes), K (256) and H with room below it
/// (256).
pub const SCRATCH_LEN: u32 = 64 * 4 + 72 * 4 + 64 * 4 + 64 * 4;

/// FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of the
/// first 64 primes.
pub const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// FIPS 180-4 §5.3.3: the initial hash value H(0).
pub const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];
