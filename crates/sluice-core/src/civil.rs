//! Calendar arithmetic and the SQL text forms of dates, times and timestamps
//! (`YYYY-MM-DD`, `HH:MM:SS[.ffffff]`, `YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM]][ BC]`), as
//! PostgreSQL, MySQL and SQLite print them. Proleptic Gregorian, µs precision.

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Years beyond any SQL date (PostgreSQL's last is 294276): refused, which keeps the day
/// arithmetic of corrupt text far from overflowing.
const MAX_YEAR: i64 = 10_000_000;

/// `YYYY-MM-DD[ BC]…` → (days since the epoch, rest of the text).
pub fn date(text: &str) -> Option<(i64, &str)> {
    let mut parts = text.splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    if !(-MAX_YEAR..=MAX_YEAR).contains(&y) {
        return None;
    }
    let m: u32 = parts.next()?.parse().ok()?;
    let rest = parts.next()?;
    let d: u32 = rest.get(..2)?.parse().ok()?;
    let mut tail = &rest[2..];
    let y = if let Some(t) = tail.strip_suffix(" BC") {
        tail = t;
        1 - y
    } else {
        y
    };
    Some((days_from_civil(y, m, d), tail))
}

/// `HH:MM:SS[.ffffff]` at the start of `text` → (µs since midnight, the rest).
pub fn split_time(text: &str) -> Option<(i64, &str)> {
    let h: i64 = text.get(0..2)?.parse().ok()?;
    let m: i64 = text.get(3..5)?.parse().ok()?;
    let s: i64 = text.get(6..8)?.parse().ok()?;
    let mut rest = &text[8..];
    let mut micros = 0i64;
    if let Some(f) = rest.strip_prefix('.') {
        let n = f.bytes().take_while(u8::is_ascii_digit).count();
        let digits = &f[..n];
        let mut v: i64 = digits.get(..n.min(6))?.parse().unwrap_or(0);
        for _ in n.min(6)..6 {
            v *= 10;
        }
        micros = v;
        rest = &f[n..];
    }
    Some(((h * 3600 + m * 60 + s) * 1_000_000 + micros, rest))
}

/// µs since midnight of `HH:MM:SS[.f]`.
pub fn time(text: &str) -> Option<i64> {
    split_time(text).map(|(t, _)| t)
}

/// `+HH[:MM[:SS]]` / `-…` → seconds east of UTC.
pub fn offset(text: &str) -> Option<i64> {
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let mut secs = 0i64;
    for (i, p) in text[1..].split(':').enumerate() {
        let v: i64 = p.parse().ok()?;
        secs = secs.checked_add(v.checked_mul(*[3600, 60, 1].get(i)?)?)?;
    }
    secs.checked_mul(sign)
}

/// `YYYY-MM-DD HH:MM:SS[.f][+HH[:MM]][ BC]` → µs since the epoch (UTC when an offset is given).
pub fn timestamp(text: &str) -> Option<i64> {
    let bc = text.ends_with(" BC");
    let text = text.strip_suffix(" BC").unwrap_or(text);
    let (date_part, time_part) = text.split_once([' ', 'T'])?;
    let (days, _) = date(&if bc {
        format!("{date_part} BC")
    } else {
        date_part.to_string()
    })?;
    let (t, rest) = split_time(time_part)?;
    let off = if rest.is_empty() || rest == "Z" {
        0
    } else {
        offset(rest)?
    };
    // checked: a timestamp beyond i64 µs is no timestamp (corrupt text), not an overflow
    days.checked_mul(86_400_000_000)?
        .checked_add(t)?
        .checked_sub(off.checked_mul(1_000_000)?)
}

/// µs since the epoch as `YYYY-MM-DD HH:MM:SS.ffffff` (UTC), the literal form SQL databases
/// compare with their timestamp columns.
pub fn format_timestamp(us: i64) -> String {
    let (y, m, d) = civil_from_days(us.div_euclid(86_400_000_000));
    let t = us.rem_euclid(86_400_000_000);
    let s = t / 1_000_000;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:06}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        t % 1_000_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_through_text() {
        let us = timestamp("2024-01-02 03:04:05.678901").unwrap();
        assert_eq!(us, 1_704_164_645_678_901);
        assert_eq!(format_timestamp(us), "2024-01-02 03:04:05.678901");
        assert_eq!(
            timestamp("2024-01-02T03:04:05Z"),
            Some(1_704_164_645_000_000)
        );
        assert_eq!(
            timestamp("2024-01-02 05:04:05+02"),
            Some(1_704_164_645_000_000)
        );
        assert_eq!(format_timestamp(-1), "1969-12-31 23:59:59.999999");
    }

    #[test]
    fn text_out_of_any_range_is_refused_not_an_overflow() {
        assert_eq!(offset("+01111111111111111110:5:"), None);
        assert_eq!(offset("+99999999999999999"), None);
        assert_eq!(offset("-9223372036854775808:0:0"), None);
        assert_eq!(date("-9223372036854775808-01-01 BC"), None);
        assert_eq!(
            timestamp("294276-12-31 23:59:59"),
            None,
            "past i64 µs since 1970"
        );
        assert!(timestamp("292277-01-01 00:00:00").is_some());
    }
}
