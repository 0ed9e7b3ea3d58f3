//! The SQL of one table's batch: `DELETE … WHERE key IN (…)`, multi-row `INSERT` with the
//! dialect's upsert clause, or `UPDATE` per row (see the module doc of [`super`]).

use crate::dialect::{Dialect, Param, TableName};

use super::config::InsertMode;
use super::rows::{Cell, RowOp};

/// Writes with the same column list, sent together.
struct Group<'a> {
    names: Vec<&'a str>,
    key: usize,
    rows: Vec<&'a Vec<Cell>>,
}

/// What a batch's statements depend on.
pub(super) struct Statements<'a> {
    pub dialect: Dialect,
    pub table: &'a TableName,
    /// The table's columns (name, database type).
    pub columns: &'a [(String, String)],
    pub mode: InsertMode,
    pub batch: usize,
}

impl Statements<'_> {
    /// PostgreSQL: the rows of a batch as one array parameter per column, for
    /// `SELECT * FROM UNNEST($1::text[]::<type>[], …)` — one statement with as many parameters
    /// as columns however many rows, which PostgreSQL parses and plans once.
    fn pg_arrays(&self, rows: &[&Vec<Cell>], types: &[&str]) -> (Vec<String>, Vec<Param>) {
        let d = self.dialect;
        let width = types.len();
        let mut texts: Vec<Vec<Option<String>>> = vec![Vec::with_capacity(rows.len()); width];
        let mut bytes: Vec<Option<Vec<Option<Vec<u8>>>>> = vec![None; width];
        for (r, cells) in rows.iter().enumerate() {
            for (i, c) in cells.iter().enumerate().take(width) {
                match d.param(&c.schema, &c.value) {
                    Param::Bytes(b) => {
                        // a bytes column: its cells before the first bytes value were nulls
                        let col = bytes[i].get_or_insert_with(|| vec![None; r]);
                        col.push(Some(b));
                    }
                    p => {
                        let text = match p {
                            Param::Text(t) => Some(t),
                            _ => None,
                        };
                        match &mut bytes[i] {
                            Some(col) => col.push(None),
                            None => texts[i].push(text),
                        }
                    }
                }
            }
        }
        let mut arrays = Vec::with_capacity(width);
        let mut params = Vec::with_capacity(width);
        for (i, (t, b)) in texts.into_iter().zip(bytes).enumerate() {
            let n = i + 1;
            match b {
                Some(col) => {
                    arrays.push(format!("${n}::bytea[]"));
                    params.push(Param::BytesArray(col));
                }
                None => {
                    arrays.push(format!("${n}::text[]::{}[]", types[i]));
                    params.push(Param::TextArray(t));
                }
            }
        }
        (arrays, params)
    }

    fn col_type(&self, name: &str) -> &str {
        self.columns
            .iter()
            .find(|(n, _)| n == name)
            .map_or("text", |(_, t)| t.as_str())
    }

    pub fn build(&self, ops: &[&RowOp]) -> Vec<(String, Vec<Param>)> {
        let d = self.dialect;
        let table = self.table;
        let t = d.table(table);
        let mut out = Vec::new();
        let deletes: Vec<&Vec<Cell>> = ops
            .iter()
            .filter_map(|op| match op {
                RowOp::Delete { key } if !key.is_empty() => Some(key),
                _ => None,
            })
            .collect();
        if let (Some(first), Dialect::Postgres) = (deletes.first(), d) {
            let cols: Vec<String> = first.iter().map(|c| d.quote(&c.name)).collect();
            let types: Vec<&str> = first.iter().map(|c| self.col_type(&c.name)).collect();
            for chunk in deletes.chunks(self.batch.max(1)) {
                let (arrays, params) = self.pg_arrays(chunk, &types);
                out.push((
                    format!(
                        "DELETE FROM {t} WHERE ({}) IN (SELECT * FROM UNNEST({}))",
                        cols.join(", "),
                        arrays.join(", ")
                    ),
                    params,
                ));
            }
        } else if let Some(first) = deletes.first() {
            let width = first.len();
            let per = (d.max_params() / width).min(self.batch);
            for chunk in deletes.chunks(per) {
                let mut params = Vec::with_capacity(chunk.len() * width);
                let mut tuples = Vec::with_capacity(chunk.len());
                for key in chunk {
                    let ph: Vec<String> = key
                        .iter()
                        .map(|c| {
                            params.push(d.param(&c.schema, &c.value));
                            d.placeholder(params.len(), self.col_type(&c.name))
                        })
                        .collect();
                    tuples.push(if width == 1 {
                        ph.join("")
                    } else {
                        format!("({})", ph.join(", "))
                    });
                }
                let cols: Vec<String> = first.iter().map(|c| d.quote(&c.name)).collect();
                let lhs = if width == 1 {
                    cols.join("")
                } else {
                    format!("({})", cols.join(", "))
                };
                out.push((
                    format!("DELETE FROM {t} WHERE {lhs} IN ({})", tuples.join(", ")),
                    params,
                ));
            }
        }
        // writes, grouped by their column list (usually one group)
        let mut groups: Vec<Group> = Vec::new();
        for op in ops {
            if let RowOp::Write { key, cells } = op {
                let names: Vec<&str> = cells.iter().map(|c| c.name.as_str()).collect();
                match groups.iter_mut().find(|g| g.names == names) {
                    Some(g) => g.rows.push(cells),
                    None => groups.push(Group {
                        names,
                        key: *key,
                        rows: vec![cells],
                    }),
                }
            }
        }
        for Group { names, key, rows } in groups {
            let quoted: Vec<String> = names.iter().map(|n| d.quote(n)).collect();
            if self.mode == InsertMode::Update {
                for cells in rows {
                    let mut params = Vec::new();
                    let ph = |c: &Cell, params: &mut Vec<Param>| {
                        params.push(d.param(&c.schema, &c.value));
                        format!(
                            "{} = {}",
                            d.quote(&c.name),
                            d.placeholder(params.len(), self.col_type(&c.name))
                        )
                    };
                    let sets: Vec<String> =
                        cells[key..].iter().map(|c| ph(c, &mut params)).collect();
                    let wheres: Vec<String> =
                        cells[..key].iter().map(|c| ph(c, &mut params)).collect();
                    if sets.is_empty() {
                        continue;
                    }
                    out.push((
                        format!(
                            "UPDATE {t} SET {} WHERE {}",
                            sets.join(", "),
                            wheres.join(" AND ")
                        ),
                        params,
                    ));
                }
                continue;
            }
            let per = (d.max_params() / names.len().max(1)).min(self.batch).max(1);
            let tail = match (self.mode, d) {
                (InsertMode::Insert, _) => String::new(),
                (_, Dialect::MySql) => {
                    let sets: Vec<String> = quoted[key..]
                        .iter()
                        .map(|c| format!("{c} = VALUES({c})"))
                        .collect();
                    if sets.is_empty() {
                        format!(" ON DUPLICATE KEY UPDATE {0} = {0}", quoted[0])
                    } else {
                        format!(" ON DUPLICATE KEY UPDATE {}", sets.join(", "))
                    }
                }
                _ => {
                    let sets: Vec<String> = quoted[key..]
                        .iter()
                        .map(|c| format!("{c} = excluded.{c}"))
                        .collect();
                    let target = quoted[..key].join(", ");
                    if sets.is_empty() {
                        format!(" ON CONFLICT ({target}) DO NOTHING")
                    } else {
                        format!(" ON CONFLICT ({target}) DO UPDATE SET {}", sets.join(", "))
                    }
                }
            };
            let types: Vec<&str> = names.iter().map(|n| self.col_type(n)).collect();
            if d == Dialect::Postgres {
                for chunk in rows.chunks(self.batch.max(1)) {
                    let (arrays, params) = self.pg_arrays(chunk, &types);
                    out.push((
                        format!(
                            "INSERT INTO {t} ({}) SELECT * FROM UNNEST({}){tail}",
                            quoted.join(", "),
                            arrays.join(", ")
                        ),
                        params,
                    ));
                }
                continue;
            }
            for chunk in rows.chunks(per) {
                let mut params = Vec::with_capacity(chunk.len() * names.len());
                let mut sql = format!("INSERT INTO {t} ({}) VALUES ", quoted.join(", "));
                for (r, cells) in chunk.iter().enumerate() {
                    if r > 0 {
                        sql.push_str(", ");
                    }
                    sql.push('(');
                    for (i, c) in cells.iter().enumerate() {
                        if i > 0 {
                            sql.push_str(", ");
                        }
                        params.push(d.param(&c.schema, &c.value));
                        sql.push_str(&d.placeholder(params.len(), types[i]));
                    }
                    sql.push(')');
                }
                sql.push_str(&tail);
                out.push((sql, params));
            }
        }
        out
    }
}
