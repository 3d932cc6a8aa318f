//! Live environment changes. Every replica polls the shared audit trail a
//! few times a second (one query per replica, however many pages are open)
//! and broadcasts what it finds to its subscribers, so a change made by any
//! replica reaches every open page within a second, on SQLite and on
//! PostgreSQL alike.

use super::clock::now_ms;
use super::Db;
use crate::api::live::EnvChange;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::broadcast;

/// Audit rows are stamped before their transaction commits, so each poll
/// looks this far back and skips what it already sent.
const LOOK_BACK_MS: i64 = 3_000;

#[derive(Clone, Debug)]
pub struct Changes {
    tx: broadcast::Sender<EnvChange>,
}

impl Default for Changes {
    fn default() -> Self {
        Changes { tx: broadcast::channel(4096).0 }
    }
}

type Row = (String, i64, String, String, String, String, Option<String>, String, Option<i64>);

impl Changes {
    pub fn subscribe(&self) -> broadcast::Receiver<EnvChange> {
        self.tx.subscribe()
    }

    /// Polls until the process ends.
    pub async fn run(self, db: Db, every: Duration) {
        let mut since = now_ms();
        let mut sent: HashMap<String, i64> = HashMap::new();
        loop {
            tokio::time::sleep(every).await;
            if self.tx.receiver_count() == 0 {
                // No page open on this replica: nothing to read for.
                since = now_ms();
                continue;
            }
            match self.poll(&db, since, &mut sent).await {
                Ok(latest) => since = since.max(latest),
                Err(err) => tracing::warn!(error = %err, "live changes poll"),
            }
            sent.retain(|_, at| *at >= since - LOOK_BACK_MS);
        }
    }

    async fn poll(&self, db: &Db, since: i64, sent: &mut HashMap<String, i64>) -> sqlx::Result<i64> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT a.id, a.at, a.action, e.id, e.name, e.team_id, e.owner_id, e.state, e.warned_at
             FROM audit_events a JOIN environments e ON e.id = a.target_id
             WHERE a.at >= $1 AND a.target_kind = 'environment' AND e.pooled = 0
             ORDER BY a.at, a.id LIMIT 2000",
        )
        .bind(since - LOOK_BACK_MS)
        .fetch_all(db.pool())
        .await?;
        let mut latest = since;
        for (audit_id, at, action, env_id, name, team_id, owner_id, state, warned_at) in rows {
            latest = latest.max(at);
            if sent.insert(audit_id, at).is_some() {
                continue;
            }
            // No subscribers is not an error: nobody is looking.
            let _ = self.tx.send(EnvChange {
                env_id,
                name,
                team_id,
                owner_id,
                action,
                state,
                warned: warned_at.is_some(),
                at,
                url: None,
            });
        }
        Ok(latest)
    }
}
