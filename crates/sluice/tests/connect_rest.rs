//! `sluice connect`: Kafka Connect's REST API route by route (status codes and bodies as
//! Connect answers), KIP-875 offsets moved to a binlog position and to a GTID position then
//! resumed from there, basic auth, and the connector documents of a typical MySQL →
//! Elasticsearch deployment posted verbatim.

mod common;

use std::time::Duration;

use common::connect::ConnectWorker;
use common::kafka::Broker;
use common::search::Search;
use common::{wait_until, Maria, Work};
use serde_json::{json, Value};

fn worker_props(broker: &Broker) -> String {
    format!(
        "bootstrap.servers={}\nkey.converter=org.apache.kafka.connect.json.JsonConverter\nvalue.converter=org.apache.kafka.connect.json.JsonConverter\n",
        broker.bootstrap()
    )
}

/// Values of `v` per id seen in the topic (every record, duplicates included).
fn seen(broker: &Broker, topic: &str) -> Vec<i64> {
    broker
        .consume(&[topic], false)
        .iter()
        .filter_map(|r| r.value["payload"]["after"]["id"].as_i64())
        .collect()
}

#[test]
fn every_route_answers_as_kafka_connect_does() {
    let db = Maria::start();
    db.sql("CREATE DATABASE app; USE app; CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 1), (2, 2);");
    let broker = Broker::start();
    let work = Work::new();
    let w = ConnectWorker::start(work.dir.path(), "w1", &worker_props(&broker), true);
    let source = db.connector(
        "src",
        &[
            ("table.include.list", "app.t"),
            ("snapshot.mode", "initial"),
        ],
    );

    assert_eq!(w.call("GET", "/", None).0, 200);
    assert_eq!(w.call("GET", "/connectors", None), (200, json!([])));

    // invalid config → 400 with Connect's message; unknown connector → 404
    let mut bad = source.clone();
    bad["config"]
        .as_object_mut()
        .unwrap()
        .remove("topic.prefix");
    let (code, body) = w.call("POST", "/connectors", Some(&bad));
    assert_eq!(code, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("topic.prefix"),
        "{body}"
    );
    assert_eq!(body["error_code"], 400);
    let (code, body) = w.call("GET", "/connectors/nope", None);
    assert_eq!((code, body["error_code"].clone()), (404, json!(404)));
    assert_eq!(body["message"], "Connector nope not found");

    // create, conflict, read back
    let (code, info) = w.call("POST", "/connectors", Some(&source));
    assert_eq!(code, 201, "{info}");
    assert_eq!(info["name"], "src");
    assert_eq!(info["type"], "source");
    assert_eq!(info["tasks"], json!([{"connector": "src", "task": 0}]));
    assert_eq!(info["config"]["name"], "src");
    let (code, body) = w.call("POST", "/connectors", Some(&source));
    assert_eq!(
        (code, body["message"].clone()),
        (409, json!("Connector src already exists"))
    );
    assert_eq!(
        w.call("GET", "/connectors/src", None).1["config"]["topic.prefix"],
        "test"
    );
    assert_eq!(
        w.call("GET", "/connectors/src/config", None).1["table.include.list"],
        "app.t"
    );
    let status = w.wait_state("src", "RUNNING", Duration::from_secs(60));
    assert_eq!(status["connector"]["state"], "RUNNING");
    assert_eq!(status["type"], "source");
    assert_eq!(
        status["tasks"][0]["worker_id"],
        format!("127.0.0.1:{}", w.port)
    );
    let tasks = w.call("GET", "/connectors/src/tasks", None).1;
    assert_eq!(tasks[0]["id"], json!({"connector": "src", "task": 0}));
    assert_eq!(
        w.call("GET", "/connectors/src/tasks/0/status", None).1["state"],
        "RUNNING"
    );
    assert_eq!(w.call("GET", "/connectors/src/tasks/7/status", None).0, 404);
    let expanded = w
        .call("GET", "/connectors?expand=status&expand=info", None)
        .1;
    assert_eq!(expanded["src"]["status"]["connector"]["state"], "RUNNING");
    assert_eq!(expanded["src"]["info"]["type"], "source");
    assert!(wait_until(Duration::from_secs(30), || seen(
        &broker,
        "test.app.t"
    )
    .len()
        == 2));
    assert_eq!(
        w.call("GET", "/connectors/src/topics", None).1,
        json!({"src": {"topics": ["test.app.t"]}})
    );
    assert_eq!(w.call("PUT", "/connectors/src/topics/reset", None).0, 204);

    // pause / resume / restart
    assert_eq!(w.call("PUT", "/connectors/src/pause", None).0, 202);
    w.wait_state("src", "PAUSED", Duration::from_secs(30));
    assert_eq!(w.call("PUT", "/connectors/src/resume", None).0, 202);
    w.wait_state("src", "RUNNING", Duration::from_secs(30));
    assert_eq!(w.call("POST", "/connectors/src/restart", None).0, 204);
    let (code, body) = w.call("POST", "/connectors/src/restart?includeTasks=true", None);
    assert_eq!(code, 202);
    assert_eq!(body["tasks"][0]["state"], "RESTARTING");
    assert_eq!(
        w.call("POST", "/connectors/src/tasks/0/restart", None).0,
        204
    );
    w.wait_state("src", "RUNNING", Duration::from_secs(30));

    // offsets: readable while running, changeable only when STOPPED (KIP-875)
    let offsets = w.call("GET", "/connectors/src/offsets", None).1;
    assert_eq!(
        offsets["offsets"][0]["partition"],
        json!({"server": "test"})
    );
    let before_inserts = offsets["offsets"][0]["offset"].clone();
    assert!(
        before_inserts["file"].is_string() && before_inserts["pos"].is_u64(),
        "{offsets}"
    );
    let (code, body) = w.call(
        "PATCH",
        "/connectors/src/offsets",
        Some(&json!({"offsets": []})),
    );
    assert_eq!(code, 400);
    assert!(
        body["message"].as_str().unwrap().contains("STOPPED"),
        "{body}"
    );
    db.sql("INSERT INTO app.t VALUES (3, 3), (4, 4)");
    let gtid_before_5: String = db.sql("SELECT @@gtid_binlog_pos");
    db.sql("INSERT INTO app.t VALUES (5, 5)");
    assert!(wait_until(Duration::from_secs(30), || seen(
        &broker,
        "test.app.t"
    )
    .len()
        == 5));
    assert_eq!(w.call("PUT", "/connectors/src/stop", None).0, 204);
    let stopped = w.wait_state("src", "STOPPED", Duration::from_secs(30));
    assert_eq!(
        stopped["tasks"],
        json!([]),
        "a stopped connector has no tasks"
    );
    assert_eq!(w.call("GET", "/connectors/src/tasks", None).1, json!([]));

    // to a binlog file/pos: the inserts of 3, 4, 5 are read again after resuming
    let (code, body) = w.call(
        "PATCH",
        "/connectors/src/offsets",
        Some(&json!({"offsets": [{"partition": {"server": "test"}, "offset": {"file": before_inserts["file"], "pos": before_inserts["pos"]}}]})),
    );
    assert_eq!(
        (code, body["message"].clone()),
        (
            200,
            json!("The offsets for this connector have been altered successfully")
        )
    );
    assert_eq!(
        w.call("GET", "/connectors/src/offsets", None).1["offsets"][0]["offset"]["pos"],
        before_inserts["pos"]
    );
    assert_eq!(w.call("PUT", "/connectors/src/resume", None).0, 202);
    assert!(
        wait_until(Duration::from_secs(60), || seen(&broker, "test.app.t")
            .len()
            == 8),
        "resumed from the binlog position: {:?}",
        seen(&broker, "test.app.t")
    );

    // to a GTID position: only the transaction after it (id 5) again
    assert_eq!(w.call("PUT", "/connectors/src/stop", None).0, 204);
    w.wait_state("src", "STOPPED", Duration::from_secs(30));
    let (code, body) = w.call(
        "PATCH",
        "/connectors/src/offsets",
        Some(&json!({"offsets": [{"partition": {"server": "test"}, "offset": {"gtids": gtid_before_5.trim()}}]})),
    );
    assert_eq!(code, 200, "{body}");
    let bad_gtid = w.call(
        "PATCH",
        "/connectors/src/offsets",
        Some(
            &json!({"offsets": [{"partition": {"server": "other"}, "offset": {"gtids": "0-1-1"}}]}),
        ),
    );
    assert_eq!(bad_gtid.0, 400, "another connector's partition is refused");
    assert_eq!(w.call("PUT", "/connectors/src/resume", None).0, 202);
    assert!(wait_until(Duration::from_secs(60), || seen(
        &broker,
        "test.app.t"
    )
    .len()
        == 9));
    assert_eq!(seen(&broker, "test.app.t").last(), Some(&5));

    // reset: the next start begins again per snapshot.mode (initial: the rows once more)
    assert_eq!(w.call("PUT", "/connectors/src/stop", None).0, 204);
    w.wait_state("src", "STOPPED", Duration::from_secs(30));
    let (code, body) = w.call("DELETE", "/connectors/src/offsets", None);
    assert_eq!(
        (code, body["message"].clone()),
        (
            200,
            json!("The offsets for this connector have been reset successfully")
        )
    );
    assert_eq!(
        w.call("GET", "/connectors/src/offsets", None).1,
        json!({"offsets": []})
    );

    // config changes
    let mut cfg = w.call("GET", "/connectors/src/config", None).1;
    cfg["snapshot.mode"] = json!("no_data");
    let (code, info) = w.call("PUT", "/connectors/src/config", Some(&cfg));
    assert_eq!(
        (code, info["config"]["snapshot.mode"].clone()),
        (200, json!("no_data"))
    );
    let (code, info) = w.call(
        "PATCH",
        "/connectors/src/config",
        Some(&json!({"heartbeat.interval.ms": "500", "snapshot.mode": null})),
    );
    assert_eq!(code, 200);
    assert_eq!(info["config"]["heartbeat.interval.ms"], "500");
    assert!(
        info["config"].get("snapshot.mode").is_none(),
        "a null removes the property"
    );
    let mut fresh = cfg.clone();
    fresh["database.server.id"] = json!("5401");
    fresh["name"] = json!("second");
    assert_eq!(
        w.call("PUT", "/connectors/second/config", Some(&fresh)).0,
        201,
        "PUT creates"
    );

    // plugins and validation
    let plugins = w.call("GET", "/connector-plugins", None).1;
    let classes: Vec<&str> = plugins
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["class"].as_str().unwrap())
        .collect();
    for c in [
        "io.debezium.connector.mysql.MySqlConnector",
        "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
        "io.confluent.connect.jdbc.JdbcSinkConnector",
    ] {
        assert!(classes.contains(&c), "{classes:?}");
    }
    let all = w
        .call("GET", "/connector-plugins?connectorsOnly=false", None)
        .1;
    assert!(all.as_array().unwrap().iter().any(|p| p["class"]
        == "io.debezium.transforms.ExtractNewRecordState"
        && p["type"] == "transformation"));
    let (code, v) = w.call(
        "PUT",
        "/connector-plugins/io.debezium.connector.mysql.MySqlConnector/config/validate",
        Some(&source["config"]),
    );
    assert_eq!((code, v["error_count"].clone()), (200, json!(0)), "{v}");
    let (_, v) = w.call(
        "PUT",
        "/connector-plugins/io.debezium.connector.mysql.MySqlConnector/config/validate",
        Some(&json!({"connector.class": "io.debezium.connector.mysql.MySqlConnector", "database.hostname": "h", "database.user": "u", "database.server.id": "x", "topic.prefix": "p"})),
    );
    assert_eq!(v["error_count"], 1, "{v}");
    let with_error = v["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| !c["value"]["errors"].as_array().unwrap().is_empty())
        .unwrap();
    assert_eq!(with_error["value"]["name"], "database.server.id");

    // delete
    assert_eq!(w.call("DELETE", "/connectors/second", None).0, 204);
    assert_eq!(w.call("DELETE", "/connectors/src", None).0, 204);
    assert_eq!(w.call("GET", "/connectors", None).1, json!([]));
    assert_eq!(w.call("DELETE", "/connectors/src", None).0, 404);
}

#[test]
fn basic_auth_guards_every_route() {
    let broker = Broker::start();
    let work = Work::new();
    let w = ConnectWorker::start(
        work.dir.path(),
        "auth",
        &format!(
            "{}rest.basic.auth.credentials=ops:s3cret\n",
            worker_props(&broker)
        ),
        true,
    );
    assert_eq!(w.call("GET", "/connectors", None).0, 200);
    let (code, body) = w.call_as(None, "GET", "/connectors", None);
    assert_eq!((code, body["error_code"].clone()), (401, json!(401)));
    assert_eq!(w.call_as(Some(("ops", "wrong")), "GET", "/", None).0, 401);
}

#[test]
fn the_documents_of_a_mysql_to_elasticsearch_deployment_run_as_posted() {
    let db = Maria::start();
    db.sql("CREATE DATABASE inventory; USE inventory; CREATE TABLE customers (id INT PRIMARY KEY, first_name VARCHAR(40), email VARCHAR(80));
            INSERT INTO customers VALUES (1001, 'Sally', 'sally@example.com'), (1002, 'George', 'gbailey@foobar.com');");
    let broker = Broker::start();
    let es = Search::start();
    let work = Work::new();
    let w = ConnectWorker::start(work.dir.path(), "w", &worker_props(&broker), true);
    // verbatim what such a deployment POSTs (only hosts and ports differ)
    let source: Value = serde_json::from_str(&format!(
        r#"{{"name": "inventory-connector", "config": {{
            "connector.class": "io.debezium.connector.mysql.MySqlConnector", "tasks.max": "1",
            "database.hostname": "127.0.0.1", "database.port": "{}", "database.user": "cdc",
            "database.password": "cdc", "database.server.id": "184054", "topic.prefix": "dbserver1",
            "database.include.list": "inventory",
            "schema.history.internal.kafka.bootstrap.servers": "{}",
            "schema.history.internal.kafka.topic": "schema-changes.inventory",
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter"}}}}"#,
        db.port,
        broker.bootstrap()
    ))
    .unwrap();
    let sink: Value = serde_json::from_str(&format!(
        r#"{{"name": "elastic-sink", "config": {{
            "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
            "tasks.max": "1", "topics": "dbserver1.inventory.customers",
            "connection.url": "{}",
            "transforms": "extractKey,unwrap",
            "transforms.extractKey.type": "org.apache.kafka.connect.transforms.ExtractField$Key",
            "transforms.extractKey.field": "id",
            "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
            "transforms.unwrap.drop.tombstones": "false",
            "key.ignore": "false", "type.name": "customer",
            "behavior.on.null.values": "delete"}}}}"#,
        es.url()
    ))
    .unwrap();
    assert_eq!(w.call("POST", "/connectors", Some(&source)).0, 201);
    assert_eq!(w.call("POST", "/connectors", Some(&sink)).0, 201);
    let index = "dbserver1.inventory.customers";
    let converged = |want: &[(&str, &str)]| {
        wait_until(Duration::from_secs(90), || {
            let docs = es.docs(index);
            docs.len() == want.len()
                && want
                    .iter()
                    .all(|(id, name)| docs.get(*id).is_some_and(|d| d["first_name"] == *name))
        })
    };
    assert!(
        converged(&[("1001", "Sally"), ("1002", "George")]),
        "{:?}",
        es.docs(index)
    );
    db.sql("USE inventory; UPDATE customers SET first_name = 'Sal' WHERE id = 1001; DELETE FROM customers WHERE id = 1002; INSERT INTO customers VALUES (1003, 'Edward', 'ed@walker.com');");
    assert!(
        converged(&[("1001", "Sal"), ("1003", "Edward")]),
        "{:?}",
        es.docs(index)
    );
    assert_eq!(
        w.wait_state("elastic-sink", "RUNNING", Duration::from_secs(5))["type"],
        "sink"
    );
    let offsets = w.call("GET", "/connectors/elastic-sink/offsets", None).1;
    assert_eq!(
        offsets["offsets"][0]["partition"]["kafka_topic"], index,
        "{offsets}"
    );
    assert!(
        offsets["offsets"][0]["offset"]["kafka_offset"]
            .as_i64()
            .unwrap()
            > 0
    );
}

/// Secrets referenced through Kafka Connect's config providers (`config.providers` in the
/// worker properties): the connector runs with the values, while the REST API, the metrics page
/// and the worker's log show only the placeholders.
#[test]
fn connector_secrets_come_from_config_providers_and_are_never_shown() {
    const SECRET: &str = "Pr0vided-S3cret-4711";
    let db = Maria::start();
    db.sql(&format!(
        "CREATE USER 'vault'@'%' IDENTIFIED BY '{SECRET}';
         GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT, LOCK TABLES ON *.* TO 'vault'@'%';
         CREATE DATABASE app; USE app; CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 1), (2, 2);"
    ));
    let broker = Broker::start();
    let work = Work::new();
    let secrets = work.path("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    std::fs::write(secrets.join("db-user"), "vault").unwrap();
    let db_file = work.path("db.properties");
    std::fs::write(
        &db_file,
        format!("# the database login\npassword={SECRET}\n"),
    )
    .unwrap();
    // the child worker inherits this process's environment
    std::env::set_var("SLUICE_TEST_TOPIC_PREFIX", "vaulted");
    let props = format!(
        "{}config.providers=file,env,dir
config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider
config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider
config.providers.dir.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider
config.providers.dir.param.allowed.paths={}
",
        worker_props(&broker),
        secrets.display()
    );
    let w = ConnectWorker::start(work.dir.path(), "w", &props, true);
    let user = format!("${{dir:{}:db-user}}", secrets.display());
    let password = format!("${{file:{}:password}}", db_file.display());
    let source = db.connector(
        "src",
        &[
            ("database.user", &user),
            ("database.password", &password),
            ("topic.prefix", "${env:SLUICE_TEST_TOPIC_PREFIX}"),
            ("table.include.list", "app.t"),
            ("snapshot.mode", "initial"),
        ],
    );
    let (code, body) = w.call("POST", "/connectors", Some(&source));
    assert_eq!(code, 201, "{body}");
    w.wait_state("src", "RUNNING", Duration::from_secs(60));
    db.sql("INSERT INTO app.t VALUES (3, 3)");
    assert!(
        wait_until(Duration::from_secs(60), || seen(&broker, "vaulted.app.t")
            .len()
            >= 3),
        "the connector did not log in with the provided secrets: {:?}",
        w.call("GET", "/connectors/src/status", None)
    );

    // what an operator reads back is the placeholder, never the value
    let (_, config) = w.call("GET", "/connectors/src/config", None);
    assert_eq!(config["database.password"], json!(password));
    assert_eq!(config["database.user"], json!(user));
    let mut shown = String::new();
    for path in [
        "/connectors/src",
        "/connectors/src/config",
        "/connectors/src/status",
        "/connectors?expand=info&expand=status",
        "/connectors/src/offsets",
    ] {
        shown.push_str(&w.call("GET", path, None).1.to_string());
    }
    shown.push_str(&std::fs::read_to_string(work.dir.path().join("w.log")).unwrap());
    assert!(!shown.contains(SECRET), "the secret was shown");

    // a placeholder that cannot be resolved fails the connector with a message naming it
    let mut broken = db.connector(
        "broken",
        &[
            ("database.user", &user),
            (
                "database.password",
                &format!("${{file:{}:passwd}}", db_file.display()),
            ),
            ("table.include.list", "app.t"),
        ],
    );
    broken["config"]["topic.prefix"] = json!("broken");
    let (code, body) = w.call("POST", "/connectors", Some(&broken));
    assert_eq!(code, 400, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("has no key \"passwd\""), "{message}");
    assert!(!message.contains(SECRET), "{message}");
}
