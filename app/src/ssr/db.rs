//! One connection pool for SQLite (the zero-setup default) or PostgreSQL
//! (production), behind sqlx's `Any` driver: one set of migrations and the
//! same runtime queries on both. Instants are BIGINT epoch ms, money BIGINT
//! micro-dollars, ids TEXT — `Any` has no chrono or UUID types.

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn of_url(url: &str) -> Option<Engine> {
        if url.starts_with("sqlite:") {
            Some(Engine::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Engine::Postgres)
        } else {
            None
        }
    }
}

#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    engine: Engine,
    /// Team totals of closed months, by `YYYY-MM`: a closed month never
    /// changes (rates and shared periods only apply from now on, resource
    /// time in it is fixed), so the Costs page's trend computes each once.
    closed_months:
        std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, crate::domain::chargeback::MonthReport>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL (expected sqlite:… or postgres://…)")]
    UnsupportedUrl,
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

impl Db {
    /// Connects (creating a SQLite file if needed) without migrating.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let engine = Engine::of_url(url).ok_or(DbError::UnsupportedUrl)?;
        let options = AnyConnectOptions::from_str(url).map_err(DbError::Connect)?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        // WAL lets readers proceed during a write; the busy
                        // timeout queues writers instead of failing them.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(DbError::Connect)?;
        Ok(Db { pool, engine, closed_months: Default::default() })
    }

    /// Connects and applies every pending migration.
    pub async fn open(url: &str, max_connections: u32) -> Result<Db, DbError> {
        let db = Db::connect(url, max_connections).await?;
        MIGRATOR.run(&db.pool).await?;
        db.guard_audit_trail().await.map_err(DbError::Connect)?;
        Ok(db)
    }

    /// The audit trail is append-only in the database itself: triggers on
    /// both engines refuse UPDATE, DELETE (and on PostgreSQL TRUNCATE) of
    /// `audit_events`, whoever connects. Engine-specific, so applied here
    /// after the shared migrations rather than in one of them; idempotent,
    /// and serialized on PostgreSQL so replicas starting together agree.
    async fn guard_audit_trail(&self) -> sqlx::Result<()> {
        let statements: &[&str] = match self.engine {
            Engine::Sqlite => &[
                "CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events \
                 BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
                "CREATE TRIGGER IF NOT EXISTS audit_events_no_delete BEFORE DELETE ON audit_events \
                 BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
            ],
            Engine::Postgres => &[
                "SELECT pg_advisory_xact_lock(7305142)",
                "CREATE OR REPLACE FUNCTION eod_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$",
                "CREATE OR REPLACE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events \
                 FOR EACH ROW EXECUTE FUNCTION eod_audit_append_only()",
                "CREATE OR REPLACE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events \
                 FOR EACH STATEMENT EXECUTE FUNCTION eod_audit_append_only()",
            ],
        };
        let mut tx = self.pool.begin().await?;
        for sql in statements {
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
        }
        tx.commit().await
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// A closed month's team totals, if computed before.
    pub fn closed_month(&self, month: &str) -> Option<crate::domain::chargeback::MonthReport> {
        self.closed_months.lock().ok()?.get(month).cloned()
    }

    /// Remembers a closed month's team totals (see `closed_months`).
    pub fn remember_closed_month(&self, report: &crate::domain::chargeback::MonthReport) {
        if let Ok(mut months) = self.closed_months.lock() {
            months.insert(report.month.clone(), report.clone());
        }
    }

    /// Begins a transaction that reads, then writes. On SQLite it takes the
    /// write lock up front (`BEGIN IMMEDIATE`): a deferred transaction that
    /// read before another writer committed could not write afterwards and
    /// would fail at once instead of waiting its turn.
    pub async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Any>> {
        match self.engine {
            Engine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Engine::Postgres => self.pool.begin().await,
        }
    }

    /// Takes a lock named by `key` for the rest of the transaction, if no
    /// other replica holds it. SQLite runs one replica and serializes
    /// writers, so there the answer is always yes.
    pub async fn try_lock(&self, tx: &mut sqlx::Transaction<'_, sqlx::Any>, key: i64) -> sqlx::Result<bool> {
        match self.engine {
            Engine::Postgres => {
                sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)").bind(key).fetch_one(&mut **tx).await
            }
            Engine::Sqlite => Ok(true),
        }
    }

    /// Whether the database answers a trivial query (for `/readyz`).
    pub async fn is_reachable(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
