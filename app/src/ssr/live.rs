//! Live environment changes. Every replica follows the shared audit trail by
//! its sequence number (one reader per replica, however many pages are
//! open) and broadcasts what it finds to its subscribers, so a change made
//! by any replica reaches every open page. PostgreSQL wakes the reader at
//! once (`LISTEN eod_audit`, notified by a trigger on commit); polling every
//! `every` is the fallback, and SQLite's only way.
//!
//! Reading by sequence rather than by timestamp: a row is stamped before its
//! transaction commits (SQLite may wait seconds for the writer lock), so a
//! time window can miss a late commit; a sequence number with its holes
//! remembered (`domain::feed`) cannot.

use super::clock::now_ms;
use super::db::Engine;
use super::Db;
use crate::api::live::EnvChange;
use crate::domain::feed::FeedCursor;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch, Notify};

/// How long a hole in the sequence is looked for: longer than any
/// transaction that appends audit events runs.
const HOLE_PATIENCE_MS: i64 = 120_000;
/// Rows read per query.
const BATCH: i64 = 2_000;

#[derive(Clone, Debug)]
pub struct Changes {
    tx: broadcast::Sender<EnvChange>,
    /// How many reads have finished (tests wait on it rather than on time).
    reads: watch::Sender<u64>,
}

impl Default for Changes {
    fn default() -> Self {
        Changes { tx: broadcast::channel(4096).0, reads: watch::channel(0).0 }
    }
}

type Row =
    (i64, i64, String, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>, Option<i64>);

impl Changes {
    pub fn subscribe(&self) -> broadcast::Receiver<EnvChange> {
        self.tx.subscribe()
    }

    /// Counts finished reads of the trail.
    pub fn reads(&self) -> watch::Receiver<u64> {
        self.reads.subscribe()
    }

    /// Follows the trail until the process ends.
    pub async fn run(self, db: Db, every: Duration) {
        let wake = Arc::new(Notify::new());
        if db.engine() == Engine::Postgres {
            tokio::spawn(listen(db.url().to_string(), wake.clone()));
        }
        let mut cursor = None;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = wake.notified() => {}
            }
            if self.tx.receiver_count() == 0 {
                // No page open on this replica: nothing to read for; a page
                // opened later loads the present and follows from there.
                cursor = None;
                continue;
            }
            match self.read(&db, &mut cursor).await {
                Ok(()) => self.reads.send_modify(|n| *n += 1),
                Err(err) => tracing::warn!(error = %err, "reading the change feed"),
            }
        }
    }

    async fn read(&self, db: &Db, cursor: &mut Option<FeedCursor>) -> sqlx::Result<()> {
        let seq = db.audit_seq();
        let c = match cursor {
            Some(c) => c,
            None => {
                let last: i64 = sqlx::query_scalar(&format!("SELECT COALESCE(MAX({seq}), 0) FROM audit_events a"))
                    .fetch_one(db.pool())
                    .await?;
                cursor.insert(FeedCursor::starting_after(last))
            }
        };
        let select = format!(
            "SELECT {seq}, a.at, a.action, e.id, e.name, e.team_id, e.owner_id, e.state, e.warned_at
             FROM audit_events a
             LEFT JOIN environments e ON a.target_kind = 'environment' AND e.id = a.target_id AND e.pooled = 0"
        );
        let now = now_ms();
        // Holes first (transactions that committed late), then what is new.
        let holes: Vec<String> = c.holes().take(1_000).map(|h| h.to_string()).collect();
        let mut fresh: Vec<Row> = vec![];
        if !holes.is_empty() {
            // Integers formatted from i64s: nothing a user wrote.
            let sql = format!("{select} WHERE {seq} IN ({}) ORDER BY {seq}", holes.join(", "));
            for row in sqlx::query_as::<_, Row>(&sql).fetch_all(db.pool()).await? {
                if c.accept(row.0, now) {
                    fresh.push(row);
                }
            }
        }
        loop {
            let sql = format!("{select} WHERE {seq} > $1 ORDER BY {seq} LIMIT {BATCH}");
            let batch: Vec<Row> = sqlx::query_as(&sql).bind(c.last()).fetch_all(db.pool()).await?;
            let full = batch.len() as i64 == BATCH;
            for row in batch {
                if c.accept(row.0, now) {
                    fresh.push(row);
                }
            }
            if !full {
                break;
            }
        }
        if !fresh.is_empty() {
            // Counts on pages change with environments: recount before the
            // pages this wakes ask again.
            db.forget_counts();
        }
        for (_, at, action, env_id, name, team_id, owner_id, state, warned_at) in fresh {
            let (Some(env_id), Some(name), Some(team_id), Some(state)) = (env_id, name, team_id, state) else {
                continue; // not an environment's event
            };
            // No subscribers is not an error: nobody is looking.
            let change = EnvChange {
                env_id,
                name,
                team_id,
                owner_id,
                action,
                state,
                warned: warned_at.is_some(),
                at,
                url: None,
            };
            let _ = self.tx.send(change);
        }
        c.forget_old_holes(now, HOLE_PATIENCE_MS);
        Ok(())
    }
}

/// Wakes the reader whenever PostgreSQL says events were appended;
/// reconnects after a failure (polling covers the gap).
async fn listen(url: String, wake: Arc<Notify>) {
    loop {
        match sqlx::postgres::PgListener::connect(&url).await {
            Ok(mut listener) => {
                if let Err(err) = listener.listen("eod_audit").await {
                    tracing::warn!(error = %err, "LISTEN eod_audit");
                } else {
                    while listener.recv().await.is_ok() {
                        wake.notify_one();
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "connecting to listen for changes"),
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}
