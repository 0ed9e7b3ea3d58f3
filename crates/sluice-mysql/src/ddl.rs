//! DDL seen in the binlog → changes to tracked table definitions.
//!
//! The binlog carries DDL as statement text. Each statement is parsed with sqlparser (MySQL
//! dialect) and applied to the definition *as of that position* (so replaying old binlogs past
//! later DDL stays correct): CREATE TABLE, ALTER TABLE ADD/DROP/MODIFY/CHANGE/RENAME COLUMN,
//! primary key changes, RENAME TABLE and DROP TABLE. A statement it cannot parse or apply but
//! which names a table yields [`DdlChange::Reload`]: the caller re-reads that table from the
//! catalog and logs a warning (right when streaming live, possibly ahead when catching up).
//!
//! Character sets are resolved as MySQL does when it runs the statement (see
//! [`crate::charset`]): a text column's own `CHARACTER SET`/`COLLATE`, else the table's
//! `DEFAULT CHARSET`/`COLLATE`, else the database's default, else the server's. Database
//! defaults come from [`Defaults`] (read from the catalog at start) and change with
//! `CREATE`/`ALTER`/`DROP DATABASE` seen in the binlog ([`DdlChange::DatabaseCharset`]).
//! sqlparser does not model the table options of ALTER TABLE, so `charsets` reads the two
//! character set forms: `ALTER TABLE t CONVERT TO CHARACTER SET cs [COLLATE c]` (every text
//! column and the table default become `cs`) and `ALTER TABLE t [DEFAULT] CHARACTER SET cs`
//! (only the default changes, for columns added later). Combined with other operations they
//! take the reload path.

use sqlparser::ast::{
    AlterTableOperation, ColumnDef as SqlColumn, ColumnOption, CreateTableLikeKind,
    MySQLColumnPosition, ObjectName, ObjectNamePart, ObjectType, RenameTableNameKind, Statement,
    TableConstraint,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

use crate::charset::{self, Defaults};
use crate::table::{parse_sql_type, ColumnDef, SqlType, TableDef, TableId};

mod charsets;
use charsets::{database_ddl, table_charset_ddl, table_charset_options};

/// The effect of one DDL statement on one table.
#[derive(Debug, Clone, PartialEq)]
pub enum DdlChange {
    Define(TableDef),
    Drop(TableId),
    /// Could not apply; re-read the table from the catalog. The string says why.
    Reload(TableId, String),
    /// A database's default character set, resolved (`None`: the database was dropped).
    DatabaseCharset(String, Option<String>),
}

/// Interprets `sql` run with default database `db`. `current` returns the tracked definition,
/// `defaults` the database and server character sets in force. `_mariadb`: the server's flavor
/// (both read DDL alike today; MariaDB's JSON alias is mapped as Debezium maps it, by name).
pub fn interpret(
    db: &str,
    sql: &str,
    _mariadb: bool,
    current: &dyn Fn(&TableId) -> Option<TableDef>,
    defaults: &Defaults,
) -> Vec<DdlChange> {
    if let Some(change) = database_ddl(db, sql, defaults) {
        return change;
    }
    if let Some(change) = table_charset_ddl(db, sql, current) {
        return vec![change];
    }
    let statements = match Parser::parse_sql(&MySqlDialect {}, sql) {
        Ok(s) => s,
        Err(e) => {
            return mentioned_tables(db, sql)
                .into_iter()
                .map(|id| DdlChange::Reload(id, format!("unparsed DDL ({e})")))
                .collect()
        }
    };
    let mut out = Vec::new();
    for st in statements {
        match st {
            Statement::CreateTable(ct) => {
                let id = table_id(db, &ct.name);
                if let Some(source) = like_source(db, &ct) {
                    // the copy's definition comes from the tracked one, as Debezium's schema
                    // model does: the original may be gone by the time this is read
                    out.push(match current(&source) {
                        Some(mut def) => {
                            def.id = id;
                            DdlChange::Define(def)
                        }
                        None => DdlChange::Reload(
                            id,
                            format!("CREATE TABLE … LIKE {source}, a table not tracked"),
                        ),
                    });
                    continue;
                }
                if ct.query.is_some() || ct.clone.is_some() || ct.columns.is_empty() {
                    out.push(DdlChange::Reload(id, "CREATE TABLE … AS SELECT".into()));
                    continue;
                }
                let (cs, collation) = table_charset_options(&ct.table_options);
                let table_charset = charset::resolve(
                    cs.as_deref(),
                    collation.as_deref(),
                    defaults.database(&id.db),
                );
                let mut def = TableDef {
                    columns: ct
                        .columns
                        .iter()
                        .map(|c| column(c, &table_charset))
                        .collect(),
                    id,
                    primary_key: Vec::new(),
                    default_charset: Some(table_charset),
                };
                def.primary_key = inline_primary_key(&ct.columns);
                for c in &ct.constraints {
                    if let TableConstraint::PrimaryKey { columns, .. } = c {
                        def.primary_key = columns
                            .iter()
                            .map(|c| unquote(&c.column.expr.to_string()))
                            .collect();
                    }
                }
                mark_key_not_null(&mut def);
                out.push(DdlChange::Define(def));
            }
            Statement::AlterTable {
                name, operations, ..
            } => {
                let id = table_id(db, &name);
                let Some(mut def) = current(&id) else {
                    out.push(DdlChange::Reload(
                        id,
                        "ALTER of a table not tracked yet".into(),
                    ));
                    continue;
                };
                match alter(&mut def, &operations, db, defaults) {
                    Ok(Some(renamed)) => {
                        out.push(DdlChange::Drop(id));
                        def.id = renamed;
                        out.push(DdlChange::Define(def));
                    }
                    Ok(None) => out.push(DdlChange::Define(def)),
                    Err(why) => out.push(DdlChange::Reload(id, why)),
                }
            }
            Statement::Drop {
                object_type: ObjectType::Table,
                names,
                ..
            } => out.extend(names.iter().map(|n| DdlChange::Drop(table_id(db, n)))),
            Statement::RenameTable(renames) => {
                for r in renames {
                    let (from, to) = (table_id(db, &r.old_name), table_id(db, &r.new_name));
                    out.push(DdlChange::Drop(from.clone()));
                    match current(&from) {
                        Some(mut def) => {
                            def.id = to;
                            out.push(DdlChange::Define(def));
                        }
                        None => out.push(DdlChange::Reload(
                            to,
                            "RENAME of a table not tracked yet".into(),
                        )),
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The table a `CREATE TABLE … LIKE` copies. sqlparser reads MySQL's parenthesized form
/// `CREATE TABLE t2 (LIKE t)` as one column named LIKE whose type is the table name.
fn like_source(db: &str, ct: &sqlparser::ast::CreateTable) -> Option<TableId> {
    if let Some(CreateTableLikeKind::Plain(like) | CreateTableLikeKind::Parenthesized(like)) =
        &ct.like
    {
        return Some(table_id(db, &like.name));
    }
    match ct.columns.as_slice() {
        [c] if c.name.value.eq_ignore_ascii_case("like") && c.options.is_empty() => {
            let name = c.data_type.to_string();
            let parts: Vec<String> = name.split('.').map(unquote).collect();
            Some(match parts.as_slice() {
                [d, t] => TableId::new(d.as_str(), t.as_str()),
                _ => TableId::new(db, unquote(&name).as_str()),
            })
        }
        _ => None,
    }
}

/// Applies ALTER TABLE operations; returns the new name on `RENAME TO`.
fn alter(
    def: &mut TableDef,
    ops: &[AlterTableOperation],
    db: &str,
    defaults: &Defaults,
) -> Result<Option<TableId>, String> {
    let mut renamed = None;
    let table_charset = def
        .default_charset
        .clone()
        .unwrap_or_else(|| defaults.database(&def.id.db).to_string());
    let find = |def: &TableDef, name: &str| {
        def.column_index(name).ok_or_else(|| {
            format!(
                "column {name} not found in tracked definition of {}",
                def.id
            )
        })
    };
    for op in ops {
        match op {
            AlterTableOperation::AddColumn {
                column_def,
                column_position,
                if_not_exists,
                ..
            } => {
                if *if_not_exists && def.column_index(&column_def.name.value).is_some() {
                    continue;
                }
                let col = column(column_def, &table_charset);
                let at = position(def, column_position.as_ref(), def.columns.len())?;
                if inline_primary_key(std::slice::from_ref(column_def)).len() == 1 {
                    def.primary_key = vec![col.name.clone()];
                }
                def.columns.insert(at, col);
            }
            AlterTableOperation::DropColumn {
                column_names,
                if_exists,
                ..
            } => {
                for n in column_names {
                    match def.column_index(&n.value) {
                        Some(i) => {
                            def.columns.remove(i);
                            def.primary_key
                                .retain(|k| !k.eq_ignore_ascii_case(&n.value));
                        }
                        None if *if_exists => {}
                        None => return Err(format!("column {} not found in {}", n.value, def.id)),
                    }
                }
            }
            AlterTableOperation::ModifyColumn {
                col_name,
                data_type,
                options,
                column_position,
            } => {
                let i = find(def, &col_name.value)?;
                let col = column_from(
                    &col_name.value,
                    &data_type.to_string(),
                    options,
                    &table_charset,
                );
                def.columns.remove(i);
                let at = position(def, column_position.as_ref(), i)?;
                def.columns.insert(at, col);
            }
            AlterTableOperation::ChangeColumn {
                old_name,
                new_name,
                data_type,
                options,
                column_position,
            } => {
                let i = find(def, &old_name.value)?;
                let col = column_from(
                    &new_name.value,
                    &data_type.to_string(),
                    options,
                    &table_charset,
                );
                def.columns.remove(i);
                let at = position(def, column_position.as_ref(), i)?;
                def.columns.insert(at, col);
                rename_key(def, &old_name.value, &new_name.value);
            }
            AlterTableOperation::RenameColumn {
                old_column_name,
                new_column_name,
            } => {
                let i = find(def, &old_column_name.value)?;
                def.columns[i].name = new_column_name.value.clone();
                rename_key(def, &old_column_name.value, &new_column_name.value);
            }
            AlterTableOperation::AddConstraint {
                constraint: TableConstraint::PrimaryKey { columns, .. },
                ..
            } => {
                def.primary_key = columns
                    .iter()
                    .map(|c| unquote(&c.column.expr.to_string()))
                    .collect();
            }
            AlterTableOperation::DropPrimaryKey { .. } => def.primary_key.clear(),
            AlterTableOperation::RenameTable { table_name } => {
                let (RenameTableNameKind::As(n) | RenameTableNameKind::To(n)) = table_name;
                renamed = Some(table_id(db, n));
            }
            AlterTableOperation::AddConstraint { .. }
            | AlterTableOperation::DropConstraint { .. }
            | AlterTableOperation::DropForeignKey { .. }
            | AlterTableOperation::DropIndex { .. }
            | AlterTableOperation::AlterColumn { .. }
            | AlterTableOperation::Algorithm { .. }
            | AlterTableOperation::Lock { .. }
            | AlterTableOperation::AutoIncrement { .. } => {}
            other => return Err(format!("ALTER operation not applied by sluice: {other}")),
        }
    }
    mark_key_not_null(def);
    Ok(renamed)
}

fn position(
    def: &TableDef,
    p: Option<&MySQLColumnPosition>,
    default: usize,
) -> Result<usize, String> {
    match p {
        None => Ok(default.min(def.columns.len())),
        Some(MySQLColumnPosition::First) => Ok(0),
        Some(MySQLColumnPosition::After(c)) => def
            .column_index(&c.value)
            .map(|i| i + 1)
            .ok_or_else(|| format!("AFTER column {} not found in {}", c.value, def.id)),
    }
}

fn rename_key(def: &mut TableDef, old: &str, new: &str) {
    for k in &mut def.primary_key {
        if k.eq_ignore_ascii_case(old) {
            *k = new.to_string();
        }
    }
}

fn column(c: &SqlColumn, table_charset: &str) -> ColumnDef {
    let options: Vec<ColumnOption> = c.options.iter().map(|o| o.option.clone()).collect();
    column_from(
        &c.name.value,
        &c.data_type.to_string(),
        &options,
        table_charset,
    )
}

/// A column from its DDL: type, nullability and, for text types, its resolved character set.
/// A text type `CHARACTER SET binary` is the binary type MySQL makes of it (`CHAR(n)` →
/// `BINARY(n)`, `VARCHAR` → `VARBINARY`, `TEXT` → `BLOB`).
fn column_from(
    name: &str,
    type_text: &str,
    options: &[ColumnOption],
    table_charset: &str,
) -> ColumnDef {
    // MariaDB's JSON is a LONGTEXT alias, but Debezium maps the name written in DDL to
    // io.debezium.data.Json (the catalog, read by snapshots, says longtext: a plain string there)
    let mut ty = parse_sql_type(type_text);
    let not_null = options.iter().any(|o| {
        matches!(
            o,
            ColumnOption::NotNull
                | ColumnOption::Unique {
                    is_primary: true,
                    ..
                }
        )
    });
    let text = matches!(
        ty,
        SqlType::Char | SqlType::VarChar | SqlType::Text | SqlType::Enum(_) | SqlType::Set(_)
    );
    let lower = type_text.trim().to_ascii_lowercase();
    let (mut cs, mut collation) = (None, None);
    for o in options {
        match o {
            ColumnOption::CharacterSet(n) => cs = Some(n.to_string()),
            ColumnOption::Collation(n) => collation = Some(n.to_string()),
            _ => {}
        }
    }
    // NATIONAL CHAR/VARCHAR, NCHAR, NVARCHAR are utf8mb3 unless told otherwise
    let national = ["national", "nchar", "nvarchar"]
        .iter()
        .any(|p| lower.starts_with(p));
    let inherited = if national { "utf8mb3" } else { table_charset };
    let mut charset =
        text.then(|| charset::resolve(cs.as_deref(), collation.as_deref(), inherited));
    if charset.as_deref() == Some("binary") {
        let args = lower.find('(').map_or("", |i| {
            let rest = &lower[i..];
            &rest[..rest.find(')').map_or(rest.len(), |j| j + 1)]
        });
        match ty {
            SqlType::Char => ty = parse_sql_type(&format!("binary{args}")),
            SqlType::VarChar => ty = SqlType::VarBinary,
            SqlType::Text => ty = SqlType::Blob,
            _ => {}
        }
        if !matches!(ty, SqlType::Enum(_) | SqlType::Set(_)) {
            charset = None;
        }
    }
    ColumnDef {
        name: name.to_string(),
        ty,
        nullable: !not_null,
        charset,
    }
}

fn inline_primary_key(columns: &[SqlColumn]) -> Vec<String> {
    columns
        .iter()
        .filter(|c| {
            c.options.iter().any(|o| {
                matches!(
                    o.option,
                    ColumnOption::Unique {
                        is_primary: true,
                        ..
                    }
                )
            })
        })
        .map(|c| c.name.value.clone())
        .collect()
}

fn mark_key_not_null(def: &mut TableDef) {
    for k in &def.primary_key {
        if let Some(i) = def.column_index(k) {
            def.columns[i].nullable = false;
        }
    }
}

fn unquote(s: &str) -> String {
    s.trim().trim_matches('`').trim_matches('"').to_string()
}

fn table_id(db: &str, name: &ObjectName) -> TableId {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => i.value.clone(),
            other => unquote(&other.to_string()),
        })
        .collect();
    match parts.as_slice() {
        [.., d, t] => TableId::new(d.clone(), t.clone()),
        [t] => TableId::new(db, t.clone()),
        [] => TableId::new(db, ""),
    }
}

/// Tables a statement sqlparser could not parse seems to touch (`ALTER/CREATE/DROP/RENAME
/// TABLE [IF [NOT] EXISTS] name`).
fn mentioned_tables(db: &str, sql: &str) -> Vec<TableId> {
    static RE: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"(?i)^\s*(?:/\*.*?\*/\s*)*(?:ALTER|CREATE|DROP|RENAME|TRUNCATE)\s+(?:ONLINE\s+|IGNORE\s+|OR\s+REPLACE\s+|TEMPORARY\s+)*TABLE\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?((?:`[^`]+`|[\w$]+)(?:\.(?:`[^`]+`|[\w$]+))?)",
        )
        .ok()
    });
    let Some(re) = RE.as_ref() else {
        return Vec::new();
    };
    re.captures(sql)
        .and_then(|c| c.get(1))
        .map(|m| {
            let parts: Vec<String> = m.as_str().split('.').map(unquote).collect();
            match parts.as_slice() {
                [d, t] => vec![TableId::new(d.clone(), t.clone())],
                [t] => vec![TableId::new(db, t.clone())],
                _ => Vec::new(),
            }
        })
        .unwrap_or_default()
}

/// True for statements that never change table definitions (fast path before parsing).
pub fn is_ddl_candidate(sql: &str) -> bool {
    let head: String = sql
        .trim_start()
        .chars()
        .take(12)
        .collect::<String>()
        .to_ascii_uppercase();
    ["ALTER", "CREATE", "DROP", "RENAME"]
        .iter()
        .any(|k| head.starts_with(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &TableId) -> Option<TableDef> {
        None
    }

    fn create(sql: &str) -> TableDef {
        match interpret("app", sql, true, &none, &Defaults::default()).pop() {
            Some(DdlChange::Define(d)) => d,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn create_table_yields_definition_with_key() {
        let d = create(
            "CREATE TABLE t (id BIGINT NOT NULL, name VARCHAR(10), doc JSON, PRIMARY KEY (id))",
        );
        assert_eq!(d.id, TableId::new("app", "t"));
        assert_eq!(d.primary_key, vec!["id"]);
        assert!(!d.columns[0].nullable);
        assert_eq!(
            d.columns[2].ty,
            SqlType::Json,
            "MariaDB's JSON declared in DDL is JSON, as Debezium maps the name"
        );
        let d = create("CREATE TABLE `db2`.`u` (`k` INT PRIMARY KEY, v DECIMAL(5,2) UNSIGNED)");
        assert_eq!(d.id, TableId::new("db2", "u"));
        assert_eq!(d.primary_key, vec!["k"]);
        assert_eq!(
            d.columns[1].ty,
            SqlType::Decimal {
                precision: 5,
                scale: 2
            }
        );
    }

    #[test]
    fn create_table_like_copies_the_tracked_definition_even_when_the_original_is_gone() {
        let base = create("CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(5) NOT NULL)");
        let tracked = base.clone();
        let cur = move |id: &TableId| (id == &TableId::new("app", "t")).then(|| tracked.clone());
        for sql in [
            "CREATE TABLE t2 LIKE t",
            "CREATE TABLE IF NOT EXISTS `app`.`t2` (LIKE `t`)",
        ] {
            match interpret("app", sql, true, &cur, &Defaults::default()).as_slice() {
                [DdlChange::Define(d)] => {
                    assert_eq!(d.id, TableId::new("app", "t2"));
                    assert_eq!(d.columns, base.columns);
                    assert_eq!(d.primary_key, base.primary_key);
                }
                other => panic!("{sql}: {other:?}"),
            }
        }
        // a copy of a table sluice does not track is read from the catalog
        assert!(matches!(
            interpret("app", "CREATE TABLE t3 LIKE other", true, &cur, &Defaults::default()).as_slice(),
            [DdlChange::Reload(id, _)] if id == &TableId::new("app", "t3")
        ));
    }

    #[test]
    fn alter_applies_to_the_tracked_definition() {
        let base = create("CREATE TABLE t (id INT PRIMARY KEY, a INT, b TEXT)");
        let cur = move |_: &TableId| Some(base.clone());
        let out = interpret(
            "app",
            "ALTER TABLE t ADD COLUMN c DATETIME(6) NOT NULL AFTER id, DROP COLUMN b, CHANGE a a2 BIGINT, ADD INDEX ix (a2)",
            true,
            &cur,
            &Defaults::default(),
        );
        let [DdlChange::Define(d)] = out.as_slice() else {
            panic!("{out:?}")
        };
        let names: Vec<&str> = d.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "c", "a2"]);
        assert_eq!(d.columns[1].ty, SqlType::DateTime { fsp: 6 });
        assert_eq!(d.columns[2].ty, SqlType::BigInt { unsigned: false });
    }

    #[test]
    fn drop_and_rename() {
        let out = interpret(
            "app",
            "DROP TABLE IF EXISTS `t`, x.y /* generated by server */",
            true,
            &none,
            &Defaults::default(),
        );
        assert_eq!(
            out,
            vec![
                DdlChange::Drop(TableId::new("app", "t")),
                DdlChange::Drop(TableId::new("x", "y"))
            ]
        );
        let base = create("CREATE TABLE t (id INT PRIMARY KEY)");
        let cur = move |_: &TableId| Some(base.clone());
        let out = interpret(
            "app",
            "RENAME TABLE t TO t2",
            true,
            &cur,
            &Defaults::default(),
        );
        assert!(matches!(&out[1], DdlChange::Define(d) if d.id.table == "t2"));
    }

    #[test]
    fn unparseable_ddl_asks_for_a_reload() {
        let out = interpret(
            "app",
            "ALTER ONLINE TABLE `t` WAIT 5 FORCE GIBBERISH(",
            true,
            &none,
            &Defaults::default(),
        );
        assert!(
            matches!(&out[..], [DdlChange::Reload(id, _)] if id.table == "t"),
            "{out:?}"
        );
        assert!(interpret(
            "app",
            "GRANT ALL ON *.* TO x",
            true,
            &none,
            &Defaults::default()
        )
        .is_empty());
        assert!(is_ddl_candidate("  alter table t add c int"));
        assert!(!is_ddl_candidate("BEGIN"));
    }
}
