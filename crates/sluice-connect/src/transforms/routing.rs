//! Record routing and filtering: `RegexRouter`, `TimestampRouter`, `Filter`,
//! `SetSchemaMetadata`, and the predicates `TopicNameMatches`, `HasHeaderKey`,
//! `RecordIsTombstone`.

use std::sync::Arc;

use sluice_core::ChangeEvent;

use super::{
    config_err, data_err, full_match_regex, java_replacement, Predicate, Props, Side, Transform,
    TransformError,
};

/// `RegexRouter`: a topic matching `regex` (whole name) becomes `replacement` (`$1` groups).
pub struct RegexRouter {
    regex: regex::Regex,
    replacement: String,
}

impl RegexRouter {
    pub fn new(p: &Props) -> Result<Self, TransformError> {
        Ok(RegexRouter {
            regex: full_match_regex(p.required("regex")?, "regex")?,
            replacement: java_replacement(p.get("replacement").unwrap_or("")),
        })
    }
}

impl Transform for RegexRouter {
    fn apply(&mut self, mut r: ChangeEvent) -> Result<Option<ChangeEvent>, TransformError> {
        if self.regex.is_match(&r.topic) {
            let t = self
                .regex
                .replace(&r.topic, self.replacement.as_str())
                .into_owned();
            r.topic = Arc::from(t.as_str());
        }
        Ok(Some(r))
    }
}

/// `TimestampRouter`: topic from `topic.format` (`${topic}`, `${timestamp}`), the record
/// timestamp printed with `timestamp.format` (Java `SimpleDateFormat` letters `yyyy yy MM dd
/// HH mm ss SSS`, `'quoted'` text; UTC).
pub struct TimestampRouter {
    topic_format: String,
    timestamp_format: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Field(char, usize),
}

fn parse_date_format(f: &str) -> Result<Vec<Piece>, TransformError> {
    let mut out = Vec::new();
    let chars: Vec<char> = f.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let mut text = String::new();
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                text.push(chars[i]);
                i += 1;
            }
            i += 1;
            out.push(Piece::Text(if text.is_empty() { "'".into() } else { text }));
        } else if c.is_ascii_alphabetic() {
            let mut n = 1;
            while i + n < chars.len() && chars[i + n] == c {
                n += 1;
            }
            if !matches!(c, 'y' | 'M' | 'd' | 'H' | 'm' | 's' | 'S') {
                return Err(config_err(format!(
                    "timestamp.format letter {c:?} is not supported (yyyy, yy, MM, dd, HH, mm, ss, SSS)"
                )));
            }
            out.push(Piece::Field(c, n));
            i += n;
        } else {
            out.push(Piece::Text(c.to_string()));
            i += 1;
        }
    }
    Ok(out)
}

/// (year, month, day) of a day number since 1970-01-01.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn format_ms(pieces: &[Piece], ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, mo, d) = civil(days);
    let (h, mi, s, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Field('y', 2) => out.push_str(&format!("{:02}", y.rem_euclid(100))),
            Piece::Field('y', n) => out.push_str(&format!("{y:0n$}")),
            Piece::Field(c, n) => {
                let v = match c {
                    'M' => i64::from(mo),
                    'd' => i64::from(d),
                    'H' => h,
                    'm' => mi,
                    's' => s,
                    _ => milli,
                };
                out.push_str(&format!("{v:0n$}"));
            }
        }
    }
    out
}

impl TimestampRouter {
    pub fn new(p: &Props) -> Result<Self, TransformError> {
        Ok(TimestampRouter {
            topic_format: p
                .get("topic.format")
                .unwrap_or("${topic}-${timestamp}")
                .to_string(),
            timestamp_format: parse_date_format(p.get("timestamp.format").unwrap_or("yyyyMMdd"))?,
        })
    }
}

impl Transform for TimestampRouter {
    fn apply(&mut self, mut r: ChangeEvent) -> Result<Option<ChangeEvent>, TransformError> {
        let ts = r
            .timestamp
            .ok_or_else(|| data_err(format!("Timestamp missing on record: topic {}", r.topic)))?;
        let t = self
            .topic_format
            .replace("${topic}", &r.topic)
            .replace("${timestamp}", &format_ms(&self.timestamp_format, ts));
        r.topic = Arc::from(t.as_str());
        Ok(Some(r))
    }
}

/// `Filter`: drops every record it is applied to (combine with a predicate).
pub struct Filter;

impl Transform for Filter {
    fn apply(&mut self, _r: ChangeEvent) -> Result<Option<ChangeEvent>, TransformError> {
        Ok(None)
    }
}

/// `SetSchemaMetadata$Key` / `$Value`: sets `schema.name` and/or `schema.version`.
pub struct SetSchemaMetadata {
    side: Side,
    name: Option<String>,
    version: Option<i32>,
}

impl SetSchemaMetadata {
    pub fn new(p: &Props, side: Side) -> Result<Self, TransformError> {
        let version = match p.get("schema.version") {
            Some(v) => Some(v.trim().parse().map_err(|_| {
                config_err(format!(
                    "transforms.{}.schema.version={v:?} is not a number",
                    p.alias
                ))
            })?),
            None => None,
        };
        let name = p.get("schema.name").map(str::to_string);
        if name.is_none() && version.is_none() {
            return Err(config_err(format!(
                "transforms.{}: set schema.name and/or schema.version",
                p.alias
            )));
        }
        Ok(SetSchemaMetadata {
            side,
            name,
            version,
        })
    }
}

impl Transform for SetSchemaMetadata {
    fn apply(&mut self, mut r: ChangeEvent) -> Result<Option<ChangeEvent>, TransformError> {
        let Some(mut d) = self.side.take(&mut r) else {
            return Ok(Some(r));
        };
        let s = d.schema.as_ref().ok_or_else(|| {
            data_err("Schemaless records not supported for [updating schema metadata]")
        })?;
        let mut c = (**s).clone();
        if let Some(n) = &self.name {
            c.name = Some(n.clone());
        }
        if let Some(v) = self.version {
            c.version = Some(v);
        }
        d.schema = Some(Arc::new(c));
        self.side.set(&mut r, Some(d));
        Ok(Some(r))
    }
}

struct TopicNameMatches(regex::Regex);

impl Predicate for TopicNameMatches {
    fn test(&self, r: &ChangeEvent) -> bool {
        self.0.is_match(&r.topic)
    }
}

struct HasHeaderKey(String);

impl Predicate for HasHeaderKey {
    fn test(&self, r: &ChangeEvent) -> bool {
        r.headers.iter().any(|(k, _)| *k == self.0)
    }
}

struct RecordIsTombstone;

impl Predicate for RecordIsTombstone {
    fn test(&self, r: &ChangeEvent) -> bool {
        r.value.is_none()
    }
}

/// Builds a predicate by class name.
pub fn predicate(class: &str, p: &Props) -> Result<Arc<dyn Predicate>, TransformError> {
    let short = class.trim().rsplit('.').next().unwrap_or("");
    Ok(match short {
        "TopicNameMatches" => Arc::new(TopicNameMatches(full_match_regex(
            p.required("pattern")?,
            "pattern",
        )?)),
        "HasHeaderKey" => Arc::new(HasHeaderKey(p.required("name")?.to_string())),
        "RecordIsTombstone" => Arc::new(RecordIsTombstone),
        _ => {
            return Err(config_err(format!(
                "predicates.{}.type={class:?} is not a predicate sluice provides; available: {}",
                p.alias,
                super::PREDICATE_CLASSES.join(", ")
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    #[test]
    fn regex_router_rewrites_whole_matching_topics() {
        let mut t = RegexRouter::new(&props(&[
            ("regex", "db\\.inv\\.(.*)"),
            ("replacement", "inv_$1"),
        ]))
        .unwrap();
        let r = t.apply(record(None, None)).unwrap().unwrap();
        assert_eq!(&*r.topic, "inv_orders");
        let mut partial =
            RegexRouter::new(&props(&[("regex", "inv"), ("replacement", "x")])).unwrap();
        assert_eq!(
            &*partial.apply(record(None, None)).unwrap().unwrap().topic,
            "db.inv.orders",
            "matches() is a whole-name match"
        );
    }

    #[test]
    fn timestamp_router_formats_the_record_time_in_utc() {
        let mut t = TimestampRouter::new(&props(&[
            ("topic.format", "${topic}-${timestamp}"),
            ("timestamp.format", "yyyy.MM.dd'T'HH"),
        ]))
        .unwrap();
        // 1_700_000_000_000 ms = 2023-11-14T22:13:20Z
        let r = t.apply(record(None, None)).unwrap().unwrap();
        assert_eq!(&*r.topic, "db.inv.orders-2023.11.14T22");
        let mut dflt = TimestampRouter::new(&props(&[])).unwrap();
        assert_eq!(
            &*dflt.apply(record(None, None)).unwrap().unwrap().topic,
            "db.inv.orders-20231114"
        );
        let mut none = record(None, None);
        none.timestamp = None;
        assert!(dflt.apply(none).is_err());
    }

    #[test]
    fn set_schema_metadata_renames_the_schema_and_needs_one() {
        let mut t = SetSchemaMetadata::new(
            &props(&[("schema.name", "com.acme.Order"), ("schema.version", "3")]),
            Side::Value,
        )
        .unwrap();
        let r = t.apply(record(None, Some(row(1, None)))).unwrap().unwrap();
        let s = r.value.unwrap().schema.unwrap();
        assert_eq!(
            (s.name.as_deref(), s.version),
            (Some("com.acme.Order"), Some(3))
        );
        assert!(t.apply(record(None, Some(map_row(1, "a")))).is_err());
    }

    #[test]
    fn predicates_test_topic_header_and_tombstone() {
        let topic = predicate(
            "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            &props(&[("pattern", ".*orders")]),
        )
        .unwrap();
        let header = predicate(
            "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
            &props(&[("name", "h")]),
        )
        .unwrap();
        let mut r = record(None, Some(row(1, None)));
        assert!(topic.test(&r));
        assert!(!header.test(&r));
        r.headers.push(("h".into(), b"1".to_vec()));
        assert!(header.test(&r));
        let tomb = predicate(
            "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
            &props(&[]),
        )
        .unwrap();
        assert!(!tomb.test(&r));
        assert!(tomb.test(&record(None, None)));
    }
}
