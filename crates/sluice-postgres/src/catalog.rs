//! What the database says about types and captured tables (`pg_type`, `pg_class`,
//! `pg_attribute`, `pg_index`), read over an ordinary SQL connection.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::postgres::PgConnection;
use sqlx::Row;

use crate::config::PgConfig;
use crate::error::{sql, PgError};
use crate::types::{Column, PgType};

/// Every type of the database by OID, domains and arrays resolved.
#[derive(Debug, Default, Clone)]
pub struct Types {
    by_oid: HashMap<u32, Arc<PgType>>,
}

struct RawType {
    name: String,
    kind: u8,
    elem: u32,
    base: u32,
    base_mod: i32,
    category: u8,
    labels: Vec<String>,
}

impl Types {
    /// Reads `pg_type` (with enum labels).
    pub async fn load(conn: &mut PgConnection) -> Result<Types, PgError> {
        let rows = sqlx::query(
            "SELECT t.oid::int8, t.typname::text, t.typtype::text, t.typelem::int8, \
             t.typbasetype::int8, t.typtypmod, t.typcategory::text, \
             (SELECT array_to_json(array_agg(e.enumlabel::text ORDER BY e.enumsortorder))::text \
              FROM pg_enum e WHERE e.enumtypid = t.oid) FROM pg_type t",
        )
        .fetch_all(conn)
        .await
        .map_err(|e| sql("reading pg_type", e))?;
        let mut raw = HashMap::new();
        for r in rows {
            let oid: i64 = r.get(0);
            let labels: Option<String> = r.get(7);
            raw.insert(
                oid as u32,
                RawType {
                    name: r.get(1),
                    kind: r.get::<String, _>(2).bytes().next().unwrap_or(b'b'),
                    elem: r.get::<i64, _>(3) as u32,
                    base: r.get::<i64, _>(4) as u32,
                    base_mod: r.get(5),
                    category: r.get::<String, _>(6).bytes().next().unwrap_or(b'U'),
                    labels: labels
                        .and_then(|l| serde_json::from_str(&l).ok())
                        .unwrap_or_default(),
                },
            );
        }
        let mut types = Types::default();
        let oids: Vec<u32> = raw.keys().copied().collect();
        for oid in oids {
            resolve(oid, &raw, &mut types.by_oid, 0);
        }
        Ok(types)
    }

    pub fn get(&self, oid: u32) -> Option<&Arc<PgType>> {
        self.by_oid.get(&oid)
    }
}

fn resolve(
    oid: u32,
    raw: &HashMap<u32, RawType>,
    done: &mut HashMap<u32, Arc<PgType>>,
    depth: usize,
) -> Option<Arc<PgType>> {
    if let Some(t) = done.get(&oid) {
        return Some(Arc::clone(t));
    }
    let r = raw.get(&oid)?;
    if depth > 8 {
        return None;
    }
    let elem = (r.category == b'A' && r.elem != 0)
        .then(|| resolve(r.elem, raw, done, depth + 1))
        .flatten();
    let base = (r.kind == b'd' && r.base != 0)
        .then(|| resolve(r.base, raw, done, depth + 1).map(|b| (b, r.base_mod)))
        .flatten();
    let t = Arc::new(PgType {
        oid,
        name: r.name.clone(),
        kind: r.kind,
        elem,
        base,
        labels: r.labels.clone(),
    });
    done.insert(oid, Arc::clone(&t));
    Some(t)
}

/// A captured table as the catalog describes it now.
#[derive(Debug, Clone)]
pub struct Table {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    pub columns: Vec<Column>,
    pub primary_key: Vec<String>,
    /// `REPLICA IDENTITY FULL`: updates and deletes carry the whole old row.
    pub replica_full: bool,
}

impl Table {
    /// `"schema"."table"`, quoted for SQL.
    pub fn quoted(&self) -> String {
        format!("{}.{}", quote(&self.schema), quote(&self.name))
    }

    pub fn full_name(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// `"name"` with quotes doubled.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The tables the connector captures: in `table.include.list` order, then by name.
pub async fn captured_tables(
    conn: &mut PgConnection,
    cfg: &PgConfig,
    types: &Types,
) -> Result<Vec<Table>, PgError> {
    let rows = sqlx::query(
        "SELECT c.oid::int8, n.nspname::text, c.relname::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 2, 3",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| sql("listing tables", e))?;
    let mut out = Vec::new();
    for r in rows {
        let (oid, schema, name): (i64, String, String) = (r.get(0), r.get(1), r.get(2));
        // the signal table steers the connector; its rows are not captured
        if cfg.filters.table(&schema, &name) && !cfg.is_signal(&schema, &name) {
            out.push(table(conn, oid as u32, types).await?);
        }
    }
    out.sort_by_key(|t| cfg.filters.include_rank(&t.schema, &t.name));
    Ok(out)
}

/// One table's columns, primary key and replica identity.
pub async fn table(conn: &mut PgConnection, oid: u32, types: &Types) -> Result<Table, PgError> {
    let head = sqlx::query(
        "SELECT n.nspname::text, c.relname::text, c.relreplident::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::int8::oid",
    )
    .bind(i64::from(oid))
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| sql("reading pg_class", e))?;
    let cols = sqlx::query(
        "SELECT a.attname::text, a.atttypid::int8, a.atttypmod, a.attnotnull, \
         pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a \
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY a.attnum",
    )
    .bind(i64::from(oid))
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| sql("reading pg_attribute", e))?;
    let pk = sqlx::query(
        "SELECT a.attname::text FROM pg_index i \
         CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
         WHERE i.indrelid = $1::int8::oid AND i.indisprimary ORDER BY k.ord",
    )
    .bind(i64::from(oid))
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| sql("reading the primary key", e))?;
    let mut columns = Vec::new();
    for c in cols {
        let type_oid = c.get::<i64, _>(1) as u32;
        let Some(ty) = types.get(type_oid) else {
            return Err(PgError::Fatal(format!(
                "column type OID {type_oid} is not in pg_type"
            )));
        };
        columns.push(Column {
            name: c.get(0),
            ty: Arc::clone(ty),
            typmod: c.get(2),
            not_null: c.get(3),
            default: c.get(4),
        });
    }
    Ok(Table {
        oid,
        schema: head.get(0),
        name: head.get(1),
        replica_full: head.get::<String, _>(2) == "f",
        columns,
        primary_key: pk.iter().map(|r| r.get(0)).collect(),
    })
}
