//! Java's `Double.toString` / `Float.toString` layout, which Jackson uses for JSON numbers.
//!
//! Java prints the shortest digits that round-trip, in plain notation when
//! `10^-3 <= |x| < 10^7` (always with a fractional part: `1.0`) and otherwise as
//! `d.dddE±n` (`1.0E7`, `1.5E-4`). Rust's `{:e}` gives the shortest round-trip digits; this
//! module only re-lays them out.

/// Appends `v` formatted like Java's `Double.toString`.
pub fn write_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"Infinity" } else { b"-Infinity" });
    } else {
        layout(out, &format!("{v:e}"), v.abs(), v.is_sign_negative());
    }
}

/// Appends `v` formatted like Java's `Float.toString`.
pub fn write_f32(out: &mut Vec<u8>, v: f32) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"Infinity" } else { b"-Infinity" });
    } else {
        layout(
            out,
            &format!("{v:e}"),
            f64::from(v.abs()),
            v.is_sign_negative(),
        );
    }
}

/// `sci` is Rust's `{:e}` text (e.g. `-1.2345e4`); `abs` decides plain vs scientific.
fn layout(out: &mut Vec<u8>, sci: &str, abs: f64, negative: bool) {
    let sci = sci.trim_start_matches('-');
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    if negative {
        out.push(b'-');
    }
    if abs == 0.0 {
        out.extend_from_slice(b"0.0");
        return;
    }
    if (1e-3..1e7).contains(&abs) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            for i in 0..int_len {
                out.push(*digits.get(i).unwrap_or(&b'0'));
            }
            out.push(b'.');
            if digits.len() > int_len {
                out.extend_from_slice(&digits[int_len..]);
            } else {
                out.push(b'0');
            }
        } else {
            out.extend_from_slice(b"0.");
            for _ in 0..(-exp - 1) {
                out.push(b'0');
            }
            out.extend_from_slice(&digits);
        }
    } else {
        out.push(digits[0]);
        out.push(b'.');
        if digits.len() > 1 {
            out.extend_from_slice(&digits[1..]);
        } else {
            out.push(b'0');
        }
        out.push(b'E');
        out.extend_from_slice(exp.to_string().as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(v: f64) -> String {
        let mut o = Vec::new();
        write_f64(&mut o, v);
        String::from_utf8(o).unwrap()
    }

    #[test]
    fn matches_java_double_to_string() {
        assert_eq!(d(1.0), "1.0");
        assert_eq!(d(-0.0), "-0.0");
        assert_eq!(d(0.0), "0.0");
        assert_eq!(d(2.75), "2.75");
        assert_eq!(d(100.0), "100.0");
        assert_eq!(d(0.001), "0.001");
        assert_eq!(d(0.0001), "1.0E-4");
        assert_eq!(d(1234567.0), "1234567.0");
        assert_eq!(d(12345678.0), "1.2345678E7");
        assert_eq!(d(1e10), "1.0E10");
        assert_eq!(d(-1.5e-7), "-1.5E-7");
        assert_eq!(d(1.7976931348623157e308), "1.7976931348623157E308");
    }

    #[test]
    fn matches_java_float_to_string() {
        let mut o = Vec::new();
        write_f32(&mut o, 1.1f32);
        assert_eq!(o, b"1.1");
    }
}
