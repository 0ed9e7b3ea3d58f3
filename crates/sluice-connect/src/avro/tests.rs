//! The Avro mapping against what Confluent's `AvroData` produces for Debezium's schemas, and
//! binary data against `apache-avro`'s reader.

use std::sync::Arc;

use sluice_core::decimal::Decimal;
use sluice_core::schema::{Schema, SchemaBuilder};
use sluice_core::Value;

use super::binary;
use super::schema::{to_avro, to_connect, Options};
use super::{AvroConfig, Strategy};

fn s(t: &str) -> Value {
    Value::String(Arc::from(t))
}

/// A Debezium MySQL envelope, cut down to a few fields of each kind.
fn envelope() -> Arc<Schema> {
    let value = SchemaBuilder::structure()
        .name("dbserver1.inventory.customers.Value")
        .field("id", SchemaBuilder::int32().build())
        .field("first_name", SchemaBuilder::string().build())
        .field("age", SchemaBuilder::int16().optional().build())
        .field(
            "balance",
            SchemaBuilder::bytes()
                .name("org.apache.kafka.connect.data.Decimal")
                .version(1)
                .parameter("scale", "2")
                .parameter("connect.decimal.precision", "10")
                .optional()
                .build(),
        )
        .field(
            "created",
            SchemaBuilder::int64()
                .name("io.debezium.time.Timestamp")
                .version(1)
                .build(),
        )
        .optional()
        .build();
    let source = SchemaBuilder::structure()
        .name("io.debezium.connector.mysql.Source")
        .field("version", SchemaBuilder::string().build())
        .field("ts_ms", SchemaBuilder::int64().build())
        .field(
            "snapshot",
            SchemaBuilder::string()
                .name("io.debezium.data.Enum")
                .version(1)
                .parameter("allowed", "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental")
                .default_value(s("false"))
                .optional()
                .build(),
        )
        .build();
    SchemaBuilder::structure()
        .name("dbserver1.inventory.customers.Envelope")
        .version(2)
        .field("before", value.clone())
        .field("after", value)
        .field("source", source)
        .field("op", SchemaBuilder::string().build())
        .field("ts_ms", SchemaBuilder::int64().optional().build())
        .build()
}

#[test]
fn a_debezium_envelope_becomes_the_schema_avrodata_writes() {
    let text = to_avro(&envelope(), Options::default()).unwrap();
    let want = concat!(
        r#"{"type":"record","name":"Envelope","namespace":"dbserver1.inventory.customers","fields":["#,
        r#"{"name":"before","type":["null",{"type":"record","name":"Value","fields":["#,
        r#"{"name":"id","type":"int"},{"name":"first_name","type":"string"},"#,
        r#"{"name":"age","type":["null",{"type":"int","connect.type":"int16"}],"default":null},"#,
        r#"{"name":"balance","type":["null",{"type":"bytes","scale":2,"precision":10,"connect.version":1,"#,
        r#""connect.parameters":{"scale":"2","connect.decimal.precision":"10"},"connect.name":"org.apache.kafka.connect.data.Decimal","logicalType":"decimal"}],"default":null},"#,
        r#"{"name":"created","type":{"type":"long","connect.version":1,"connect.name":"io.debezium.time.Timestamp"}}],"#,
        r#""connect.name":"dbserver1.inventory.customers.Value"}],"default":null},"#,
        r#"{"name":"after","type":["null","Value"],"default":null},"#,
        r#"{"name":"source","type":{"type":"record","name":"Source","namespace":"io.debezium.connector.mysql","fields":["#,
        r#"{"name":"version","type":"string"},{"name":"ts_ms","type":"long"},"#,
        r#"{"name":"snapshot","type":[{"type":"string","connect.version":1,"connect.parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},"connect.default":"false","connect.name":"io.debezium.data.Enum"},"null"],"default":"false"}],"#,
        r#""connect.name":"io.debezium.connector.mysql.Source"}},"#,
        r#"{"name":"op","type":"string"},{"name":"ts_ms","type":["null","long"],"default":null}],"#,
        r#""connect.version":2,"connect.name":"dbserver1.inventory.customers.Envelope"}"#
    );
    assert_eq!(text, want);
    apache_avro::Schema::parse_str(&text).expect("a valid Avro schema");
}

#[test]
fn without_connect_meta_data_only_avro_remains() {
    let text = to_avro(
        &envelope(),
        Options {
            connect_meta_data: false,
            enhanced: false,
        },
    )
    .unwrap();
    assert!(!text.contains("connect."), "{text}");
    assert!(text.contains(r#""logicalType":"decimal""#), "{text}");
}

#[test]
fn unnamed_structs_and_maps_get_confluents_names() {
    let inner = SchemaBuilder::structure()
        .field("a", SchemaBuilder::int8().build())
        .build();
    let st = SchemaBuilder::structure()
        .field("inner", inner)
        .field(
            "tags",
            SchemaBuilder::map(
                SchemaBuilder::string().build(),
                SchemaBuilder::int32().build(),
            )
            .build(),
        )
        .field(
            "by_id",
            SchemaBuilder::map(
                SchemaBuilder::int32().build(),
                SchemaBuilder::string().build(),
            )
            .build(),
        )
        .build();
    let text = to_avro(&st, Options::default()).unwrap();
    assert_eq!(
        text,
        concat!(
            r#"{"type":"record","name":"ConnectDefault","namespace":"io.confluent.connect.avro","fields":["#,
            r#"{"name":"inner","type":{"type":"record","name":"ConnectDefault2","fields":[{"name":"a","type":{"type":"int","connect.type":"int8"}}]}},"#,
            r#"{"name":"tags","type":{"type":"map","values":"int"}},"#,
            r#"{"name":"by_id","type":{"type":"array","items":{"type":"record","name":"MapEntry","fields":[{"name":"key","type":"int"},{"name":"value","type":"string"}]}}}]}"#
        )
    );
    apache_avro::Schema::parse_str(&text).unwrap();
}

#[test]
fn names_avro_refuses_are_reported_with_the_fix() {
    let st = SchemaBuilder::structure()
        .name("my-server.db.t.Value")
        .field("id", SchemaBuilder::int32().build())
        .build();
    let e = to_avro(&st, Options::default()).unwrap_err().to_string();
    assert!(
        e.contains("my-server") && e.contains("adjustment.mode=avro"),
        "{e}"
    );
}

fn row() -> Value {
    Value::Struct(vec![
        Value::Null,
        Value::Struct(vec![
            Value::Int32(1004),
            s("Anne Marie"),
            Value::Int16(-7),
            Value::Decimal(Decimal::from_i128(-12345, 2)),
            Value::Int64(1_700_000_000_000),
        ]),
        Value::Struct(vec![s("3.6.0"), Value::Int64(1), Value::Null]),
        s("c"),
        Value::Int64(1_700_000_000_123),
    ])
}

#[test]
fn binary_data_reads_back_with_apache_avro_and_maps_onto_the_same_connect_data() {
    let schema = envelope();
    let text = to_avro(&schema, Options::default()).unwrap();
    let avro = apache_avro::Schema::parse_str(&text).unwrap();
    let mut out = Vec::new();
    binary::encode(&schema, &row(), &mut out).unwrap();
    let decoded = apache_avro::reader::datum::GenericDatumReader::builder(&avro)
        .build()
        .unwrap()
        .read_value(&mut &out[..])
        .unwrap();
    use apache_avro::types::Value as A;
    let A::Record(fields) = &decoded else {
        panic!("{decoded:?}")
    };
    assert_eq!(fields[0], ("before".into(), A::Union(0, Box::new(A::Null))));
    assert_eq!(fields[3], ("op".into(), A::String("c".into())));
    let A::Record(source) = &fields[2].1 else {
        panic!()
    };
    assert_eq!(
        source[2],
        ("snapshot".into(), A::Union(1, Box::new(A::Null))),
        "a null in a [type, null] union is branch 1"
    );
    let back_schema = to_connect(&text, Options::default()).unwrap();
    let back = binary::to_connect(&back_schema, decoded).unwrap();
    assert_eq!(back, row());
}

#[test]
fn the_connect_schema_survives_a_round_trip_through_avro() {
    let schema = envelope();
    let text = to_avro(&schema, Options::default()).unwrap();
    let back = to_connect(&text, Options::default()).unwrap();
    assert_eq!(*back, *schema);
}

#[test]
fn avro_schemas_not_from_connect_are_read_too() {
    let text = r#"{"type":"record","name":"Order","namespace":"shop","fields":[
        {"name":"id","type":"long"},
        {"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID"]}},
        {"name":"note","type":["null","string"],"default":null},
        {"name":"amount","type":["int","string"]},
        {"name":"day","type":{"type":"int","logicalType":"date"}}]}"#;
    let c = to_connect(text, Options::default()).unwrap();
    assert_eq!(c.name.as_deref(), Some("shop.Order"));
    assert!(c.field("note").unwrap().schema.optional);
    assert_eq!(
        c.field("status")
            .unwrap()
            .schema
            .parameter("io.confluent.connect.avro.Enum"),
        Some("shop.Status")
    );
    let amount = &c.field("amount").unwrap().schema;
    assert_eq!(
        amount.name.as_deref(),
        Some("io.confluent.connect.avro.Union")
    );
    assert_eq!(
        amount
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>(),
        ["int", "string"]
    );
    assert_eq!(
        c.field("day").unwrap().schema.name.as_deref(),
        Some("org.apache.kafka.connect.data.Date")
    );
}

use sluice_core::props::from_pairs as props;

#[test]
fn settings_read_as_confluent_names_them() {
    let c = AvroConfig::from_properties(
        &props(&[
            ("schema.registry.url", "http://u:p@r1:8081, http://r2:8081"),
            (
                "value.subject.name.strategy",
                "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy",
            ),
            ("auto.register.schemas", "false"),
        ]),
        false,
    )
    .unwrap();
    assert_eq!(c.urls, ["http://r1:8081", "http://r2:8081"]);
    assert_eq!(c.user_info.as_deref(), Some("u:p"));
    assert_eq!(c.strategy, Strategy::TopicRecordName);
    assert!(!c.auto_register && !c.use_latest && c.options.connect_meta_data);
    let e = AvroConfig::from_properties(&props(&[]), true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("key.converter.schema.registry.url"), "{e}");
    let e = AvroConfig::from_properties(
        &props(&[
            ("schema.registry.url", "http://r:8081"),
            ("basic.auth.credentials.source", "USER_INFO"),
        ]),
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("basic.auth.user.info"), "{e}");
}

#[test]
fn a_value_that_does_not_fit_names_its_field() {
    let mut bad = row();
    if let Value::Struct(f) = &mut bad {
        if let Value::Struct(after) = &mut f[1] {
            after[1] = Value::Int32(5);
        }
    }
    let e = binary::encode(&envelope(), &bad, &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "after.first_name: a int32 value does not fit the schema type string"
    );
}
