//! Arbitrary-precision decimals in Connect's representation.
//!
//! Connect's `Decimal` logical type is a `BigDecimal`; on the wire (JSON `decimal.format=BASE64`,
//! Avro) it is the *unscaled* integer as Java's `BigInteger.toByteArray()` writes it: minimal
//! big-endian two's complement. MySQL DECIMAL(65,30) exceeds 128 bits, so the unscaled value is
//! kept as bytes and converted from/to decimal digit strings with a small base-10⁹ bignum.

/// A decimal number: `unscaled × 10^-scale`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal {
    /// Minimal big-endian two's complement bytes of the unscaled value (never empty).
    pub unscaled: Vec<u8>,
    pub scale: u32,
}

impl Decimal {
    /// Builds a decimal from its sign and its digits (no sign, no point) with `scale` of them
    /// after the point. Non-digit characters are ignored by the caller's contract: pass digits.
    pub fn from_digits(negative: bool, digits: &[u8], scale: u32) -> Decimal {
        if digits.len() <= 38 {
            let mut v: i128 = 0;
            for d in digits {
                v = v * 10 + i128::from(d.wrapping_sub(b'0') % 10);
            }
            return Decimal::from_i128(if negative { -v } else { v }, scale);
        }
        let magnitude = digits_to_be_bytes(digits);
        Decimal {
            unscaled: twos_complement(negative, magnitude),
            scale,
        }
    }

    /// From an `i128` unscaled value.
    pub fn from_i128(unscaled: i128, scale: u32) -> Decimal {
        let bytes = unscaled.to_be_bytes();
        Decimal {
            unscaled: minimal_signed(&bytes).to_vec(),
            scale,
        }
    }

    /// Parses `-123.4500` style text (as MySQL prints DECIMAL) keeping its scale.
    pub fn parse(text: &str) -> Option<Decimal> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let mut digits = Vec::with_capacity(int.len() + frac.len());
        for b in int.bytes().chain(frac.bytes()) {
            if !b.is_ascii_digit() {
                return None;
            }
            digits.push(b);
        }
        Some(Decimal::from_digits(negative, &digits, frac.len() as u32))
    }

    /// The same number with exactly `scale` digits after the point: padded with zeros, or cut
    /// (digits beyond `scale` are dropped, not rounded). Databases print NUMERIC/DECIMAL with
    /// fewer or more digits than the Connect schema's scale.
    pub fn with_scale(self, scale: u32) -> Decimal {
        if self.scale == scale {
            return self;
        }
        let text = self.to_plain_string();
        let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
        let mut frac = frac.to_string();
        frac.truncate(scale as usize);
        while frac.len() < scale as usize {
            frac.push('0');
        }
        let t = if scale == 0 {
            int.to_string()
        } else {
            format!("{int}.{frac}")
        };
        Decimal::parse(&t).unwrap_or(self)
    }

    pub fn is_negative(&self) -> bool {
        self.unscaled.first().is_some_and(|b| b & 0x80 != 0)
    }

    /// The plain decimal text (`BigDecimal.toPlainString()`), e.g. `-0.50`.
    pub fn to_plain_string(&self) -> String {
        let negative = self.is_negative();
        let magnitude = if negative {
            negate(&self.unscaled)
        } else {
            self.unscaled.clone()
        };
        let mut digits = be_bytes_to_digits(&magnitude);
        let scale = self.scale as usize;
        if digits.len() <= scale {
            let pad = scale + 1 - digits.len();
            let mut padded = vec![b'0'; pad];
            padded.extend_from_slice(&digits);
            digits = padded;
        }
        let mut out = String::with_capacity(digits.len() + 2);
        if negative && digits.iter().any(|&d| d != b'0') {
            out.push('-');
        }
        let split = digits.len() - scale;
        out.push_str(std::str::from_utf8(&digits[..split]).unwrap_or("0"));
        if scale > 0 {
            out.push('.');
            out.push_str(std::str::from_utf8(&digits[split..]).unwrap_or("0"));
        }
        out
    }

    /// Nearest `f64` (for `decimal.handling.mode=double`).
    pub fn to_f64(&self) -> f64 {
        self.to_plain_string().parse().unwrap_or(f64::NAN)
    }
}

/// Decimal digits (ASCII) → unsigned big-endian magnitude bytes (at least one byte).
fn digits_to_be_bytes(digits: &[u8]) -> Vec<u8> {
    // little-endian base-2^32 limbs; multiply by 10^9 and add 9 digits at a time
    let mut limbs: Vec<u32> = vec![0];
    let start = digits.len() % 9;
    let mut chunks: Vec<&[u8]> = Vec::new();
    if start > 0 {
        chunks.push(&digits[..start]);
    }
    chunks.extend(digits[start..].chunks(9));
    for chunk in chunks {
        let mut add: u64 = 0;
        for &d in chunk {
            add = add * 10 + u64::from(d.wrapping_sub(b'0') % 10);
        }
        let mul = 10u64.pow(chunk.len() as u32);
        let mut carry = add;
        for limb in limbs.iter_mut() {
            let v = u64::from(*limb) * mul + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            limbs.push(carry as u32);
        }
    }
    let mut out = Vec::with_capacity(limbs.len() * 4);
    for limb in limbs.iter().rev() {
        out.extend_from_slice(&limb.to_be_bytes());
    }
    let first = out.iter().position(|&b| b != 0).unwrap_or(out.len() - 1);
    out.drain(..first);
    out
}

/// Unsigned big-endian magnitude → decimal digits (ASCII, no leading zeros, "0" for zero).
fn be_bytes_to_digits(bytes: &[u8]) -> Vec<u8> {
    let mut limbs: Vec<u32> = Vec::new(); // big-endian base 2^32
    let pad = (4 - bytes.len() % 4) % 4;
    let mut padded = vec![0u8; pad];
    padded.extend_from_slice(bytes);
    for c in padded.chunks(4) {
        limbs.push(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    }
    let mut groups: Vec<u32> = Vec::new(); // base 10^9, least significant first
    while limbs.iter().any(|&l| l != 0) {
        let mut rem: u64 = 0;
        for limb in limbs.iter_mut() {
            let cur = (rem << 32) | u64::from(*limb);
            *limb = (cur / 1_000_000_000) as u32;
            rem = cur % 1_000_000_000;
        }
        groups.push(rem as u32);
    }
    if groups.is_empty() {
        return b"0".to_vec();
    }
    let mut out = groups.last().map(|g| g.to_string()).unwrap_or_default();
    for g in groups.iter().rev().skip(1) {
        out.push_str(&format!("{g:09}"));
    }
    out.into_bytes()
}

/// Magnitude bytes → minimal two's complement of ±magnitude.
fn twos_complement(negative: bool, magnitude: Vec<u8>) -> Vec<u8> {
    let mut m = magnitude;
    if m.first().is_some_and(|b| b & 0x80 != 0) {
        m.insert(0, 0);
    }
    if negative && m.iter().any(|&b| b != 0) {
        m = negate(&m);
    }
    minimal_signed(&m).to_vec()
}

/// Two's complement negation of a big-endian byte string (same length).
fn negate(bytes: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = bytes.iter().map(|b| !b).collect();
    for b in out.iter_mut().rev() {
        let (v, overflow) = b.overflowing_add(1);
        *b = v;
        if !overflow {
            break;
        }
    }
    if bytes.first().is_some_and(|b| b & 0x80 != 0) && out.first().is_some_and(|b| b & 0x80 != 0) {
        out.insert(0, 0); // -(-2^n) needs one more byte
    }
    out
}

/// Drops redundant sign-extension bytes, as `BigInteger.toByteArray()` does.
fn minimal_signed(bytes: &[u8]) -> &[u8] {
    let mut start = 0;
    while start + 1 < bytes.len() {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0x00 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    if bytes.is_empty() {
        return &[0];
    }
    &bytes[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn unscaled_bytes_match_java_big_integer() {
        // BigInteger.valueOf(12345).toByteArray() == [0x30, 0x39]
        assert_eq!(Decimal::parse("123.45").unwrap().unscaled, vec![0x30, 0x39]);
        assert_eq!(Decimal::parse("-1.00").unwrap().unscaled, vec![0x9c]);
        assert_eq!(Decimal::parse("-2.00").unwrap().unscaled, vec![0xff, 0x38]);
        assert_eq!(Decimal::parse("0.00").unwrap().unscaled, vec![0x00]);
        assert_eq!(Decimal::parse("1.28").unwrap().unscaled, vec![0x00, 0x80]);
        assert_eq!(Decimal::parse("-1.28").unwrap().unscaled, vec![0x80]);
        // 18446744073709551615 (BIGINT UNSIGNED max) = 0x00ffffffffffffffff
        assert_eq!(
            Decimal::parse("18446744073709551615").unwrap().unscaled,
            vec![0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn plain_string_keeps_scale() {
        for s in [
            "0.00",
            "-0.50",
            "123.45",
            "1",
            "-99999999999999999999999999999999999.123456789012345678901234567890",
        ] {
            assert_eq!(Decimal::parse(s).unwrap().to_plain_string(), s);
        }
    }

    proptest! {
        #[test]
        fn i128_and_digits_agree(v in any::<i64>(), scale in 0u32..10) {
            let a = Decimal::from_i128(i128::from(v), scale);
            let text = v.unsigned_abs().to_string();
            let b = Decimal::from_digits(v < 0, text.as_bytes(), scale);
            prop_assert_eq!(&a, &b);
        }

        #[test]
        fn text_round_trips(neg in any::<bool>(), int in "[1-9][0-9]{0,40}", frac in "[0-9]{0,30}") {
            let s = if frac.is_empty() { int.clone() } else { format!("{int}.{frac}") };
            let s = if neg { format!("-{s}") } else { s };
            prop_assert_eq!(Decimal::parse(&s).unwrap().to_plain_string(), s);
        }
    }
}
