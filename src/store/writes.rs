//! Writes planned first and sent together: the mechanism of the units of work.
//!
//! A workflow reads what it needs, decides, then fills a [`Writes`] with the rows to insert
//! and update (each repository has `*_in` functions that add its own) and runs it once. On
//! PostgreSQL every write becomes a data-modifying part of one `WITH` statement: one round
//! trip however many rows, which matters most where a hot lock is held until `COMMIT` (the
//! protocol counter of a submission, `store::submission`). On SQLite the writes run one after
//! another: the writer lock already serialises writers and a statement costs no network.
//!
//! Every part of a PostgreSQL statement sees the database as it was before the statement, so
//! a unit holds only writes that do not read each other's rows (a child row may reference a
//! parent inserted in the same unit: foreign keys are checked at the end of the statement).
//! A leaf: it uses no other store module.

use std::fmt::Write as _;

use sea_orm::sea_query::{InsertStatement, PostgresQueryBuilder, SqlWriterValues, UpdateStatement};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, QueryTrait};
use sea_orm::{Statement, Value};

/// PostgreSQL binds at most 65,535 parameters in a statement; beyond, the writes go one by one.
const MAX_PARAMETERS: usize = 65_535;
/// A unit of more writes than this (the notices of a whole ranking) goes one write at a time:
/// its statements are few next to its rows, and one statement of thousands of parts would
/// cost more to plan than the round trips it saves.
const MAX_PARTS: usize = 64;

enum Write {
    Insert(InsertStatement),
    Update(UpdateStatement),
}

/// The writes of one change, in order.
#[derive(Default)]
pub struct Writes {
    writes: Vec<Write>,
}

impl Writes {
    pub fn new() -> Writes {
        Writes::default()
    }

    /// Insert a row.
    pub fn insert<A>(&mut self, row: A)
    where
        A: ActiveModelTrait,
    {
        self.insert_statement(<A::Entity as EntityTrait>::insert(row).into_query());
    }

    /// Insert rows of one table in one statement; nothing when there are none.
    pub fn insert_many<A, I>(&mut self, rows: I)
    where
        A: ActiveModelTrait,
        I: IntoIterator<Item = A>,
    {
        let mut rows = rows.into_iter().peekable();
        if rows.peek().is_some() {
            self.insert_statement(<A::Entity as EntityTrait>::insert_many(rows).into_query());
        }
    }

    pub fn insert_statement(&mut self, statement: InsertStatement) {
        self.writes.push(Write::Insert(statement));
    }

    pub fn update(&mut self, statement: UpdateStatement) {
        self.writes.push(Write::Update(statement));
    }

    /// Add the writes of another plan after these.
    pub fn append(&mut self, mut other: Writes) {
        self.writes.append(&mut other.writes);
    }

    /// Run the writes in `conn` (a transaction, for more than one); the rows each touched, in
    /// the order they were added.
    pub async fn run<C: ConnectionTrait>(self, conn: &C) -> Result<Vec<u64>, DbErr> {
        match (conn.get_database_backend(), self.writes.len()) {
            (_, 0) => Ok(vec![]),
            (DatabaseBackend::Postgres, n) if n > 1 && n <= MAX_PARTS => {
                let (sql, values) = one_statement(&self.writes);
                if values.len() <= MAX_PARAMETERS {
                    let row = conn
                        .query_one_raw(Statement::from_sql_and_values(
                            DatabaseBackend::Postgres,
                            sql,
                            values,
                        ))
                        .await?
                        .ok_or_else(|| DbErr::Custom("the writes returned nothing".into()))?;
                    return (0..n)
                        .map(|i| row.try_get_by_index::<i64>(i).map(|c| c.max(0) as u64))
                        .collect();
                }
                one_by_one(conn, self.writes).await
            }
            _ => one_by_one(conn, self.writes).await,
        }
    }
}

/// `WITH w0 AS (<write> RETURNING 1), w1 AS (...) SELECT (SELECT count(*) FROM w0), ...`,
/// with the parameters of every write numbered in one sequence.
fn one_statement(writes: &[Write]) -> (String, Vec<Value>) {
    let mut sql = SqlWriterValues::new("$", true);
    for (i, write) in writes.iter().enumerate() {
        let _ = write!(sql, "{}w{i} AS (", if i == 0 { "WITH " } else { ", " });
        match write {
            Write::Insert(s) => s.build_collect_into(PostgresQueryBuilder, &mut sql),
            Write::Update(s) => s.build_collect_into(PostgresQueryBuilder, &mut sql),
        }
        let _ = sql.write_str(" RETURNING 1)");
    }
    let _ = sql.write_str(" SELECT ");
    for i in 0..writes.len() {
        let _ = write!(
            sql,
            "{}(SELECT count(*) FROM w{i})",
            if i == 0 { "" } else { ", " }
        );
    }
    let (sql, values) = sql.into_parts();
    (sql, values.0)
}

async fn one_by_one<C: ConnectionTrait>(conn: &C, writes: Vec<Write>) -> Result<Vec<u64>, DbErr> {
    let mut counts = Vec::with_capacity(writes.len());
    for write in writes {
        let done = match write {
            Write::Insert(s) => conn.execute(&s).await?,
            Write::Update(s) => conn.execute(&s).await?,
        };
        counts.push(done.rows_affected());
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};

    #[test]
    fn the_writes_of_a_unit_make_one_statement_with_one_sequence_of_parameters() {
        let mut w = Writes::new();
        w.insert_statement(
            Query::insert()
                .into_table(Alias::new("a"))
                .columns([Alias::new("x"), Alias::new("y")])
                .values_panic([1.into(), "one".into()])
                .to_owned(),
        );
        w.update(
            Query::update()
                .table(Alias::new("b"))
                .value(Alias::new("z"), 2)
                .and_where(Expr::col(Alias::new("id")).eq(3))
                .to_owned(),
        );
        let (sql, values) = one_statement(&w.writes);
        assert_eq!(
            sql,
            r#"WITH w0 AS (INSERT INTO "a" ("x", "y") VALUES ($1, $2) RETURNING 1), w1 AS (UPDATE "b" SET "z" = $3 WHERE "id" = $4 RETURNING 1) SELECT (SELECT count(*) FROM w0), (SELECT count(*) FROM w1)"#
        );
        assert_eq!(values.len(), 4);
    }
}
