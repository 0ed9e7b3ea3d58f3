//! Character sets: text stored in any character set sluice decodes must arrive as exactly the
//! Unicode text the server itself returns for it (`CONVERT(col USING utf8mb4)`), whether it is
//! read by the snapshot, decoded from the binlog with a definition from the catalog, from a DDL
//! statement seen mid-stream, or from the schema history after a restart. A character set sluice
//! cannot decode stops the connector with an error naming it.

mod common;

use std::collections::BTreeMap;

use common::{payload, shared, Maria, Work};
use serde_json::Value;
use sluice_mysql::charset::Charset;

/// Every character set with a text it can hold (the server refuses to store one it cannot).
const SETS: &[(&str, &str)] = &[
    ("latin1", "café € Ÿ"),
    ("latin2", "Žluťoučký kůň"),
    ("latin5", "İstanbul ğış"),
    ("latin7", "Ąžuolas ėę"),
    ("cp1250", "Žluťoučký „kůň“"),
    ("cp1251", "Привет, мир"),
    ("cp1256", "مرحبا"),
    ("cp1257", "Ąžuolas ėę"),
    ("cp866", "Привет"),
    ("koi8r", "Привет"),
    ("koi8u", "Привіт ґ"),
    ("greek", "Καλημέρα"),
    ("hebrew", "שלום"),
    ("tis620", "สวัสดี"),
    ("macroman", "café ƒ"),
    ("ascii", "plain text"),
    ("gbk", "你好，世界"),
    ("gb2312", "你好"),
    ("gb18030", "你好 😀"),
    ("big5", "你好"),
    ("sjis", "日本語 ｶﾅ"),
    ("cp932", "日本語 ①"),
    ("ujis", "日本語"),
    ("eucjpms", "日本語 ①"),
    ("euckr", "한국어"),
    ("ucs2", "café Привет 你好"),
    ("utf16", "café 😀 你好"),
    ("utf16le", "café 😀 你好"),
    ("utf32", "café 😀 你好"),
    ("utf8mb3", "café 你好"),
    ("utf8mb4", "café 😀"),
];

/// The character sets of `SETS` this server has (MariaDB has no gb18030 before 11.x).
fn available(db: &Maria) -> Vec<(&'static str, &'static str)> {
    let have = db.sql("SELECT CHARACTER_SET_NAME FROM information_schema.CHARACTER_SETS");
    SETS.iter()
        .copied()
        .filter(|(cs, _)| {
            have.lines()
                .any(|h| h == *cs || (*cs == "utf8mb3" && h == "utf8"))
        })
        .collect()
}

fn create_table(db: &str, table: &str, cs: &str) -> String {
    format!(
        "CREATE TABLE {db}.{table} (id INT PRIMARY KEY, c CHAR(30), v VARCHAR(60), x TEXT) DEFAULT CHARSET={cs};"
    )
}

fn insert(db: &str, table: &str, id: i32, text: &str) -> String {
    format!("INSERT INTO {db}.{table} VALUES ({id}, '{text}', '{text}', '{text}');")
}

/// `table → rows "id\tc\tv\tx"` of the data events in `lines`, in event order.
fn events(lines: &[Value]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in lines {
        let p = payload(l);
        if p.is_null() || p["after"].is_null() {
            continue;
        }
        let a = &p["after"];
        let text = |k: &str| a[k].as_str().map_or("NULL".to_string(), str::to_string);
        out.entry(p["source"]["table"].as_str().unwrap().to_string())
            .or_default()
            .push(format!(
                "{}\t{}\t{}\t{}",
                a["id"],
                text("c"),
                text("v"),
                text("x")
            ));
    }
    out
}

/// The server's own Unicode rendering of a table's rows.
fn server_text(db: &Maria, schema: &str, table: &str) -> Vec<String> {
    db.sql(&format!(
        "SELECT id, CONVERT(c USING utf8mb4), CONVERT(v USING utf8mb4), CONVERT(x USING utf8mb4) \
         FROM {schema}.{table} ORDER BY id"
    ))
    .lines()
    .map(str::to_string)
    .collect()
}

#[test]
fn every_character_set_reads_the_same_in_snapshot_binlog_ddl_and_after_restart() {
    let db = shared::maria();
    let sets = available(db);
    assert!(sets.len() >= 29, "{sets:?}");
    db.sql("CREATE DATABASE cs_every");
    let mut sql = String::new();
    for (cs, text) in &sets {
        sql += &create_table("cs_every", &format!("t_{cs}"), cs);
        sql += &insert("cs_every", &format!("t_{cs}"), 1, text);
    }
    db.sql(&sql);
    let work = Work::new();
    let conn = work.write_connector(
        "c.json",
        &db.connector(
            "cs_every",
            &[
                ("snapshot.mode", "initial"),
                ("table.include.list", "cs_every\\..*"),
            ],
        ),
    );
    work.catch_up(&conn, "out.jsonl"); // row 1: the snapshot
                                       // row 2: the binlog, with definitions from the catalog recorded at the snapshot; tables
                                       // created now are known only from their CREATE TABLE in the binlog
    let mut sql = String::new();
    for (cs, text) in &sets {
        sql += &insert("cs_every", &format!("t_{cs}"), 2, text);
        sql += &create_table("cs_every", &format!("late_{cs}"), cs);
        sql += &insert("cs_every", &format!("late_{cs}"), 1, text);
    }
    db.sql(&sql);
    work.catch_up(&conn, "out.jsonl");
    // a restart: every definition now comes from the schema history
    let mut sql = String::new();
    for (cs, text) in &sets {
        sql += &insert("cs_every", &format!("late_{cs}"), 2, text);
    }
    db.sql(&sql);
    work.catch_up(&conn, "out.jsonl");

    let got = events(&work.lines("out.jsonl"));
    for (cs, text) in &sets {
        for table in [format!("t_{cs}"), format!("late_{cs}")] {
            let want = server_text(db, "cs_every", &table);
            assert_eq!(
                want,
                [1, 2].map(|id| format!("{id}\t{text}\t{text}\t{text}")),
                "{cs}: the server holds the original text"
            );
            assert_eq!(got.get(&table), Some(&want), "{table}");
        }
    }
    // the stored bytes really are in the column's character set, not UTF-8
    assert_eq!(
        db.sql("SELECT HEX(v) FROM cs_every.t_latin1 WHERE id = 1"),
        "636166E92080209F"
    );
    // the schema history keeps them as Debezium does: charsetName on each text column,
    // defaultCharsetName on the table, from the catalog (t_*) and from the DDL (late_*)
    let history = common::read_lines(&work.path("data").join("history").join("cs_every.jsonl"));
    let mut recorded = BTreeMap::new();
    for change in history
        .iter()
        .flat_map(|r| r["tableChanges"].as_array().unwrap())
    {
        let t = &change["table"];
        let cols: Vec<&Value> = t["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| &c["charsetName"])
            .collect();
        recorded.insert(
            change["id"].as_str().unwrap().to_string(),
            (t["defaultCharsetName"].clone(), cols),
        );
    }
    for (cs, _) in &sets {
        for table in [format!("t_{cs}"), format!("late_{cs}")] {
            let (default, cols) = &recorded[&format!("\"cs_every\".\"{table}\"")];
            let want = db.sql(&format!(
                "SELECT CHARACTER_SET_NAME FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = 'cs_every' AND TABLE_NAME = '{table}' AND COLUMN_NAME = 'v'"
            ));
            assert_eq!(default.as_str(), Some(want.as_str()), "{table}");
            assert_eq!(cols[0], &Value::Null, "{table}: id is not text");
            assert!(
                cols[1..].iter().all(|c| c.as_str() == Some(want.as_str())),
                "{table}: {cols:?}"
            );
        }
    }
}

#[test]
fn mixed_columns_database_defaults_and_conversions_mid_stream() {
    let db = shared::maria();
    db.sql(
        "CREATE DATABASE cs_mixed CHARACTER SET greek;
         CREATE TABLE cs_mixed.mixed (id INT PRIMARY KEY,
             c CHAR(30) CHARACTER SET latin1,
             v VARCHAR(60) COLLATE cp1251_bulgarian_ci,
             x TEXT CHARACTER SET utf32,
             e ENUM('é', 'ж') CHARACTER SET utf16,
             b VARBINARY(8), bc VARCHAR(8) CHARACTER SET binary) DEFAULT CHARSET koi8r;
         CREATE TABLE cs_mixed.dflt (id INT PRIMARY KEY, c CHAR(30), v VARCHAR(60), x TEXT);
         CREATE TABLE cs_mixed.conv (id INT PRIMARY KEY, c CHAR(30), v VARCHAR(60), x TEXT) CHARSET cp1251;
         INSERT INTO cs_mixed.mixed VALUES (1, 'café', 'Привет', '😀 你好', 'ж', x'00ff', x'e9');
         INSERT INTO cs_mixed.dflt VALUES (1, 'Καλημέρα', 'αβγ', 'ωψ');
         INSERT INTO cs_mixed.conv VALUES (1, 'Привет', 'vu', 'ёж');",
    );
    let work = Work::new();
    let conn = work.write_connector(
        "c.json",
        &db.connector(
            "cs_mixed",
            &[
                ("snapshot.mode", "initial"),
                ("table.include.list", "cs_mixed\\..*,cs_mixed2\\..*"),
            ],
        ),
    );
    work.catch_up(&conn, "out.jsonl");
    // all before sluice reads any of it: each DDL must be applied from its own statement
    db.sql(
        "INSERT INTO cs_mixed.mixed VALUES (2, 'Ÿ€', 'Ёж', '🎉', 'é', x'01', x'80');
         INSERT INTO cs_mixed.dflt VALUES (2, 'Ωμέγα', 'ά', 'ΐ');
         INSERT INTO cs_mixed.conv VALUES (2, 'Пока', 'mir', 'щука');
         ALTER TABLE cs_mixed.conv CONVERT TO CHARACTER SET koi8r;
         INSERT INTO cs_mixed.conv VALUES (3, 'Ёлка', 'ok', 'эх');
         ALTER TABLE cs_mixed.conv MODIFY v VARCHAR(60) CHARACTER SET big5;
         INSERT INTO cs_mixed.conv VALUES (4, 'Щи', '你好', 'ю');
         ALTER TABLE cs_mixed.conv DEFAULT CHARACTER SET sjis;
         ALTER TABLE cs_mixed.conv ADD COLUMN y VARCHAR(10);
         INSERT INTO cs_mixed.conv VALUES (5, 'Да', '好', 'я', '日本');
         CREATE DATABASE cs_mixed2 DEFAULT CHARSET = latin2;
         CREATE TABLE cs_mixed2.dflt (id INT PRIMARY KEY, c CHAR(30), v VARCHAR(60), x TEXT);
         INSERT INTO cs_mixed2.dflt VALUES (1, 'Žluťoučký', 'kůň', 'úpěl');",
    );
    work.catch_up(&conn, "out.jsonl");
    let lines = work.lines("out.jsonl");
    let got = events(&lines);
    for (schema, table) in [
        ("cs_mixed", "dflt"),
        ("cs_mixed", "conv"),
        ("cs_mixed2", "dflt"),
    ] {
        let rows: Vec<String> = lines
            .iter()
            .map(payload)
            .filter(|p| p["source"]["db"] == schema && p["source"]["table"] == table)
            .map(|p| {
                let a = &p["after"];
                format!(
                    "{}\t{}\t{}\t{}",
                    a["id"],
                    a["c"].as_str().unwrap(),
                    a["v"].as_str().unwrap(),
                    a["x"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(rows, server_text(db, schema, table), "{schema}.{table}");
    }
    assert_eq!(got["conv"].len(), 5);
    let y: Vec<&Value> = lines
        .iter()
        .map(payload)
        .filter(|p| p["source"]["table"] == "conv" && p["after"]["id"] == 5)
        .map(|p| &p["after"]["y"])
        .collect();
    assert_eq!(
        y,
        [&Value::from(db.sql(
            "SELECT CONVERT(y USING utf8mb4) FROM cs_mixed.conv WHERE id = 5"
        ))]
    );

    let mixed: Vec<String> = lines
        .iter()
        .map(payload)
        .filter(|p| p["source"]["table"] == "mixed")
        .map(|p| {
            let a = &p["after"];
            [
                &a["id"], &a["c"], &a["v"], &a["x"], &a["e"], &a["b"], &a["bc"],
            ]
            .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
            .join("\t")
        })
        .collect();
    let want: Vec<String> = db
        .sql(
            "SELECT id, CONVERT(c USING utf8mb4), CONVERT(v USING utf8mb4), CONVERT(x USING utf8mb4), \
             CONVERT(e USING utf8mb4), TO_BASE64(b), TO_BASE64(bc) FROM cs_mixed.mixed ORDER BY id",
        )
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(mixed, want);
    assert_eq!(want[0], "1\tcafé\tПривет\t😀 你好\tж\tAP8=\t6Q==");
}

#[test]
fn a_character_set_sluice_cannot_decode_is_refused_by_name() {
    let db = shared::maria();
    db.sql(
        "CREATE DATABASE cs_refused;
         CREATE TABLE cs_refused.t (id INT PRIMARY KEY, dos VARCHAR(10) CHARACTER SET cp850, ok VARCHAR(10));
         INSERT INTO cs_refused.t VALUES (1, 'é', 'é');",
    );
    let work = Work::new();
    let props = [
        ("snapshot.mode", "initial"),
        ("table.include.list", "cs_refused.t"),
    ];
    let conn = work.write_connector("c.json", &db.connector("cs_refused", &props));
    let out = work
        .command(&conn, "out.jsonl", &["--exit-when-caught-up"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("\"cp850\""), "{err}");
    assert!(
        err.contains("column.exclude.list=cs_refused.t.dos"),
        "{err}"
    );
    assert!(work.lines("out.jsonl").is_empty(), "nothing half-decoded");
    // leaving the column out is the way through
    let mut with_exclude = props.to_vec();
    with_exclude.push(("column.exclude.list", "cs_refused.t.dos"));
    let conn = work.write_connector("c2.json", &db.connector("cs_refused2", &with_exclude));
    work.catch_up(&conn, "out2.jsonl");
    let lines = work.lines("out2.jsonl");
    assert_eq!(payload(&lines[0])["after"]["ok"], "é");
    assert!(payload(&lines[0])["after"].get("dos").is_none());
}

#[test]
fn single_byte_tables_equal_the_servers() {
    // every byte 0x80..=0xFF, decoded by sluice and converted by the server; where the server
    // has no character for a byte it answers '?', and the byte cannot be in a stored value
    let db = shared::maria();
    let high: Vec<u8> = (0x80..=0xff).collect();
    let hex: String = high.iter().map(|b| format!("{b:02X}")).collect();
    let mut differ = Vec::new();
    for cs in [
        "latin1", "latin2", "latin5", "latin7", "cp1250", "cp1251", "cp1256", "cp1257", "cp866",
        "koi8r", "koi8u", "greek", "hebrew", "tis620", "macroman",
    ] {
        let server = db.sql(&format!(
            "SELECT HEX(CONVERT(CONVERT(UNHEX('{hex}') USING {cs}) USING utf32))"
        ));
        let server: Vec<char> = (0..server.len() / 8)
            .map(|i| u32::from_str_radix(&server[i * 8..i * 8 + 8], 16).unwrap())
            .map(|u| char::from_u32(u).unwrap())
            .collect();
        let ours: Vec<char> = Charset::by_name(cs)
            .unwrap()
            .decode(&high)
            .chars()
            .collect();
        assert_eq!(server.len(), 128, "{cs}");
        differ.extend(
            high.iter()
                .zip(server.iter().zip(&ours))
                .filter(|(_, (s, o))| s != o && **s != '?')
                .map(|(b, (s, o))| {
                    format!(
                        "{cs} {b:#04x}: server {s:?} U+{:04X}, sluice {o:?} U+{:04X}",
                        *s as u32, *o as u32
                    )
                }),
        );
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

#[test]
fn double_byte_tables_equal_the_servers() {
    // every two-byte code (lead 0x81..=0xFE, trail 0x40..=0xFE), each followed by a newline, which
    // is never a trail byte: the server's conversion and sluice's split into the same codes.
    // Codes the server has no character for ('?') cannot be in a stored value.
    let db = shared::maria();
    let mut differ = Vec::new();
    for cs in [
        "sjis", "cp932", "big5", "gbk", "gb2312", "euckr", "ujis", "eucjpms",
    ] {
        for leads in (0x81u8..=0xfe).collect::<Vec<_>>().chunks(24) {
            let mut bytes = Vec::new();
            for lead in leads {
                for trail in 0x40u8..=0xfe {
                    bytes.extend([*lead, trail, b'\n']);
                }
            }
            let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
            let server = db.sql(&format!(
                "SELECT HEX(CONVERT(CONVERT(UNHEX('{hex}') USING {cs}) USING utf32))"
            ));
            let server: String = (0..server.len() / 8)
                .map(|i| u32::from_str_radix(&server[i * 8..i * 8 + 8], 16).unwrap())
                .map(|u| char::from_u32(u).unwrap())
                .collect();
            let ours = Charset::by_name(cs).unwrap().decode(&bytes).into_owned();
            let codes = bytes.chunks(3);
            for ((code, s), o) in codes.zip(server.split('\n')).zip(ours.split('\n')) {
                if s != o && !s.contains('?') {
                    differ.push(format!(
                        "{cs} {:02x}{:02x}: server {s:?} {:x?}, sluice {o:?} {:x?}",
                        code[0],
                        code[1],
                        s.chars().map(u32::from).collect::<Vec<_>>(),
                        o.chars().map(u32::from).collect::<Vec<_>>()
                    ));
                }
            }
        }
    }
    assert!(
        differ.is_empty(),
        "{} codes differ:\n{}",
        differ.len(),
        differ
            .iter()
            .take(5000)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn a_latin1_server_that_ignores_the_client_handshake_still_reads_unicode() {
    // With skip-character-set-client-handshake the server ignores the character set a client
    // asks for when it connects: results would come back in latin1 unless sluice says
    // SET NAMES itself. CREATE DATABASE without a character set takes the server's.
    let db = Maria::start_with(&[
        "--skip-character-set-client-handshake",
        "--character-set-server=latin1",
        "--collation-server=latin1_swedish_ci",
    ]);
    assert_eq!(db.sql("SELECT @@character_set_server"), "latin1");
    db.sql(
        "SET NAMES utf8mb4;
         CREATE DATABASE cs_srv;
         CREATE TABLE cs_srv.t (id INT PRIMARY KEY, c CHAR(30), v VARCHAR(60), x TEXT CHARACTER SET cp1251);
         INSERT INTO cs_srv.t VALUES (1, 'café', 'naïve €', 'Привет');",
    );
    let work = Work::new();
    let conn = work.write_connector(
        "c.json",
        &db.connector(
            "cs_srv",
            &[
                ("snapshot.mode", "initial"),
                ("table.include.list", "cs_srv.*\\.t"),
            ],
        ),
    );
    work.catch_up(&conn, "out.jsonl");
    db.sql(
        "SET NAMES utf8mb4;
         INSERT INTO cs_srv.t VALUES (2, 'Ÿ', 'ÿ', 'Ёж');
         CREATE DATABASE cs_srv2;
         CREATE TABLE cs_srv2.t (id INT PRIMARY KEY, c CHAR(30), v VARCHAR(60), x TEXT);
         INSERT INTO cs_srv2.t VALUES (1, 'déjà', 'vu', '€');",
    );
    work.catch_up(&conn, "out.jsonl");
    let lines = work.lines("out.jsonl");
    for schema in ["cs_srv", "cs_srv2"] {
        let rows: Vec<String> = lines
            .iter()
            .map(payload)
            .filter(|p| p["source"]["db"] == schema)
            .map(|p| {
                let a = &p["after"];
                let t = |k: &str| a[k].as_str().unwrap().to_string();
                format!("{}\t{}\t{}\t{}", a["id"], t("c"), t("v"), t("x"))
            })
            .collect();
        let want = db.sql(&format!(
            "SET NAMES utf8mb4; SELECT id, CONVERT(c USING utf8mb4), CONVERT(v USING utf8mb4), \
             CONVERT(x USING utf8mb4) FROM {schema}.t ORDER BY id"
        ));
        assert_eq!(rows.join("\n"), want, "{schema}");
    }
    assert_eq!(
        db.sql("SELECT CHARACTER_SET_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'cs_srv2' AND COLUMN_NAME = 'v'"),
        "latin1"
    );
    assert!(
        lines.iter().any(|l| payload(l)["after"]["v"] == "naïve €"),
        "the text as written"
    );
}

#[test]
fn ddl_from_a_latin1_client_keeps_its_enum_labels() {
    // A statement is logged in the character set of the client that ran it: the ENUM labels of
    // a CREATE TABLE sent by a latin1 client are latin1 bytes in the binlog.
    let db = shared::maria();
    db.sql("CREATE DATABASE cs_client");
    let work = Work::new();
    let conn = work.write_connector(
        "c.json",
        &db.connector("cs_client", &[("table.include.list", "cs_client.t")]),
    );
    work.catch_up(&conn, "out.jsonl");
    let script = "CREATE TABLE cs_client.t (id INT PRIMARY KEY, e ENUM('café', 'naïve'), s SET('é', 'ü'), v VARCHAR(9) CHARACTER SET latin1);
                  INSERT INTO cs_client.t VALUES (1, 'café', 'é,ü', 'déjà'), (2, 'naïve', 'ü', 'à');";
    // ISO-8859-1: every character of the script is one byte of the same number
    let latin1: Vec<u8> = script
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap())
        .collect();
    let out = std::process::Command::new(common::repo_root().join("scripts/mariadb.sh"))
        .arg("sql")
        .arg(db.dir.path())
        .arg("--default-character-set=latin1")
        .arg("-e")
        .arg(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&latin1))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    work.catch_up(&conn, "out.jsonl");
    let got: Vec<String> = work
        .lines("out.jsonl")
        .iter()
        .map(payload)
        .map(|p| {
            let a = &p["after"];
            ["id", "e", "s", "v"]
                .map(|k| a[k].as_str().map_or(a[k].to_string(), str::to_string))
                .join("\t")
        })
        .collect();
    let want = db.sql(
        "SELECT id, CONVERT(e USING utf8mb4), CONVERT(s USING utf8mb4), CONVERT(v USING utf8mb4) \
         FROM cs_client.t ORDER BY id",
    );
    assert_eq!(
        want, "1\tcafé\té,ü\tdéjà\n2\tnaïve\tü\tà",
        "the server holds the text"
    );
    assert_eq!(got.join("\n"), want);
}

#[test]
fn a_restart_resolves_old_ddl_with_the_database_defaults_of_its_time() {
    // While sluice is stopped a table is created in a latin2 database whose default then
    // changes: replaying the CREATE TABLE must use latin2 (from the schema history), not the
    // server's default of today.
    let db = shared::maria();
    db.sql("CREATE DATABASE cs_then CHARACTER SET latin2");
    let work = Work::new();
    let conn = work.write_connector(
        "c.json",
        &db.connector("cs_then", &[("table.include.list", "cs_then\\..*")]),
    );
    work.catch_up(&conn, "out.jsonl");
    db.sql(
        "CREATE TABLE cs_then.t (id INT PRIMARY KEY, c CHAR(30), v VARCHAR(60), x TEXT);
         INSERT INTO cs_then.t VALUES (1, 'Žluťoučký', 'kůň', 'úpěl');
         ALTER DATABASE cs_then CHARACTER SET koi8r;
         CREATE TABLE cs_then.u (id INT PRIMARY KEY, c CHAR(30), v VARCHAR(60), x TEXT);
         INSERT INTO cs_then.u VALUES (1, 'Привет', 'мир', 'ёж');",
    );
    work.catch_up(&conn, "out.jsonl");
    // and once more from the history alone, now that the database statement is recorded
    db.sql(
        "CREATE TABLE cs_then.w (id INT PRIMARY KEY, c CHAR(30), v VARCHAR(60), x TEXT);
            INSERT INTO cs_then.w VALUES (1, 'Да', 'нет', 'ы');",
    );
    work.catch_up(&conn, "out.jsonl");
    let got = events(&work.lines("out.jsonl"));
    for table in ["t", "u", "w"] {
        assert_eq!(
            got.get(table),
            Some(&server_text(db, "cs_then", table)),
            "{table}"
        );
    }
    assert_eq!(server_text(db, "cs_then", "t"), ["1\tŽluťoučký\tkůň\túpěl"]);
}
