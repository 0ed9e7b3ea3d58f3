//! Table definitions as sluice tracks them, and the SQL type text parser.
//!
//! One parser reads both `information_schema.COLUMNS.COLUMN_TYPE` (`decimal(12,2) unsigned`,
//! `enum('a','b')`) and sqlparser's rendering of DDL types (`DECIMAL(12,2) UNSIGNED`,
//! `ENUM('a', 'b')`), so a table loaded from the catalog and one rebuilt from a DDL statement
//! have identical definitions.

use serde::{Deserialize, Serialize};

/// `db.table`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TableId {
    pub db: String,
    pub table: String,
}

impl TableId {
    pub fn new(db: impl Into<String>, table: impl Into<String>) -> Self {
        TableId {
            db: db.into(),
            table: table.into(),
        }
    }
}

impl std::fmt::Display for TableId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.db, self.table)
    }
}

/// A column type, normalised (synonyms folded: `integer` → `Int`, `bool` → `TinyInt(1)`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SqlType {
    /// Declared `BOOL`/`BOOLEAN` (a TINYINT(1) the DDL text names boolean).
    Boolean,
    Bit(u32),
    TinyInt {
        unsigned: bool,
    },
    SmallInt {
        unsigned: bool,
    },
    MediumInt {
        unsigned: bool,
    },
    Int {
        unsigned: bool,
    },
    BigInt {
        unsigned: bool,
    },
    Float {
        precision: Option<u32>,
    },
    Double,
    Decimal {
        precision: u32,
        scale: u32,
    },
    Char,
    VarChar,
    Text,
    Binary(u32),
    VarBinary,
    Blob,
    Date,
    Time {
        fsp: u32,
    },
    DateTime {
        fsp: u32,
    },
    Timestamp {
        fsp: u32,
    },
    Year,
    Json,
    Enum(Vec<String>),
    Set(Vec<String>),
    Geometry,
    Uuid,
    Inet4,
    Inet6,
    /// A type sluice does not map; capturing such a column is an error naming it.
    Other(String),
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDef {
    pub name: String,
    pub ty: SqlType,
    pub nullable: bool,
    /// Character set of text columns (`utf8mb4`, `latin1`, …); `None` for non-text columns.
    pub charset: Option<String>,
}

/// A table: its columns in ordinal order and its primary key column names, in key order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDef {
    pub id: TableId,
    pub columns: Vec<ColumnDef>,
    pub primary_key: Vec<String>,
    /// The table's default character set (`DEFAULT CHARSET`): what a column added later without
    /// one of its own gets. `None` when unknown (a history written before sluice kept it).
    #[serde(default)]
    pub default_charset: Option<String>,
}

impl TableDef {
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
    }
}

/// Parses a SQL column type. Unknown names become [`SqlType::Other`].
pub fn parse_sql_type(text: &str) -> SqlType {
    let lower = text.trim().to_ascii_lowercase();
    let (head, args, rest) = split_type(&lower);
    let unsigned = rest
        .split_whitespace()
        .any(|w| w == "unsigned" || w == "zerofill");
    let arg = |i: usize| args.get(i).and_then(|a| a.trim().parse::<u32>().ok());
    let head = head.trim();
    let head = head.strip_prefix("national ").unwrap_or(head);
    match head {
        "bit" => SqlType::Bit(arg(0).unwrap_or(1)),
        "tinyint" | "int1" => SqlType::TinyInt { unsigned },
        // a TINYINT(1) on the server; Debezium maps the name written in DDL to a boolean (the
        // catalog, read by snapshots, says tinyint(1): int16 there in both)
        "bool" | "boolean" => SqlType::Boolean,
        "smallint" | "int2" => SqlType::SmallInt { unsigned },
        "mediumint" | "int3" | "middleint" => SqlType::MediumInt { unsigned },
        "int" | "integer" | "int4" => SqlType::Int { unsigned },
        "bigint" | "int8" => SqlType::BigInt { unsigned },
        "float" | "float4" => match (arg(0), args.len()) {
            (Some(p), 1) => SqlType::Float { precision: Some(p) },
            (_, 2) => SqlType::Double, // FLOAT(M,D) is a double in Debezium's mapping
            _ => SqlType::Float { precision: None },
        },
        "double" | "double precision" | "real" | "float8" => SqlType::Double,
        "decimal" | "numeric" | "dec" | "fixed" => SqlType::Decimal {
            precision: arg(0).unwrap_or(10),
            scale: arg(1).unwrap_or(0),
        },
        "char" | "character" | "nchar" => SqlType::Char,
        "varchar" | "character varying" | "nvarchar" | "varchar2" => SqlType::VarChar,
        "tinytext" | "text" | "mediumtext" | "longtext" | "long" | "long varchar" => SqlType::Text,
        "binary" => SqlType::Binary(arg(0).unwrap_or(1)),
        "varbinary" => SqlType::VarBinary,
        "tinyblob" | "blob" | "mediumblob" | "longblob" | "long varbinary" => SqlType::Blob,
        "date" => SqlType::Date,
        "time" => SqlType::Time {
            fsp: arg(0).unwrap_or(0),
        },
        "datetime" => SqlType::DateTime {
            fsp: arg(0).unwrap_or(0),
        },
        "timestamp" => SqlType::Timestamp {
            fsp: arg(0).unwrap_or(0),
        },
        "year" => SqlType::Year,
        "json" => SqlType::Json,
        "enum" => SqlType::Enum(args),
        "set" => SqlType::Set(args),
        "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
        | "multipolygon" | "geometrycollection" | "geomcollection" => SqlType::Geometry,
        "uuid" => SqlType::Uuid,
        "inet4" => SqlType::Inet4,
        "inet6" => SqlType::Inet6,
        other => SqlType::Other(other.to_string()),
    }
}

/// Splits `name(args) rest` into the name, the arguments (quoted ones unquoted) and the rest.
fn split_type(text: &str) -> (String, Vec<String>, String) {
    let Some(open) = text.find('(') else {
        let mut words = text.split_whitespace().peekable();
        let mut head = Vec::new();
        while let Some(w) = words.peek() {
            if matches!(*w, "unsigned" | "signed" | "zerofill") {
                break;
            }
            head.push(*w);
            words.next();
        }
        return (
            head.join(" "),
            Vec::new(),
            words.collect::<Vec<_>>().join(" "),
        );
    };
    let head = text[..open].trim().to_string();
    let bytes = text.as_bytes();
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut i = open + 1;
    let mut quoted = false;
    let mut was_quoted = false;
    while i < bytes.len() {
        let c = text[i..].chars().next().unwrap_or(')');
        if quoted {
            if c == '\'' {
                if bytes.get(i + 1) == Some(&b'\'') {
                    cur.push('\'');
                    i += 2;
                    continue;
                }
                quoted = false;
            } else if c == '\\' && i + 1 < bytes.len() {
                let n = text[i + 1..].chars().next().unwrap_or('\\');
                cur.push(n);
                i += 1 + n.len_utf8();
                continue;
            } else {
                cur.push(c);
            }
        } else if c == '\'' {
            quoted = true;
            was_quoted = true;
        } else if c == ',' || c == ')' {
            args.push(if was_quoted {
                cur.clone()
            } else {
                cur.trim().to_string()
            });
            cur.clear();
            was_quoted = false;
            if c == ')' {
                i += 1;
                break;
            }
        } else if !c.is_whitespace() || !cur.is_empty() {
            cur.push(c);
        }
        i += c.len_utf8();
    }
    (head, args, text[i.min(text.len())..].trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_and_ddl_spellings_agree() {
        let pairs = [
            ("decimal(12,2) unsigned", "DECIMAL(12,2) UNSIGNED"),
            ("enum('a','b''c')", "ENUM('a', 'b''c')"),
            ("bigint(20) unsigned", "BIGINT UNSIGNED"),
            ("int(11)", "INTEGER"),
            ("datetime(6)", "DATETIME(6)"),
            ("double", "DOUBLE PRECISION"),
            ("varchar(100)", "CHARACTER VARYING(100)"),
        ];
        for (catalog, ddl) in pairs {
            assert_eq!(
                parse_sql_type(catalog),
                parse_sql_type(ddl),
                "{catalog} vs {ddl}"
            );
        }
        // the one spelling that differs on purpose: Debezium maps the DDL name BOOLEAN to a
        // boolean, while the catalog (and so a snapshot) only knows tinyint(1)
        assert_eq!(parse_sql_type("BOOLEAN"), SqlType::Boolean);
        assert_eq!(
            parse_sql_type("tinyint(1)"),
            SqlType::TinyInt { unsigned: false }
        );
    }

    #[test]
    fn parses_arguments_and_modifiers() {
        assert_eq!(parse_sql_type("bit(10)"), SqlType::Bit(10));
        assert_eq!(parse_sql_type("binary(16)"), SqlType::Binary(16));
        assert_eq!(
            parse_sql_type("timestamp(6)"),
            SqlType::Timestamp { fsp: 6 }
        );
        assert_eq!(
            parse_sql_type("int unsigned"),
            SqlType::Int { unsigned: true }
        );
        assert_eq!(
            parse_sql_type("set('a','b,c')"),
            SqlType::Set(vec!["a".into(), "b,c".into()])
        );
        assert_eq!(
            parse_sql_type("float(30)"),
            SqlType::Float {
                precision: Some(30)
            }
        );
        assert_eq!(parse_sql_type("float(7,2)"), SqlType::Double);
        assert_eq!(parse_sql_type("vector(3)"), SqlType::Other("vector".into()));
    }
}
