//! What a request handler or server function can reach: the shared state
//! (pool, settings) and who is asking.

use crate::domain::access::Viewer;
use crate::domain::preview_url::PreviewUrlBase;
use crate::error::AppError;
use leptos::prelude::*;
use std::sync::Arc;

use super::Db;

/// Shared by every request; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub settings: Arc<PortalSettings>,
    /// Wakes this replica's workers when a change enqueued work.
    pub work: Arc<tokio::sync::Notify>,
    /// What pages may read from the environments' driver (logs, snapshots);
    /// `None` where no driver runs (tests of pages alone).
    pub runtime: Option<Arc<dyn RuntimeView>>,
    /// Environment changes as they happen, for live pages.
    pub changes: super::live::Changes,
    /// Apps' repositories (resolving branches and pull requests to
    /// commits); `None` where no driver runs (tests of pages alone), and
    /// environments then record no commit.
    pub sources: Option<Arc<dyn Sources>>,
}

/// Why a repository or a ref could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The repository answered, but has no such branch or pull request.
    #[error("no such branch or pull request in the repository")]
    UnknownRef,
    /// The repository could not be reached or read (the reason is git's, without credentials).
    #[error("the repository cannot be read: {0}")]
    Unreachable(String),
}

/// Apps' git repositories, as services see them. The implementation (a
/// mirror per app, fetched on demand) lives in the server crate.
pub trait Sources: Send + Sync + std::fmt::Debug {
    /// The commit `wanted` names in the app's repository now.
    fn resolve<'a>(
        &'a self,
        app_id: &'a str,
        repository: &'a str,
        wanted: &'a crate::domain::repository::Wanted,
    ) -> BoxFuture<'a, Result<String, SourceError>>;
    /// Whether a repository is reachable and has `branch` (its commit).
    fn probe<'a>(&'a self, repository: &'a str, branch: &'a str) -> BoxFuture<'a, Result<String, SourceError>>;
}

pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// The read-only view of the driver that pages need. The driver itself lives
/// in the server crate; this keeps the dependency pointing inwards.
pub trait RuntimeView: Send + Sync + std::fmt::Debug {
    /// The last `max_bytes` of the environment's process output.
    fn log_tail<'a>(&'a self, env_id: &'a str, max_bytes: u64) -> BoxFuture<'a, Option<String>>;
    /// Snapshots kept of the environment (file names).
    fn snapshots<'a>(&'a self, env_name: &'a str) -> BoxFuture<'a, Vec<String>>;
    /// Ids of environments the host holds any resource for (empty if it cannot tell).
    fn owned(&self) -> BoxFuture<'_, Vec<String>>;
}

impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The validated parts of the configuration that request handling needs.
#[derive(Clone, Debug)]
pub struct PortalSettings {
    /// Demo data and the demo sign-in are enabled (`EOD_DEMO=1`).
    pub demo: bool,
    pub preview_urls: PreviewUrlBase,
    /// `scheme://host[:port]` of the portal; state-changing browser requests
    /// must carry it as their Origin.
    pub public_origin: String,
    /// A session ends this long after sign-in, however active (ms).
    pub session_absolute_ms: i64,
    /// How often a request refreshes the session's idle clock (ms): often
    /// enough for the idle timeout, rarely enough not to write every request.
    pub session_refresh_ms: i64,
    /// Configured identity providers as (id, label), for the sign-in page.
    pub sign_in_providers: Vec<(String, String)>,
    /// Every tier's lifecycle policy in force (defaults plus `[tier.*]`).
    pub tiers: crate::domain::tier::TierPolicies,
    /// Warm pools to keep filled (`[[pool]]`).
    pub pools: Vec<crate::domain::pool::PoolSpec>,
    /// Seals apps' secrets (`EOD_SECRET_KEY`).
    pub secret_key: super::secrets::SecretKey,
    /// Who registers and edits apps besides platform admins (`EOD_APP_ADMINS`).
    pub app_admins: AppAdmins,
    /// How each shared-cost pool is allocated to teams (`[costs]`).
    pub cost_rules: crate::domain::chargeback::AllocationRules,
    /// `[admission]` from the configuration file; `None`: the policy saved
    /// on the Policies page (or none).
    pub admission: Option<crate::domain::admission::AdmissionPolicy>,
    /// A Kubernetes cluster is configured (`EOD_KUBERNETES`): kubernetes blueprints are accepted.
    pub kubernetes: bool,
}

/// `EOD_APP_ADMINS`: whether a team's managers may register and edit the
/// team's apps, or only platform admins may.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AppAdmins {
    #[default]
    Managers,
    Platform,
}

/// Who made the request and from where. The server's session middleware
/// inserts it into the request extensions once per request.
#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    pub viewer: Option<Viewer>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// When the portal received the request (epoch ms): where a creation's
    /// click-to-ready wait starts. `None` outside a request (tests, workers).
    pub received_at: Option<i64>,
    /// What kind of caller it is: the browser's server calls, or the API.
    pub via: crate::domain::measure::Via,
}

/// The shared state, inside a server function or during SSR.
pub fn app_state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the Leptos context");
        AppError::Internal
    })
}

/// The current request's metadata (empty outside a request).
pub fn request_meta() -> RequestMeta {
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<RequestMeta>().cloned())
        .unwrap_or_default()
}

/// The signed-in viewer, or `Unauthorized`.
pub fn require_viewer() -> Result<Viewer, AppError> {
    request_meta().viewer.ok_or(AppError::Unauthorized)
}
