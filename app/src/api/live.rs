//! What open pages are told when an environment changes (server-sent
//! events at `/events`, one JSON object per change).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvChange {
    pub env_id: String,
    pub name: String,
    pub team_id: String,
    pub owner_id: Option<String>,
    /// The audit action that recorded it (`environment.healthy`, …).
    pub action: String,
    pub state: String,
    /// The environment's expiry warning went out.
    pub warned: bool,
    pub at: i64,
    /// Where it answers, once reachable.
    pub url: Option<String>,
}
