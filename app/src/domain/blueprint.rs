//! App blueprints: how an environment of an app is made — the driver, the
//! build that runs in the environment's checkout, the command that serves,
//! where its readiness probe looks, how its database is seeded (once per
//! template) and migrated (in every environment), its variables and secrets,
//! and the priced resources it holds. Stored as JSON on the app (secret
//! values never: they are input only, encrypted apart); parsed and validated
//! here so a bad blueprint is refused with the field named instead of
//! failing deep inside a driver.

use super::money::Micros;
use super::price::default_resources;
use super::tier::Tier;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Longest command (build, start, seed, migrate) accepted.
pub const MAX_COMMAND: usize = 4_000;
/// Longest a build may run unless the blueprint says otherwise, and the most it may say.
pub const DEFAULT_BUILD_TIMEOUT_SECONDS: u32 = 600;
pub const MAX_BUILD_TIMEOUT_SECONDS: u32 = 3_600;
/// How long a script driver's step may run unless the blueprint says otherwise, and the most it may say.
pub const DEFAULT_STEP_TIMEOUT_SECONDS: u32 = 900;
pub const MAX_STEP_TIMEOUT_SECONDS: u32 = 7_200;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Blueprint {
    /// `local` (the embedded driver: a process per environment on the
    /// portal's host), `script` (the `create`, `status`, `destroy` and
    /// `snapshot` commands make the resources: Terraform, Pulumi, anything)
    /// or `kubernetes` (a namespace per environment running `image`).
    #[serde(default = "local")]
    pub driver: String,
    /// `kubernetes` driver: the container image; `{commit}` is replaced by
    /// the environment's commit (e.g. `registry.example.com/shop:{commit}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `kubernetes` driver: the port the container serves on (default 8080).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `kubernetes` driver: the container's requests (limits are twice them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<ContainerRequests>,
    /// `script` driver: makes (or updates) the environment; prints
    /// `{"url": …, "resources": [{"kind", "hourly_rate_micros"}]}` on stdout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<String>,
    /// `script` driver: exits 0 and prints `{"ready": true}` once it is ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `script` driver: removes everything (run again until it exits 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destroy: Option<String>,
    /// `script` driver, optional: keeps the environment's data before it goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// `script` driver: how long one step may run (default 900 s, at most 7200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_timeout_seconds: Option<u32>,
    /// Shell commands run in the checkout before the start (e.g. `npm ci && npm run build`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    #[serde(default = "build_timeout")]
    pub build_timeout_seconds: u32,
    /// The shell command that serves, given `PORT` and `DATABASE_URL`; `eod` is this portal's binary.
    #[serde(default = "sample_app", alias = "command")]
    pub start: String,
    #[serde(default = "healthz")]
    pub health_path: String,
    #[serde(default, skip_serializing_if = "DatabaseRecipe::is_empty")]
    pub database: DatabaseRecipe,
    /// Plain variables given to build, migrate and start.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Input only: secret values to store encrypted (`null` removes one on
    /// an update). Never serialized, so never stored with the blueprint.
    #[serde(default, skip_serializing)]
    pub secrets: BTreeMap<String, Option<String>>,
    /// Who its previews answer to: `team` (the default), `signed-in` or
    /// `public`; the stricter of this and the tier's `preview_access` applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_access: Option<crate::domain::preview_access::PreviewAccess>,
    /// Priced resources; absent means the tier's defaults from the price book.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<ResourceRate>>,
    /// Previews made by the repository's pull-request webhooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_requests: Option<super::pull_request::PullRequestPolicy>,
}

/// How the app's template database is made (once, from the default branch)
/// and how each environment's copy is migrated (seed: "seed data only,
/// migrations run on each spin-up").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseRecipe {
    /// An SQL file in the repository, run against the empty template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed_file: Option<String>,
    /// Or a command run in a checkout of the default branch, given `DATABASE_URL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
    /// Run in each environment's checkout against its own database before the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrate: Option<String>,
}

impl DatabaseRecipe {
    pub fn is_empty(&self) -> bool {
        self.seed_file.is_none() && self.seed.is_none() && self.migrate.is_none()
    }
}

/// A container's CPU and memory requests in Kubernetes quantities.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerRequests {
    /// e.g. `250m` or `1`.
    pub cpu: String,
    /// e.g. `256Mi` or `1Gi`.
    pub memory: String,
}

impl Default for ContainerRequests {
    fn default() -> Self {
        ContainerRequests { cpu: "250m".into(), memory: "256Mi".into() }
    }
}

/// Whether `q` reads as a Kubernetes quantity: digits (and one dot), then
/// an optional suffix (`m`, `Ki`…`Ei`, `k`…`E`).
pub fn is_quantity(q: &str) -> bool {
    const SUFFIXES: [&str; 14] = ["", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
    let digits = q.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
    let (number, suffix) = q.split_at(digits);
    !number.is_empty()
        && number.bytes().filter(|b| *b == b'.').count() <= 1
        && number.bytes().any(|b| b.is_ascii_digit())
        && q.len() <= 20
        && SUFFIXES.contains(&suffix)
}

/// Whether `image` reads as a container image reference
/// (`[registry[:port]/]path[:tag][@sha256:…]`, lowercase path parts), with
/// `{commit}` standing for (part of) the tag and no other placeholder.
pub fn is_image_reference(image: &str) -> bool {
    let image = image.replace("{commit}", "c0ffee");
    if image.is_empty() || image.len() > 300 || image.contains(['{', '}']) || image.contains("://") {
        return false;
    }
    let (rest, digest) = image.split_once('@').map_or((image.as_str(), None), |(r, d)| (r, Some(d)));
    if let Some(d) = digest {
        let hex = d.strip_prefix("sha256:").unwrap_or("");
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return false;
        }
    }
    let after_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[after_slash..].rfind(':') {
        Some(i) => (&rest[..after_slash + i], Some(&rest[after_slash + i + 1..])),
        None => (rest, None),
    };
    let tag_ok = |t: &str| {
        (1..=128).contains(&t.len())
            && t.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
            && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    };
    if tag.is_some_and(|t| !tag_ok(t)) {
        return false;
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    // A first part with a dot or a port, or `localhost`, is the registry.
    if parts.len() > 1 && (parts[0].contains(['.', ':']) || parts[0] == "localhost") {
        let host = parts.remove(0);
        let (h, port) = host.split_once(':').map_or((host, None), |(h, p)| (h, Some(p)));
        let host_ok = !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b));
        if !host_ok || port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
            return false;
        }
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    parts.iter().all(|p| {
        p.bytes().next().is_some_and(alnum)
            && p.bytes().last().is_some_and(alnum)
            && p.bytes().all(|b| alnum(b) || b"._-".contains(&b))
    })
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceRate {
    pub kind: String,
    pub hourly_rate_micros: i64,
}

fn local() -> String {
    "local".into()
}
fn sample_app() -> String {
    "eod sample-app".into()
}
fn healthz() -> String {
    "/healthz".into()
}
fn build_timeout() -> u32 {
    DEFAULT_BUILD_TIMEOUT_SECONDS
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlueprintError {
    #[error("the blueprint is not valid JSON of the expected shape: {0}")]
    Shape(String),
    #[error("blueprint {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

impl BlueprintError {
    /// The API field a refusal names (`blueprint.<field>`).
    pub fn field(&self) -> String {
        match self {
            BlueprintError::Shape(_) => "blueprint".into(),
            BlueprintError::Invalid { field, .. } => format!("blueprint.{field}"),
        }
    }

    /// The reason alone, without the field.
    pub fn reason(&self) -> String {
        match self {
            BlueprintError::Shape(e) => format!("not valid JSON of the expected shape: {e}"),
            BlueprintError::Invalid { reason, .. } => reason.clone(),
        }
    }
}

fn is_slug(s: &str) -> bool {
    !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Variables the driver sets itself; a blueprint may not override them.
const RESERVED: &[&str] = &["PORT", "DATABASE_URL", "PATH", "HOME"];

/// Whether `name` can be an environment variable a blueprint sets.
pub fn is_variable_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name.len() <= 64
}

fn is_reserved(name: &str) -> bool {
    RESERVED.contains(&name) || name.starts_with("EOD_")
}

/// A path inside the repository: relative, no `..`, no control characters.
pub fn is_repo_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= 200
        && !path.starts_with('/')
        && !path.chars().any(|c| c.is_control() || c == '\\')
        && path.split('/').all(|p| !p.is_empty() && p != ".." && p != ".")
}

fn check_command(field: &'static str, cmd: &str) -> Result<(), BlueprintError> {
    let err = |reason: &str| Err(BlueprintError::Invalid { field, reason: reason.into() });
    if cmd.trim().is_empty() {
        return err("give a command, or leave it out");
    }
    if cmd.len() > MAX_COMMAND {
        return err("at most 4000 characters");
    }
    if cmd.contains('\0') {
        return err("no NUL characters");
    }
    Ok(())
}

impl Default for Blueprint {
    fn default() -> Self {
        Blueprint {
            driver: local(),
            image: None,
            port: None,
            requests: None,
            create: None,
            status: None,
            destroy: None,
            snapshot: None,
            step_timeout_seconds: None,
            build: None,
            build_timeout_seconds: build_timeout(),
            start: sample_app(),
            health_path: healthz(),
            database: DatabaseRecipe::default(),
            env: BTreeMap::new(),
            secrets: BTreeMap::new(),
            preview_access: None,
            resources: None,
            pull_requests: None,
        }
    }
}

impl Blueprint {
    pub fn parse(json: &str) -> Result<Blueprint, BlueprintError> {
        let bp: Blueprint = serde_json::from_str(json).map_err(|e| BlueprintError::Shape(e.to_string()))?;
        bp.validate()?;
        Ok(bp)
    }

    /// The stored form: JSON without secret values.
    pub fn to_stored_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    pub fn validate(&self) -> Result<(), BlueprintError> {
        let err = |field, reason: &str| Err(BlueprintError::Invalid { field, reason: reason.into() });
        self.validate_driver()?;
        if let Some(build) = &self.build {
            check_command("build", build)?;
        }
        if !(1..=MAX_BUILD_TIMEOUT_SECONDS).contains(&self.build_timeout_seconds) {
            return err("build_timeout_seconds", "from 1 to 3600 seconds");
        }
        check_command("start", &self.start)?;
        if !self.health_path.starts_with('/')
            || self.health_path.len() > 200
            || self.health_path.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return err("health_path", "a path starting with /");
        }
        let db = &self.database;
        if db.seed_file.is_some() && db.seed.is_some() {
            return err("database.seed", "give seed_file or seed, not both");
        }
        if db.seed_file.as_deref().is_some_and(|p| !is_repo_path(p)) {
            return err("database.seed_file", "a relative path inside the repository, without ..");
        }
        if let Some(seed) = &db.seed {
            check_command("database.seed", seed)?;
        }
        if let Some(migrate) = &db.migrate {
            check_command("database.migrate", migrate)?;
        }
        if self.env.len() + self.secrets.len() > 100 {
            return err("env", "at most 100 variables and secrets");
        }
        for (name, value) in &self.env {
            if !is_variable_name(name) {
                return err("env", "names are letters, digits and _, not starting with a digit, at most 64");
            }
            if is_reserved(name) {
                return err("env", "PORT, DATABASE_URL, PATH, HOME and EOD_* are set by the portal");
            }
            if value.len() > 4_096 || value.contains('\0') {
                return err("env", "values are at most 4096 characters, without NUL");
            }
        }
        for (name, value) in &self.secrets {
            // The value is never echoed, whatever is wrong.
            if !is_variable_name(name) {
                return err("secrets", "names are letters, digits and _, not starting with a digit, at most 64");
            }
            if is_reserved(name) {
                return err("secrets", "PORT, DATABASE_URL, PATH, HOME and EOD_* are set by the portal");
            }
            if self.env.contains_key(name) {
                return err("secrets", "a name is either a plain variable or a secret, not both");
            }
            if value.as_ref().is_some_and(|v| v.is_empty() || v.len() > 4_096 || v.contains('\0')) {
                return err("secrets", "values are 1 to 4096 characters, without NUL (null removes a secret)");
            }
        }
        if let Some(prs) = &self.pull_requests {
            prs.validate().map_err(|e| BlueprintError::Invalid { field: "pull_requests", reason: e.to_string() })?;
        }
        if let Some(resources) = &self.resources {
            if resources.is_empty() {
                return err("resources", "list at least one resource, or leave it out for the tier's defaults");
            }
            for (i, r) in resources.iter().enumerate() {
                if !is_slug(&r.kind) {
                    return err("resources.kind", "lowercase letters, digits and -, at most 40");
                }
                if r.hourly_rate_micros < 0 {
                    return err("resources.hourly_rate_micros", "must not be negative");
                }
                if resources[..i].iter().any(|o| o.kind == r.kind) {
                    return err("resources.kind", "each kind once");
                }
            }
        }
        Ok(())
    }

    /// The driver and its steps: a script blueprint names `create`, `status`
    /// and `destroy` (and may name `snapshot`) and has no build or database
    /// (its commands make everything); a local one names none of them.
    fn validate_driver(&self) -> Result<(), BlueprintError> {
        let err = |field, reason: &str| Err(BlueprintError::Invalid { field, reason: reason.into() });
        let steps = [
            ("create", &self.create),
            ("status", &self.status),
            ("destroy", &self.destroy),
            ("snapshot", &self.snapshot),
        ];
        let kube_fields =
            [("image", self.image.is_some()), ("port", self.port.is_some()), ("requests", self.requests.is_some())];
        if self.driver != "kubernetes" {
            if let Some((field, _)) = kube_fields.iter().find(|(_, set)| *set) {
                return err(field, "only for the kubernetes driver (\"driver\": \"kubernetes\")");
            }
        }
        match self.driver.as_str() {
            "kubernetes" => {
                let Some(image) = &self.image else {
                    return err(
                        "image",
                        "the kubernetes driver needs the container image (e.g. registry/shop:{commit})",
                    );
                };
                if !is_image_reference(image) {
                    return err(
                        "image",
                        "an image reference like registry.example.com/team/app:{commit} (lowercase path, a tag of letters, digits, _ . -, or @sha256:<64 hex>; {commit} is the only placeholder)",
                    );
                }
                if self.port == Some(0) {
                    return err("port", "from 1 to 65535");
                }
                if let Some(r) = &self.requests {
                    let positive = |q: &str| is_quantity(q) && q.bytes().any(|b| (b'1'..=b'9').contains(&b));
                    if !positive(&r.cpu) || !positive(&r.memory) {
                        return err(
                            "requests",
                            "Kubernetes quantities above zero, e.g. {\"cpu\": \"250m\", \"memory\": \"256Mi\"}",
                        );
                    }
                }
                if let Some((field, _)) = steps.iter().find(|(_, c)| c.is_some()) {
                    return err(field, "only for the script driver (\"driver\": \"script\")");
                }
                if self.build.is_some() || !self.database.is_empty() || self.step_timeout_seconds.is_some() {
                    return err("driver", "a kubernetes blueprint runs its image: no build, database or script steps");
                }
            }
            "local" => {
                if let Some((field, _)) = steps.iter().find(|(_, c)| c.is_some()) {
                    return err(field, "only for the script driver (\"driver\": \"script\")");
                }
                if self.step_timeout_seconds.is_some() {
                    return err("step_timeout_seconds", "only for the script driver (\"driver\": \"script\")");
                }
            }
            "script" => {
                for (field, command) in steps {
                    match command {
                        Some(c) => check_command(field, c)?,
                        None if field == "snapshot" => {}
                        None => return err(field, "the script driver needs create, status and destroy commands"),
                    }
                }
                if self.build.is_some() || !self.database.is_empty() {
                    return err("driver", "a script blueprint's commands make everything: no build or database");
                }
                if self.step_timeout_seconds.is_some_and(|s| !(1..=MAX_STEP_TIMEOUT_SECONDS).contains(&s)) {
                    return err("step_timeout_seconds", "from 1 to 7200 seconds");
                }
            }
            _ => return err("driver", "\"local\", \"script\" or \"kubernetes\""),
        }
        Ok(())
    }

    /// How long one step of the script driver may run.
    pub fn step_timeout_seconds(&self) -> u32 {
        self.step_timeout_seconds.unwrap_or(DEFAULT_STEP_TIMEOUT_SECONDS)
    }

    /// The priced resources an environment of this app holds on `tier`.
    pub fn resources_for(&self, tier: Tier) -> Vec<(String, Micros)> {
        match &self.resources {
            Some(list) => list.iter().map(|r| (r.kind.clone(), Micros(r.hourly_rate_micros))).collect(),
            None => default_resources(tier).iter().map(|r| (r.kind.to_string(), r.hourly_rate)).collect(),
        }
    }

    /// The hourly rate of the whole environment.
    pub fn hourly_rate(&self, tier: Tier) -> Micros {
        self.resources_for(tier).into_iter().map(|(_, rate)| rate).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_blueprint_runs_the_sample_app_at_the_tier_rates() {
        let bp = Blueprint::parse("{}").unwrap();
        assert_eq!(bp, Blueprint::default());
        assert_eq!(bp.start, "eod sample-app");
        assert_eq!(bp.hourly_rate(Tier::PreviewFull), crate::domain::price::default_hourly_rate(Tier::PreviewFull));
    }

    #[test]
    fn the_older_command_key_still_reads_as_start() {
        assert_eq!(Blueprint::parse(r#"{"command":"./serve"}"#).unwrap().start, "./serve");
    }

    #[test]
    fn own_resources_replace_the_defaults() {
        let bp = Blueprint::parse(r#"{"resources":[{"kind":"compute","hourly_rate_micros":70000},{"kind":"gpu","hourly_rate_micros":900000}]}"#).unwrap();
        assert_eq!(bp.hourly_rate(Tier::PreviewLightweight), Micros(970_000));
        assert_eq!(bp.resources_for(Tier::Staging).len(), 2);
    }

    #[test]
    fn a_full_blueprint_round_trips_without_its_secret_values() {
        let json = r#"{"build":"npm ci && npm run build","build_timeout_seconds":120,"start":"npm start",
            "health_path":"/up","database":{"seed_file":"db/seed.sql","migrate":"npm run migrate"},
            "env":{"NODE_ENV":"production"},"secrets":{"STRIPE_KEY":"sk_live_123"}}"#;
        let bp = Blueprint::parse(json).unwrap();
        assert_eq!(bp.secrets.get("STRIPE_KEY"), Some(&Some("sk_live_123".to_string())));
        let stored = bp.to_stored_json();
        assert!(!stored.contains("sk_live_123") && !stored.contains("secrets"), "{stored}");
        let back = Blueprint::parse(&stored).unwrap();
        assert_eq!(back.build.as_deref(), Some("npm ci && npm run build"));
        assert_eq!(back.database.migrate.as_deref(), Some("npm run migrate"));
        assert!(back.secrets.is_empty());
    }

    #[test]
    fn a_script_blueprint_names_its_steps_and_round_trips() {
        let json = r#"{"driver":"script","create":"terraform apply -auto-approve","status":"./status.sh",
            "destroy":"terraform destroy -auto-approve","step_timeout_seconds":1200,
            "resources":[{"kind":"compute","hourly_rate_micros":50000}]}"#;
        let bp = Blueprint::parse(json).unwrap();
        assert_eq!(bp.driver, "script");
        assert_eq!(bp.snapshot, None);
        assert_eq!(bp.step_timeout_seconds(), 1200);
        assert_eq!(Blueprint::parse(&bp.to_stored_json()).unwrap(), bp);
        assert_eq!(Blueprint::default().step_timeout_seconds(), DEFAULT_STEP_TIMEOUT_SECONDS);
        // A local blueprint's stored form does not grow the script's keys.
        assert!(!Blueprint::default().to_stored_json().contains("create"));
    }

    #[test]
    fn a_kubernetes_blueprint_names_its_image_and_requests() {
        let bp = Blueprint::parse(
            r#"{"driver":"kubernetes","image":"registry.example.com/shop:{commit}","port":3000,
                "requests":{"cpu":"500m","memory":"1Gi"},"health_path":"/up"}"#,
        )
        .unwrap();
        assert_eq!(bp.port, Some(3000));
        assert_eq!(Blueprint::parse(&bp.to_stored_json()).unwrap(), bp);
        for q in ["250m", "1", "0.5", "256Mi", "2Gi", "1k"] {
            assert!(is_quantity(q), "{q}");
        }
        for q in ["", "m", "1.2.3", "lots", "1mi", "-1", "1 Gi"] {
            assert!(!is_quantity(q), "{q}");
        }
        let digest = format!("ghcr.io/acme/shop@sha256:{}", "a1".repeat(32));
        for good in [
            "nginx",
            "nginx:1.27",
            "registry.example.com/shop:{commit}",
            "localhost:5000/a/b:c",
            "nginxinc/nginx-unprivileged:stable",
            "reg.io/team/app:pr-{commit}",
            digest.as_str(),
        ] {
            assert!(is_image_reference(good), "{good}");
        }
        for bad in [
            "",
            "UPPER/Case:tag",
            "nginx:!!bad",
            "nginx:",
            ":tag",
            "http://reg/x:1",
            "nginx@sha256:zz",
            "nginx:{sha}",
            "shop :1",
            "a//b",
        ] {
            assert!(!is_image_reference(bad), "{bad}");
        }
        assert!(matches!(
            Blueprint::parse(r#"{"driver":"kubernetes","image":"shop","requests":{"cpu":"0","memory":"1Gi"}}"#),
            Err(BlueprintError::Invalid { field: "requests", .. })
        ));
    }

    #[test]
    fn bad_blueprints_name_the_field() {
        let cases = [
            (r#"{"driver":"k8s"}"#, "driver"),
            (r#"{"start":"  "}"#, "start"),
            (r#"{"build":""}"#, "build"),
            (r#"{"build_timeout_seconds":0}"#, "build_timeout_seconds"),
            (r#"{"build_timeout_seconds":7200}"#, "build_timeout_seconds"),
            (r#"{"health_path":"healthz"}"#, "health_path"),
            (r#"{"database":{"seed_file":"../etc/passwd"}}"#, "database.seed_file"),
            (r#"{"database":{"seed_file":"/etc/passwd"}}"#, "database.seed_file"),
            (r#"{"database":{"seed_file":"a.sql","seed":"x"}}"#, "database.seed"),
            (r#"{"database":{"migrate":" "}}"#, "database.migrate"),
            (r#"{"env":{"1BAD":"x"}}"#, "env"),
            (r#"{"env":{"PORT":"1"}}"#, "env"),
            (r#"{"env":{"EOD_ENV_ROOT":"/"}}"#, "env"),
            (r#"{"secrets":{"DATABASE_URL":"x"}}"#, "secrets"),
            (r#"{"secrets":{"A":""}}"#, "secrets"),
            (r#"{"env":{"A":"1"},"secrets":{"A":"2"}}"#, "secrets"),
            (r#"{"resources":[]}"#, "resources"),
            (r#"{"create":"terraform apply"}"#, "create"),
            (r#"{"image":"shop:1"}"#, "image"),
            (r#"{"driver":"kubernetes"}"#, "image"),
            (r#"{"driver":"kubernetes","image":"shop :1"}"#, "image"),
            (r#"{"driver":"kubernetes","image":"shop","port":0}"#, "port"),
            (r#"{"driver":"kubernetes","image":"shop","requests":{"cpu":"lots","memory":"1Gi"}}"#, "requests"),
            (r#"{"driver":"kubernetes","image":"shop","build":"make"}"#, "driver"),
            (r#"{"driver":"kubernetes","image":"shop","create":"x"}"#, "create"),
            (r#"{"step_timeout_seconds":60}"#, "step_timeout_seconds"),
            (r#"{"driver":"script","create":"a","destroy":"c"}"#, "status"),
            (r#"{"driver":"script","create":"a","status":"b","destroy":" "}"#, "destroy"),
            (r#"{"driver":"script","create":"a","status":"b","destroy":"c","snapshot":""}"#, "snapshot"),
            (r#"{"driver":"script","create":"a","status":"b","destroy":"c","build":"make"}"#, "driver"),
            (
                r#"{"driver":"script","create":"a","status":"b","destroy":"c","step_timeout_seconds":0}"#,
                "step_timeout_seconds",
            ),
            (r#"{"resources":[{"kind":"cpu","hourly_rate_micros":-1}]}"#, "resources.hourly_rate_micros"),
            (
                r#"{"resources":[{"kind":"cpu","hourly_rate_micros":1},{"kind":"cpu","hourly_rate_micros":2}]}"#,
                "resources.kind",
            ),
        ];
        for (json, field) in cases {
            match Blueprint::parse(json) {
                Err(BlueprintError::Invalid { field: f, .. }) => assert_eq!(f, field, "{json}"),
                other => panic!("{json}: {other:?}"),
            }
        }
        assert!(matches!(Blueprint::parse(r#"{"cmd":"x"}"#), Err(BlueprintError::Shape(_))));
    }

    #[test]
    fn a_refused_secret_is_never_echoed() {
        let err = Blueprint::parse(r#"{"secrets":{"PORT":"hunter2-secret"}}"#).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
