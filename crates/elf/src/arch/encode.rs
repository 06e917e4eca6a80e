//! The range checks every instruction set's encoders share: a displacement (or any other
//! operand the planner fills in) is a signed field of so many bits, often counting
//! halfwords or words rather than bytes. Each `Fixup::Encode` encoder asks here whether its
//! value fits before it writes the field's bits.

/// The distance from `pc` to `target`, in bytes (negative: backwards).
pub fn distance(pc: u64, target: u64) -> i64 {
    target.wrapping_sub(pc) as i64
}

/// Whether `value` fits a signed (two's complement) field of `bits` bits.
pub fn fits_signed(value: i64, bits: u32) -> bool {
    let half = 1i64 << (bits - 1);
    (-half..half).contains(&value)
}

/// Checks that `value` (bytes, or whatever unit the field's `bits` count once divided by
/// `align`) is a multiple of `align` and that `value / align` fits a signed field of `bits`
/// bits; returns `value / align`. `what` names the instruction and its operand in the error.
pub fn signed(value: i64, bits: u32, align: u64, what: &str) -> Result<i64, String> {
    let align = align as i64;
    if value % align != 0 {
        return Err(format!("{what}: {value} is not a multiple of {align}"));
    }
    let units = value / align;
    if !fits_signed(units, bits) {
        let limit = (1i64 << (bits - 1)) * align;
        return Err(format!(
            "{what}: {value} is out of range (-{limit}..{limit})"
        ));
    }
    Ok(units)
}

/// Like [`signed`] for a field that only counts forward: `value / align` in `0..2^bits`.
pub fn unsigned(value: i64, bits: u32, align: u64, what: &str) -> Result<u64, String> {
    let align = align as i64;
    if value % align != 0 {
        return Err(format!("{what}: {value} is not a multiple of {align}"));
    }
    let units = value / align;
    if !(0..1i64 << bits).contains(&units) {
        let limit = ((1i64 << bits) - 1) * align;
        return Err(format!("{what}: {value} is out of range (0..={limit})"));
    }
    Ok(units as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_checks_range_and_alignment() {
        assert_eq!(signed(-8, 4, 4, "b"), Ok(-2));
        assert_eq!(signed(28, 4, 4, "b"), Ok(7));
        assert!(signed(32, 4, 4, "b").is_err());
        assert_eq!(signed(-32, 4, 4, "b"), Ok(-8));
        assert!(signed(-36, 4, 4, "b").is_err());
        assert!(signed(2, 4, 4, "b").is_err());
        assert_eq!(signed(-(1 << 31), 32, 1, "x"), Ok(-(1 << 31)));
        assert!(signed(1 << 31, 32, 1, "x").is_err());
        assert_eq!(distance(0x10010, 0x10000), -16);
        assert_eq!(unsigned(1020, 8, 4, "adr"), Ok(255));
        assert!(unsigned(1024, 8, 4, "adr").is_err());
        assert!(unsigned(-4, 8, 4, "adr").is_err());
        assert!(unsigned(2, 8, 4, "adr").is_err());
    }
}
