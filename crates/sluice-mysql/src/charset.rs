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
//!   `tis620` is windows-874 without Microsoft's 0x80–0x9F additions (and no character at 0xA0).
//! * A few bytes of `cp866`, `koi8u`, `greek` and `hebrew` map to other characters in MySQL's
//!   tables than in WHATWG's (IBM's original cp866 ends in `ⁿ²`, not `№¤`; MySQL's koi8u predates
//!   the Belarusian `ўЎ`; …). Those bytes are patched ([`Charset::Patched`]). The integration
//!   test `single_byte_tables_equal_the_servers` compares every high byte of every single-byte
//!   set with the server's own conversion, which is how these were found.
//! * Likewise for two-byte codes ([`Multi`], checked code by code against the server by
//!   `double_byte_tables_equal_the_servers`): `sjis` and `ujis` map seven JIS X 0208 symbols to
//!   the JIS characters (`\`, `〜`, `‖`, `−`, `¢`, `£`, `¬`) where WHATWG has Microsoft's
//!   fullwidth forms; `ujis` and `eucjpms` map the user-defined rows 0xF5–0xFE to the Private Use
//!   Area from U+E000; `gb2312` has `・` and `―` at 0xA1A4 and 0xA1AA; MySQL's `big5` is plain
//!   Big5 with the ETEN kana/Cyrillic block at 0xC6A1–0xC7FC, where WHATWG's is Big5-HKSCS, so
//!   that block and 18 symbols come from MySQL's table ([`BIG5`]). `gbk`, `cp932` and `euckr`
//!   equal WHATWG's for every two-byte code. (`gb18030` four-byte codes and `ujis` three-byte
//!   codes are WHATWG's, not compared.)
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
    /// A single-byte WHATWG encoding with the bytes where MySQL's table differs replaced.
    Patched(&'static Encoding, &'static [(u8, char)]),
    /// A multi-byte WHATWG encoding with the codes where MySQL's table differs replaced.
    Multi(Multi),
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
            "latin5" => Charset::Patched(e::WINDOWS_1254, &C1),
            "latin7" => Charset::Whatwg(e::ISO_8859_13),
            "greek" => Charset::Patched(e::ISO_8859_7, &[(0xa1, '\u{2bd}'), (0xa2, '\u{2bc}')]),
            "hebrew" => Charset::Patched(e::ISO_8859_8, &[(0xaf, '\u{203e}')]),
            "cp1250" => Charset::Whatwg(e::WINDOWS_1250),
            "cp1251" => Charset::Whatwg(e::WINDOWS_1251),
            "cp1256" => Charset::Whatwg(e::WINDOWS_1256),
            "cp1257" => Charset::Whatwg(e::WINDOWS_1257),
            "cp866" => Charset::Patched(e::IBM866, &[(0xfc, 'ⁿ'), (0xfd, '²')]),
            "koi8r" => Charset::Whatwg(e::KOI8_R),
            "koi8u" => Charset::Patched(e::KOI8_U, &[(0x95, '•'), (0xae, '╝'), (0xbe, '╬')]),
            "tis620" => Charset::Patched(e::WINDOWS_874, &TIS620),
            "macroman" => Charset::Whatwg(e::MACINTOSH),
            // WHATWG's GBK and Big5 are supersets of gb2312 and MySQL's big5
            "gbk" => Charset::Whatwg(e::GBK),
            "gb2312" => Charset::Multi(Multi::Gb2312),
            "gb18030" => Charset::Whatwg(e::GB18030),
            "big5" => Charset::Multi(Multi::Big5),
            // WHATWG's Shift_JIS is Microsoft's cp932, a superset of JIS X 0208 Shift_JIS
            "cp932" => Charset::Whatwg(e::SHIFT_JIS),
            "sjis" => Charset::Multi(Multi::Sjis),
            "ujis" => Charset::Multi(Multi::Ujis),
            "eucjpms" => Charset::Multi(Multi::EucJpMs),
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
            Charset::Patched(enc, patch) => {
                let text = enc.decode_without_bom_handling(bytes).0;
                if !bytes.iter().any(|b| patch.iter().any(|(p, _)| p == b)) {
                    return text;
                }
                // single-byte: the n-th character is the n-th byte's
                let patched = text
                    .chars()
                    .zip(bytes)
                    .map(|(c, b)| patch.iter().find(|(p, _)| p == b).map_or(c, |(_, r)| *r));
                Cow::Owned(patched.collect())
            }
            Charset::Multi(m) => m.decode(bytes),
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

/// The multi-byte character sets whose MySQL table differs from WHATWG's in some codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Multi {
    Sjis,
    Ujis,
    EucJpMs,
    Gb2312,
    Big5,
}

impl Multi {
    fn encoding(self) -> &'static Encoding {
        match self {
            Multi::Sjis => encoding_rs::SHIFT_JIS,
            Multi::Ujis | Multi::EucJpMs => encoding_rs::EUC_JP,
            Multi::Gb2312 => encoding_rs::GBK,
            Multi::Big5 => encoding_rs::BIG5,
        }
    }

    /// Bytes of the code that starts with `lead`.
    fn width(self, lead: u8) -> usize {
        match self {
            Multi::Sjis if matches!(lead, 0x81..=0x9f | 0xe0..=0xfc) => 2,
            Multi::Ujis | Multi::EucJpMs if lead == 0x8f => 3,
            Multi::Ujis | Multi::EucJpMs if lead == 0x8e || lead >= 0xa1 => 2,
            Multi::Gb2312 | Multi::Big5 if lead >= 0x81 => 2,
            _ => 1,
        }
    }

    /// MySQL's character for a two-byte code where it differs from WHATWG's.
    fn mysql_char(self, lead: u8, trail: u8) -> Option<char> {
        let code = u16::from_be_bytes([lead, trail]);
        let table: &[(u16, char)] = match self {
            Multi::Sjis => &JIS_SYMBOLS_SJIS,
            Multi::Ujis | Multi::EucJpMs => {
                // user-defined rows 0xF5–0xFE (94 codes each) → the Private Use Area
                if (0xf5..=0xfe).contains(&lead) && (0xa1..=0xfe).contains(&trail) {
                    let n = u32::from(lead - 0xf5) * 94 + u32::from(trail - 0xa1);
                    return char::from_u32(0xe000 + n);
                }
                if self == Multi::EucJpMs {
                    return None;
                }
                &JIS_SYMBOLS_EUC
            }
            Multi::Gb2312 => &[(0xa1a4, '・'), (0xa1aa, '―')],
            Multi::Big5 => &BIG5,
        };
        table
            .binary_search_by_key(&code, |(c, _)| *c)
            .ok()
            .map(|i| table[i].1)
    }

    /// Decodes runs of codes with `encoding_rs`, and the codes MySQL maps differently itself.
    fn decode(self, bytes: &[u8]) -> Cow<'_, str> {
        let enc = self.encoding();
        let mut out = String::new();
        let (mut run, mut i) = (0, 0);
        while i < bytes.len() {
            let w = self.width(bytes[i]).min(bytes.len() - i);
            if w == 2 {
                if let Some(c) = self.mysql_char(bytes[i], bytes[i + 1]) {
                    out.push_str(&enc.decode_without_bom_handling(&bytes[run..i]).0);
                    out.push(c);
                    run = i + 2;
                }
            }
            i += w;
        }
        if run == 0 {
            return enc.decode_without_bom_handling(bytes).0;
        }
        out.push_str(&enc.decode_without_bom_handling(&bytes[run..]).0);
        Cow::Owned(out)
    }
}

/// JIS X 0208 row 1–2 symbols as MySQL maps them (WHATWG: fullwidth forms), in Shift_JIS…
const JIS_SYMBOLS_SJIS: [(u16, char); 7] = [
    (0x815f, '\\'),
    (0x8160, '\u{301c}'),
    (0x8161, '\u{2016}'),
    (0x817c, '\u{2212}'),
    (0x8191, '\u{a2}'),
    (0x8192, '\u{a3}'),
    (0x81ca, '\u{ac}'),
];

/// … and in EUC-JP.
const JIS_SYMBOLS_EUC: [(u16, char); 7] = [
    (0xa1c0, '\\'),
    (0xa1c1, '\u{301c}'),
    (0xa1c2, '\u{2016}'),
    (0xa1dd, '\u{2212}'),
    (0xa1f1, '\u{a2}'),
    (0xa1f2, '\u{a3}'),
    (0xa2cc, '\u{ac}'),
];

/// MySQL's `big5` where it differs from WHATWG's Big5-HKSCS: 18 symbols (U+FFFD where MySQL
/// has no character) and the ETEN block 0xC6A1–0xC7FC. Taken from the server's own conversion
/// of every code; `double_byte_tables_equal_the_servers` checks it stays so.
#[rustfmt::skip]
const BIG5: [(u16, char); 267] = [
    (0xa145, '\u{2022}'), (0xa14e, '\u{ff64}'), (0xa15a, '\u{fffd}'), (0xa1c2, '\u{203e}'),
    (0xa1c3, '\u{fffd}'), (0xa1c5, '\u{fffd}'), (0xa1e3, '\u{223c}'), (0xa1f2, '\u{2641}'),
    (0xa1f3, '\u{2609}'), (0xa1fe, '\u{fffd}'), (0xa240, '\u{fffd}'), (0xa241, '\u{ff0f}'),
    (0xa242, '\u{ff3c}'), (0xa244, '\u{a5}'), (0xa246, '\u{a2}'), (0xa247, '\u{a3}'),
    (0xa2cc, '\u{fffd}'), (0xa2ce, '\u{fffd}'), (0xc6a1, '\u{30fe}'), (0xc6a2, '\u{309d}'),
    (0xc6a3, '\u{309e}'), (0xc6a4, '\u{3005}'), (0xc6a5, '\u{3041}'), (0xc6a6, '\u{3042}'),
    (0xc6a7, '\u{3043}'), (0xc6a8, '\u{3044}'), (0xc6a9, '\u{3045}'), (0xc6aa, '\u{3046}'),
    (0xc6ab, '\u{3047}'), (0xc6ac, '\u{3048}'), (0xc6ad, '\u{3049}'), (0xc6ae, '\u{304a}'),
    (0xc6af, '\u{304b}'), (0xc6b0, '\u{304c}'), (0xc6b1, '\u{304d}'), (0xc6b2, '\u{304e}'),
    (0xc6b3, '\u{304f}'), (0xc6b4, '\u{3050}'), (0xc6b5, '\u{3051}'), (0xc6b6, '\u{3052}'),
    (0xc6b7, '\u{3053}'), (0xc6b8, '\u{3054}'), (0xc6b9, '\u{3055}'), (0xc6ba, '\u{3056}'),
    (0xc6bb, '\u{3057}'), (0xc6bc, '\u{3058}'), (0xc6bd, '\u{3059}'), (0xc6be, '\u{305a}'),
    (0xc6bf, '\u{305b}'), (0xc6c0, '\u{305c}'), (0xc6c1, '\u{305d}'), (0xc6c2, '\u{305e}'),
    (0xc6c3, '\u{305f}'), (0xc6c4, '\u{3060}'), (0xc6c5, '\u{3061}'), (0xc6c6, '\u{3062}'),
    (0xc6c7, '\u{3063}'), (0xc6c8, '\u{3064}'), (0xc6c9, '\u{3065}'), (0xc6ca, '\u{3066}'),
    (0xc6cb, '\u{3067}'), (0xc6cc, '\u{3068}'), (0xc6cd, '\u{3069}'), (0xc6ce, '\u{306a}'),
    (0xc6cf, '\u{306b}'), (0xc6d0, '\u{306c}'), (0xc6d1, '\u{306d}'), (0xc6d2, '\u{306e}'),
    (0xc6d3, '\u{306f}'), (0xc6d4, '\u{3070}'), (0xc6d5, '\u{3071}'), (0xc6d6, '\u{3072}'),
    (0xc6d7, '\u{3073}'), (0xc6d8, '\u{3074}'), (0xc6d9, '\u{3075}'), (0xc6da, '\u{3076}'),
    (0xc6db, '\u{3077}'), (0xc6dc, '\u{3078}'), (0xc6dd, '\u{3079}'), (0xc6de, '\u{307a}'),
    (0xc6df, '\u{307b}'), (0xc6e0, '\u{307c}'), (0xc6e1, '\u{307d}'), (0xc6e2, '\u{307e}'),
    (0xc6e3, '\u{307f}'), (0xc6e4, '\u{3080}'), (0xc6e5, '\u{3081}'), (0xc6e6, '\u{3082}'),
    (0xc6e7, '\u{3083}'), (0xc6e8, '\u{3084}'), (0xc6e9, '\u{3085}'), (0xc6ea, '\u{3086}'),
    (0xc6eb, '\u{3087}'), (0xc6ec, '\u{3088}'), (0xc6ed, '\u{3089}'), (0xc6ee, '\u{308a}'),
    (0xc6ef, '\u{308b}'), (0xc6f0, '\u{308c}'), (0xc6f1, '\u{308d}'), (0xc6f2, '\u{308e}'),
    (0xc6f3, '\u{308f}'), (0xc6f4, '\u{3090}'), (0xc6f5, '\u{3091}'), (0xc6f6, '\u{3092}'),
    (0xc6f7, '\u{3093}'), (0xc6f8, '\u{30a1}'), (0xc6f9, '\u{30a2}'), (0xc6fa, '\u{30a3}'),
    (0xc6fb, '\u{30a4}'), (0xc6fc, '\u{30a5}'), (0xc6fd, '\u{30a6}'), (0xc6fe, '\u{30a7}'),
    (0xc740, '\u{30a8}'), (0xc741, '\u{30a9}'), (0xc742, '\u{30aa}'), (0xc743, '\u{30ab}'),
    (0xc744, '\u{30ac}'), (0xc745, '\u{30ad}'), (0xc746, '\u{30ae}'), (0xc747, '\u{30af}'),
    (0xc748, '\u{30b0}'), (0xc749, '\u{30b1}'), (0xc74a, '\u{30b2}'), (0xc74b, '\u{30b3}'),
    (0xc74c, '\u{30b4}'), (0xc74d, '\u{30b5}'), (0xc74e, '\u{30b6}'), (0xc74f, '\u{30b7}'),
    (0xc750, '\u{30b8}'), (0xc751, '\u{30b9}'), (0xc752, '\u{30ba}'), (0xc753, '\u{30bb}'),
    (0xc754, '\u{30bc}'), (0xc755, '\u{30bd}'), (0xc756, '\u{30be}'), (0xc757, '\u{30bf}'),
    (0xc758, '\u{30c0}'), (0xc759, '\u{30c1}'), (0xc75a, '\u{30c2}'), (0xc75b, '\u{30c3}'),
    (0xc75c, '\u{30c4}'), (0xc75d, '\u{30c5}'), (0xc75e, '\u{30c6}'), (0xc75f, '\u{30c7}'),
    (0xc760, '\u{30c8}'), (0xc761, '\u{30c9}'), (0xc762, '\u{30ca}'), (0xc763, '\u{30cb}'),
    (0xc764, '\u{30cc}'), (0xc765, '\u{30cd}'), (0xc766, '\u{30ce}'), (0xc767, '\u{30cf}'),
    (0xc768, '\u{30d0}'), (0xc769, '\u{30d1}'), (0xc76a, '\u{30d2}'), (0xc76b, '\u{30d3}'),
    (0xc76c, '\u{30d4}'), (0xc76d, '\u{30d5}'), (0xc76e, '\u{30d6}'), (0xc76f, '\u{30d7}'),
    (0xc770, '\u{30d8}'), (0xc771, '\u{30d9}'), (0xc772, '\u{30da}'), (0xc773, '\u{30db}'),
    (0xc774, '\u{30dc}'), (0xc775, '\u{30dd}'), (0xc776, '\u{30de}'), (0xc777, '\u{30df}'),
    (0xc778, '\u{30e0}'), (0xc779, '\u{30e1}'), (0xc77a, '\u{30e2}'), (0xc77b, '\u{30e3}'),
    (0xc77c, '\u{30e4}'), (0xc77d, '\u{30e5}'), (0xc77e, '\u{30e6}'), (0xc7a1, '\u{30e7}'),
    (0xc7a2, '\u{30e8}'), (0xc7a3, '\u{30e9}'), (0xc7a4, '\u{30ea}'), (0xc7a5, '\u{30eb}'),
    (0xc7a6, '\u{30ec}'), (0xc7a7, '\u{30ed}'), (0xc7a8, '\u{30ee}'), (0xc7a9, '\u{30ef}'),
    (0xc7aa, '\u{30f0}'), (0xc7ab, '\u{30f1}'), (0xc7ac, '\u{30f2}'), (0xc7ad, '\u{30f3}'),
    (0xc7ae, '\u{30f4}'), (0xc7af, '\u{30f5}'), (0xc7b0, '\u{30f6}'), (0xc7b1, '\u{414}'),
    (0xc7b2, '\u{415}'), (0xc7b3, '\u{401}'), (0xc7b4, '\u{416}'), (0xc7b5, '\u{417}'),
    (0xc7b6, '\u{418}'), (0xc7b7, '\u{419}'), (0xc7b8, '\u{41a}'), (0xc7b9, '\u{41b}'),
    (0xc7ba, '\u{41c}'), (0xc7bb, '\u{423}'), (0xc7bc, '\u{424}'), (0xc7bd, '\u{425}'),
    (0xc7be, '\u{426}'), (0xc7bf, '\u{427}'), (0xc7c0, '\u{428}'), (0xc7c1, '\u{429}'),
    (0xc7c2, '\u{42a}'), (0xc7c3, '\u{42b}'), (0xc7c4, '\u{42c}'), (0xc7c5, '\u{42d}'),
    (0xc7c6, '\u{42e}'), (0xc7c7, '\u{42f}'), (0xc7c8, '\u{430}'), (0xc7c9, '\u{431}'),
    (0xc7ca, '\u{432}'), (0xc7cb, '\u{433}'), (0xc7cc, '\u{434}'), (0xc7cd, '\u{435}'),
    (0xc7ce, '\u{451}'), (0xc7cf, '\u{436}'), (0xc7d0, '\u{437}'), (0xc7d1, '\u{438}'),
    (0xc7d2, '\u{439}'), (0xc7d3, '\u{43a}'), (0xc7d4, '\u{43b}'), (0xc7d5, '\u{43c}'),
    (0xc7d6, '\u{43d}'), (0xc7d7, '\u{43e}'), (0xc7d8, '\u{43f}'), (0xc7d9, '\u{440}'),
    (0xc7da, '\u{441}'), (0xc7db, '\u{442}'), (0xc7dc, '\u{443}'), (0xc7dd, '\u{444}'),
    (0xc7de, '\u{445}'), (0xc7df, '\u{446}'), (0xc7e0, '\u{447}'), (0xc7e1, '\u{448}'),
    (0xc7e2, '\u{449}'), (0xc7e3, '\u{44a}'), (0xc7e4, '\u{44b}'), (0xc7e5, '\u{44c}'),
    (0xc7e6, '\u{44d}'), (0xc7e7, '\u{44e}'), (0xc7e8, '\u{44f}'), (0xc7e9, '\u{2460}'),
    (0xc7ea, '\u{2461}'), (0xc7eb, '\u{2462}'), (0xc7ec, '\u{2463}'), (0xc7ed, '\u{2464}'),
    (0xc7ee, '\u{2465}'), (0xc7ef, '\u{2466}'), (0xc7f0, '\u{2467}'), (0xc7f1, '\u{2468}'),
    (0xc7f2, '\u{2469}'), (0xc7f3, '\u{2474}'), (0xc7f4, '\u{2475}'), (0xc7f5, '\u{2476}'),
    (0xc7f6, '\u{2477}'), (0xc7f7, '\u{2478}'), (0xc7f8, '\u{2479}'), (0xc7f9, '\u{247a}'),
    (0xc7fa, '\u{247b}'), (0xc7fb, '\u{247c}'), (0xc7fc, '\u{247d}'),
];

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

/// 0x80–0x9F as the C1 controls U+0080–U+009F (ISO-8859 sets have no printable characters
/// there, Windows code pages do).
const C1: [(u8, char); 32] = c1_and_a0();

/// TIS-620: C1 controls, and no character at 0xA0 (MySQL converts it to U+FFFD).
const TIS620: [(u8, char); 33] = c1_and_a0();

/// The 32 C1 mappings, then, when `N` is 33, 0xA0 as U+FFFD.
const fn c1_and_a0<const N: usize>() -> [(u8, char); N] {
    let mut table = [(0xa0u8, char::REPLACEMENT_CHARACTER); N];
    let mut i = 0;
    while i < N && i < 32 {
        table[i] = (0x80 + i as u8, (0x80 + i as u8) as char);
        i += 1;
    }
    table
}

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
    let lower = name
        .trim()
        .trim_matches(['\'', '"', '`'])
        .to_ascii_lowercase();
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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
        Charset::by_name(charset)
            .unwrap()
            .decode(bytes)
            .into_owned()
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
            (
                "latin2",
                b"\xae\x6c\x75\xbb\x6f\x75\xe8\x6b\xfd",
                "Žluťoučký",
            ),
            (
                "cp1250",
                b"\x8e\x6c\x75\x9d\x6f\x75\xe8\x6b\xfd",
                "Žluťoučký",
            ),
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
    fn mysqls_own_two_byte_codes() {
        // sjis 0x8160 is WAVE DASH in MySQL, FULLWIDTH TILDE in cp932 (and WHATWG)
        assert_eq!(text("sjis", b"a\x81\x60\x93\xfa"), "a〜日");
        assert_eq!(text("cp932", b"a\x81\x60\x93\xfa"), "a～日");
        assert_eq!(
            text("ujis", b"\xa1\xc1\xf5\xa1\xfe\xfe"),
            "〜\u{e000}\u{e3ab}"
        );
        assert_eq!(text("eucjpms", b"\xa1\xc1\xf5\xa2"), "～\u{e001}");
        assert_eq!(text("gb2312", b"\xa1\xa4\xc4\xe3"), "・你");
        assert_eq!(text("big5", b"\xc6\xa5\xa7\x41"), "ぁ你");
        // a lead byte cut off at the end of the value
        assert_eq!(text("big5", b"\xa7\x41\xc6"), "你\u{fffd}");
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
        for cs in [
            "cp850", "cp852", "dec8", "swe7", "armscii8", "keybcs2", "hp8", "macce",
        ] {
            let e = Charset::by_name(cs).unwrap_err();
            assert!(e.to_string().contains(&format!("{cs:?}")), "{e}");
            assert!(e.to_string().contains("column.exclude.list"), "{e}");
        }
        assert!(Charset::by_name("klingon").is_err());
    }

    #[test]
    fn collations_name_their_character_set() {
        assert_eq!(of_collation("latin1_swedish_ci").as_deref(), Some("latin1"));
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
        assert_eq!(
            resolve(Some("latin2"), Some("greek_general_ci"), "koi8r"),
            "latin2"
        );
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
