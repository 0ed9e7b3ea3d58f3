//! Connector configuration documents as the REST API and `sluice run` take them
//! (sluice-runtime connector.rs and rest.rs): `{"name", "config": {…}}` or a flat config
//! object, property values as strings, numbers or booleans; then the MySQL and PostgreSQL
//! connectors' property parsers (what `PUT /connectors/{name}/config` validates with).
//! Input: the request body.
#![no_main]

#[path = "common.rs"]
mod common;

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use sluice_runtime::rest::config_map;
use sluice_runtime::ConnectorConfig;

fn connector_settings(name: &str, props: &BTreeMap<String, String>) {
    let _ = sluice_mysql::MySqlConfig::from_properties(name, props);
    let _ = sluice_postgres::PgConfig::from_properties(name, props);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) {
        // POST /connectors: {"name", "config"}; PUT …/config and validate: the config object
        let name = doc["name"].as_str().unwrap_or("fuzz").to_string();
        for config in [doc.get("config").unwrap_or(&serde_json::Value::Null), &doc] {
            if let Ok(props) = config_map(config) {
                connector_settings(&name, &props);
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(c) = ConnectorConfig::from_json_text(text, "fuzz") {
            let _ = c.warn_unknown(&[]);
            connector_settings(&c.name, &c.props);
        }
    }
});
