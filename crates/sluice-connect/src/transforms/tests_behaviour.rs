//! The transforms against Kafka Connect's and Debezium's documented behaviour, with schemas
//! (structs) and without (maps). Outputs are compared as `JsonConverter` JSON without schemas
//! (what a consumer sees), plus the schemas where they matter.

use std::sync::Arc;

use sluice_core::schema::SchemaBuilder;
use sluice_core::{Data, KafkaPosition, Position, Schema, Value};

use super::debezium::{ByLogicalTableRouter, ExtractNewRecordState};
use super::fields::*;
use super::headers::*;
use super::test_util::*;
use super::{Side, Transform};

fn row_schema() -> Arc<Schema> {
    row(0, None).schema.unwrap()
}

fn source_schema() -> Arc<Schema> {
    SchemaBuilder::structure()
        .name("io.debezium.connector.mysql.Source")
        .field("version", SchemaBuilder::string().build())
        .field("db", SchemaBuilder::string().build())
        .field("table", SchemaBuilder::string().optional().build())
        .field("file", SchemaBuilder::string().build())
        .field("ts_ms", SchemaBuilder::int64().build())
        .build()
}

fn envelope_schema() -> Arc<Schema> {
    SchemaBuilder::structure()
        .name("db.inv.orders.Envelope")
        .version(2)
        .field("before", row_schema())
        .field("after", row_schema())
        .field("source", source_schema())
        .field("op", SchemaBuilder::string().build())
        .field("ts_ms", SchemaBuilder::int64().optional().build())
        .build()
}

fn row_value(id: i32, name: &str) -> Value {
    Value::Struct(vec![Value::Int32(id), Value::String(name.into())])
}

/// A Debezium change event with schemas: `op` with before/after images.
fn change(op: &str, before: Option<(i32, &str)>, after: Option<(i32, &str)>) -> Data {
    Data::new(
        envelope_schema(),
        Value::Struct(vec![
            before.map_or(Value::Null, |(i, n)| row_value(i, n)),
            after.map_or(Value::Null, |(i, n)| row_value(i, n)),
            Value::Struct(vec![
                Value::String("3.6".into()),
                Value::String("inv".into()),
                Value::String("orders".into()),
                Value::String("mysql-bin.000003".into()),
                Value::Int64(1_699_999_999_000),
            ]),
            Value::String(op.into()),
            Value::Int64(1_700_000_000_123),
        ]),
    )
}

/// The same event schemaless, as a JsonConverter with schemas.enable=false reads it.
fn change_map(op: &str, before: Option<(i64, &str)>, after: Option<(i64, &str)>) -> Data {
    let img = |r: Option<(i64, &str)>| r.map_or(Value::Null, |(i, n)| map_row(i, n).value);
    let k = |s: &str| Value::String(s.into());
    Data::schemaless(Value::Map(vec![
        (k("before"), img(before)),
        (k("after"), img(after)),
        (
            k("source"),
            Value::Map(vec![
                (k("table"), k("orders")),
                (k("file"), k("mysql-bin.000003")),
                (k("ts_ms"), Value::Int64(1_699_999_999_000)),
            ]),
        ),
        (k("op"), k(op)),
        (k("ts_ms"), Value::Int64(1_700_000_000_123)),
    ]))
}

fn key_data(id: i32) -> Data {
    Data::new(
        SchemaBuilder::structure()
            .name("db.inv.orders.Key")
            .field("id", SchemaBuilder::int32().build())
            .build(),
        Value::Struct(vec![Value::Int32(id)]),
    )
}

fn unwrap(pairs: &[(&str, &str)]) -> ExtractNewRecordState {
    ExtractNewRecordState::new(&props(pairs)).unwrap()
}

fn run(t: &mut dyn Transform, value: Option<Data>) -> Option<sluice_core::ChangeEvent> {
    t.apply(record(Some(key_data(1)), value)).unwrap()
}

#[test]
fn unwrap_replaces_the_envelope_by_the_after_image() {
    let mut t = unwrap(&[]);
    let r = run(&mut t, Some(change("u", Some((1, "a")), Some((1, "b"))))).unwrap();
    assert_eq!(json(r.value.as_ref()), r#"{"id":1,"name":"b"}"#);
    assert_eq!(
        r.value.unwrap().schema.unwrap().name.as_deref(),
        Some("db.inv.orders.Value")
    );
    let r = run(&mut t, Some(change_map("c", None, Some((1, "b"))))).unwrap();
    assert_eq!(
        json(r.value.as_ref()),
        r#"{"id":1,"name":"b"}"#,
        "schemaless envelopes too"
    );
}

#[test]
fn unwrap_default_mode_turns_deletes_into_null_values_and_drops_tombstones() {
    let mut t = unwrap(&[]);
    let d = run(&mut t, Some(change("d", Some((1, "a")), None))).unwrap();
    assert!(
        d.value.as_ref().unwrap().value.is_null(),
        "delete → null value"
    );
    assert!(run(&mut t, None).is_none(), "tombstone dropped");
}

#[test]
fn unwrap_delete_tombstone_handling_modes() {
    let mut drop = unwrap(&[("delete.tombstone.handling.mode", "drop")]);
    assert!(run(&mut drop, Some(change("d", Some((1, "a")), None))).is_none());
    assert!(run(&mut drop, None).is_none());

    let mut rewrite = unwrap(&[("delete.tombstone.handling.mode", "rewrite")]);
    let d = run(&mut rewrite, Some(change("d", Some((1, "a")), None))).unwrap();
    assert_eq!(
        json(d.value.as_ref()),
        r#"{"id":1,"name":"a","__deleted":"true"}"#
    );
    let u = run(&mut rewrite, Some(change("c", None, Some((2, "b"))))).unwrap();
    assert_eq!(
        json(u.value.as_ref()),
        r#"{"id":2,"name":"b","__deleted":"false"}"#
    );
    assert!(run(&mut rewrite, None).is_none());
    let m = run(&mut rewrite, Some(change_map("d", Some((1, "a")), None))).unwrap();
    assert_eq!(
        json(m.value.as_ref()),
        r#"{"id":1,"name":"a","__deleted":"true"}"#
    );

    let mut keep = unwrap(&[("delete.tombstone.handling.mode", "rewrite-with-tombstone")]);
    assert!(
        run(&mut keep, None).unwrap().value.is_none(),
        "tombstone kept"
    );
    assert!(
        ExtractNewRecordState::new(&props(&[("delete.tombstone.handling.mode", "x")])).is_err()
    );
}

#[test]
fn unwrap_legacy_drop_tombstones_and_delete_handling_mode() {
    // the typical ES sink: keep tombstones so the sink deletes, drop the delete events
    let mut t = unwrap(&[("drop.tombstones", "false")]);
    assert!(
        run(&mut t, Some(change("d", Some((1, "a")), None))).is_none(),
        "delete.handling.mode=drop (default)"
    );
    assert!(
        run(&mut t, None).unwrap().value.is_none(),
        "tombstone passed on"
    );
    let mut none = unwrap(&[("delete.handling.mode", "none")]);
    assert!(run(&mut none, Some(change("d", Some((1, "a")), None)))
        .unwrap()
        .value
        .unwrap()
        .value
        .is_null());
    assert!(
        run(&mut none, None).is_none(),
        "drop.tombstones defaults to true"
    );
}

#[test]
fn unwrap_adds_fields_and_headers_from_the_envelope() {
    let mut t = unwrap(&[
        ("add.fields", "op,table,source.ts_ms,file:binlog"),
        ("add.headers", "op,db"),
    ]);
    let r = run(&mut t, Some(change("c", None, Some((1, "a"))))).unwrap();
    assert_eq!(
        json(r.value.as_ref()),
        r#"{"id":1,"name":"a","__op":"c","__table":"orders","__source_ts_ms":1699999999000,"__binlog":"mysql-bin.000003"}"#
    );
    let s = r.value.as_ref().unwrap().schema.clone().unwrap();
    assert!(
        s.field("__source_ts_ms").unwrap().schema.optional,
        "added fields are optional"
    );
    assert_eq!(r.header("__op"), Some(&b"c"[..]));
    assert_eq!(r.header("__db"), Some(&b"inv"[..]));
    let m = run(&mut t, Some(change_map("u", None, Some((1, "a"))))).unwrap();
    assert_eq!(
        json(m.value.as_ref()),
        r#"{"id":1,"name":"a","__op":"u","__table":"orders","__source_ts_ms":1699999999000,"__binlog":"mysql-bin.000003"}"#
    );
}

#[test]
fn unwrap_passes_records_that_are_not_envelopes() {
    let mut t = unwrap(&[]);
    let r = run(&mut t, Some(row(5, Some("hb")))).unwrap();
    assert_eq!(json(r.value.as_ref()), r#"{"id":5,"name":"hb"}"#);
}

#[test]
fn extract_field_key_takes_one_field_with_its_schema() {
    let mut t = ExtractField::new(&props(&[("field", "id")]), Side::Key).unwrap();
    let r = run(&mut t, None).unwrap();
    assert_eq!(r.key.as_ref().unwrap().value, Value::Int32(1));
    assert_eq!(json(r.key.as_ref()), "1");
    let mut m = record(Some(map_row(7, "x")), None);
    m = t.apply(m).unwrap().unwrap();
    assert_eq!(m.key.unwrap().value, Value::Int64(7));
    let mut bad = ExtractField::new(&props(&[("field", "nope")]), Side::Key).unwrap();
    assert!(bad
        .apply(record(Some(key_data(1)), None))
        .unwrap_err()
        .to_string()
        .contains("Unknown field: nope"));
}

#[test]
fn value_to_key_copies_fields_into_a_new_key() {
    let mut t = ValueToKey::new(&props(&[("fields", "name")])).unwrap();
    let r = t
        .apply(record(None, Some(row(1, Some("a")))))
        .unwrap()
        .unwrap();
    assert_eq!(json(r.key.as_ref()), r#"{"name":"a"}"#);
    let r = t
        .apply(record(None, Some(map_row(1, "b"))))
        .unwrap()
        .unwrap();
    assert_eq!(json(r.key.as_ref()), r#"{"name":"b"}"#);
    assert!(
        t.apply(record(None, None)).is_err(),
        "a null value cannot give a key"
    );
}

#[test]
fn replace_field_includes_excludes_and_renames() {
    let mut t = ReplaceField::new(
        &props(&[("exclude", "name"), ("renames", "id:order_id")]),
        Side::Value,
    )
    .unwrap();
    let r = t
        .apply(record(None, Some(row(1, Some("a")))))
        .unwrap()
        .unwrap();
    assert_eq!(json(r.value.as_ref()), r#"{"order_id":1}"#);
    let r = t
        .apply(record(None, Some(map_row(1, "a"))))
        .unwrap()
        .unwrap();
    assert_eq!(json(r.value.as_ref()), r#"{"order_id":1}"#);
    let mut inc = ReplaceField::new(&props(&[("include", "name")]), Side::Value).unwrap();
    let r = inc
        .apply(record(None, Some(row(1, Some("a")))))
        .unwrap()
        .unwrap();
    assert_eq!(json(r.value.as_ref()), r#"{"name":"a"}"#);
    assert!(
        inc.apply(record(None, None))
            .unwrap()
            .unwrap()
            .value
            .is_none(),
        "tombstones pass"
    );
}

#[test]
fn mask_field_empties_values_of_their_type() {
    let mut t = MaskField::new(&props(&[("fields", "id,name")]), Side::Value).unwrap();
    let r = t
        .apply(record(None, Some(row(9, Some("secret")))))
        .unwrap()
        .unwrap();
    assert_eq!(json(r.value.as_ref()), r#"{"id":0,"name":""}"#);
    let mut rep = MaskField::new(
        &props(&[("fields", "name"), ("replacement", "***")]),
        Side::Value,
    )
    .unwrap();
    let r = rep
        .apply(record(None, Some(map_row(9, "secret"))))
        .unwrap()
        .unwrap();
    assert_eq!(json(r.value.as_ref()), r#"{"id":9,"name":"***"}"#);
}

#[test]
fn insert_field_adds_topic_offset_timestamp_and_static_value() {
    let mut t = InsertField::new(
        &props(&[
            ("topic.field", "t"),
            ("partition.field", "p"),
            ("offset.field", "o"),
            ("timestamp.field", "ts"),
            ("static.field", "origin"),
            ("static.value", "mysql"),
        ]),
        Side::Value,
    )
    .unwrap();
    let mut r = record(None, Some(row(1, Some("a"))));
    r.position = Position::Kafka(KafkaPosition {
        topic: "db.inv.orders".into(),
        partition: 2,
        offset: 41,
    });
    let out = t.apply(r.clone()).unwrap().unwrap();
    assert_eq!(
        json(out.value.as_ref()),
        r#"{"id":1,"name":"a","t":"db.inv.orders","p":2,"o":41,"ts":1700000000000,"origin":"mysql"}"#
    );
    let ts = out.value.unwrap().schema.unwrap();
    assert_eq!(
        ts.field("ts").unwrap().schema.name.as_deref(),
        Some("org.apache.kafka.connect.data.Timestamp")
    );
    r.value = Some(map_row(1, "a"));
    let out = t.apply(r).unwrap().unwrap();
    assert_eq!(
        json(out.value.as_ref()),
        r#"{"id":1,"name":"a","t":"db.inv.orders","p":2,"o":41,"ts":1700000000000,"origin":"mysql"}"#
    );
    assert!(
        t.apply(record(None, Some(row(1, None)))).is_err(),
        "a source record has no offset"
    );
}

#[test]
fn cast_changes_field_types() {
    let mut t = Cast::new(&props(&[("spec", "id:string,name:int64")]), Side::Value).unwrap();
    let r = t
        .apply(record(None, Some(row(5, Some("42")))))
        .unwrap()
        .unwrap();
    assert_eq!(json(r.value.as_ref()), r#"{"id":"5","name":42}"#);
    let s = r.value.unwrap().schema.unwrap();
    assert_eq!(
        s.field("id").unwrap().schema.ty,
        sluice_core::SchemaType::String
    );
    let r = t
        .apply(record(None, Some(map_row(5, "42"))))
        .unwrap()
        .unwrap();
    assert_eq!(json(r.value.as_ref()), r#"{"id":"5","name":42}"#);
    let mut whole = Cast::new(&props(&[("spec", "string")]), Side::Key).unwrap();
    let r = whole
        .apply(record(
            Some(Data::new(SchemaBuilder::int32().build(), Value::Int32(3))),
            None,
        ))
        .unwrap()
        .unwrap();
    assert_eq!(r.key.unwrap().value, Value::String("3".into()));
    assert!(Cast::new(&props(&[("spec", "id:uuid")]), Side::Value).is_err());
}

#[test]
fn flatten_joins_nested_names_with_the_delimiter() {
    let mut t = Flatten::new(&props(&[("delimiter", "_")]), Side::Value).unwrap();
    let r = t
        .apply(record(None, Some(change("c", None, Some((1, "a"))))))
        .unwrap()
        .unwrap();
    assert_eq!(
        json(r.value.as_ref()),
        r#"{"before_id":null,"before_name":null,"after_id":1,"after_name":"a","source_version":"3.6","source_db":"inv","source_table":"orders","source_file":"mysql-bin.000003","source_ts_ms":1699999999000,"op":"c","ts_ms":1700000000123}"#
    );
    let s = r.value.unwrap().schema.unwrap();
    assert!(
        s.field("before_id").unwrap().schema.optional,
        "fields of an optional struct become optional"
    );
    let r = t
        .apply(record(None, Some(change_map("c", None, Some((1, "a"))))))
        .unwrap()
        .unwrap();
    assert!(
        json(r.value.as_ref()).contains(r#""after_id":1,"after_name":"a","source_table":"orders""#)
    );
}

#[test]
fn hoist_field_wraps_the_value() {
    let mut t = HoistField::new(&props(&[("field", "line")]), Side::Value).unwrap();
    let r = t
        .apply(record(
            None,
            Some(Data::new(
                SchemaBuilder::string().build(),
                Value::String("x".into()),
            )),
        ))
        .unwrap()
        .unwrap();
    assert_eq!(json(r.value.as_ref()), r#"{"line":"x"}"#);
    let r = t
        .apply(record(None, Some(Data::schemaless(Value::Int64(3)))))
        .unwrap()
        .unwrap();
    assert_eq!(json(r.value.as_ref()), r#"{"line":3}"#);
}

#[test]
fn header_transforms_insert_drop_and_move() {
    let mut ins =
        InsertHeader::new(&props(&[("header", "origin"), ("value.literal", "db1")])).unwrap();
    let r = ins
        .apply(record(None, Some(row(1, Some("a")))))
        .unwrap()
        .unwrap();
    assert_eq!(r.header("origin"), Some(&b"db1"[..]));
    let mut drop = DropHeaders::new(&props(&[("headers", "origin")])).unwrap();
    assert!(drop.apply(r).unwrap().unwrap().headers.is_empty());
    let mut mv = HeaderFrom::new(
        &props(&[("fields", "name"), ("headers", "n"), ("operation", "move")]),
        Side::Value,
    )
    .unwrap();
    let r = mv
        .apply(record(None, Some(row(1, Some("a")))))
        .unwrap()
        .unwrap();
    assert_eq!(r.header("n"), Some(&b"a"[..]));
    assert_eq!(json(r.value.as_ref()), r#"{"id":1}"#);
    let mut cp = HeaderFrom::new(
        &props(&[("fields", "id"), ("headers", "i"), ("operation", "copy")]),
        Side::Value,
    )
    .unwrap();
    let r = cp
        .apply(record(None, Some(map_row(4, "a"))))
        .unwrap()
        .unwrap();
    assert_eq!(r.header("i"), Some(&b"4"[..]));
    assert_eq!(json(r.value.as_ref()), r#"{"id":4,"name":"a"}"#);
}

#[test]
fn by_logical_table_router_merges_tables_and_keeps_keys_unique() {
    let mut t = ByLogicalTableRouter::new(&props(&[
        ("topic.regex", "db\\.inv\\.orders(.*)"),
        ("topic.replacement", "db.inv.all_orders"),
    ]))
    .unwrap();
    let r = t
        .apply(record(
            Some(key_data(1)),
            Some(change("c", None, Some((1, "a")))),
        ))
        .unwrap()
        .unwrap();
    assert_eq!(&*r.topic, "db.inv.all_orders");
    assert_eq!(
        json(r.key.as_ref()),
        r#"{"id":1,"__dbz__physicalTableIdentifier":"db.inv.orders"}"#
    );
    let k = r.key.unwrap().schema.unwrap();
    assert_eq!(k.name.as_deref(), Some("db.inv.all_orders.Key"));
    let v = r.value.unwrap().schema.unwrap();
    assert_eq!(v.name.as_deref(), Some("db.inv.all_orders.Envelope"));
    assert_eq!(
        v.field("after").unwrap().schema.name.as_deref(),
        Some("db.inv.all_orders.Value")
    );
    let tomb = t.apply(record(Some(key_data(2)), None)).unwrap().unwrap();
    assert!(tomb.value.is_none() && &*tomb.topic == "db.inv.all_orders");
    let mut other = record(Some(key_data(1)), None);
    other.topic = "db.inv.customers".into();
    assert_eq!(&*t.apply(other).unwrap().unwrap().topic, "db.inv.customers");
}
