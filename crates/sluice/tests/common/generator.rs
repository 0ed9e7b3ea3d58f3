//! Seeded random MariaDB workloads for the differential tests: table schemas (column types with
//! random widths, precisions, fractional seconds and nullability; one- or two-column primary
//! keys), snapshot rows, then a stream of inserts, updates (primary-key changes among them),
//! deletes and a table created mid-stream. The same seed always gives the same SQL.
//!
//! Left out while they are known divergences (tests/differential.rs lists them; add them back
//! with the fix): column DEFAULTs, non-UTF-8 character sets, `BOOLEAN` and `JSON`, `YEAR` 0,
//! `FLOAT`, `TIMESTAMP` with fractional seconds, tables empty at the snapshot.

/// SplitMix64: small, seedable, the same sequence everywhere.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// In `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo) as u64 + 1)) as i64
    }

    fn one_in(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.next() as usize % items.len()]
    }
}

/// A column: its DDL type and how to make a value literal for it.
struct Column {
    name: String,
    ddl: String,
    nullable: bool,
    kind: Kind,
}

#[derive(Clone, Copy)]
enum Kind {
    Int { lo: i64, hi: i64 },
    Unsigned64,
    Decimal { p: i64, s: i64 },
    Float,
    Text { len: i64 },
    Date,
    DateTime,
    Time,
    Year,
    Bit { n: i64 },
    Enum,
    Set,
    Bytes { len: i64 },
}

fn column(rng: &mut Rng, name: String) -> Column {
    let (ddl, kind) = match rng.range(0, 17) {
        0 => ("TINYINT".into(), Kind::Int { lo: -128, hi: 127 }),
        1 => ("TINYINT UNSIGNED".into(), Kind::Int { lo: 0, hi: 255 }),
        2 => (
            "SMALLINT".into(),
            Kind::Int {
                lo: -32768,
                hi: 32767,
            },
        ),
        3 => (
            "INT UNSIGNED".into(),
            Kind::Int {
                lo: 0,
                hi: 4_294_967_295,
            },
        ),
        4 => (
            "BIGINT".into(),
            Kind::Int {
                lo: i64::MIN + 1,
                hi: i64::MAX,
            },
        ),
        5 => ("BIGINT UNSIGNED".into(), Kind::Unsigned64),
        6 => {
            let p = rng.range(1, 40);
            let s = rng.range(0, p.min(12));
            (format!("DECIMAL({p},{s})"), Kind::Decimal { p, s })
        }
        7 => ("DOUBLE".into(), Kind::Float),
        8 => {
            let len = rng.range(1, 40);
            let t = rng.pick(&["CHAR", "VARCHAR"]);
            (format!("{t}({len})"), Kind::Text { len })
        }
        9 => ("TEXT".into(), Kind::Text { len: 200 }),
        10 => ("DATE".into(), Kind::Date),
        11 => (format!("DATETIME({})", rng.range(0, 6)), Kind::DateTime),
        12 => ("TIMESTAMP NULL".into(), Kind::DateTime),
        13 => (format!("TIME({})", rng.range(0, 6)), Kind::Time),
        14 => ("YEAR".into(), Kind::Year),
        15 => {
            let n = rng.range(1, 64);
            (format!("BIT({n})"), Kind::Bit { n })
        }
        16 => match rng.one_in(2) {
            true => ("ENUM('a','bb','c d')".into(), Kind::Enum),
            false => ("SET('x','y','z')".into(), Kind::Set),
        },
        _ => {
            let len = rng.range(1, 32);
            let t = rng.pick(&["VARBINARY", "BINARY", "BLOB"]);
            let ddl = if *t == "BLOB" {
                "BLOB".into()
            } else {
                format!("{t}({len})")
            };
            (ddl, Kind::Bytes { len })
        }
    };
    let timestamp = ddl.starts_with("TIMESTAMP");
    let nullable = timestamp || rng.one_in(2);
    Column {
        ddl: if nullable || timestamp {
            ddl
        } else {
            format!("{ddl} NOT NULL")
        },
        name,
        nullable,
        kind,
    }
}

fn value(rng: &mut Rng, c: &Column) -> String {
    if c.nullable && rng.one_in(5) {
        return "NULL".into();
    }
    let extreme = rng.one_in(4);
    match c.kind {
        Kind::Int { lo, hi } if extreme => rng.pick(&[lo, hi, 0]).to_string(),
        Kind::Int { lo, hi } => rng.range(lo.max(-100_000), hi.min(100_000)).to_string(),
        Kind::Unsigned64 if extreme => "18446744073709551615".into(),
        Kind::Unsigned64 => (rng.next() >> 1).to_string(),
        Kind::Decimal { p, s } => {
            let int_digits = (p - s).max(0) as usize;
            let digits = |rng: &mut Rng, n: usize| -> String {
                (0..n)
                    .map(|_| char::from(b'0' + rng.range(0, 9) as u8))
                    .collect()
            };
            let i = if int_digits == 0 {
                "0".into()
            } else {
                digits(rng, int_digits)
            };
            let f = digits(rng, s as usize);
            let sign = if rng.one_in(3) { "-" } else { "" };
            if s == 0 {
                format!("{sign}{i}")
            } else {
                format!("{sign}{i}.{f}")
            }
        }
        Kind::Float => format!("{}e{}", rng.range(-99_999, 99_999), rng.range(-20, 20)),
        Kind::Text { len } => {
            let pool = ["a", "Z", " ", "é", "✓", "😀", "'", "\\\\", "\\n", "0"];
            let n = rng.range(0, len.min(12));
            let s: String = (0..n).map(|_| *rng.pick(&pool)).collect();
            format!("'{}'", s.replace('\'', "''"))
        }
        Kind::Date => format!(
            "'{:04}-{:02}-{:02}'",
            rng.range(1000, 9999),
            rng.range(1, 12),
            rng.range(1, 28)
        ),
        Kind::DateTime => format!(
            "'{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}'",
            rng.range(1971, 2037),
            rng.range(1, 12),
            rng.range(1, 28),
            rng.range(0, 23),
            rng.range(0, 59),
            rng.range(0, 59),
            rng.range(0, 999_999)
        ),
        Kind::Time => format!(
            "'{}:{:02}:{:02}.{:06}'",
            rng.range(-837, 837),
            rng.range(0, 59),
            rng.range(0, 59),
            rng.range(0, 999_999)
        ),
        Kind::Year => rng.range(1901, 2155).to_string(),
        Kind::Bit { n } => format!("b'{:b}'", rng.next() >> (64 - n)),
        Kind::Enum => rng.pick(&["'a'", "'bb'", "'c d'"]).to_string(),
        Kind::Set => rng.pick(&["''", "'x'", "'x,z'", "'x,y,z'"]).to_string(),
        Kind::Bytes { len } => {
            let n = rng.range(0, len.min(16)) as usize;
            let hex: String = (0..n)
                .map(|_| format!("{:02x}", rng.range(0, 255)))
                .collect();
            format!("x'{hex}'")
        }
    }
}

/// One generated table: name, columns (the key first), and the keys of its live rows.
struct Table {
    name: String,
    composite: bool,
    columns: Vec<Column>,
    live: Vec<i64>,
    next: i64,
}

impl Table {
    fn new(rng: &mut Rng, name: String) -> Table {
        let n = rng.range(1, 8);
        Table {
            name,
            composite: rng.one_in(3),
            columns: (0..n).map(|i| column(rng, format!("c{i}"))).collect(),
            live: Vec::new(),
            next: 1,
        }
    }

    fn create(&self) -> String {
        let mut cols = vec!["id INT NOT NULL".to_string()];
        if self.composite {
            cols.push("k VARCHAR(8) NOT NULL".into());
        }
        cols.extend(self.columns.iter().map(|c| format!("{} {}", c.name, c.ddl)));
        let key = if self.composite { "id, k" } else { "id" };
        format!(
            "CREATE TABLE {} ({}, PRIMARY KEY ({key}));\n",
            self.name,
            cols.join(", ")
        )
    }

    fn key(&self, id: i64) -> String {
        match self.composite {
            true => format!("id = {id} AND k = 'k{id}'"),
            false => format!("id = {id}"),
        }
    }

    fn insert(&mut self, rng: &mut Rng) -> String {
        let id = self.next;
        self.next += 1;
        self.live.push(id);
        let mut vals = vec![id.to_string()];
        if self.composite {
            vals.push(format!("'k{id}'"));
        }
        vals.extend(self.columns.iter().map(|c| value(rng, c)));
        format!("INSERT INTO {} VALUES ({});\n", self.name, vals.join(", "))
    }

    /// An update, a primary-key change or a delete of a live row (an insert if none is left).
    fn change(&mut self, rng: &mut Rng) -> String {
        if self.live.is_empty() {
            return self.insert(rng);
        }
        let at = rng.range(0, self.live.len() as i64 - 1) as usize;
        let id = self.live[at];
        match rng.range(0, 5) {
            0 => {
                self.live.remove(at);
                format!("DELETE FROM {} WHERE {};\n", self.name, self.key(id))
            }
            1 if !self.composite => {
                let new = self.next;
                self.next += 1;
                self.live[at] = new;
                format!("UPDATE {} SET id = {new} WHERE id = {id};\n", self.name)
            }
            _ => {
                let c = rng.pick(&self.columns);
                let v = value(rng, c);
                format!(
                    "UPDATE {} SET {} = {v} WHERE {};\n",
                    self.name,
                    c.name,
                    self.key(id)
                )
            }
        }
    }
}

/// The SQL of seed `seed` in database `db`: (tables and snapshot rows, the streamed part).
pub fn mariadb_workload(seed: u64, db: &str) -> (String, String) {
    let mut rng = Rng::new(seed);
    let mut tables: Vec<Table> = (0..rng.range(2, 4))
        .map(|i| Table::new(&mut rng, format!("{db}.s{seed}_t{i}")))
        .collect();
    let mut before = String::new();
    for t in tables.iter_mut() {
        before += &t.create();
        for _ in 0..rng.range(1, 6) {
            before += &t.insert(&mut rng);
        }
    }
    let mut stream = String::new();
    let mut late = Table::new(&mut rng, format!("{db}.s{seed}_late"));
    for step in 0..rng.range(10, 40) {
        if step == 5 {
            stream += &late.create();
        }
        let n = tables.len();
        let t = if step > 5 && rng.one_in(4) {
            &mut late
        } else {
            &mut tables[rng.range(0, n as i64 - 1) as usize]
        };
        stream += &match rng.one_in(3) {
            true => t.insert(&mut rng),
            false => t.change(&mut rng),
        };
    }
    (before, stream)
}
