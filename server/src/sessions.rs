//! Browser sessions live in the portal's own database (tower-sessions with
//! its sqlx store), so sign-out deletes them server-side and several replicas
//! share them. The store crate needs a concrete pool per engine, hence this
//! small enum over the two. Each replica keeps what it read for
//! `RECENT_MS`, so a page and the requests it makes at once cost one read;
//! a sign-out here applies at once, on another replica within that time.

use async_trait::async_trait;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

#[derive(Clone, Debug)]
pub struct DbSessionStore {
    engine: EngineStore,
    /// Records read or written here lately: (when, record).
    recent: Arc<Mutex<HashMap<Id, (Instant, Record)>>>,
}

#[derive(Clone, Debug)]
enum EngineStore {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

/// How long a session read from the database is reused by this replica.
pub const RECENT_MS: u64 = 2_000;
/// Past this many remembered sessions, stale ones are dropped.
const RECENT_MAX: usize = 10_000;

impl DbSessionStore {
    fn remember(&self, record: &Record) {
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() >= RECENT_MAX {
                recent.retain(|_, (at, _)| at.elapsed() < Duration::from_millis(RECENT_MS));
            }
            recent.insert(record.id, (Instant::now(), record.clone()));
        }
    }

    fn forget(&self, id: &Id) {
        if let Ok(mut recent) = self.recent.lock() {
            recent.remove(id);
        }
    }

    fn recently_read(&self, id: &Id) -> Option<Record> {
        let recent = self.recent.lock().ok()?;
        let (at, record) = recent.get(id)?;
        let fresh = at.elapsed() < Duration::from_millis(RECENT_MS);
        (fresh && record.expiry_date > tower_sessions::cookie::time::OffsetDateTime::now_utc()).then(|| record.clone())
    }
}

impl DbSessionStore {
    /// Connects a small pool to the same database and creates the session
    /// table if needed.
    pub async fn open(database_url: &str) -> sqlx::Result<DbSessionStore> {
        let engine = match app::ssr::Engine::of_url(database_url) {
            Some(app::ssr::Engine::Postgres) => {
                let pool = PgPoolOptions::new().max_connections(4).connect(database_url).await?;
                EngineStore::Postgres(PostgresStore::new(pool))
            }
            _ => {
                let options = SqliteConnectOptions::from_str(database_url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(5));
                let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
                EngineStore::Sqlite(SqliteStore::new(pool))
            }
        };
        match &engine {
            EngineStore::Sqlite(s) => s.migrate().await?,
            EngineStore::Postgres(s) => s.migrate().await?,
        }
        Ok(DbSessionStore { engine, recent: Default::default() })
    }
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match &self.engine {
            EngineStore::Sqlite(s) => s.create(record).await?,
            EngineStore::Postgres(s) => s.create(record).await?,
        }
        self.remember(record);
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match &self.engine {
            EngineStore::Sqlite(s) => s.save(record).await?,
            EngineStore::Postgres(s) => s.save(record).await?,
        }
        self.remember(record);
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        if let Some(record) = self.recently_read(id) {
            return Ok(Some(record));
        }
        let record = match &self.engine {
            EngineStore::Sqlite(s) => s.load(id).await?,
            EngineStore::Postgres(s) => s.load(id).await?,
        };
        match &record {
            Some(r) => self.remember(r),
            None => self.forget(id),
        }
        Ok(record)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.forget(id);
        match &self.engine {
            EngineStore::Sqlite(s) => s.delete(id).await,
            EngineStore::Postgres(s) => s.delete(id).await,
        }
    }
}

#[async_trait]
impl ExpiredDeletion for DbSessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match &self.engine {
            EngineStore::Sqlite(s) => s.delete_expired().await,
            EngineStore::Postgres(s) => s.delete_expired().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_sessions::cookie::time::{Duration as TimeDuration, OffsetDateTime};

    fn record() -> Record {
        Record {
            id: Id::default(),
            data: Default::default(),
            expiry_date: OffsetDateTime::now_utc() + TimeDuration::hours(1),
        }
    }

    /// Two replicas on one database: a sign-out (delete) applies at once on
    /// the replica that made it and, within `RECENT_MS`, on the other.
    #[tokio::test]
    async fn a_deleted_session_ends_here_at_once_and_elsewhere_soon() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/sessions.db", dir.path().display());
        let (here, there) = (DbSessionStore::open(&url).await.unwrap(), DbSessionStore::open(&url).await.unwrap());
        let mut r = record();
        here.create(&mut r).await.unwrap();
        assert!(there.load(&r.id).await.unwrap().is_some(), "the other replica reads it");
        assert!(here.load(&r.id).await.unwrap().is_some());

        here.delete(&r.id).await.unwrap();
        assert!(here.load(&r.id).await.unwrap().is_none(), "gone at once where deleted");
        let deadline = Instant::now() + Duration::from_millis(RECENT_MS * 10);
        while there.load(&r.id).await.unwrap().is_some() {
            assert!(Instant::now() < deadline, "the other replica still has the session");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A remembered record is never served past its own expiry.
    #[tokio::test]
    async fn an_expired_session_is_not_served_from_memory() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/sessions.db", dir.path().display());
        let store = DbSessionStore::open(&url).await.unwrap();
        let mut r = record();
        r.expiry_date = OffsetDateTime::now_utc() - TimeDuration::seconds(1);
        store.remember(&r);
        assert!(store.recently_read(&r.id).is_none());
    }
}
