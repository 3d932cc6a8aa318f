//! A fresh database per test, on both engines: a temp-dir SQLite file, or a
//! new PostgreSQL database created through `EOD_TEST_POSTGRES_URL` (default
//! postgres://eod:eod@127.0.0.1:5432/postgres) and dropped afterwards.
//! An unreachable PostgreSQL fails the test; it is never skipped.

use app::ssr::Db;
use sqlx::{Connection, Executor};

pub struct TestDb {
    pub db: Db,
    _dir: Option<tempfile::TempDir>,
    pg_cleanup: Option<(String, String)>,
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite:{}?mode=rwc", dir.path().join("test.db").display());
    let db = Db::open(&url, 4).await.expect("open SQLite");
    TestDb { db, _dir: Some(dir), pg_cleanup: None }
}

pub async fn postgres() -> TestDb {
    sqlx::any::install_default_drivers();
    let admin = std::env::var("EOD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://eod:eod@127.0.0.1:5432/postgres".to_string());
    let name = format!("eod_test_{}", uuid_simple());
    let mut conn = sqlx::AnyConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL must be reachable for store tests (EOD_TEST_POSTGRES_URL): {e}"));
    conn.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create test database");
    conn.close().await.ok();
    let base = admin.rsplit_once('/').map(|(b, _)| b).expect("URL with a database");
    let db = Db::open(&format!("{base}/{name}"), 4).await.expect("open PostgreSQL");
    TestDb { db, _dir: None, pg_cleanup: Some((admin, name)) }
}

impl TestDb {
    /// Closes the pool and drops the PostgreSQL database.
    pub async fn finish(self) {
        self.db.close().await;
        if let Some((admin, name)) = self.pg_cleanup {
            let mut conn = sqlx::AnyConnection::connect(&admin).await.expect("reconnect");
            conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await
                .expect("drop test database");
        }
    }
}

fn uuid_simple() -> String {
    // Enough uniqueness for parallel tests: time + process + counter.
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{:x}_{:x}_{}", t, std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Runs the body once on SQLite and once on PostgreSQL as two tests.
#[macro_export]
macro_rules! on_both_engines {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let t = $crate::support::sqlite().await;
                ($body)(t.db.clone()).await;
                t.finish().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let t = $crate::support::postgres().await;
                ($body)(t.db.clone()).await;
                t.finish().await;
            }
        }
    };
}
