//! Drivers make an environment's resources real. The trait is small and
//! every operation is idempotent, keyed by the environment's id (stable even
//! when a warm-pool member is renamed), so the reconciler can repeat any
//! step after a crash.

#[cfg(test)]
pub mod fake_cluster;
pub mod git;
pub mod kubernetes;
pub mod local;
pub mod pg_databases;
pub mod script;

use async_trait::async_trait;

/// What a driver needs to know about an environment.
#[derive(Clone, Debug)]
pub struct EnvSpec {
    pub id: String,
    pub name: String,
    pub tier: String,
    /// The app's code at the environment's commit (`None`: no repository;
    /// the start command runs in the environment's directory).
    pub source: Option<SourceSpec>,
    /// Shell commands run in the checkout before the start, and their time limit.
    pub build: Option<String>,
    pub build_timeout: std::time::Duration,
    /// The shell command that serves (`PORT`, `DATABASE_URL` given).
    pub start: String,
    pub health_path: String,
    /// The template database each environment's database is cloned from.
    pub template: TemplateSpec,
    /// Run in the checkout against the environment's own database before the start.
    pub migrate: Option<String>,
    /// Plain variables from the blueprint.
    pub env: std::collections::BTreeMap<String, String>,
    /// Opened secrets, for the process only.
    pub secrets: Secrets,
    /// The tier's resource limits for every step and the process.
    pub limits: app::domain::tier::WorkloadLimits,
    /// A script blueprint's steps.
    pub script: Option<script::ScriptSteps>,
    /// A kubernetes blueprint's image and the tier's rules for it.
    pub kube: Option<kubernetes::KubeSpec>,
    /// Whose and what it is (a script's `EOD_ENV_*` variables).
    pub identity: Identity,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// The team's and the app's slugs.
    pub team: String,
    pub app: String,
    pub git_ref: Option<String>,
    pub commit: Option<String>,
    pub pr: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceSpec {
    pub app_id: String,
    pub commit: String,
}

/// A template database: `key` names it (file- and identifier-safe) and
/// changes whenever what it is built from changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateSpec {
    pub key: String,
    pub seed: Seed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seed {
    /// An empty database.
    Empty,
    /// SQL run against the empty template (a seed file's content).
    Sql(String),
    /// A command run in a checkout of `commit` with `DATABASE_URL`.
    Command { app_id: String, commit: String, command: String },
}

/// Secret values; never printed.
#[derive(Clone, Default)]
pub struct Secrets(pub std::collections::BTreeMap<String, String>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Worth retrying (a crash, a busy host).
    #[error("{0}")]
    Failed(String),
    /// Retrying cannot help (the build or the migration failed): the
    /// environment fails at once with the step and its output's last lines.
    #[error("{0}")]
    Permanent(String),
}

#[async_trait]
pub trait Driver: Send + Sync {
    /// Creates (or finds already running) everything the environment needs
    /// and waits until it is healthy. Returns facts to record (JSON).
    async fn provision(&self, spec: &EnvSpec) -> Result<serde_json::Value, DriverError>;
    /// Keeps a copy of the environment's data after it is gone.
    async fn snapshot(&self, spec: &EnvSpec) -> Result<String, DriverError>;
    /// Removes everything; succeeds if nothing is left.
    async fn teardown(&self, id: &str) -> Result<(), DriverError>;
    /// Removes everything, knowing the environment (a script's `destroy`
    /// gets the app's secrets); the orphan sweep, knowing only ids, uses
    /// `teardown`.
    async fn destroy(&self, spec: &EnvSpec) -> Result<(), DriverError> {
        self.teardown(&spec.id).await
    }
    /// Ids of environments this driver holds any resource for (files or
    /// processes), so the orphan sweep finds what a crash left behind.
    async fn owned(&self) -> Result<Vec<String>, DriverError>;
    /// Where the environment answers, if it runs.
    async fn endpoint(&self, id: &str) -> Option<std::net::SocketAddr>;
    /// Replaces what runs with `spec`'s commit by `strategy` (recreate,
    /// rolling, blue-green); a version that never becomes ready is a
    /// permanent error (under rolling and blue-green the old one still serves).
    /// `resume`: a retry of an attempt that may have switched already (a
    /// version of that commit that serves healthy is then kept as it is).
    /// The facts returned say whether an old version was `kept` (blue-green).
    async fn deploy(
        &self,
        spec: &EnvSpec,
        strategy: app::domain::tier::DeploymentStrategy,
        resume: bool,
    ) -> Result<serde_json::Value, DriverError>;
    /// Blue-green: traffic back to the kept colour at once; the other stops.
    async fn roll_back(&self, id: &str) -> Result<serde_json::Value, DriverError>;
    /// Blue-green: the kept colour stops (its rollback window closed).
    async fn retire(&self, id: &str) -> Result<(), DriverError>;
    /// The commit of the process that serves, if one does.
    async fn serving_commit(&self, id: &str) -> Option<String>;
    /// One health probe: `health_path` over HTTP while its process runs.
    async fn probe(&self, id: &str, health_path: &str) -> app::domain::health::Probe;
    /// The last `max_bytes` of the environment's process output.
    async fn log_tail(&self, id: &str, max_bytes: u64) -> Option<String>;
    /// Snapshots kept of an environment (by its name at the time).
    async fn snapshots(&self, name: &str) -> Vec<String>;
}

/// The drivers behind one: an environment goes to the one its blueprint
/// names when it is made, and afterwards to the one that holds it (an app
/// whose blueprint changed driver keeps its existing environments where
/// they are).
pub struct Drivers {
    pub local: std::sync::Arc<dyn Driver>,
    pub script: std::sync::Arc<script::ScriptDriver>,
    /// `None`: no cluster configured (`EOD_KUBERNETES=off`).
    pub kube: Option<std::sync::Arc<kubernetes::KubeDriver>>,
}

/// Stands in for the kubernetes driver when no cluster is configured: a
/// kubernetes environment made before the setting was turned off fails
/// with why instead of reaching the local driver.
struct NoCluster;

const NO_CLUSTER: &str = "no Kubernetes cluster is configured (EOD_KUBERNETES=kubeconfig)";

#[async_trait]
impl Driver for NoCluster {
    async fn provision(&self, _: &EnvSpec) -> Result<serde_json::Value, DriverError> {
        Err(DriverError::Permanent(NO_CLUSTER.into()))
    }
    async fn snapshot(&self, _: &EnvSpec) -> Result<String, DriverError> {
        Err(DriverError::Failed(NO_CLUSTER.into()))
    }
    async fn teardown(&self, _: &str) -> Result<(), DriverError> {
        Err(DriverError::Failed(NO_CLUSTER.into()))
    }
    async fn owned(&self) -> Result<Vec<String>, DriverError> {
        Ok(vec![])
    }
    async fn endpoint(&self, _: &str) -> Option<std::net::SocketAddr> {
        None
    }
    async fn deploy(
        &self,
        _: &EnvSpec,
        _: app::domain::tier::DeploymentStrategy,
        _: bool,
    ) -> Result<serde_json::Value, DriverError> {
        Err(DriverError::Permanent(NO_CLUSTER.into()))
    }
    async fn roll_back(&self, _: &str) -> Result<serde_json::Value, DriverError> {
        Err(DriverError::Permanent(NO_CLUSTER.into()))
    }
    async fn retire(&self, _: &str) -> Result<(), DriverError> {
        Ok(())
    }
    async fn serving_commit(&self, _: &str) -> Option<String> {
        None
    }
    async fn probe(&self, _: &str, _: &str) -> app::domain::health::Probe {
        app::domain::health::Probe::Failed(NO_CLUSTER.into())
    }
    async fn log_tail(&self, _: &str, _: u64) -> Option<String> {
        None
    }
    async fn snapshots(&self, _: &str) -> Vec<String> {
        vec![]
    }
}

impl Drivers {
    fn kube(&self) -> &dyn Driver {
        match &self.kube {
            Some(k) => k.as_ref(),
            None => &NoCluster,
        }
    }

    fn for_spec(&self, spec: &EnvSpec) -> &dyn Driver {
        if spec.script.is_some() {
            self.script.as_ref()
        } else if spec.kube.is_some() {
            self.kube()
        } else {
            self.local.as_ref()
        }
    }

    async fn holding(&self, id: &str) -> &dyn Driver {
        if self.script.holds(id).await {
            self.script.as_ref()
        } else if self.kube.as_ref().is_some_and(|k| k.knows(id)) {
            self.kube()
        } else {
            self.local.as_ref()
        }
    }

    /// With the environment known: a kubernetes one goes to the cluster
    /// even before this replica has seen it there (after a restart).
    async fn holding_spec(&self, spec: &EnvSpec) -> &dyn Driver {
        if spec.kube.is_some() && !self.script.holds(&spec.id).await {
            self.kube()
        } else {
            self.holding(&spec.id).await
        }
    }
}

#[async_trait]
impl Driver for Drivers {
    async fn provision(&self, spec: &EnvSpec) -> Result<serde_json::Value, DriverError> {
        self.for_spec(spec).provision(spec).await
    }
    async fn snapshot(&self, spec: &EnvSpec) -> Result<String, DriverError> {
        self.holding_spec(spec).await.snapshot(spec).await
    }
    async fn teardown(&self, id: &str) -> Result<(), DriverError> {
        self.holding(id).await.teardown(id).await
    }
    async fn destroy(&self, spec: &EnvSpec) -> Result<(), DriverError> {
        self.holding_spec(spec).await.destroy(spec).await
    }
    async fn owned(&self) -> Result<Vec<String>, DriverError> {
        let mut ids = self.local.owned().await?;
        ids.extend(self.script.owned().await?);
        ids.extend(self.kube().owned().await?);
        ids.sort();
        ids.dedup();
        Ok(ids)
    }
    async fn endpoint(&self, id: &str) -> Option<std::net::SocketAddr> {
        self.holding(id).await.endpoint(id).await
    }
    async fn deploy(
        &self,
        spec: &EnvSpec,
        strategy: app::domain::tier::DeploymentStrategy,
        resume: bool,
    ) -> Result<serde_json::Value, DriverError> {
        self.holding_spec(spec).await.deploy(spec, strategy, resume).await
    }
    async fn roll_back(&self, id: &str) -> Result<serde_json::Value, DriverError> {
        self.holding(id).await.roll_back(id).await
    }
    async fn retire(&self, id: &str) -> Result<(), DriverError> {
        self.holding(id).await.retire(id).await
    }
    async fn serving_commit(&self, id: &str) -> Option<String> {
        self.holding(id).await.serving_commit(id).await
    }
    async fn probe(&self, id: &str, health_path: &str) -> app::domain::health::Probe {
        self.holding(id).await.probe(id, health_path).await
    }
    async fn log_tail(&self, id: &str, max_bytes: u64) -> Option<String> {
        self.holding(id).await.log_tail(id, max_bytes).await
    }
    async fn snapshots(&self, name: &str) -> Vec<String> {
        let mut found = self.local.snapshots(name).await;
        found.extend(self.script.snapshots(name).await);
        found
    }
}

/// The driver as pages see it (read-only: logs and snapshots).
pub struct RuntimeOf(pub std::sync::Arc<dyn Driver>);

impl std::fmt::Debug for RuntimeOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RuntimeOf(driver)")
    }
}

impl app::ssr::context::RuntimeView for RuntimeOf {
    fn log_tail<'a>(&'a self, env_id: &'a str, max_bytes: u64) -> app::ssr::context::BoxFuture<'a, Option<String>> {
        Box::pin(self.0.log_tail(env_id, max_bytes))
    }

    fn snapshots<'a>(&'a self, env_name: &'a str) -> app::ssr::context::BoxFuture<'a, Vec<String>> {
        Box::pin(self.0.snapshots(env_name))
    }

    fn owned(&self) -> app::ssr::context::BoxFuture<'_, Vec<String>> {
        Box::pin(async move {
            self.0.owned().await.unwrap_or_else(|err| {
                tracing::warn!(error = %err, "listing the host's environments");
                vec![]
            })
        })
    }
}
