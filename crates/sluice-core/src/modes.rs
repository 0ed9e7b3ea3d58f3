//! How values are represented, as Debezium's connectors share the settings
//! (`decimal.handling.mode`, `time.precision.mode`, `binary.handling.mode`): one enum and one
//! reader each, so every source accepts the same names with the same messages.

use std::collections::BTreeMap;

use crate::props::choice;

/// `decimal.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalMode {
    /// `org.apache.kafka.connect.data.Decimal` (default).
    Precise,
    Double,
    String,
}

impl DecimalMode {
    pub fn from_props(props: &BTreeMap<String, String>) -> Result<DecimalMode, String> {
        use DecimalMode as D;
        choice(
            props,
            "decimal.handling.mode",
            D::Precise,
            &[
                ("precise", D::Precise),
                ("double", D::Double),
                ("string", D::String),
            ],
        )
    }
}

/// `time.precision.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimePrecision {
    Adaptive,
    AdaptiveTimeMicroseconds,
    Connect,
}

impl TimePrecision {
    /// `default` differs per connector (MySQL: `adaptive_time_microseconds`, PostgreSQL:
    /// `adaptive`).
    pub fn from_props(
        props: &BTreeMap<String, String>,
        default: TimePrecision,
    ) -> Result<TimePrecision, String> {
        use TimePrecision as T;
        choice(
            props,
            "time.precision.mode",
            default,
            &[
                ("adaptive", T::Adaptive),
                ("adaptive_time_microseconds", T::AdaptiveTimeMicroseconds),
                ("connect", T::Connect),
            ],
        )
    }
}

/// `binary.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryMode {
    Bytes,
    Base64,
    Base64UrlSafe,
    Hex,
}

impl BinaryMode {
    pub fn from_props(props: &BTreeMap<String, String>) -> Result<BinaryMode, String> {
        use BinaryMode as B;
        choice(
            props,
            "binary.handling.mode",
            B::Bytes,
            &[
                ("bytes", B::Bytes),
                ("base64", B::Base64),
                ("base64-url-safe", B::Base64UrlSafe),
                ("hex", B::Hex),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(k: &str, v: &str) -> BTreeMap<String, String> {
        [(k.to_string(), v.to_string())].into_iter().collect()
    }

    #[test]
    fn names_defaults_and_mistakes() {
        let none = BTreeMap::new();
        assert_eq!(DecimalMode::from_props(&none), Ok(DecimalMode::Precise));
        assert_eq!(
            TimePrecision::from_props(&none, TimePrecision::Adaptive),
            Ok(TimePrecision::Adaptive)
        );
        assert_eq!(
            BinaryMode::from_props(&props("binary.handling.mode", "HEX")),
            Ok(BinaryMode::Hex)
        );
        let e = DecimalMode::from_props(&props("decimal.handling.mode", "float")).unwrap_err();
        assert!(e.contains("precise, double, string"), "{e}");
    }
}
