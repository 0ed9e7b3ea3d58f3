//! Elasticsearch mappings from Connect schemas (`schema.ignore=false`), as Confluent's sink
//! creates them: `boolean`, `byte`/`short`/`integer`/`long`, `float`/`double`, `text`,
//! `binary`, `double` for `Decimal`, `date` for Connect's `Date`/`Time`/`Timestamp`; structs
//! are objects with properties, arrays take their element's mapping, maps are objects.

use serde_json::{json, Value as Json};
use sluice_core::schema::{logical, Schema, SchemaType};

/// The mapping of one field.
pub fn of(s: &Schema) -> Json {
    match s.name.as_deref() {
        Some(logical::DECIMAL) => return json!({"type": "double"}),
        Some(logical::CONNECT_DATE | logical::CONNECT_TIME | logical::CONNECT_TIMESTAMP) => {
            return json!({"type": "date"})
        }
        _ => {}
    }
    match s.ty {
        SchemaType::Boolean => json!({"type": "boolean"}),
        SchemaType::Int8 => json!({"type": "byte"}),
        SchemaType::Int16 => json!({"type": "short"}),
        SchemaType::Int32 => json!({"type": "integer"}),
        SchemaType::Int64 => json!({"type": "long"}),
        SchemaType::Float32 => json!({"type": "float"}),
        SchemaType::Float64 => json!({"type": "double"}),
        SchemaType::String => json!({"type": "text"}),
        SchemaType::Bytes => json!({"type": "binary"}),
        SchemaType::Array => s.items.as_deref().map_or(json!({"type": "object"}), of),
        SchemaType::Map => json!({"type": "object"}),
        SchemaType::Struct => json!({"properties": properties(s)}),
    }
}

fn properties(s: &Schema) -> Json {
    let mut p = serde_json::Map::new();
    for f in &s.fields {
        p.insert(f.name.clone(), of(&f.schema));
    }
    Json::Object(p)
}

/// The body of `PUT /<index>` for documents of `s`.
pub fn index_body(s: &Schema) -> Json {
    match s.ty {
        SchemaType::Struct => json!({"mappings": {"properties": properties(s)}}),
        _ => json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::SchemaBuilder;

    #[test]
    fn struct_fields_map_to_elasticsearch_types() {
        let s = SchemaBuilder::structure()
            .field("id", SchemaBuilder::int64().build())
            .field("name", SchemaBuilder::string().optional().build())
            .field(
                "amount",
                SchemaBuilder::bytes()
                    .name(logical::DECIMAL)
                    .parameter("scale", "2")
                    .build(),
            )
            .field(
                "at",
                SchemaBuilder::int64()
                    .name(logical::CONNECT_TIMESTAMP)
                    .build(),
            )
            .build();
        assert_eq!(
            index_body(&s),
            json!({"mappings": {"properties": {
                "id": {"type": "long"}, "name": {"type": "text"},
                "amount": {"type": "double"}, "at": {"type": "date"}}}})
        );
    }
}
