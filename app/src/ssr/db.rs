//! One connection pool for SQLite (the zero-setup default) or PostgreSQL
//! (production), behind sqlx's `Any` driver: one set of migrations and the
//! same runtime queries on both. Instants are BIGINT epoch ms, money BIGINT
//! micro-dollars, ids TEXT — `Any` has no chrono or UUID types.

use crate::domain::access::Viewer;
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

/// A replica's memo shared by every clone of `Db`.
type Memo<T> = std::sync::Arc<std::sync::Mutex<T>>;
type Stamped<T> = (std::time::Instant, T);

#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    engine: Engine,
    /// For PostgreSQL's LISTEN, which needs a connection of its own.
    /// Holds the password: never logged.
    url: std::sync::Arc<str>,
    /// Team totals of closed months, by `YYYY-MM`: a closed month never
    /// changes (rates and shared periods only apply from now on, resource
    /// time in it is fixed), so the Costs page's trend computes each once.
    closed_months: Memo<std::collections::HashMap<String, crate::domain::chargeback::MonthReport>>,
    /// The current month's actual report for the budget headlines of every
    /// page: (computed at, report). Recomputed when older than
    /// `HEADLINE_REPORT_MS` or when a budget or rate changes here.
    headline_report: Memo<Option<(i64, crate::domain::chargeback::MonthReport)>>,
    /// Every team and app, read by each page's filters and New-preview
    /// choices: (read at, catalog), for `CATALOG_MS`, forgotten when this
    /// replica writes a team, membership or app.
    catalog: Memo<Option<Stamped<std::sync::Arc<Catalog>>>>,
    /// Signed-in users as every request needs them (user, memberships,
    /// approver group), by user id: (read at, viewer), for `VIEWER_MS`,
    /// forgotten when this replica changes a user or a membership.
    viewers: Memo<std::collections::HashMap<String, Stamped<Viewer>>>,
    /// The Environments page's counts (matching a filter, unhealthy) by what
    /// they count: (counted at, count), for `COUNT_MS`.
    counts: Memo<std::collections::HashMap<String, Stamped<i64>>>,
}

/// Every team and app (a hundred of each is a few kilobytes).
#[derive(Debug, Default)]
pub struct Catalog {
    pub teams: Vec<crate::ssr::store::teams::Team>,
    pub apps: Vec<crate::ssr::store::apps::App>,
    /// Each app's blueprint parsed once (by app id; a broken one is the
    /// default, as creating that app says why it fails).
    pub blueprints: std::collections::HashMap<String, crate::domain::blueprint::Blueprint>,
}

/// How long another replica's new team or app may take to show in lists.
pub const CATALOG_MS: u64 = 2_000;

/// How long a user disabled or a role changed on another replica may take
/// to apply here (on this replica it applies at once).
pub const VIEWER_MS: u64 = 2_000;

/// How old a count shown on the Environments page may be: counting 10,000
/// rows on every view was most of a page's database time. The change feed
/// forgets the counts whenever an environment changes, so this bounds only
/// what the feed has not seen yet.
pub const COUNT_MS: u64 = 2_000;

/// How stale the budget headlines' spend may be: money accrues by the
/// minute, and pricing a month of intervals on every page view cost more
/// than the rest of the Environments page together.
pub const HEADLINE_REPORT_MS: i64 = 30_000;

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

/// Without the URL: it may hold a password.
impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("engine", &self.engine).finish_non_exhaustive()
    }
}

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
        Ok(Db {
            pool,
            engine,
            url: url.into(),
            closed_months: Default::default(),
            headline_report: Default::default(),
            catalog: Default::default(),
            viewers: Default::default(),
            counts: Default::default(),
        })
    }

    /// Connects and applies every pending migration.
    pub async fn open(url: &str, max_connections: u32) -> Result<Db, DbError> {
        let db = Db::connect(url, max_connections).await?;
        MIGRATOR.run(&db.pool).await?;
        db.guard_audit_trail().await.map_err(DbError::Connect)?;
        db.number_audit_events().await.map_err(DbError::Connect)?;
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

    /// The audit trail is also the change feed: readers follow it by a
    /// sequence number (see `live.rs`). SQLite has one, the rowid — one
    /// writer at a time and no deletes make it follow commit order.
    /// PostgreSQL gets an identity column, and a trigger that wakes
    /// listening replicas when a transaction that appended events commits.
    async fn number_audit_events(&self) -> sqlx::Result<()> {
        if self.engine == Engine::Sqlite {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for sql in [
            "SELECT pg_advisory_xact_lock(7305143)",
            "ALTER TABLE audit_events ADD COLUMN IF NOT EXISTS seq BIGINT GENERATED ALWAYS AS IDENTITY",
            "CREATE UNIQUE INDEX IF NOT EXISTS audit_events_seq ON audit_events (seq)",
            "CREATE OR REPLACE FUNCTION eod_audit_notify() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN PERFORM pg_notify('eod_audit', ''); RETURN NULL; END $$",
            "CREATE OR REPLACE TRIGGER audit_events_notify AFTER INSERT ON audit_events \
             FOR EACH STATEMENT EXECUTE FUNCTION eod_audit_notify()",
        ] {
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
        }
        tx.commit().await
    }

    /// The audit trail's sequence number as a column of `audit_events a`.
    pub fn audit_seq(&self) -> &'static str {
        match self.engine {
            Engine::Sqlite => "a.rowid",
            Engine::Postgres => "a.seq",
        }
    }

    /// The database URL, for a dedicated connection (PostgreSQL LISTEN).
    pub fn url(&self) -> &str {
        &self.url
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

    /// The current month's actual report if computed in the last
    /// `HEADLINE_REPORT_MS` and in the same month as `now`.
    pub fn headline_report(&self, now: i64) -> Option<crate::domain::chargeback::MonthReport> {
        let cached = self.headline_report.lock().ok()?;
        let (at, report) = cached.as_ref()?;
        let same_month = crate::domain::cost::Month::containing(*at) == crate::domain::cost::Month::containing(now);
        (now - at < HEADLINE_REPORT_MS && now >= *at && same_month).then(|| report.clone())
    }

    pub fn remember_headline_report(&self, at: i64, report: &crate::domain::chargeback::MonthReport) {
        if let Ok(mut cached) = self.headline_report.lock() {
            *cached = Some((at, report.clone()));
        }
    }

    /// Forgets the headline report (a budget or rate changed).
    pub fn forget_headline_report(&self) {
        if let Ok(mut cached) = self.headline_report.lock() {
            *cached = None;
        }
    }

    /// Every team and app, read at most `CATALOG_MS` ago.
    pub async fn catalog(&self) -> sqlx::Result<std::sync::Arc<Catalog>> {
        if let Ok(cached) = self.catalog.lock() {
            if let Some((at, catalog)) = cached.as_ref() {
                if at.elapsed() < std::time::Duration::from_millis(CATALOG_MS) {
                    return Ok(catalog.clone());
                }
            }
        }
        let read_at = std::time::Instant::now();
        let apps = crate::ssr::store::apps::list(&self.pool).await?;
        let blueprints = apps
            .iter()
            .map(|a| (a.id.clone(), crate::domain::blueprint::Blueprint::parse(&a.blueprint).unwrap_or_default()))
            .collect();
        let catalog =
            std::sync::Arc::new(Catalog { teams: crate::ssr::store::teams::list(&self.pool).await?, apps, blueprints });
        if let Ok(mut cached) = self.catalog.lock() {
            *cached = Some((read_at, catalog.clone()));
        }
        Ok(catalog)
    }

    /// Forgets the catalog (this replica wrote a team, membership or app).
    pub fn forget_catalog(&self) {
        if let Ok(mut cached) = self.catalog.lock() {
            *cached = None;
        }
    }

    /// The enabled user `user_id` as a viewer, read at most `VIEWER_MS` ago;
    /// `None` if disabled or gone (never cached, so it applies at once).
    pub async fn viewer(&self, user_id: &str) -> sqlx::Result<Option<Viewer>> {
        if let Ok(cached) = self.viewers.lock() {
            if let Some((at, viewer)) = cached.get(user_id) {
                if at.elapsed() < std::time::Duration::from_millis(VIEWER_MS) {
                    return Ok(Some(viewer.clone()));
                }
            }
        }
        let read_at = std::time::Instant::now();
        let viewer = crate::ssr::store::users::viewer(&self.pool, user_id).await?;
        if let Ok(mut cached) = self.viewers.lock() {
            // Bounded: stale entries go whenever the map grows large.
            if cached.len() >= 10_000 {
                cached.retain(|_, (at, _)| at.elapsed() < std::time::Duration::from_millis(VIEWER_MS));
            }
            match &viewer {
                Some(v) => cached.insert(user_id.to_string(), (read_at, v.clone())),
                None => cached.remove(user_id),
            };
        }
        Ok(viewer)
    }

    /// The count `key` names, counted by `count` at most `COUNT_MS` ago.
    pub async fn recent_count<F>(&self, key: String, count: F) -> sqlx::Result<i64>
    where
        F: std::future::Future<Output = sqlx::Result<i64>>,
    {
        let fresh = |at: &std::time::Instant| at.elapsed() < std::time::Duration::from_millis(COUNT_MS);
        if let Ok(counts) = self.counts.lock() {
            if let Some((_, n)) = counts.get(&key).filter(|(at, _)| fresh(at)) {
                return Ok(*n);
            }
        }
        let counted_at = std::time::Instant::now();
        let n = count.await?;
        if let Ok(mut counts) = self.counts.lock() {
            if counts.len() >= 10_000 {
                counts.retain(|_, (at, _)| fresh(at));
            }
            counts.insert(key, (counted_at, n));
        }
        Ok(n)
    }

    /// Forgets every count (environments changed).
    pub fn forget_counts(&self) {
        if let Ok(mut counts) = self.counts.lock() {
            counts.clear();
        }
    }

    /// Forgets every cached viewer (this replica changed a user or a membership).
    pub fn forget_viewers(&self) {
        if let Ok(mut cached) = self.viewers.lock() {
            cached.clear();
        }
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

    /// Takes a lock named by `key` for the rest of the transaction, waiting
    /// for another replica's transaction that holds it. SQLite serializes
    /// writers already (`begin_write`), so there it is a no-op.
    pub async fn lock(&self, tx: &mut sqlx::Transaction<'_, sqlx::Any>, key: i64) -> sqlx::Result<()> {
        match self.engine {
            Engine::Postgres => {
                sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(key).execute(&mut **tx).await.map(|_| ())
            }
            Engine::Sqlite => Ok(()),
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
