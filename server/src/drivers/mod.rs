//! Drivers make an environment's resources real. The trait is small and
//! every operation is idempotent on deterministic names, so the reconciler
//! can repeat any step after a crash.

pub mod local;

use async_trait::async_trait;

/// What a driver needs to know about an environment.
#[derive(Clone, Debug)]
pub struct EnvSpec {
    pub id: String,
    pub name: String,
    pub tier: String,
    pub app: String,
    /// The blueprint's command, split into program and arguments.
    pub command: Vec<String>,
    pub health_path: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Failed(String),
}

#[async_trait]
pub trait Driver: Send + Sync {
    /// Creates (or finds already running) everything the environment needs
    /// and waits until it is healthy. Returns facts to record (JSON).
    async fn provision(&self, spec: &EnvSpec) -> Result<serde_json::Value, DriverError>;
    /// Keeps a copy of the environment's data after it is gone.
    async fn snapshot(&self, spec: &EnvSpec) -> Result<String, DriverError>;
    /// Removes everything; succeeds if nothing is left.
    async fn teardown(&self, name: &str) -> Result<(), DriverError>;
    /// Names of environments this driver holds resources for.
    async fn owned(&self) -> Result<Vec<String>, DriverError>;
    /// Where the environment answers, if it runs.
    async fn endpoint(&self, name: &str) -> Option<std::net::SocketAddr>;
}
