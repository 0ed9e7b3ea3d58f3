//! Reading connector properties (`BTreeMap<String, String>`, Connect's string config): flags,
//! numbers and choices, with the same error texts everywhere. Callers wrap the `String` error
//! in their own error type.

use std::collections::BTreeMap;

/// `true` / `false` (any case, trimmed); `default` when absent.
pub fn flag(props: &BTreeMap<String, String>, key: &str, default: bool) -> Result<bool, String> {
    match props.get(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(v) => Err(format!("{key}={v:?} must be true or false")),
    }
}

/// A number (trimmed); `default` when absent.
pub fn number<T: std::str::FromStr>(
    props: &BTreeMap<String, String>,
    key: &str,
    default: T,
) -> Result<T, String> {
    match props.get(key) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("{key}={v:?} is not a valid number")),
    }
}

/// One of `options` by name (any case, trimmed); `default` when absent.
pub fn choice<T: Copy>(
    props: &BTreeMap<String, String>,
    key: &str,
    default: T,
    options: &[(&str, T)],
) -> Result<T, String> {
    let Some(v) = props.get(key).map(|v| v.trim()) else {
        return Ok(default);
    };
    options
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(v))
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            format!(
                "{key}={v:?} is not supported; use one of: {}",
                names.join(", ")
            )
        })
}

/// Properties from `(key, value)` pairs (tests and examples).
pub fn from_pairs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::from_pairs as props;

    #[test]
    fn values_read_with_defaults_and_named_mistakes() {
        let p = props(&[
            ("a", " TRUE "),
            ("n", " 42"),
            ("m", "Upsert"),
            ("bad", "yes"),
        ]);
        assert_eq!(flag(&p, "a", false), Ok(true));
        assert_eq!(flag(&p, "absent", true), Ok(true));
        assert_eq!(
            flag(&p, "bad", false),
            Err("bad=\"yes\" must be true or false".into())
        );
        assert_eq!(number(&p, "n", 0u32), Ok(42));
        assert_eq!(
            number::<u32>(&p, "m", 0),
            Err("m=\"Upsert\" is not a valid number".into())
        );
        assert_eq!(choice(&p, "m", 0, &[("insert", 1), ("upsert", 2)]), Ok(2));
        assert_eq!(
            choice(&p, "bad", 0, &[("insert", 1), ("upsert", 2)]),
            Err("bad=\"yes\" is not supported; use one of: insert, upsert".into())
        );
    }
}
