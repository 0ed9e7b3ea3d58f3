//! The type matrix: every MySQL/MariaDB column type sluice maps, streamed from a real MariaDB,
//! must produce exactly what Debezium 3.6 produced for the same rows
//! (tests/fixtures/types_debezium.json, captured with the anchor harness) — field schemas, key,
//! and values — with `schemas.enable` true and false.

mod common;

use common::{fixture, payload, Maria, Work};
use serde_json::Value;

fn golden() -> Value {
    serde_json::from_str(&fixture("types_debezium.json")).unwrap()
}

/// Streams the two fixture rows and returns the output lines.
fn stream_type_matrix(db: &Maria, extra: &[(&str, &str)]) -> Vec<Value> {
    db.sql("CREATE DATABASE testdb");
    db.sql(&format!("USE testdb; {}", fixture("types.sql")));
    let work = Work::new();
    let mut props = vec![
        ("topic.prefix", "bench"),
        ("table.include.list", "testdb.types"),
    ];
    props.extend_from_slice(extra);
    let conn = work.write_connector("c.json", &db.connector("types", &props));
    work.catch_up(&conn, "out.jsonl"); // records the start offset
    db.sql(&format!("USE testdb; {}", fixture("types_rows.sql")));
    work.catch_up(&conn, "out.jsonl");
    let lines = work.lines("out.jsonl");
    assert_eq!(lines.len(), 2, "{lines:#?}");
    lines
}

fn assert_matches_debezium(lines: &[Value]) {
    let g = golden();
    for (line, want) in lines.iter().zip(g["rows"].as_array().unwrap()) {
        assert_eq!(line["topic"], "bench.testdb.types");
        assert_eq!(line["key"], want["key"], "key");
        let schema = &line["value"]["schema"];
        assert_eq!(schema["name"], "bench.testdb.types.Envelope");
        assert_eq!(schema["version"], 2);
        let fields = schema["fields"].as_array().unwrap();
        let want_after = &want["value_schema_after"];
        for (got, exp) in fields[1]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .zip(want_after["fields"].as_array().unwrap())
        {
            assert_eq!(got, exp, "schema of field {}", exp["field"]);
        }
        assert_eq!(fields[1], *want_after, "after schema");
        assert_eq!(fields[2], want["source_schema"], "source schema");
        let p = payload(line);
        assert_eq!(p["op"], "c");
        for (k, exp) in want["after"].as_object().unwrap() {
            assert_eq!(p["after"][k], *exp, "value of {k}");
        }
        assert_eq!(p["after"], want["after"]);
        assert_eq!(p["source"]["connector"], "mysql");
        assert_eq!(p["source"]["db"], "testdb");
        assert_eq!(p["source"]["table"], "types");
        assert_eq!(p["source"]["snapshot"], "false");
        assert!(p["source"]["gtid"].as_str().unwrap().starts_with("0-1-"));
    }
}

#[test]
fn every_type_matches_debezium_with_schemas() {
    let db = Maria::start();
    let lines = stream_type_matrix(&db, &[]);
    assert_matches_debezium(&lines);
}

#[test]
fn every_type_matches_debezium_without_schemas() {
    let db = Maria::start();
    let lines = stream_type_matrix(
        &db,
        &[
            ("key.converter.schemas.enable", "false"),
            ("value.converter.schemas.enable", "false"),
        ],
    );
    let g = golden();
    for (line, want) in lines.iter().zip(g["rows"].as_array().unwrap()) {
        assert!(line["value"].get("schema").is_none());
        assert_eq!(line["key"], want["key"]["payload"]);
        assert_eq!(line["value"]["after"], want["after"]);
    }
}

#[test]
fn compressed_binlog_events_decode_like_plain_ones() {
    let db = Maria::start_with(&["--log-bin-compress", "--log-bin-compress-min-len=10"]);
    let lines = stream_type_matrix(&db, &[]);
    assert_matches_debezium(&lines);
}

#[test]
fn handling_modes_change_types_as_debezium_documents() {
    let db = Maria::start();
    let lines = stream_type_matrix(
        &db,
        &[
            ("decimal.handling.mode", "string"),
            ("bigint.unsigned.handling.mode", "precise"),
            ("binary.handling.mode", "base64"),
            ("time.precision.mode", "connect"),
        ],
    );
    let p = payload(&lines[0]);
    let a = &p["after"];
    assert_eq!(a["c_decimal"], "-12345678.91");
    assert_eq!(
        a["c_decimal_big"],
        "-12345678901234567890123456789012345.123456789012345678901234567890"
    );
    // 18446744073709551615 as Connect Decimal(20,0): BigInteger bytes 00 ff×8
    assert_eq!(a["c_bigint_u"], "AP//////////");
    assert_eq!(a["c_binary"], "AQIDBAUGBwgJCgsMDQ4PAA==");
    assert_eq!(a["c_datetime6"], -1, "connect mode: milliseconds, floor");
    assert_eq!(a["c_time6"], 45296789);
    let fields = lines[0]["value"]["schema"]["fields"][1]["fields"]
        .as_array()
        .unwrap();
    let f = |n: &str| fields.iter().find(|f| f["field"] == n).unwrap().clone();
    assert_eq!(
        f("c_datetime6")["name"],
        "org.apache.kafka.connect.data.Timestamp"
    );
    assert_eq!(f("c_date")["name"], "org.apache.kafka.connect.data.Date");
    assert_eq!(
        f("c_bigint_u")["parameters"]["connect.decimal.precision"],
        "20"
    );
    assert_eq!(f("c_binary")["type"], "string");
}

#[test]
fn minimal_row_metadata_servers_decode_the_same() {
    // Column names and types then come only from information_schema and the schema history.
    let db = Maria::start_with(&["--binlog-row-metadata=MINIMAL"]);
    assert_eq!(db.sql("SELECT @@binlog_row_metadata"), "MINIMAL");
    let lines = stream_type_matrix(&db, &[]);
    assert_matches_debezium(&lines);
}

#[test]
fn mariadb_uuid_and_inet_types_are_the_text_mariadb_prints() {
    // MariaDB stores time-based UUIDs with their groups swapped and INET types as raw bytes;
    // streamed and snapshotted values must both read as MariaDB itself prints them.
    let db = Maria::start();
    db.sql("CREATE DATABASE ux; CREATE TABLE ux.t (id INT PRIMARY KEY, u UUID, i4 INET4, i6 INET6);
            INSERT INTO ux.t VALUES (1, '123e4567-e89b-12d3-a456-426655440000', '192.168.1.20', '2001:db8::ff00:42:8329');");
    let work = Work::new();
    let plain = [
        ("snapshot.mode", "initial"),
        ("key.converter.schemas.enable", "false"),
        ("value.converter.schemas.enable", "false"),
    ];
    let conn = work.write_connector("c.json", &db.connector("ux", &plain));
    work.catch_up(&conn, "out.jsonl"); // row 1 through the snapshot
    db.sql("INSERT INTO ux.t VALUES (2, '6ccd780c-baba-1026-9564-5b8c656024db', '10.0.0.1', '::ffff:1.2.3.4'),
                                    (3, 'ffffffff-ffff-4fff-bfff-ffffffffffff', '255.255.255.255', 'fe80::1');");
    work.catch_up(&conn, "out.jsonl"); // rows 2 and 3 through the binlog
    let got: Vec<String> = work
        .lines("out.jsonl")
        .iter()
        .map(|l| {
            let a = &payload(l)["after"];
            format!(
                "{}\t{}\t{}\t{}",
                a["id"],
                a["u"].as_str().unwrap(),
                a["i4"].as_str().unwrap(),
                a["i6"].as_str().unwrap()
            )
        })
        .collect();
    let want: Vec<String> = db
        .sql("SELECT id, u, i4, i6 FROM ux.t ORDER BY id")
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(got, want);
}
