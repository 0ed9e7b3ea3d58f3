//! The character set statements sqlparser does not model with their MySQL options:
//! `CREATE`/`ALTER`/`DROP DATABASE` (a database's default character set) and the table options
//! of `ALTER TABLE … CONVERT TO CHARACTER SET` / `ALTER TABLE … DEFAULT CHARSET`, read with
//! anchored regular expressions over the whole statement; plus the table options of a parsed
//! CREATE TABLE. Resolution itself is [`crate::charset::resolve`].

use sqlparser::ast::{CreateTableOptions, SqlOption};

use super::{unquote, DdlChange};
use crate::charset::{self, Defaults};
use crate::table::{TableDef, TableId};

/// The table's `[DEFAULT] CHARSET`/`CHARACTER SET` and `[DEFAULT] COLLATE` options.
pub(super) fn table_charset_options(opts: &CreateTableOptions) -> (Option<String>, Option<String>) {
    let list: &[SqlOption] = match opts {
        CreateTableOptions::None => &[],
        CreateTableOptions::With(v)
        | CreateTableOptions::Options(v)
        | CreateTableOptions::Plain(v)
        | CreateTableOptions::TableProperties(v) => v,
    };
    let (mut cs, mut collation) = (None, None);
    for o in list {
        if let SqlOption::KeyValue { key, value } = o {
            let key = key.value.to_ascii_uppercase();
            let value = unquote(&value.to_string()).trim_matches('\'').to_string();
            match key.trim_start_matches("DEFAULT ") {
                "CHARSET" | "CHARACTER SET" => cs = Some(value),
                "COLLATE" => collation = Some(value),
                _ => {}
            }
        }
    }
    (cs, collation)
}

/// `ALTER TABLE t CONVERT TO CHARACTER SET cs [COLLATE c]` and
/// `ALTER TABLE t [DEFAULT] CHARACTER SET [=] cs [COLLATE c]` alone: the table with its new
/// character sets. `None` for any other statement.
pub(super) fn table_charset_ddl(
    db: &str,
    sql: &str,
    current: &dyn Fn(&TableId) -> Option<TableDef>,
) -> Option<DdlChange> {
    static RE: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r#"(?is)^\s*ALTER\s+(?:ONLINE\s+|IGNORE\s+)*TABLE\s+((?:`[^`]+`|[\w$]+)(?:\.(?:`[^`]+`|[\w$]+))?)\s+(CONVERT\s+TO\s+)?(?:DEFAULT\s+)?(?:CHARACTER\s+SET|CHARSET)\s*=?\s*('[^']*'|"[^"]*"|[\w$]+)(?:\s+(?:DEFAULT\s+)?COLLATE\s*=?\s*('[^']*'|"[^"]*"|[\w$]+))?\s*;?\s*$"#,
        )
        .ok()
    });
    let c = RE.as_ref()?.captures(sql)?;
    let parts: Vec<String> = c.get(1)?.as_str().split('.').map(unquote).collect();
    let id = match parts.as_slice() {
        [d, t] => TableId::new(d.clone(), t.clone()),
        [t] => TableId::new(db, t.clone()),
        _ => return None,
    };
    let Some(mut def) = current(&id) else {
        return Some(DdlChange::Reload(
            id,
            "ALTER of a table not tracked yet".into(),
        ));
    };
    let cs = charset::resolve(
        c.get(3).map(|m| m.as_str()),
        c.get(4).map(|m| m.as_str()),
        def.default_charset.as_deref().unwrap_or("utf8mb4"),
    );
    if c.get(2).is_some() {
        if cs == "binary" {
            return Some(DdlChange::Reload(
                id,
                "CONVERT TO CHARACTER SET binary".into(),
            ));
        }
        for col in &mut def.columns {
            if col.charset.is_some() {
                col.charset = Some(cs.clone());
            }
        }
    }
    def.default_charset = Some(cs);
    Some(DdlChange::Define(def))
}

/// `CREATE`/`ALTER`/`DROP DATABASE|SCHEMA` (which sqlparser does not read with their MySQL
/// options): the database's new default character set. `None` for any other statement.
pub(super) fn database_ddl(db: &str, sql: &str, defaults: &Defaults) -> Option<Vec<DdlChange>> {
    static RE: std::sync::LazyLock<Option<[regex::Regex; 3]>> = std::sync::LazyLock::new(|| {
        let opt = |what: &str| {
            regex::Regex::new(&format!(
                r#"(?i)\b(?:{what})\s*=?\s*('[^']*'|"[^"]*"|`[^`]*`|[\w$]+)"#
            ))
        };
        Some([
            regex::Regex::new(
                r"(?is)^\s*(?:/\*.*?\*/\s*)*(CREATE|ALTER|DROP)\s+(?:DATABASE|SCHEMA)\s*(IF\s+(?:NOT\s+)?EXISTS\s+)?(`[^`]+`|[\w$]+)?(.*)$",
            )
            .ok()?,
            opt("CHARACTER\\s+SET|CHARSET").ok()?,
            opt("COLLATE").ok()?,
        ])
    });
    let [stmt, cs_re, coll_re] = RE.as_ref()?;
    let c = stmt.captures(sql)?;
    let verb = c.get(1)?.as_str().to_ascii_uppercase();
    let named = c.get(3).map(|m| m.as_str()).filter(|n| {
        !["DEFAULT", "CHARACTER", "CHARSET", "COLLATE"]
            .iter()
            .any(|k| n.eq_ignore_ascii_case(k))
    });
    let name = named.map_or_else(|| db.to_string(), unquote);
    let rest = match (named, c.get(3)) {
        (None, Some(word)) => &sql[word.start()..],
        _ => c.get(4).map_or("", |m| m.as_str()),
    };
    let value = |re: &regex::Regex| {
        re.captures(rest)
            .and_then(|m| m.get(1))
            .map(|m| m.as_str().to_string())
    };
    let (cs, collation) = (value(cs_re), value(coll_re));
    let if_exists = c.get(2).is_some();
    Some(match verb.as_str() {
        "DROP" => vec![DdlChange::DatabaseCharset(name, None)],
        "CREATE" if if_exists && defaults.databases.contains_key(&name) => Vec::new(),
        "CREATE" => {
            let resolved = charset::resolve(cs.as_deref(), collation.as_deref(), &defaults.server);
            vec![DdlChange::DatabaseCharset(name, Some(resolved))]
        }
        _ if cs.is_none() && collation.is_none() => Vec::new(),
        _ => {
            let resolved = charset::resolve(
                cs.as_deref(),
                collation.as_deref(),
                defaults.database(&name),
            );
            vec![DdlChange::DatabaseCharset(name, Some(resolved))]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::interpret;
    use super::*;
    use crate::table::SqlType;

    fn none(_: &TableId) -> Option<TableDef> {
        None
    }

    fn create(sql: &str) -> TableDef {
        define(sql, &none, &Defaults::default())
    }

    fn latin1_server() -> Defaults {
        let mut d = Defaults {
            server: "latin1".into(),
            ..Defaults::default()
        };
        d.set_database("app", Some("cp1251".into()));
        d
    }

    fn define(sql: &str, cur: &dyn Fn(&TableId) -> Option<TableDef>, d: &Defaults) -> TableDef {
        match interpret("app", sql, true, cur, d).pop() {
            Some(DdlChange::Define(def)) => def,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn charsets(d: &TableDef) -> Vec<Option<&str>> {
        d.columns.iter().map(|c| c.charset.as_deref()).collect()
    }

    #[test]
    fn a_column_charset_comes_from_column_then_table_then_database() {
        let d = latin1_server();
        let t = define(
            "CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(5) CHARACTER SET latin2, \
             b TEXT COLLATE greek_general_ci, c CHAR(3), e ENUM('x'), n NCHAR(4), \
             u VARCHAR(3) COLLATE uca1400_ai_ci) DEFAULT CHARSET=koi8r",
            &none,
            &d,
        );
        assert_eq!(
            charsets(&t),
            [
                None,
                Some("latin2"),
                Some("greek"),
                Some("koi8r"),
                Some("koi8r"),
                Some("utf8mb3"),
                Some("koi8r")
            ]
        );
        assert_eq!(t.default_charset.as_deref(), Some("koi8r"));
        let t = define(
            "CREATE TABLE t (a TEXT) COLLATE = latin2_czech_cs",
            &none,
            &d,
        );
        assert_eq!(charsets(&t), [Some("latin2")]);
        // nothing on the table: the database default, for another database the server's
        let t = define("CREATE TABLE t (a TEXT)", &none, &d);
        assert_eq!(
            (charsets(&t), t.default_charset.as_deref()),
            (vec![Some("cp1251")], Some("cp1251"))
        );
        let t = define("CREATE TABLE other.t (a TEXT)", &none, &d);
        assert_eq!(charsets(&t), [Some("latin1")]);
    }

    #[test]
    fn a_column_added_later_takes_the_tables_default_not_the_databases() {
        let d = latin1_server();
        let base = define(
            "CREATE TABLE t (id INT PRIMARY KEY) CHARSET big5",
            &none,
            &d,
        );
        let cur = move |_: &TableId| Some(base.clone());
        let t = define(
            "ALTER TABLE t ADD COLUMN a VARCHAR(4), ADD COLUMN b TEXT CHARACTER SET sjis",
            &cur,
            &d,
        );
        assert_eq!(charsets(&t), [None, Some("big5"), Some("sjis")]);
        let cur = move |_: &TableId| Some(t.clone());
        let t = define(
            "ALTER TABLE t MODIFY a VARCHAR(9) COLLATE euckr_korean_ci",
            &cur,
            &d,
        );
        assert_eq!(charsets(&t)[1], Some("euckr"));
    }

    #[test]
    fn a_text_type_in_character_set_binary_is_the_binary_type() {
        let t = define(
            "CREATE TABLE t (a CHAR(4) CHARACTER SET binary, b VARCHAR(9) CHARACTER SET binary, c TEXT CHARACTER SET binary)",
            &none,
            &Defaults::default(),
        );
        let types: Vec<&SqlType> = t.columns.iter().map(|c| &c.ty).collect();
        assert_eq!(
            types,
            [&SqlType::Binary(4), &SqlType::VarBinary, &SqlType::Blob]
        );
        assert_eq!(charsets(&t), [None, None, None]);
    }

    #[test]
    fn converting_a_table_changes_every_text_column_and_the_default() {
        let d = Defaults::default();
        let base =
            create("CREATE TABLE t (id INT PRIMARY KEY, a TEXT, b CHAR(2) CHARACTER SET latin2)");
        let cur = move |_: &TableId| Some(base.clone());
        let t = define(
            "ALTER TABLE `app`.`t` CONVERT TO CHARACTER SET latin2 COLLATE latin2_czech_cs",
            &cur,
            &d,
        );
        assert_eq!(charsets(&t), [None, Some("latin2"), Some("latin2")]);
        assert_eq!(t.default_charset.as_deref(), Some("latin2"));
        let t = define("alter table t convert to charset utf8", &cur, &d);
        assert_eq!(charsets(&t), [None, Some("utf8mb3"), Some("utf8mb3")]);
        // a new default leaves the columns as they are
        let t = define("ALTER TABLE t DEFAULT CHARSET = greek", &cur, &d);
        assert_eq!(charsets(&t), [None, Some("utf8mb4"), Some("latin2")]);
        assert_eq!(t.default_charset.as_deref(), Some("greek"));
        // with other operations, or to binary: the catalog says what came out
        for sql in [
            "ALTER TABLE t CONVERT TO CHARACTER SET latin2, ADD COLUMN z INT",
            "ALTER TABLE t CONVERT TO CHARACTER SET binary",
        ] {
            let out = interpret("app", sql, true, &cur, &d);
            assert!(
                matches!(&out[..], [DdlChange::Reload(id, _)] if id.table == "t"),
                "{sql}: {out:?}"
            );
        }
    }

    #[test]
    fn database_statements_change_the_database_default() {
        let d = latin1_server();
        let db = |sql: &str| interpret("app", sql, true, &none, &d);
        assert_eq!(
            db("CREATE DATABASE shop DEFAULT CHARACTER SET = 'greek'"),
            [DdlChange::DatabaseCharset(
                "shop".into(),
                Some("greek".into())
            )]
        );
        assert_eq!(
            db("CREATE SCHEMA IF NOT EXISTS `shop` COLLATE koi8u_general_ci"),
            [DdlChange::DatabaseCharset(
                "shop".into(),
                Some("koi8u".into())
            )]
        );
        assert_eq!(
            db("CREATE DATABASE shop"),
            [DdlChange::DatabaseCharset(
                "shop".into(),
                Some("latin1".into())
            )]
        );
        assert!(
            db("CREATE DATABASE IF NOT EXISTS app").is_empty(),
            "exists already"
        );
        assert_eq!(
            db("ALTER DATABASE CHARACTER SET hebrew"),
            [DdlChange::DatabaseCharset(
                "app".into(),
                Some("hebrew".into())
            )]
        );
        assert_eq!(
            db("ALTER SCHEMA app CHARSET utf8"),
            [DdlChange::DatabaseCharset(
                "app".into(),
                Some("utf8mb3".into())
            )]
        );
        assert!(db("ALTER DATABASE app COMMENT 'x'").is_empty());
        assert_eq!(
            db("DROP DATABASE IF EXISTS shop"),
            [DdlChange::DatabaseCharset("shop".into(), None)]
        );
    }
}
