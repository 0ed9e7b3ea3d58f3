//! Bad input gets a clear error naming the problem, a non-zero exit, and no offset written.

mod common;

use common::{Maria, Work};
use serde_json::json;

fn fails_with(work: &Work, doc: &serde_json::Value, expected: &[&str]) {
    let conn = work.write_connector("bad.json", doc);
    let out = work
        .command(&conn, "out.jsonl", &["--exit-when-caught-up"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected failure, got success: {err}"
    );
    for e in expected {
        assert!(err.contains(e), "stderr lacks {e:?}:\n{err}");
    }
    let name = doc["name"].as_str().unwrap_or("");
    assert!(
        work.offsets(name).is_none(),
        "no offset may be written on failure"
    );
    assert!(work.lines("out.jsonl").is_empty());
}

#[test]
fn configuration_errors_are_reported_before_connecting() {
    let work = Work::new();
    let p = work.path("broken.json");
    std::fs::write(&p, "{\"name\": \"x\", \"config\": {").unwrap();
    let out = work.command(&p, "out.jsonl", &[]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("broken.json") && err.contains("not valid JSON"),
        "{err}"
    );

    fails_with(
        &work,
        &json!({"name": "o", "config": {"connector.class": "io.debezium.connector.oracle.OracleConnector"}}),
        &[
            "unknown connector.class",
            "io.debezium.connector.mysql.MySqlConnector",
        ],
    );
    fails_with(
        &work,
        &json!({"name": "m", "config": {"connector.class": "io.debezium.connector.mysql.MySqlConnector",
            "database.hostname": "127.0.0.1", "database.user": "u", "database.server.id": "1"}}),
        &["topic.prefix is required"],
    );
    fails_with(
        &work,
        &json!({"name": "m", "config": {"connector.class": "io.debezium.connector.mysql.MySqlConnector",
            "database.hostname": "127.0.0.1", "database.user": "u", "database.server.id": "1",
            "topic.prefix": "p", "snapshot.mode": "sometimes"}}),
        &["snapshot.mode", "no_data"],
    );
}

#[test]
fn server_problems_name_the_fix() {
    let db = Maria::start();
    let work = Work::new();
    // nothing listens on this port: retried as Debezium does (errors.max.retries, without limit
    // by default), then given up with the cause once the retries allowed are spent
    let mut refused = db.connector(
        "refused",
        &[
            ("errors.max.retries", "2"),
            ("errors.retry.delay.initial.ms", "50"),
        ],
    );
    refused["config"]["database.port"] = json!("1");
    fails_with(
        &work,
        &refused,
        &["cannot connect", "127.0.0.1:1", "gave up after 3 attempts"],
    );

    let mut wrong = db.connector("wrongpw", &[]);
    wrong["config"]["database.password"] = json!("not-the-password");
    fails_with(&work, &wrong, &["access denied", "database.password"]);

    db.sql("CREATE USER 'weak'@'%' IDENTIFIED BY 'weak'; GRANT SELECT ON *.* TO 'weak'@'%';");
    let mut weak = db.connector("weak", &[]);
    weak["config"]["database.user"] = json!("weak");
    weak["config"]["database.password"] = json!("weak");
    fails_with(&work, &weak, &["REPLICATION SLAVE", "GRANT"]);

    // `sluice run` reads config providers from the connector document itself: a placeholder
    // that does not resolve is named, a resolved one logs in
    let secrets = work.path("db.properties");
    std::fs::write(&secrets, "password=cdc\n").unwrap();
    let providers = [
        ("config.providers", "file"),
        (
            "config.providers.file.class",
            "org.apache.kafka.common.config.provider.FileConfigProvider",
        ),
    ];
    let mut unresolved = db.connector("unresolved", &providers);
    unresolved["config"]["database.password"] =
        json!(format!("${{file:{}:pasword}}", secrets.display()));
    fails_with(
        &work,
        &unresolved,
        &["database.password", "has no key \"pasword\""],
    );
    let mut provided = db.connector("provided", &providers);
    provided["config"]["database.password"] =
        json!(format!("${{file:{}:password}}", secrets.display()));
    let conn = work.write_connector("provided.json", &provided);
    work.catch_up(&conn, "provided.jsonl");

    let mut clash = db.connector("clash", &[]);
    clash["config"]["database.server.id"] = json!("1");
    fails_with(&work, &clash, &["server_id", "unique"]);

    // an offset whose binlog file is gone
    let good = db.connector("purged", &[]);
    let conn = work.write_connector("purged.json", &good);
    let offsets = work.path("data/offsets");
    std::fs::create_dir_all(&offsets).unwrap();
    let stale = json!({"offsets": [{"key": ["purged", {"server": "test"}], "value": {"file": "mysql-bin.000099", "pos": 4}}]});
    std::fs::write(offsets.join("purged.json"), stale.to_string()).unwrap();
    let out = work
        .command(&conn, "out.jsonl", &["--exit-when-caught-up"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("purged") && err.contains("expire_logs_days"),
        "{err}"
    );
    let after: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(offsets.join("purged.json")).unwrap())
            .unwrap();
    assert_eq!(after, stale, "offsets unchanged");

    db.sql("SET GLOBAL binlog_format = 'STATEMENT'");
    fails_with(
        &work,
        &db.connector("stmt", &[]),
        &["binlog_format is STATEMENT", "ROW"],
    );
    db.sql("SET GLOBAL binlog_format = 'ROW'; SET GLOBAL binlog_row_image = 'MINIMAL'");
    fails_with(
        &work,
        &db.connector("minimal", &[]),
        &["binlog_row_image is MINIMAL", "FULL"],
    );
}

#[test]
fn unknown_properties_are_warned_about() {
    let db = Maria::start();
    let work = Work::new();
    let conn = work.write_connector(
        "c.json",
        &db.connector("w", &[("database.hostnme", "typo")]),
    );
    let out = work.catch_up(&conn, "out.jsonl");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("database.hostnme") && err.contains("not supported"),
        "{err}"
    );
}
