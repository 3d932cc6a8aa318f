//! Every `EOD_*` configuration key, read once at startup from (lowest to
//! highest precedence) built-in defaults, an optional TOML file and the
//! environment, then validated. An invalid value stops startup with the key's
//! name and what was expected.

use crate::identity::{Provider, ProviderFile};
use app::domain::chargeback::{Allocation, AllocationRules};
use app::domain::pool::PoolSpec;
use app::domain::tier::{Tier, TierOverride, TierPolicies};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// One documented key: its environment name, its name in the TOML file, and
/// what it means. `eod config` prints this table.
pub struct Key {
    pub env: &'static str,
    pub file: &'static str,
    pub default: &'static str,
    pub doc: &'static str,
}

pub const KEYS: &[Key] = &[
    Key { env: "EOD_LISTEN", file: "listen", default: "127.0.0.1:3000", doc: "Address and port the portal listens on." },
    Key { env: "EOD_DATA_DIR", file: "data_dir", default: "./data", doc: "Directory for the SQLite database and environment data; created if missing." },
    Key {
        env: "EOD_DATABASE_URL",
        file: "database_url",
        default: "sqlite:<data dir>/eod.db",
        doc: "Database URL: sqlite:<path> or postgres://user:pass@host/db (PostgreSQL for production and several replicas).",
    },
    Key {
        env: "EOD_PUBLIC_URL",
        file: "public_url",
        default: "http://<listen>",
        doc: "The URL people use to reach the portal (scheme, host, port). https makes cookies Secure.",
    },
    Key {
        env: "EOD_PREVIEW_DOMAIN",
        file: "preview_domain",
        default: "localhost",
        doc: "Environments are reached at <scheme>://<env-name>.<preview domain>[:port of the public URL]/.",
    },
    Key { env: "EOD_DEMO", file: "demo", default: "0", doc: "1 seeds demo data (once) and enables the demo sign-in; 0 disables both." },
    Key {
        env: "EOD_SITE_ROOT",
        file: "site_root",
        default: "target/site",
        doc: "Directory holding the built browser assets (pkg/); cargo leptos writes target/site.",
    },
    Key {
        env: "EOD_SESSION_IDLE_MINUTES",
        file: "session_idle_minutes",
        default: "480",
        doc: "A session ends after this many minutes without a request.",
    },
    Key {
        env: "EOD_SESSION_ABSOLUTE_HOURS",
        file: "session_absolute_hours",
        default: "24",
        doc: "A session ends this many hours after sign-in, however active.",
    },
    Key {
        env: "EOD_DB_MAX_CONNECTIONS",
        file: "db_max_connections",
        default: "16",
        doc: "Size of the database connection pool.",
    },
    Key {
        env: "EOD_PAGE_CACHE_MS",
        file: "page_cache_ms",
        default: "2000",
        doc: "How long a rendered Environments page is sent again to the same person for the same URL while no audit event has been appended since (0: render every view). It bounds how old the page's relative times may be.",
    },
    Key {
        env: "EOD_KUBERNETES",
        file: "kubernetes",
        default: "off",
        doc: "`kubeconfig`: apps may use the kubernetes driver, on the cluster of KUBECONFIG (or ~/.kube/config, or the pod's service account in the cluster); `off`: kubernetes blueprints are refused.",
    },
    Key {
        env: "EOD_KUBERNETES_INGRESS_NAMESPACE",
        file: "kubernetes_ingress_namespace",
        default: "ingress-nginx",
        doc: "The namespace of the cluster's ingress controller: the only ingress each environment's default-deny NetworkPolicy allows.",
    },
    Key {
        env: "EOD_KUBERNETES_INGRESS_CLASS",
        file: "kubernetes_ingress_class",
        default: "(unset: the cluster's default class)",
        doc: "The ingressClassName of each environment's Ingress.",
    },
    Key {
        env: "EOD_ENV_DATABASE_URL",
        file: "env_database_url",
        default: "(unset: SQLite copies)",
        doc: "PostgreSQL server for environments' own databases (postgres://user:pass@host/admin-db): each environment gets CREATE DATABASE … TEMPLATE its app's template, snapshots use pg_dump.",
    },
    Key {
        env: "EOD_RUN_AS",
        file: "run_as",
        default: "eod-workload",
        doc: "When the portal runs as root: the system user whose group environments' processes run in, each under its own unprivileged uid (no workload can read another's files or the portal's); portal runs them as the portal's own user (no isolation). Ignored when the portal is not root.",
    },
    Key { env: "EOD_LOG", file: "log", default: "info", doc: "Log filter (tracing env-filter syntax), e.g. info or eod=debug,sqlx=warn." },
    Key {
        env: "EOD_LOG_FORMAT",
        file: "log_format",
        default: "text",
        doc: "text (readable lines) or json (one JSON object per line, with each request's request_id, also on the jobs it enqueued).",
    },
    Key {
        env: "EOD_METRICS_TOKEN",
        file: "metrics_token",
        default: "(unset)",
        doc: "Serves Prometheus metrics at /metrics on the portal's address to requests with Authorization: Bearer <this token> (16+ characters).",
    },
    Key {
        env: "EOD_METRICS_LISTEN",
        file: "metrics_listen",
        default: "(unset)",
        doc: "An address such as 127.0.0.1:9100 that serves only /metrics, without a token (keep it private). With neither key, no metrics are served.",
    },
    Key {
        env: "EOD_SECRET_KEY",
        file: "secret_key",
        default: "(unset: <data dir>/secret.key, made once)",
        doc: "64 hexadecimal characters: the key apps' secrets are encrypted with at rest. Set it (the same on every replica) in production.",
    },
    Key {
        env: "EOD_APP_ADMINS",
        file: "app_admins",
        default: "managers",
        doc: "Who registers and edits a team's apps besides platform admins: managers (the team's managers) or platform (platform admins only).",
    },
    Key {
        env: "EOD_GITHUB_WEBHOOK_SECRET",
        file: "github_webhook_secret",
        default: "(unset: /webhooks/github refuses every delivery)",
        doc: "The secret of the GitHub webhooks (pull_request events) pointed at /webhooks/github: deliveries whose X-Hub-Signature-256 does not match are refused with 401. 16+ printable characters.",
    },
    Key {
        env: "EOD_GITLAB_WEBHOOK_SECRET",
        file: "gitlab_webhook_secret",
        default: "(unset: /webhooks/gitlab refuses every delivery)",
        doc: "The GitLab webhooks' secret token (checked against X-Gitlab-Token), or a whsec_ signing token (checked against the Standard Webhooks webhook-signature header). 16+ printable characters.",
    },
    Key {
        env: "EOD_GITHUB_TOKEN",
        file: "github_token",
        default: "(unset: nothing is reported to GitHub)",
        doc: "A token that may write commit statuses and pull-request comments of the webhooks' repositories: each webhook-made preview's pull request gets a status and one comment kept up to date.",
    },
    Key {
        env: "EOD_GITHUB_API_URL",
        file: "github_api_url",
        default: "https://api.github.com",
        doc: "GitHub's REST API (GitHub Enterprise: https://<host>/api/v3).",
    },
    Key {
        env: "EOD_GITLAB_TOKEN",
        file: "gitlab_token",
        default: "(unset: nothing is reported to GitLab)",
        doc: "A GitLab token with the api scope: each webhook-made preview's merge request gets a commit status and one note kept up to date.",
    },
    Key {
        env: "EOD_GITLAB_API_URL",
        file: "gitlab_api_url",
        default: "https://gitlab.com/api/v4",
        doc: "GitLab's REST API of your instance.",
    },
    Key {
        env: "EOD_APPROVERS",
        file: "approvers",
        default: "(unset: platform admins only)",
        doc: "A team's slug: its members (any role) also decide approval requests on preview tiers; staging and production requests stay with platform admins.",
    },
    Key {
        env: "EOD_SMTP_URL",
        file: "smtp_url",
        default: "(unset: no e-mail)",
        doc: "SMTP server for e-mail notifications: smtps://user:pass@host[:465] (TLS), smtp://user:pass@host:587?tls=required (STARTTLS) or smtp://host:port (plain, for a local relay).",
    },
    Key {
        env: "EOD_SMTP_FROM",
        file: "smtp_from",
        default: "(required with EOD_SMTP_URL)",
        doc: "The From of e-mail notifications, e.g. EoD Portal <eod@example.com>.",
    },
];

/// Where and as whom e-mail notifications are sent (`EOD_SMTP_URL`,
/// `EOD_SMTP_FROM`). The URL may hold a password: never print it whole.
#[derive(Clone)]
pub struct Smtp {
    pub url: String,
    pub from: lettre::message::Mailbox,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp").field("url", &redact_password(&self.url)).field("from", &self.from.to_string()).finish()
    }
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub public_url: PublicUrl,
    pub preview_domain: String,
    pub demo: bool,
    pub site_root: PathBuf,
    /// Session idle timeout (`EOD_SESSION_IDLE_MINUTES`).
    pub session_idle: std::time::Duration,
    /// Session absolute timeout (`EOD_SESSION_ABSOLUTE_HOURS`).
    pub session_absolute: std::time::Duration,
    pub db_max_connections: u32,
    /// The kubernetes driver's cluster and ingress (`EOD_KUBERNETES*`); `None`: off.
    pub kubernetes: Option<KubernetesConfig>,
    /// How long a rendered Environments page is reused (`EOD_PAGE_CACHE_MS`; zero: never).
    pub page_cache: std::time::Duration,
    /// Where environments' databases live when not SQLite copies (`EOD_ENV_DATABASE_URL`).
    pub env_database_url: Option<String>,
    pub log: String,
    /// `EOD_LOG_FORMAT=json`.
    pub log_json: bool,
    /// Who may read `/metrics` (`EOD_METRICS_TOKEN`, `EOD_METRICS_LISTEN`).
    pub metrics: MetricsAccess,
    /// Whom environments' processes run as (`EOD_RUN_AS`).
    pub run_as: RunAs,
    /// Identity providers from the file's `[[provider]]` tables.
    pub providers: Vec<Provider>,
    /// Lifecycle policy of every tier: defaults plus the file's `[tier.<id>]` tables.
    pub tiers: TierPolicies,
    /// Warm pools from the file's `[[pool]]` tables.
    pub pools: Vec<PoolSpec>,
    /// The key apps' secrets are sealed with: `EOD_SECRET_KEY`, or `None`
    /// for the data directory's key file (made at startup).
    pub secret_key: Option<app::ssr::secrets::SecretKey>,
    pub app_admins: app::ssr::context::AppAdmins,
    /// Apps as code: the file's `[[app]]` tables, applied at startup.
    pub apps: Vec<app::ssr::apps::AppInput>,
    /// How shared costs are allocated to teams: the file's `[costs]` table.
    pub cost_rules: AllocationRules,
    /// The file's `[admission]` table (then read-only on the Policies page).
    pub admission: Option<app::domain::admission::AdmissionPolicy>,
    /// The approver team's slug (`EOD_APPROVERS`).
    pub approvers: Option<String>,
    /// Pull-request webhooks' secrets (`EOD_GITHUB_WEBHOOK_SECRET`, `EOD_GITLAB_WEBHOOK_SECRET`).
    pub webhooks: WebhookSecrets,
    /// Where and how pull requests hear of their previews (`EOD_GITHUB_TOKEN`, …).
    pub forges: ForgeApis,
    /// E-mail notifications (`EOD_SMTP_URL`, `EOD_SMTP_FROM`); `None`: none.
    pub smtp: Option<Smtp>,
}

/// The `[costs]` table: one allocation rule per shared-cost pool.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CostsFile {
    warm_pools: Option<Allocation>,
    shared_database: Option<Allocation>,
    shared_environments: Option<Allocation>,
}

/// The providers' webhook secrets; `None`: that provider's deliveries are refused.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct WebhookSecrets {
    pub github: Option<String>,
    pub gitlab: Option<String>,
}

/// Without the secrets.
impl std::fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSecrets")
            .field("github", &self.github.as_ref().map(|_| "<hidden>"))
            .field("gitlab", &self.gitlab.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

/// The providers' APIs that pull requests are reported to.
#[derive(Clone, PartialEq, Eq)]
pub struct ForgeApis {
    pub github_api: String,
    pub github_token: Option<String>,
    pub gitlab_api: String,
    pub gitlab_token: Option<String>,
}

impl Default for ForgeApis {
    fn default() -> Self {
        ForgeApis {
            github_api: "https://api.github.com".into(),
            github_token: None,
            gitlab_api: "https://gitlab.com/api/v4".into(),
            gitlab_token: None,
        }
    }
}

/// Without the tokens.
impl std::fmt::Debug for ForgeApis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForgeApis")
            .field("github_api", &self.github_api)
            .field("github_token", &self.github_token.as_ref().map(|_| "<hidden>"))
            .field("gitlab_api", &self.gitlab_api)
            .field("gitlab_token", &self.gitlab_token.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

/// Where Prometheus metrics are served, if anywhere.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct MetricsAccess {
    /// `/metrics` on the portal's address for this bearer token.
    pub token: Option<String>,
    /// A separate address serving only `/metrics`.
    pub listen: Option<SocketAddr>,
}

/// Without the token.
impl std::fmt::Debug for MetricsAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsAccess")
            .field("token", &self.token.as_ref().map(|_| "<hidden>"))
            .field("listen", &self.listen)
            .finish()
    }
}

/// Whom environments' processes run as when the portal runs as root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunAs {
    /// This user's group, each environment under its own uid.
    User(String),
    /// The portal's own user: no isolation between workloads and the portal.
    Portal,
}

/// Scheme, host and port people reach the portal at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl {
    pub scheme: String,
    pub host: String,
    pub port: Option<u16>,
}

impl PublicUrl {
    pub fn is_https(&self) -> bool {
        self.scheme == "https"
    }

    /// `scheme://host[:port]`, the value an `Origin` header must equal.
    pub fn origin(&self) -> String {
        match self.port {
            Some(p) => format!("{}://{}:{}", self.scheme, self.host, p),
            None => format!("{}://{}", self.scheme, self.host),
        }
    }
}

/// `EOD_KUBERNETES=kubeconfig`: where environments' namespaces let traffic in from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubernetesConfig {
    pub ingress_namespace: String,
    pub ingress_class: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("invalid {key}: expected {expected} (got {got:?})")]
    Invalid { key: String, expected: String, got: String },
    #[error("cannot read config file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("unknown key {key:?} in config file {path}; known keys: {known}")]
    UnknownFileKey { key: String, path: String, known: String },
}

/// Where a raw value came from, so errors name the key the user actually set.
fn key_name(key: &Key, from_file: Option<&Path>) -> String {
    match from_file {
        Some(path) => format!("{} (in {})", key.file, path.display()),
        None => key.env.to_string(),
    }
}

impl Config {
    /// Loads from an optional TOML file and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars().filter(|(k, _)| k.starts_with("EOD_")).collect();
        Config::from_sources(file, &env)
    }

    /// Loads from an optional TOML file and the given environment (testable).
    pub fn from_sources(file: Option<&Path>, env: &BTreeMap<String, String>) -> Result<Config, ConfigError> {
        let FileContents { values: file_values, providers: provider_files, tiers, pools, apps, cost_rules, admission } =
            match file {
                Some(path) => read_file(path)?,
                None => FileContents::default(),
            };
        let mut providers = Vec::new();
        for p in provider_files {
            let provider = p.validate(env).map_err(|reason| ConfigError::File {
                path: file.map(|f| f.display().to_string()).unwrap_or_default(),
                reason,
            })?;
            if providers.iter().any(|q: &Provider| q.id == provider.id) {
                return Err(ConfigError::File {
                    path: file.map(|f| f.display().to_string()).unwrap_or_default(),
                    reason: format!("provider id {:?} appears twice", provider.id),
                });
            }
            providers.push(provider);
        }
        // Raw value and the name to report for each key that was set.
        let raw = |env_key: &str| -> Option<(String, String)> {
            let key = KEYS.iter().find(|k| k.env == env_key).expect("known key");
            if let Some(v) = env.get(env_key) {
                return Some((v.clone(), key_name(key, None)));
            }
            file_values.get(key.file).map(|v| (v.clone(), key_name(key, file)))
        };
        let invalid = |name: String, expected: &str, got: &str| ConfigError::Invalid {
            key: name,
            expected: expected.to_string(),
            got: got.to_string(),
        };

        let listen = match raw("EOD_LISTEN") {
            Some((v, name)) => {
                v.parse::<SocketAddr>().map_err(|_| invalid(name, "a socket address such as 127.0.0.1:3000", &v))?
            }
            None => "127.0.0.1:3000".parse().expect("default address"),
        };
        let data_dir = match raw("EOD_DATA_DIR") {
            Some((v, name)) if v.trim().is_empty() => return Err(invalid(name, "a directory path", &v)),
            Some((v, _)) => PathBuf::from(v),
            None => PathBuf::from("./data"),
        };
        let database_url = match raw("EOD_DATABASE_URL") {
            Some((v, name)) => {
                if app::ssr::Engine::of_url(&v).is_none() {
                    // Never echo the value: it may hold a password.
                    return Err(invalid(name, "a URL starting with sqlite: or postgres://", "<hidden>"));
                }
                v
            }
            None => format!("sqlite:{}?mode=rwc", data_dir.join("eod.db").display()),
        };
        let public_url = match raw("EOD_PUBLIC_URL") {
            Some((v, name)) => parse_public_url(&v)
                .ok_or_else(|| invalid(name, "an http(s) URL such as https://eod.example.com", &v))?,
            None => PublicUrl { scheme: "http".into(), host: listen.ip().to_string(), port: Some(listen.port()) },
        };
        let preview_domain = match raw("EOD_PREVIEW_DOMAIN") {
            Some((v, name)) => {
                let ok = !v.is_empty()
                    && v.split('.').all(|label| {
                        !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    });
                if !ok {
                    return Err(invalid(name, "a DNS domain such as localhost or preview.example.com", &v));
                }
                v.to_ascii_lowercase()
            }
            None => "localhost".into(),
        };
        let demo = match raw("EOD_DEMO") {
            Some((v, name)) => {
                parse_flag(&v).ok_or_else(|| invalid(name, "1 or 0 (also true/false, yes/no, on/off)", &v))?
            }
            None => false,
        };
        let site_root =
            raw("EOD_SITE_ROOT").map(|(v, _)| PathBuf::from(v)).unwrap_or_else(|| PathBuf::from("target/site"));
        let session_idle_minutes = match raw("EOD_SESSION_IDLE_MINUTES") {
            Some((v, name)) => v
                .parse::<i64>()
                .ok()
                .filter(|m| (1..=60 * 24 * 30).contains(m))
                .ok_or_else(|| invalid(name, "a whole number of minutes between 1 and 43200", &v))?,
            None => 480,
        };
        let session_absolute_hours = match raw("EOD_SESSION_ABSOLUTE_HOURS") {
            Some((v, name)) => v
                .parse::<i64>()
                .ok()
                .filter(|h| (1..=24 * 90).contains(h))
                .ok_or_else(|| invalid(name, "a whole number of hours between 1 and 2160", &v))?,
            None => 24,
        };
        let db_max_connections = match raw("EOD_DB_MAX_CONNECTIONS") {
            Some((v, name)) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| invalid(name, "a number of connections between 1 and 1000", &v))?,
            None => 16,
        };
        let page_cache_ms = match raw("EOD_PAGE_CACHE_MS") {
            Some((v, name)) => v
                .parse::<u64>()
                .ok()
                .filter(|ms| *ms <= 60_000)
                .ok_or_else(|| invalid(name, "a number of milliseconds between 0 and 60000", &v))?,
            None => 2_000,
        };
        let kubernetes = match raw("EOD_KUBERNETES").map(|(v, name)| (v.trim().to_ascii_lowercase(), name)) {
            None => None,
            Some((v, _)) if v == "off" => None,
            Some((v, _)) if v == "kubeconfig" => {
                let ingress_namespace = match raw("EOD_KUBERNETES_INGRESS_NAMESPACE") {
                    Some((v, name)) => {
                        let ok = !v.is_empty()
                            && v.len() <= 63
                            && v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
                        if !ok {
                            return Err(invalid(name, "a namespace name (lowercase letters, digits, -)", &v));
                        }
                        v
                    }
                    None => "ingress-nginx".into(),
                };
                let ingress_class = match raw("EOD_KUBERNETES_INGRESS_CLASS") {
                    Some((v, name)) if v.is_empty() || v.len() > 253 || v.contains(char::is_whitespace) => {
                        return Err(invalid(name, "an IngressClass name", &v));
                    }
                    other => other.map(|(v, _)| v),
                };
                Some(KubernetesConfig { ingress_namespace, ingress_class })
            }
            Some((v, name)) => return Err(invalid(name, "off or kubeconfig", &v)),
        };
        let env_database_url = match raw("EOD_ENV_DATABASE_URL") {
            Some((v, name)) => {
                if app::ssr::Engine::of_url(&v) != Some(app::ssr::Engine::Postgres) {
                    // Never echo the value: it may hold a password.
                    return Err(invalid(name, "a URL starting with postgres://", "<hidden>"));
                }
                Some(v)
            }
            None => None,
        };
        let log = match raw("EOD_LOG") {
            Some((v, name)) => {
                tracing_subscriber::EnvFilter::try_new(&v)
                    .map_err(|_| invalid(name, "a log filter such as info or eod=debug", &v))?;
                v
            }
            None => "info".into(),
        };
        let log_json = match raw("EOD_LOG_FORMAT") {
            Some((v, name)) => match v.trim() {
                "text" => false,
                "json" => true,
                _ => return Err(invalid(name, "text or json", &v)),
            },
            None => false,
        };
        let webhook_secret = |key: &str| match raw(key) {
            Some((v, _)) if v.is_empty() => Ok(None),
            // Never echo the value: it is a secret.
            Some((v, name)) if v.len() < 16 || v.bytes().any(|b| !b.is_ascii_graphic()) => {
                Err(invalid(name, "at least 16 printable characters without spaces", "<hidden>"))
            }
            Some((v, _)) => Ok(Some(v)),
            None => Ok(None),
        };
        let webhooks = WebhookSecrets {
            github: webhook_secret("EOD_GITHUB_WEBHOOK_SECRET")?,
            gitlab: webhook_secret("EOD_GITLAB_WEBHOOK_SECRET")?,
        };
        let api_url = |key: &str, default: &str| match raw(key) {
            Some((v, name)) => {
                let v = v.trim().trim_end_matches('/').to_string();
                let ok = (v.starts_with("https://") || v.starts_with("http://"))
                    && v.len() > 8
                    && !v.contains(char::is_whitespace)
                    && reqwest::Url::parse(&v).is_ok();
                if ok {
                    Ok(v)
                } else {
                    Err(invalid(name, "an http(s) URL such as https://api.github.com", &v))
                }
            }
            None => Ok(default.to_string()),
        };
        let token = |key: &str| match raw(key) {
            Some((v, _)) if v.trim().is_empty() => Ok(None),
            Some((v, name)) if v.trim().bytes().any(|b| !b.is_ascii_graphic()) => {
                Err(invalid(name, "a token of printable characters without spaces", "<hidden>"))
            }
            Some((v, _)) => Ok(Some(v.trim().to_string())),
            None => Ok(None),
        };
        let forges = ForgeApis {
            github_api: api_url("EOD_GITHUB_API_URL", "https://api.github.com")?,
            github_token: token("EOD_GITHUB_TOKEN")?,
            gitlab_api: api_url("EOD_GITLAB_API_URL", "https://gitlab.com/api/v4")?,
            gitlab_token: token("EOD_GITLAB_TOKEN")?,
        };
        let metrics = MetricsAccess {
            token: match raw("EOD_METRICS_TOKEN") {
                Some((v, _)) if v.is_empty() => None,
                // Never echo the value: it is a secret.
                Some((v, name)) if v.len() < 16 || v.bytes().any(|b| !b.is_ascii_graphic()) => {
                    return Err(invalid(name, "at least 16 printable characters without spaces", "<hidden>"))
                }
                Some((v, _)) => Some(v),
                None => None,
            },
            listen: match raw("EOD_METRICS_LISTEN") {
                Some((v, _)) if v.trim().is_empty() => None,
                Some((v, name)) => Some(
                    v.trim()
                        .parse::<SocketAddr>()
                        .map_err(|_| invalid(name, "a socket address such as 127.0.0.1:9100", &v))?,
                ),
                None => None,
            },
        };
        let secret_key = match raw("EOD_SECRET_KEY") {
            // Never echo the value: it is the key.
            Some((v, name)) => Some(
                app::ssr::secrets::SecretKey::from_hex(&v)
                    .map_err(|_| invalid(name, "64 hexadecimal characters (32 bytes)", "<hidden>"))?,
            ),
            None => None,
        };
        let app_admins = match raw("EOD_APP_ADMINS") {
            Some((v, name)) => match v.trim() {
                "managers" => app::ssr::context::AppAdmins::Managers,
                "platform" => app::ssr::context::AppAdmins::Platform,
                _ => return Err(invalid(name, "managers or platform", &v)),
            },
            None => app::ssr::context::AppAdmins::Managers,
        };
        let approvers = match raw("EOD_APPROVERS") {
            Some((v, _)) if v.trim().is_empty() => None,
            Some((v, name)) => {
                let slug = v.trim();
                if !slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') || slug.len() > 64 {
                    return Err(invalid(name, "a team's slug (lowercase letters, digits and -)", &v));
                }
                Some(slug.to_string())
            }
            None => None,
        };
        let smtp = match (raw("EOD_SMTP_URL"), raw("EOD_SMTP_FROM")) {
            (None, None) => None,
            (Some((url, _)), None) if url.trim().is_empty() => None,
            (Some((url, name)), from) => {
                // Never echo the URL: it may hold a password.
                let scheme_ok = url.starts_with("smtp://") || url.starts_with("smtps://");
                if !scheme_ok || lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url.trim()).is_err() {
                    return Err(invalid(
                        name,
                        "an SMTP URL such as smtps://user:pass@mail.example.com or smtp://127.0.0.1:25",
                        "<hidden>",
                    ));
                }
                let Some((from, from_name)) = from else {
                    return Err(invalid(
                        "EOD_SMTP_FROM".into(),
                        "the From address of e-mails, required with EOD_SMTP_URL",
                        "",
                    ));
                };
                let from = from
                    .trim()
                    .parse::<lettre::message::Mailbox>()
                    .map_err(|_| invalid(from_name, "a mailbox such as EoD Portal <eod@example.com>", &from))?;
                Some(Smtp { url: url.trim().to_string(), from })
            }
            (None, Some((_, name))) => {
                return Err(invalid(name, "nothing, unless EOD_SMTP_URL is set too", "(set)"));
            }
        };
        let run_as = match raw("EOD_RUN_AS") {
            Some((v, _)) if v.trim() == "portal" => RunAs::Portal,
            Some((v, name)) => {
                let ok = !v.is_empty()
                    && v.len() <= 32
                    && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if !ok {
                    return Err(invalid(name, "a system user name or portal", &v));
                }
                RunAs::User(v)
            }
            None => RunAs::User("eod-workload".into()),
        };
        Ok(Config {
            run_as,
            approvers,
            smtp,
            secret_key,
            app_admins,
            apps,
            cost_rules,
            admission,
            listen,
            data_dir,
            database_url,
            public_url,
            preview_domain,
            demo,
            site_root,
            session_idle: std::time::Duration::from_secs(session_idle_minutes as u64 * 60),
            session_absolute: std::time::Duration::from_secs(session_absolute_hours as u64 * 3600),
            db_max_connections,
            page_cache: std::time::Duration::from_millis(page_cache_ms),
            kubernetes,
            env_database_url,
            log,
            log_json,
            metrics,
            webhooks,
            forges,
            providers,
            tiers,
            // A demo without pools keeps one lightweight preview of two demo
            // apps warm, so New preview there is instant.
            pools: pools.unwrap_or_else(|| if demo { demo_pools() } else { vec![] }),
        })
    }

    /// The database URL with any password replaced, for logs and `eod config`.
    pub fn database_url_redacted(&self) -> String {
        redact_password(&self.database_url)
    }

    pub fn env_database_url_redacted(&self) -> String {
        self.env_database_url.as_deref().map(redact_password).unwrap_or_default()
    }
}

/// What a configuration file holds besides plain keys.
#[derive(Default)]
struct FileContents {
    values: BTreeMap<String, String>,
    providers: Vec<ProviderFile>,
    tiers: TierPolicies,
    /// `None` when the file has no `[[pool]]` (demo mode then keeps its default pools).
    pools: Option<Vec<PoolSpec>>,
    apps: Vec<app::ssr::apps::AppInput>,
    cost_rules: AllocationRules,
    admission: Option<app::domain::admission::AdmissionPolicy>,
}

fn read_file(path: &Path) -> Result<FileContents, ConfigError> {
    let file_err = |reason: String| ConfigError::File { path: path.display().to_string(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
    let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| file_err(e.message().to_string()))?;
    let providers = match table.remove("provider") {
        None => vec![],
        Some(v) => v.try_into::<Vec<ProviderFile>>().map_err(|e| file_err(format!("[[provider]]: {}", e.message())))?,
    };
    let mut tiers = TierPolicies::default();
    if let Some(v) = table.remove("tier") {
        let overrides = v
            .try_into::<BTreeMap<String, TierOverride>>()
            .map_err(|e| file_err(format!("[tier.<id>]: {}", e.message())))?;
        for (id, ov) in overrides {
            let tier = id.parse::<Tier>().map_err(|e| file_err(format!("[tier.{id}]: {e}")))?;
            tiers = tiers.with_override(tier, &ov).map_err(|e| file_err(format!("[tier.{id}] {e}")))?;
        }
    }
    let pools = match table.remove("pool") {
        None => None,
        Some(v) => Some(v.try_into::<Vec<PoolSpec>>().map_err(|e| file_err(format!("[[pool]]: {}", e.message())))?),
    };
    app::domain::pool::validate(pools.as_deref().unwrap_or_default())
        .map_err(|e| file_err(format!("[[pool]]: {e}")))?;
    let apps = match table.remove("app") {
        None => vec![],
        Some(v) => {
            v.try_into::<Vec<app::ssr::apps::AppInput>>().map_err(|e| file_err(format!("[[app]]: {}", e.message())))?
        }
    };
    for (i, a) in apps.iter().enumerate() {
        if apps[..i].iter().any(|b| b.team == a.team && b.slug == a.slug) {
            return Err(file_err(format!("[[app]] {:?} of team {:?} appears twice", a.slug, a.team)));
        }
    }
    let mut cost_rules = AllocationRules::default();
    if let Some(v) = table.remove("costs") {
        let c = v.try_into::<CostsFile>().map_err(|e| file_err(format!("[costs]: {}", e.message())))?;
        cost_rules.warm_pools = c.warm_pools.unwrap_or(cost_rules.warm_pools);
        cost_rules.shared_database = c.shared_database.unwrap_or(cost_rules.shared_database);
        cost_rules.shared_environments = c.shared_environments.unwrap_or(cost_rules.shared_environments);
    }
    let admission = match table.remove("admission") {
        None => None,
        Some(v) => Some(
            v.try_into::<app::domain::admission::AdmissionPolicy>()
                .map_err(|e| file_err(format!("[admission]: {}", e.message())))?,
        ),
    };
    let mut values = BTreeMap::new();
    for (key, value) in table {
        if !KEYS.iter().any(|k| k.file == key) {
            let known = KEYS
                .iter()
                .map(|k| k.file)
                .chain(["[[provider]]", "[tier.<id>]", "[[pool]]", "[[app]]", "[costs]", "[admission]"])
                .collect::<Vec<_>>();
            let known = known.join(", ");
            return Err(ConfigError::UnknownFileKey { key, path: path.display().to_string(), known });
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => if b { "1" } else { "0" }.to_string(),
            other => {
                return Err(ConfigError::Invalid {
                    key: format!("{key} (in {})", path.display()),
                    expected: "a string, number or boolean".into(),
                    got: other.to_string(),
                })
            }
        };
        values.insert(key, text);
    }
    Ok(FileContents { values, providers, tiers, pools, apps, cost_rules, admission })
}

fn demo_pools() -> Vec<PoolSpec> {
    app::ssr::demo::DEMO_POOLS
        .iter()
        .map(|app| PoolSpec { app: app.to_string(), team: None, tier: Tier::PreviewLightweight, size: 1 })
        .collect()
}

fn parse_flag(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

fn parse_public_url(v: &str) -> Option<PublicUrl> {
    let uri: http::Uri = v.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let host = uri.host()?.to_ascii_lowercase();
    if host.is_empty() || !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return None;
    }
    let default_port = if scheme == "https" { 443 } else { 80 };
    let port = uri.port_u16().filter(|p| *p != default_port);
    Some(PublicUrl { scheme, host, port })
}

pub fn redact_password(url: &str) -> String {
    // scheme://user:password@host… → scheme://user:***@host…
    let mut out = url.to_string();
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((creds, host)) = rest.split_once('@') {
            if let Some((user, _)) = creds.split_once(':') {
                out = format!("{scheme}://{user}:***@{host}");
            }
        }
    }
    // …?password=secret&… (libpq and sqlx take it there too) → password=***
    match out.split_once('?') {
        Some((base, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => pair.to_string(),
                })
                .collect();
            format!("{base}?{}", query.join("&"))
        }
        None => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_run_on_sqlite_in_the_data_dir() {
        let c = Config::from_sources(None, &env(&[])).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(c.database_url, "sqlite:./data/eod.db?mode=rwc");
        assert_eq!(c.public_url.origin(), "http://127.0.0.1:3000");
        assert!(!c.demo);
    }

    #[test]
    fn invalid_values_name_the_key_and_the_expectation() {
        let err = Config::from_sources(None, &env(&[("EOD_LISTEN", "nowhere")])).unwrap_err();
        assert!(err.to_string().contains("EOD_LISTEN"), "{err}");
        assert!(err.to_string().contains("socket address"), "{err}");
        let err = Config::from_sources(None, &env(&[("EOD_DEMO", "maybe")])).unwrap_err();
        assert!(err.to_string().starts_with("invalid EOD_DEMO: expected 1 or 0"), "{err}");
        let err = Config::from_sources(None, &env(&[("EOD_PUBLIC_URL", "ftp://x")])).unwrap_err();
        assert!(err.to_string().contains("EOD_PUBLIC_URL"), "{err}");
    }

    #[test]
    fn database_url_errors_never_echo_the_value() {
        let err = Config::from_sources(None, &env(&[("EOD_DATABASE_URL", "mysql://root:hunter2@db/x")])).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(err.to_string().contains("EOD_DATABASE_URL"));
    }

    #[test]
    fn passwords_are_redacted_for_display() {
        assert_eq!(redact_password("postgres://eod:s3cret@db:5432/eod"), "postgres://eod:***@db:5432/eod");
        assert_eq!(
            redact_password("postgres://eod@db/eod?sslmode=require&password=s3cret"),
            "postgres://eod@db/eod?sslmode=require&password=***"
        );
        assert_eq!(redact_password("sqlite:./data/eod.db"), "sqlite:./data/eod.db");
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("eod.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:4000\"\ndemo = true\n").unwrap();
        let c = Config::from_sources(Some(&path), &env(&[])).unwrap();
        assert_eq!(c.listen.port(), 4000);
        assert!(c.demo);
        let c = Config::from_sources(Some(&path), &env(&[("EOD_LISTEN", "127.0.0.1:5000")])).unwrap();
        assert_eq!(c.listen.port(), 5000);
    }

    #[test]
    fn file_errors_name_the_file_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("eod.toml");
        std::fs::write(&path, "session_idle_minutes = 0\n").unwrap();
        let err = Config::from_sources(Some(&path), &env(&[])).unwrap_err();
        assert!(err.to_string().contains("session_idle_minutes (in"), "{err}");
        std::fs::write(&path, "lisen = \"x\"\n").unwrap();
        assert!(matches!(Config::from_sources(Some(&path), &env(&[])), Err(ConfigError::UnknownFileKey { .. })));
    }

    #[test]
    fn https_public_urls_drop_the_default_port() {
        let c = Config::from_sources(None, &env(&[("EOD_PUBLIC_URL", "https://eod.example.com:443/")])).unwrap();
        assert!(c.public_url.is_https());
        assert_eq!(c.public_url.origin(), "https://eod.example.com");
    }

    #[test]
    fn tier_tables_override_policies_and_pools_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("eod.toml");
        let text = "[tier.preview-lightweight]\nttl_minutes = 90\nwarn_minutes = 15\n\n\
                    [[pool]]\napp = \"storefront\"\ntier = \"preview-lightweight\"\nsize = 2\n";
        std::fs::write(&path, text).unwrap();
        let c = Config::from_sources(Some(&path), &env(&[])).unwrap();
        let lw = c.tiers.get(Tier::PreviewLightweight);
        assert_eq!(lw.ttl_ms, Some(90 * 60_000));
        assert_eq!(c.pools.len(), 1);
        assert_eq!(c.pools[0].size, 2);
        // Demo mode without [[pool]] keeps its default pools; an explicit empty list has none.
        let demo = Config::from_sources(None, &env(&[("EOD_DEMO", "1")])).unwrap();
        assert!(!demo.pools.is_empty());
        std::fs::write(&path, "pool = []\ndemo = true\n").unwrap();
        assert!(Config::from_sources(Some(&path), &env(&[])).unwrap().pools.is_empty());
    }

    #[test]
    fn admission_and_approval_settings_are_read_and_checked() {
        use app::domain::approval::{DestroyRule, OnSla};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("eod.toml");
        std::fs::write(
            &path,
            "[admission.tier.preview-full]\nmax_live_per_team = 5\n[admission.team.payments]\napps = [\"checkout-web\"]\n\
             [tier.staging]\ndestroy = \"approval\"\napproval_sla_minutes = 90\non_sla = { destroy = \"escalate\" }\n",
        )
        .unwrap();
        let c = Config::from_sources(Some(&path), &env(&[])).unwrap();
        let admission = c.admission.expect("[admission] read");
        assert_eq!(admission.tier[&Tier::PreviewFull].max_live_per_team, Some(5));
        let staging = c.tiers.get(Tier::Staging);
        assert_eq!((staging.destroy, staging.approval_sla_ms()), (DestroyRule::Approval, 90 * 60_000));
        assert_eq!((staging.approval.on_sla_destroy, staging.approval.on_sla_extend), (OnSla::Escalate, OnSla::Deny));
        assert!(Config::from_sources(None, &env(&[])).unwrap().admission.is_none());
        for (text, expect) in [
            ("[admission.tier.preview-full]\nmax_live = 5\n", "[admission]"),
            ("[admission.tier.nope]\nmax_live_per_team = 5\n", "[admission]"),
            ("[tier.staging]\napproval_sla_minutes = 0\n", "approval_sla_minutes"),
            ("[tier.staging]\non_sla = { extend = \"maybe\" }\n", "`approve`, `deny`, `escalate`"),
            ("[tier.staging]\ndestroy = \"anyone\"\n", "`member`, `manager`, `approval`"),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = Config::from_sources(Some(&path), &env(&[])).unwrap_err().to_string();
            assert!(err.contains(expect), "{text}: {err}");
        }
    }

    #[test]
    fn cost_rules_and_budget_gates_are_read_and_checked() {
        use app::domain::budget::BudgetGate;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("eod.toml");
        std::fs::write(
            &path,
            "[costs]\nshared_database = \"proportional\"\n[tier.preview-full]\nbudget_gate = \"off\"\n",
        )
        .unwrap();
        let c = Config::from_sources(Some(&path), &env(&[])).unwrap();
        assert_eq!(c.cost_rules.shared_database, Allocation::Proportional);
        assert_eq!(c.cost_rules.warm_pools, AllocationRules::default().warm_pools);
        assert_eq!(c.tiers.get(Tier::PreviewFull).budget_gate, BudgetGate::Off);
        assert_eq!(c.tiers.get(Tier::PreviewCompliance).budget_gate, BudgetGate::Block);
        for (text, expect) in [
            ("[costs]\nwarm_pools = \"fair\"\n", "[costs]"),
            ("[costs]\nsnacks = \"even\"\n", "unknown field"),
            ("[tier.preview-full]\nbudget_gate = \"maybe\"\n", "`block`, `warn`, `off`"),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = Config::from_sources(Some(&path), &env(&[])).unwrap_err().to_string();
            assert!(err.contains(expect), "{text}: {err}");
        }
    }

    #[test]
    fn bad_tier_and_pool_tables_name_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("eod.toml");
        for (text, expect) in [
            ("[tier.preview-lightweight]\nwarn_minutes = 600\n", "warn_minutes"),
            ("[tier.preview]\nttl_minutes = 60\n", "unknown tier"),
            ("[tier.staging]\nttl_minutes = 60\n", "never expire"),
            ("[tier.preview-full]\nttl = \"4h\"\n", "unknown field"),
            ("[[pool]]\napp = \"x\"\ntier = \"staging\"\nsize = 1\n", "only lightweight and full"),
            ("[[pool]]\napp = \"x\"\ntier = \"preview-full\"\nsize = 500\n", "size"),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = Config::from_sources(Some(&path), &env(&[])).unwrap_err().to_string();
            assert!(err.contains(expect), "{text}: {err}");
        }
    }

    #[test]
    fn smtp_and_approvers_are_read_and_checked_without_echoing_passwords() {
        let c = Config::from_sources(None, &env(&[])).unwrap();
        assert!(c.smtp.is_none() && c.approvers.is_none());
        let c = Config::from_sources(
            None,
            &env(&[
                ("EOD_SMTP_URL", "smtps://eod:hunter2@mail.example.com"),
                ("EOD_SMTP_FROM", "EoD Portal <eod@example.com>"),
                ("EOD_APPROVERS", "platform"),
            ]),
        )
        .unwrap();
        let smtp = c.smtp.unwrap();
        assert_eq!(smtp.from.email.to_string(), "eod@example.com");
        assert!(!format!("{smtp:?}").contains("hunter2"), "Debug hides the password");
        assert_eq!(c.approvers.as_deref(), Some("platform"));
        for (pairs, key) in [
            (vec![("EOD_SMTP_URL", "http://hunter2@mail.example.com"), ("EOD_SMTP_FROM", "a@b.c")], "EOD_SMTP_URL"),
            (vec![("EOD_SMTP_URL", "smtp://u:hunter2@mail.example.com")], "EOD_SMTP_FROM"),
            (vec![("EOD_SMTP_URL", "smtp://mail.example.com"), ("EOD_SMTP_FROM", "not an address")], "EOD_SMTP_FROM"),
            (vec![("EOD_SMTP_FROM", "a@b.c")], "EOD_SMTP_FROM"),
            (vec![("EOD_APPROVERS", "Platform Team")], "EOD_APPROVERS"),
        ] {
            let err = Config::from_sources(None, &env(&pairs)).unwrap_err().to_string();
            assert!(err.contains(key) && !err.contains("hunter2"), "{pairs:?}: {err}");
        }
    }

    #[test]
    fn kubernetes_is_off_unless_configured_and_its_settings_are_checked() {
        assert_eq!(Config::from_sources(None, &env(&[])).unwrap().kubernetes, None);
        assert_eq!(Config::from_sources(None, &env(&[("EOD_KUBERNETES", "off")])).unwrap().kubernetes, None);
        let on = Config::from_sources(
            None,
            &env(&[("EOD_KUBERNETES", "kubeconfig"), ("EOD_KUBERNETES_INGRESS_CLASS", "traefik")]),
        )
        .unwrap();
        assert_eq!(
            on.kubernetes,
            Some(KubernetesConfig { ingress_namespace: "ingress-nginx".into(), ingress_class: Some("traefik".into()) })
        );
        for (key, value) in [
            ("EOD_KUBERNETES", "yes"),
            ("EOD_KUBERNETES_INGRESS_NAMESPACE", "Ingress NGINX"),
            ("EOD_KUBERNETES_INGRESS_CLASS", "a b"),
        ] {
            let err = Config::from_sources(None, &env(&[("EOD_KUBERNETES", "kubeconfig"), (key, value)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{key}: {err}");
        }
    }

    #[test]
    fn app_tables_secret_key_and_app_admins_are_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("eod.toml");
        std::fs::write(
            &path,
            "app_admins = \"platform\"\n[[app]]\nteam = \"payments\"\nslug = \"shop\"\nname = \"Shop\"\n\
             repository = \"/srv/git/shop.git\"\n[app.blueprint]\nstart = \"./serve\"\n[app.blueprint.database]\nmigrate = \"./migrate\"\n",
        )
        .unwrap();
        let c = Config::from_sources(Some(&path), &env(&[])).unwrap();
        assert_eq!(c.app_admins, app::ssr::context::AppAdmins::Platform);
        assert_eq!(c.apps.len(), 1);
        assert_eq!(c.apps[0].blueprint.as_ref().unwrap()["database"]["migrate"], "./migrate");
        assert!(c.secret_key.is_none());
        let key = "ab".repeat(32);
        let c = Config::from_sources(Some(&path), &env(&[("EOD_SECRET_KEY", &key), ("EOD_APP_ADMINS", "managers")]))
            .unwrap();
        assert_eq!(c.secret_key.unwrap().to_hex(), key);
        assert_eq!(c.app_admins, app::ssr::context::AppAdmins::Managers);

        let err = Config::from_sources(None, &env(&[("EOD_SECRET_KEY", "not-a-key-hunter2")])).unwrap_err().to_string();
        assert!(err.contains("EOD_SECRET_KEY") && !err.contains("hunter2"), "{err}");
        let err = Config::from_sources(None, &env(&[("EOD_APP_ADMINS", "everyone")])).unwrap_err().to_string();
        assert!(err.contains("EOD_APP_ADMINS"), "{err}");
        for (text, expect) in [
            ("[[app]]\nteam = \"t\"\nslug = \"s\"\nname = \"n\"\nrepo = \"/x\"\n", "[[app]]"),
            (
                "[[app]]\nteam = \"t\"\nslug = \"s\"\nname = \"n\"\nrepository = \"/x\"\n\
                 [[app]]\nteam = \"t\"\nslug = \"s\"\nname = \"n\"\nrepository = \"/x\"\n",
                "appears twice",
            ),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = Config::from_sources(Some(&path), &env(&[])).unwrap_err().to_string();
            assert!(err.contains(expect), "{text}: {err}");
        }
    }
}
