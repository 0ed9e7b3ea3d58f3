//! Column character sets: which MySQL/MariaDB character set a text column uses, and how its bytes
//! become Unicode text.
//!
//! Binlog row images carry every CHAR/VARCHAR/TEXT value as the bytes stored in the table, in the
//! column's own character set: the server converts nothing when it logs a row. A `latin1` column
//! holding `café` arrives as `63 61 66 e9`, which is not UTF-8. So each text column is decoded with
//! the character set resolved for it (see [`resolve`]), never with a guess. Snapshot SELECTs are
//! different: the server converts result values to the connection's `character_set_results`,
//! which sluice sets to `utf8mb4` on every connection (`preflight::connect`), so snapshot text is
//! always UTF-8 and needs no per-column decoding.
//!
//! Resolution, as MySQL does it when a table is created or altered: the column's own
//! `CHARACTER SET` (or the character set its `COLLATE` belongs to), else the table's
//! `DEFAULT CHARSET`/`COLLATE`, else the database's default, else the server's
//! `character_set_server`. `information_schema` states the outcome directly; DDL read from the
//! binlog is resolved with [`resolve`] and [`Defaults`].
//!
//! Decoders. Single- and multi-byte legacy sets use `encoding_rs` (the WHATWG Encoding Standard
//! tables); where MySQL's table differs from WHATWG's, the difference is handled here:
//! * `latin1` is really Windows-1252 in MySQL, including its five undefined bytes 0x81, 0x8D,
//!   0x8F, 0x90, 0x9D, which MySQL maps to U+0081 … U+009D. WHATWG's windows-1252 maps them the
//!   same way, so it is used unchanged.
//! * `latin5` is ISO-8859-9, which WHATWG folds into windows-1254. The two agree on 0xA0–0xFF;
//!   on 0x80–0x9F ISO-8859-9 has the C1 controls U+0080–U+009F, so those bytes are mapped so.
//! * `ucs2`, `utf16`, `utf16le`, `utf32` (big-endian unless named `le`) are decoded here: they
//!   are a few lines each.
//! * `binary` is not text: such columns are mapped as bytes (`mapping`).
//!
//! A character set without a decoder here (`cp850`, `cp852`, `dec8`, `swe7`, `armscii8`, …,
//! none of which `encoding_rs` has) is refused by name when the table is mapped
//! ([`Charset::by_name`]), with what the operator can do; it is never decoded with replacement
//! characters. Bytes that are malformed *in* a supported character set (which a server in strict
//! mode does not store) become U+FFFD, as MySQL's own conversion turns them into `?`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

use encoding_rs::Encoding;

/// How the bytes of a text column become text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// `utf8mb4`, `utf8mb3`/`utf8`, and `ascii` (a subset).
    Utf8,
    /// `binary`: bytes, not text.
    Binary,
    /// A WHATWG encoding whose table equals MySQL's for the character set.
    Whatwg(&'static Encoding),
    /// `latin5` (ISO-8859-9): windows-1254 with 0x80–0x9F as C1 controls.
    Latin5,
    /// `ucs2`: big-endian 16-bit code units, no surrogates.
    Ucs2,
    /// `utf16`: big-endian UTF-16.
    Utf16,
    /// `utf16le`: little-endian UTF-16.
    Utf16Le,
    /// `utf32`: big-endian 32-bit code points.
    Utf32,
}

/// Every character set name MySQL 8 and MariaDB 10/11 know (the prefix of their collation
/// names); used to tell a collation's character set from the rest of its name.
const KNOWN: [&str; 41] = [
    "armscii8", "ascii", "big5", "binary", "cp1250", "cp1251", "cp1256", "cp1257", "cp850",
    "cp852", "cp866", "cp932", "dec8", "eucjpms", "euckr", "gb18030", "gb2312", "gbk", "geostd8",
    "greek", "hebrew", "hp8", "keybcs2", "koi8r", "koi8u", "latin1", "latin2", "latin5", "latin7",
    "macce", "macroman", "sjis", "swe7", "tis620", "ucs2", "ujis", "utf16", "utf16le", "utf32",
    "utf8mb3", "utf8mb4",
];

/// A character set sluice cannot decode, and what the operator can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("character set {name:?} cannot be decoded by sluice (it decodes utf8mb4, utf8mb3, ascii, latin1, latin2, latin5, latin7, cp1250, cp1251, cp1256, cp1257, cp866, koi8r, koi8u, greek, hebrew, tis620, macroman, gbk, gb2312, gb18030, big5, sjis, cp932, ujis, eucjpms, euckr, ucs2, utf16, utf16le, utf32 and binary); convert the column to a supported character set (ALTER TABLE … MODIFY … CHARACTER SET utf8mb4) or leave it out with column.exclude.list")]
pub struct UnsupportedCharset {
    pub name: String,
}

impl Charset {
    /// The decoder of a MySQL/MariaDB character set name (case-insensitive; `utf8` is utf8mb3).
    pub fn by_name(name: &str) -> Result<Charset, UnsupportedCharset> {
        use encoding_rs as e;
        let lower = name.trim().to_ascii_lowercase();
        Ok(match lower.as_str() {
            "utf8mb4" | "utf8mb3" | "utf8" | "ascii" => Charset::Utf8,
            "binary" => Charset::Binary,
            "latin1" => Charset::Whatwg(e::WINDOWS_1252),
            "latin2" => Charset::Whatwg(e::ISO_8859_2),
            "latin5" => Charset::Latin5,
            "latin7" => Charset::Whatwg(e::ISO_8859_13),
            "greek" => Charset::Whatwg(e::ISO_8859_7),
            "hebrew" => Charset::Whatwg(e::ISO_8859_8),
            "cp1250" => Charset::Whatwg(e::WINDOWS_1250),
            "cp1251" => Charset::Whatwg(e::WINDOWS_1251),
            "cp1256" => Charset::Whatwg(e::WINDOWS_1256),
            "cp1257" => Charset::Whatwg(e::WINDOWS_1257),
            "cp866" => Charset::Whatwg(e::IBM866),
            "koi8r" => Charset::Whatwg(e::KOI8_R),
            "koi8u" => Charset::Whatwg(e::KOI8_U),
            "tis620" => Charset::Whatwg(e::WINDOWS_874),
            "macroman" => Charset::Whatwg(e::MACINTOSH),
            // WHATWG's GBK and Big5 are supersets of gb2312 and MySQL's big5
            "gbk" | "gb2312" => Charset::Whatwg(e::GBK),
            "gb18030" => Charset::Whatwg(e::GB18030),
            "big5" => Charset::Whatwg(e::BIG5),
            // WHATWG's Shift_JIS is Microsoft's cp932, a superset of JIS X 0208 Shift_JIS
            "sjis" | "cp932" => Charset::Whatwg(e::SHIFT_JIS),
            "ujis" | "eucjpms" => Charset::Whatwg(e::EUC_JP),
            "euckr" => Charset::Whatwg(e::EUC_KR),
            "ucs2" => Charset::Ucs2,
            "utf16" => Charset::Utf16,
            "utf16le" => Charset::Utf16Le,
            "utf32" => Charset::Utf32,
            _ => {
                return Err(UnsupportedCharset {
                    name: name.to_string(),
                })
            }
        })
    }

    /// The text of a column value's bytes.
    pub fn decode<'a>(&self, bytes: &'a [u8]) -> Cow<'a, str> {
        match self {
            // binary columns are mapped as bytes; should one reach here, UTF-8 stays readable
            Charset::Utf8 | Charset::Binary => String::from_utf8_lossy(bytes),
            Charset::Whatwg(enc) => enc.decode_without_bom_handling(bytes).0,
            Charset::Latin5 => Cow::Owned(bytes.iter().map(|b| LATIN5[usize::from(*b)]).collect()),
            Charset::Ucs2 => Cow::Owned(units(bytes, 2, |c| {
                char::from_u32(u32::from(u16::from_be_bytes([c[0], c[1]])))
            })),
            Charset::Utf16 => encoding_rs::UTF_16BE.decode_without_bom_handling(bytes).0,
            Charset::Utf16Le => encoding_rs::UTF_16LE.decode_without_bom_handling(bytes).0,
            Charset::Utf32 => Cow::Owned(units(bytes, 4, |c| {
                char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            })),
        }
    }
}

/// Fixed-width code units → text; an invalid unit or a trailing partial one is U+FFFD.
fn units(bytes: &[u8], width: usize, ch: impl Fn(&[u8]) -> Option<char>) -> String {
    let chunks = bytes.chunks_exact(width);
    let partial = !chunks.remainder().is_empty();
    let mut s: String = chunks
        .map(|c| ch(c).unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    if partial {
        s.push(char::REPLACEMENT_CHARACTER);
    }
    s
}

/// ISO-8859-9: windows-1254 outside 0x80–0x9F, the C1 controls inside.
static LATIN5: LazyLock<[char; 256]> = LazyLock::new(|| {
    let mut table = [char::REPLACEMENT_CHARACTER; 256];
    for (b, slot) in table.iter_mut().enumerate() {
        *slot = if (0x80..=0x9f).contains(&b) {
            char::from(b as u8)
        } else {
            let one = [b as u8];
            let (text, _) = encoding_rs::WINDOWS_1254.decode_without_bom_handling(&one);
            text.chars().next().unwrap_or(char::REPLACEMENT_CHARACTER)
        };
    }
    table
});

/// The character set a collation belongs to (`latin1_swedish_ci` → `latin1`,
/// `utf8_general_ci` → `utf8mb3`, `binary` → `binary`); `None` for a name without a known
/// character set prefix (MariaDB 11's `uca1400_ai_ci` takes the character set of its context).
pub fn of_collation(collation: &str) -> Option<String> {
    let lower = collation.trim().to_ascii_lowercase();
    let prefix = lower.split('_').next().unwrap_or("");
    normalise(prefix).filter(|c| KNOWN.contains(&c.as_str()))
}

/// Lower case, `utf8` spelled `utf8mb3` (what information_schema reports since MySQL 8.0.30
/// and MariaDB 10.6).
fn normalise(name: &str) -> Option<String> {
    let lower = name.trim().trim_matches(['\'', '"', '`']).to_ascii_lowercase();
    match lower.as_str() {
        "" | "default" => None,
        "utf8" => Some("utf8mb3".into()),
        _ => Some(lower),
    }
}

/// The effective character set of a column or table: its own `CHARACTER SET`, else the
/// character set of its `COLLATE`, else what it inherits (the table's default for a column,
/// the database's for a table).
pub fn resolve(charset: Option<&str>, collation: Option<&str>, inherited: &str) -> String {
    charset
        .and_then(normalise)
        .or_else(|| collation.and_then(of_collation))
        .or_else(|| normalise(inherited))
        .unwrap_or_else(|| "utf8mb4".into())
}

/// The defaults a CREATE TABLE without a character set falls back to: each database's default
/// character set, else the server's `character_set_server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaults {
    pub server: String,
    pub databases: HashMap<String, String>,
}

impl Default for Defaults {
    /// utf8mb4 everywhere (the server default of MySQL 8 and MariaDB 11).
    fn default() -> Self {
        Defaults {
            server: "utf8mb4".into(),
            databases: HashMap::new(),
        }
    }
}

impl Defaults {
    /// The default character set of database `db`.
    pub fn database(&self, db: &str) -> &str {
        self.databases.get(db).unwrap_or(&self.server)
    }

    /// Records a CREATE/ALTER DATABASE (`charset` resolved) or a DROP DATABASE (`None`).
    pub fn set_database(&mut self, db: &str, charset: Option<String>) {
        match charset {
            Some(c) => self.databases.insert(db.to_string(), c),
            None => self.databases.remove(db),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(charset: &str, bytes: &[u8]) -> String {
        Charset::by_name(charset).unwrap().decode(bytes).into_owned()
    }

    #[test]
    fn latin1_is_mysqls_cp1252_including_its_five_undefined_bytes() {
        assert_eq!(text("latin1", b"caf\xe9"), "café");
        assert_eq!(text("latin1", b"\x80\x9f\xff"), "€Ÿÿ");
        // MySQL maps the bytes cp1252 leaves undefined to the C1 controls of the same number
        for b in [0x81u8, 0x8d, 0x8f, 0x90, 0x9d] {
            assert_eq!(text("LATIN1", &[b]), char::from(b).to_string(), "{b:#x}");
        }
    }

    #[test]
    fn latin5_is_iso_8859_9_not_windows_1254() {
        assert_eq!(text("latin5", b"\xd0\xdd\xde\xf0\xfd\xfe"), "ĞİŞğış");
        assert_eq!(text("latin5", b"\x80\x9f"), "\u{80}\u{9f}");
    }

    #[test]
    fn single_and_multi_byte_legacy_sets() {
        let cases: [(&str, &[u8], &str); 12] = [
            ("latin2", b"\xae\x6c\x75\xbb\x6f\x75\xe8\x6b\xfd", "Žluťoučký"),
            ("cp1250", b"\x8e\x6c\x75\x9d\x6f\x75\xe8\x6b\xfd", "Žluťoučký"),
            ("cp1251", b"\xcf\xf0\xe8\xe2\xe5\xf2", "Привет"),
            ("koi8r", b"\xf0\xd2\xc9\xd7\xc5\xd4", "Привет"),
            ("cp866", b"\x8f\xe0\xa8\xa2\xa5\xe2", "Привет"),
            ("greek", b"\xe1\xe2\xe3", "αβγ"),
            ("hebrew", b"\xf9\xec\xe5\xed", "שלום"),
            ("gbk", b"\xc4\xe3\xba\xc3", "你好"),
            ("big5", b"\xa7\x41\xa6\x6e", "你好"),
            ("sjis", b"\x93\xfa\x96\x7b\x8c\xea", "日本語"),
            ("ujis", b"\xc6\xfc\xcb\xdc\xb8\xec", "日本語"),
            ("euckr", b"\xc7\xd1\xb1\xb9\xbe\xee", "한국어"),
        ];
        for (cs, bytes, want) in cases {
            assert_eq!(text(cs, bytes), want, "{cs}");
        }
    }

    #[test]
    fn wide_unicode_encodings() {
        assert_eq!(text("ucs2", b"\x00\x63\x00\xe9"), "cé");
        assert_eq!(text("utf16", b"\x00\x63\xd8\x3d\xde\x00"), "c😀");
        assert_eq!(text("utf16le", b"\x63\x00\x3d\xd8\x00\xde"), "c😀");
        assert_eq!(text("utf32", b"\x00\x00\x00\x63\x00\x01\xf6\x00"), "c😀");
        // a truncated unit or an impossible code point is visible, not dropped
        assert_eq!(text("utf32", b"\x00\x00\x00\x63\x00\x00"), "c\u{fffd}");
        assert_eq!(text("utf32", b"\x00\x11\x00\x00"), "\u{fffd}");
        assert_eq!(text("ucs2", b"\xd8\x3d"), "\u{fffd}");
    }

    #[test]
    fn utf8_variants_and_ascii() {
        assert_eq!(text("utf8mb4", "😀é".as_bytes()), "😀é");
        assert_eq!(text("utf8", "é".as_bytes()), "é");
        assert_eq!(text("utf8mb3", "é".as_bytes()), "é");
        assert_eq!(text("ascii", b"plain"), "plain");
    }

    #[test]
    fn a_character_set_without_a_decoder_is_refused_by_name() {
        for cs in ["cp850", "cp852", "dec8", "swe7", "armscii8", "keybcs2", "hp8", "macce"] {
            let e = Charset::by_name(cs).unwrap_err();
            assert!(e.to_string().contains(&format!("{cs:?}")), "{e}");
            assert!(e.to_string().contains("column.exclude.list"), "{e}");
        }
        assert!(Charset::by_name("klingon").is_err());
    }

    #[test]
    fn collations_name_their_character_set() {
        assert_eq!(
            of_collation("latin1_swedish_ci").as_deref(),
            Some("latin1")
        );
        assert_eq!(of_collation("utf8_general_ci").as_deref(), Some("utf8mb3"));
        assert_eq!(
            of_collation("utf8mb4_uca1400_ai_ci").as_deref(),
            Some("utf8mb4")
        );
        assert_eq!(of_collation("binary").as_deref(), Some("binary"));
        assert_eq!(of_collation("cp850_general_ci").as_deref(), Some("cp850"));
        assert_eq!(of_collation("uca1400_ai_ci"), None);
    }

    #[test]
    fn resolution_order_is_column_then_collation_then_inherited() {
        assert_eq!(resolve(Some("latin2"), Some("greek_general_ci"), "koi8r"), "latin2");
        assert_eq!(resolve(None, Some("greek_general_ci"), "koi8r"), "greek");
        assert_eq!(resolve(None, Some("uca1400_ai_ci"), "koi8r"), "koi8r");
        assert_eq!(resolve(Some("DEFAULT"), None, "koi8r"), "koi8r");
        assert_eq!(resolve(Some("'UTF8'"), None, "latin1"), "utf8mb3");
        let mut d = Defaults {
            server: "latin1".into(),
            ..Defaults::default()
        };
        d.set_database("app", Some("cp1251".into()));
        assert_eq!(d.database("app"), "cp1251");
        assert_eq!(d.database("other"), "latin1");
        d.set_database("app", None);
        assert_eq!(d.database("app"), "latin1");
    }
}
