//! The Kubernetes driver: a namespace per environment, labelled and
//! annotated as the seed's cleanup job expects
//! (`environment.on-demand/owner`, `environment.on-demand/created-at`),
//! fenced by a `ResourceQuota`, a `LimitRange` and a default-deny
//! `NetworkPolicy` (ingress only from the ingress controller's namespace;
//! compliance previews also lose egress but DNS), running the blueprint's
//! image as a `Deployment` behind a `Service` and an `Ingress`
//! (`<env>.<preview domain>`).
//!
//! Every object has a deterministic name (`eod-<environment id>` for the
//! namespace) and is written by server-side apply under one field manager,
//! so create, a retry after a crash and a redeploy are the same idempotent
//! call; a 409 conflict is retried. The tier's strategy picks the
//! Deployment's: `Recreate` (previews), `RollingUpdate` 25 %/25 %
//! (staging) or blue-green (production: `app-blue` and `app-green`, the
//! Service's selector switched once the new colour is available). Destroy
//! deletes the namespace and waits until it is gone; the orphan sweep lists
//! namespaces by the owner label and removes those no live environment owns.
//!
//! Objects are rendered as JSON and read back into k8s-openapi's types, so
//! a field the API would not know fails the golden tests.

use super::{Driver, DriverError, EnvSpec};
use app::domain::health::Probe;
use app::domain::tier::DeploymentStrategy;
use async_trait::async_trait;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota, Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Who the environment is for (the seed's cleanup job reads it).
pub const OWNER: &str = "environment.on-demand/owner";
/// When the environment was made, RFC 3339 UTC.
pub const CREATED_AT: &str = "environment.on-demand/created-at";
pub const EXPIRES_AT: &str = "environment.on-demand/expires-at";
/// The portal's environment id: what the orphan sweep matches.
pub const ENV_ID: &str = "environment.on-demand/environment-id";
pub const COMMIT: &str = "environment.on-demand/commit";
const COLOUR: &str = "environment.on-demand/colour";
const MANAGER: &str = "eod-portal";

/// What a Kubernetes blueprint asks for, with the tier's rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeSpec {
    /// The image; `{commit}` stands for the commit being deployed.
    pub image: String,
    pub port: u16,
    pub cpu: String,
    pub memory: String,
    pub strategy: DeploymentStrategy,
    pub probe_period_seconds: i32,
    pub failure_threshold: i32,
    /// Compliance previews: no egress but DNS.
    pub compliance: bool,
    /// The owner's login (or `pool` for a warm-pool member).
    pub owner: String,
    pub created_at_ms: i64,
    pub expires_at_ms: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct KubeSettings {
    /// Hosts are `<env name>.<preview domain>`.
    pub preview_domain: String,
    /// Where the ingress controller runs: the only ingress a namespace allows.
    pub ingress_namespace: String,
    pub ingress_class: Option<String>,
    /// How long a Deployment may take to become available, and a namespace to go.
    pub ready_timeout: Duration,
    /// The first wait between looks (doubling to 2 s).
    pub poll: Duration,
}

/// The namespace of an environment (stable when a pool member is renamed).
pub fn namespace_of(id: &str) -> String {
    format!("eod-{id}")
}

/// A label value: letters, digits, `-`, `_` and `.`, at most 63, starting
/// and ending with a letter or digit.
pub fn label_value(s: &str) -> String {
    let kept: String =
        s.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '-' }).take(63).collect();
    kept.trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_string()
}

/// A quantity `n` times over (`250m` × 3 = `750m`), for the quota's room.
pub fn scale(quantity: &str, n: u32) -> String {
    let digits = quantity.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
    let (number, suffix) = quantity.split_at(digits);
    let value: f64 = number.parse().unwrap_or(0.0) * f64::from(n);
    let shown = if value.fract() == 0.0 { format!("{value:.0}") } else { format!("{value}") };
    format!("{shown}{suffix}")
}

/// RFC 3339 UTC to the second (`2026-12-08T01:02:03Z`).
fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Every object of an environment, rendered.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub namespace: Namespace,
    pub quota: ResourceQuota,
    pub limits: LimitRange,
    pub policy: NetworkPolicy,
    pub secret: Option<Secret>,
    pub deployment: Deployment,
    pub service: Service,
    pub ingress: Ingress,
}

/// The Deployment's name: `app`, or `app-<colour>` under blue-green.
pub fn deployment_name(colour: Option<&str>) -> String {
    colour.map_or_else(|| "app".to_string(), |c| format!("app-{c}"))
}

/// Reads a rendered object into its k8s-openapi type; a field the type
/// does not know (it would be dropped silently) is refused.
fn typed<T: serde::de::DeserializeOwned + serde::Serialize>(what: &str, v: Value) -> Result<T, DriverError> {
    let fail = |e: String| DriverError::Permanent(format!("rendering the {what}: {e}"));
    let object: T = serde_json::from_value(v.clone()).map_err(|e| fail(e.to_string()))?;
    let back = serde_json::to_value(&object).map_err(|e| fail(e.to_string()))?;
    if back != v {
        return Err(fail(format!("fields the API does not know: rendered {v}, typed {back}")));
    }
    Ok(object)
}

/// Renders the environment's objects; `colour` names the blue-green colour
/// the Deployment and the Service's selector are for.
pub fn render(
    spec: &EnvSpec,
    k: &KubeSpec,
    settings: &KubeSettings,
    colour: Option<&str>,
) -> Result<Rendered, DriverError> {
    let ns = namespace_of(&spec.id);
    let who = &spec.identity;
    let mut labels = BTreeMap::from([
        (OWNER.to_string(), label_value(&k.owner)),
        (ENV_ID.to_string(), spec.id.clone()),
        ("environment.on-demand/name".to_string(), label_value(&spec.name)),
        ("environment.on-demand/team".to_string(), label_value(&who.team)),
        ("environment.on-demand/app".to_string(), label_value(&who.app)),
        ("environment.on-demand/tier".to_string(), label_value(&spec.tier)),
        ("app.kubernetes.io/managed-by".to_string(), MANAGER.to_string()),
    ]);
    if let Some(pr) = who.pr {
        labels.insert("environment.on-demand/pr".into(), pr.to_string());
    }
    let mut annotations = BTreeMap::from([(CREATED_AT.to_string(), rfc3339(k.created_at_ms))]);
    if let Some(at) = k.expires_at_ms {
        annotations.insert(EXPIRES_AT.into(), rfc3339(at));
    }
    let commit = spec.source.as_ref().map(|s| s.commit.clone()).or_else(|| who.commit.clone()).unwrap_or_default();
    let namespace = typed(
        "namespace",
        json!({ "apiVersion": "v1", "kind": "Namespace",
                "metadata": { "name": ns, "labels": labels, "annotations": annotations } }),
    )?;
    let meta =
        |name: &str| json!({ "name": name, "namespace": ns, "labels": { "app.kubernetes.io/managed-by": MANAGER } });
    let quota = typed(
        "quota",
        json!({ "apiVersion": "v1", "kind": "ResourceQuota", "metadata": meta("eod-quota"),
                // Room for two versions and a surge (rolling, blue-green).
                "spec": { "hard": { "pods": "4", "requests.cpu": scale(&k.cpu, 3),
                                    "requests.memory": scale(&k.memory, 3), "limits.memory": scale(&k.memory, 3) } } }),
    )?;
    let limits = typed(
        "limit range",
        json!({ "apiVersion": "v1", "kind": "LimitRange", "metadata": meta("eod-limits"),
                "spec": { "limits": [{ "type": "Container",
                                       "default": { "memory": k.memory },
                                       "defaultRequest": { "cpu": k.cpu, "memory": k.memory } }] } }),
    )?;
    let from_ingress = json!([{ "from": [{ "namespaceSelector": {
        "matchLabels": { "kubernetes.io/metadata.name": settings.ingress_namespace } } }] }]);
    let policy_spec = if k.compliance {
        json!({ "podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": from_ingress,
                "egress": [{ "to": [{ "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": "kube-system" } } }],
                             "ports": [{ "protocol": "UDP", "port": 53 }, { "protocol": "TCP", "port": 53 }] }] })
    } else {
        json!({ "podSelector": {}, "policyTypes": ["Ingress"], "ingress": from_ingress })
    };
    let policy = typed(
        "network policy",
        json!({ "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta("default-deny"),
                "spec": policy_spec }),
    )?;
    let secret = if spec.secrets.0.is_empty() {
        None
    } else {
        Some(typed(
            "secret",
            json!({ "apiVersion": "v1", "kind": "Secret", "metadata": meta("app-secrets"), "type": "Opaque",
                    "stringData": spec.secrets.0 }),
        )?)
    };
    let mut pod_labels = BTreeMap::from([("app.kubernetes.io/name".to_string(), "app".to_string())]);
    if let Some(c) = colour {
        pod_labels.insert(COLOUR.into(), c.into());
    }
    let mut env: Vec<Value> = vec![json!({ "name": "PORT", "value": k.port.to_string() })];
    for (name, value) in [("EOD_ENV_NAME", &spec.name), ("EOD_ENV_TIER", &spec.tier), ("EOD_ENV_COMMIT", &commit)] {
        env.push(json!({ "name": name, "value": value }));
    }
    env.extend(spec.env.iter().map(|(name, value)| json!({ "name": name, "value": value })));
    let strategy = match k.strategy {
        DeploymentStrategy::Rolling => {
            json!({ "type": "RollingUpdate", "rollingUpdate": { "maxSurge": "25%", "maxUnavailable": "25%" } })
        }
        // Each colour is replaced whole; the switch between colours is the Service's.
        DeploymentStrategy::Recreate | DeploymentStrategy::BlueGreen => json!({ "type": "Recreate" }),
    };
    let mut container = json!({
        "name": "app", "image": k.image.replace("{commit}", &commit),
        "ports": [{ "name": "http", "containerPort": k.port }],
        "env": env,
        "readinessProbe": { "httpGet": { "path": spec.health_path, "port": "http" },
                            "periodSeconds": k.probe_period_seconds, "failureThreshold": k.failure_threshold },
        "resources": { "requests": { "cpu": k.cpu, "memory": k.memory }, "limits": { "memory": k.memory } },
        // A team's branch is untrusted: no root, no new privileges, no capabilities.
        "securityContext": { "allowPrivilegeEscalation": false, "capabilities": { "drop": ["ALL"] } },
    });
    if secret.is_some() {
        container["envFrom"] = json!([{ "secretRef": { "name": "app-secrets" } }]);
    }
    let name = deployment_name(colour);
    let deployment = typed(
        "deployment",
        json!({ "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": { "name": name, "namespace": ns, "labels": { "app.kubernetes.io/managed-by": MANAGER },
                              "annotations": { COMMIT: commit } },
                "spec": { "replicas": 1, "selector": { "matchLabels": pod_labels }, "strategy": strategy,
                          "template": { "metadata": { "labels": pod_labels, "annotations": { COMMIT: commit } },
                                        "spec": { "automountServiceAccountToken": false, "enableServiceLinks": false,
                                                  "securityContext": { "runAsNonRoot": true,
                                                                       "seccompProfile": { "type": "RuntimeDefault" } },
                                                  "containers": [container] } } } }),
    )?;
    let service = typed(
        "service",
        json!({ "apiVersion": "v1", "kind": "Service", "metadata": meta("app"),
                "spec": { "selector": pod_labels, "ports": [{ "name": "http", "port": 80, "targetPort": "http" }] } }),
    )?;
    let mut ingress_spec = json!({ "rules": [{ "host": format!("{}.{}", spec.name, settings.preview_domain),
        "http": { "paths": [{ "path": "/", "pathType": "Prefix",
                              "backend": { "service": { "name": "app", "port": { "name": "http" } } } }] } }] });
    if let Some(class) = &settings.ingress_class {
        ingress_spec["ingressClassName"] = json!(class);
    }
    let ingress = typed(
        "ingress",
        json!({ "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta("app"), "spec": ingress_spec }),
    )?;
    Ok(Rendered { namespace, quota, limits, policy, secret, deployment, service, ingress })
}

pub struct KubeDriver {
    client: kube::Client,
    settings: KubeSettings,
    /// Environments this driver holds (from its creates and the sweep's
    /// lists), so calls that know only an id go to the right driver
    /// without asking the cluster.
    known: Mutex<HashSet<String>>,
    /// Where each environment's Service answers (its cluster IP is fixed for its life).
    endpoints: Mutex<HashMap<String, std::net::SocketAddr>>,
}

fn kube_err(e: kube::Error) -> DriverError {
    match &e {
        // A bad object (422), or refused for good (403 other than a
        // terminating namespace, 404 of a kind the cluster lacks).
        kube::Error::Api(s) if s.code == 422 => {
            DriverError::Permanent(format!("the cluster refused it: {}", s.message))
        }
        kube::Error::Api(s) => DriverError::Failed(format!("the cluster answered {}: {}", s.code, s.message)),
        _ => DriverError::Failed(format!("the cluster: {e}")),
    }
}

impl KubeDriver {
    pub fn new(client: kube::Client, settings: KubeSettings) -> KubeDriver {
        KubeDriver { client, settings, known: Mutex::default(), endpoints: Mutex::default() }
    }

    /// Whether this driver made (or began making) the environment, as far as it knows.
    pub fn knows(&self, id: &str) -> bool {
        self.known.lock().map(|k| k.contains(id)).unwrap_or(false)
    }

    fn remember(&self, id: &str) {
        if let Ok(mut k) = self.known.lock() {
            k.insert(id.to_string());
        }
    }

    fn forget(&self, id: &str) {
        if let Ok(mut k) = self.known.lock() {
            k.remove(id);
        }
        if let Ok(mut e) = self.endpoints.lock() {
            e.remove(id);
        }
    }

    fn api<K>(&self, ns: &str) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), ns)
    }

    /// Server-side apply under the portal's field manager; a conflict (409)
    /// is tried again a few times.
    async fn apply<K>(&self, api: &Api<K>, obj: &K) -> Result<K, DriverError>
    where
        K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
    {
        let name = obj.meta().name.clone().unwrap_or_default();
        let params = PatchParams::apply(MANAGER).force();
        let mut wait = self.settings.poll;
        let mut attempt = 1;
        loop {
            match api.patch(&name, &params, &Patch::Apply(obj)).await {
                Ok(done) => return Ok(done),
                Err(kube::Error::Api(s)) if s.code == 409 && attempt < 5 => {
                    tracing::debug!(%name, attempt, "conflict applying; trying again");
                    attempt += 1;
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
                Err(e) => return Err(kube_err(e)),
            }
        }
    }

    /// The colour the Service sends traffic to (`None`: not blue-green, or no Service yet).
    async fn serving_colour(&self, ns: &str) -> Result<Option<String>, DriverError> {
        let service = self.api::<Service>(ns).get_opt("app").await.map_err(kube_err)?;
        Ok(service.and_then(|s| s.spec?.selector?.get(COLOUR).cloned()))
    }

    async fn sleep_step(&self, wait: &mut Duration, deadline: Instant) {
        tokio::time::sleep((*wait).min(deadline.saturating_duration_since(Instant::now()))).await;
        *wait = (*wait * 2).min(Duration::from_secs(2));
    }

    /// Waits until the Deployment has observed its newest spec and has all
    /// its replicas available.
    async fn wait_available(&self, ns: &str, name: &str) -> Result<(), DriverError> {
        let deadline = Instant::now() + self.settings.ready_timeout;
        let mut wait = self.settings.poll;
        loop {
            let why = match self.api::<Deployment>(ns).get_opt(name).await.map_err(kube_err)? {
                None => "it is gone".to_string(),
                Some(d) => match available(&d) {
                    Ok(()) => return Ok(()),
                    Err(why) => why,
                },
            };
            if Instant::now() >= deadline {
                return Err(DriverError::Failed(format!(
                    "deployment {name} in {ns} was not available within {} s: {why}",
                    self.settings.ready_timeout.as_secs()
                )));
            }
            self.sleep_step(&mut wait, deadline).await;
        }
    }

    /// Applies everything of the environment for `colour`.
    async fn apply_all(&self, spec: &EnvSpec, k: &KubeSpec, colour: Option<&str>) -> Result<Rendered, DriverError> {
        let r = render(spec, k, &self.settings, colour)?;
        let ns = namespace_of(&spec.id);
        self.remember(&spec.id);
        self.apply(&Api::<Namespace>::all(self.client.clone()), &r.namespace).await?;
        self.apply(&self.api::<ResourceQuota>(&ns), &r.quota).await?;
        self.apply(&self.api::<LimitRange>(&ns), &r.limits).await?;
        self.apply(&self.api::<NetworkPolicy>(&ns), &r.policy).await?;
        match &r.secret {
            Some(secret) => {
                self.apply(&self.api::<Secret>(&ns), secret).await?;
            }
            // Secrets taken away (or a fork's pull request): none left behind.
            None => match self.api::<Secret>(&ns).delete("app-secrets", &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(kube_err(e)),
            },
        }
        self.apply(&self.api::<Deployment>(&ns), &r.deployment).await?;
        Ok(r)
    }

    /// Points the Service (and the Ingress) at the rendered colour.
    async fn route(&self, ns: &str, r: &Rendered) -> Result<(), DriverError> {
        self.apply(&self.api::<Service>(ns), &r.service).await?;
        self.apply(&self.api::<Ingress>(ns), &r.ingress).await?;
        Ok(())
    }

    fn kube_spec<'a>(&self, spec: &'a EnvSpec) -> Result<&'a KubeSpec, DriverError> {
        spec.kube.as_ref().ok_or_else(|| DriverError::Permanent("not a kubernetes blueprint".into()))
    }
}

/// Whether a Deployment is available, or why not.
fn available(d: &Deployment) -> Result<(), String> {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let generation = d.metadata.generation.unwrap_or(0);
    let status = d.status.clone().unwrap_or_default();
    let have = status.available_replicas.unwrap_or(0);
    if status.observed_generation.unwrap_or(0) >= generation
        && have >= want
        && status.updated_replicas.unwrap_or(have) >= want
    {
        return Ok(());
    }
    let condition = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.status != "True")
        .and_then(|c| c.message)
        .unwrap_or_default();
    Err(format!("{have} of {want} replicas available {condition}").trim().to_string())
}

#[async_trait]
impl Driver for KubeDriver {
    async fn provision(&self, spec: &EnvSpec) -> Result<serde_json::Value, DriverError> {
        let k = self.kube_spec(spec)?;
        let ns = namespace_of(&spec.id);
        // A restart keeps the colour that serves; a new blue-green one starts blue.
        let colour = match k.strategy {
            DeploymentStrategy::BlueGreen => {
                Some(self.serving_colour(&ns).await.ok().flatten().unwrap_or("blue".into()))
            }
            _ => None,
        };
        let r = self.apply_all(spec, k, colour.as_deref()).await?;
        let name = deployment_name(colour.as_deref());
        self.wait_available(&ns, &name).await?;
        self.route(&ns, &r).await?;
        Ok(json!({ "driver": "kubernetes", "namespace": ns, "deployment": name,
                   "host": format!("{}.{}", spec.name, self.settings.preview_domain), "image": k.image }))
    }

    async fn snapshot(&self, spec: &EnvSpec) -> Result<String, DriverError> {
        Ok(format!("none: namespace {} keeps no portal-managed data", namespace_of(&spec.id)))
    }

    async fn teardown(&self, id: &str) -> Result<(), DriverError> {
        let namespaces = Api::<Namespace>::all(self.client.clone());
        let ns = namespace_of(id);
        match namespaces.delete(&ns, &DeleteParams::foreground()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(kube_err(e)),
        }
        // Gone only when its finalizers have run and everything in it went.
        let deadline = Instant::now() + self.settings.ready_timeout;
        let mut wait = self.settings.poll;
        while namespaces.get_opt(&ns).await.map_err(kube_err)?.is_some() {
            if Instant::now() >= deadline {
                return Err(DriverError::Failed(format!(
                    "namespace {ns} is still terminating after {} s",
                    self.settings.ready_timeout.as_secs()
                )));
            }
            self.sleep_step(&mut wait, deadline).await;
        }
        self.forget(id);
        Ok(())
    }

    async fn owned(&self) -> Result<Vec<String>, DriverError> {
        let namespaces = Api::<Namespace>::all(self.client.clone());
        let list =
            namespaces.list(&ListParams::default().labels(&format!("{OWNER},{ENV_ID}"))).await.map_err(kube_err)?;
        let ids: Vec<String> = list
            .items
            .iter()
            .filter_map(|n| n.metadata.labels.as_ref()?.get(ENV_ID).cloned())
            .filter(|id| super::local::is_portal_id(id))
            .collect();
        for id in &ids {
            self.remember(id);
        }
        Ok(ids)
    }

    /// The Service's cluster IP: reachable when the portal runs in the cluster.
    async fn endpoint(&self, id: &str) -> Option<std::net::SocketAddr> {
        if let Some(addr) = self.endpoints.lock().ok()?.get(id) {
            return Some(*addr);
        }
        let service = self.api::<Service>(&namespace_of(id)).get_opt("app").await.ok()??;
        let ip: std::net::IpAddr = service.spec?.cluster_ip?.parse().ok()?;
        let addr = std::net::SocketAddr::new(ip, 80);
        self.endpoints.lock().ok()?.insert(id.to_string(), addr);
        Some(addr)
    }

    async fn deploy(
        &self,
        spec: &EnvSpec,
        strategy: DeploymentStrategy,
        resume: bool,
    ) -> Result<serde_json::Value, DriverError> {
        let k = KubeSpec { strategy, ..self.kube_spec(spec)?.clone() };
        let ns = namespace_of(&spec.id);
        let serving = self.serving_colour(&ns).await?;
        let colour = match strategy {
            DeploymentStrategy::BlueGreen => {
                let now = serving.clone().unwrap_or_else(|| "blue".into());
                let commit = spec.source.as_ref().map(|s| s.commit.clone()).unwrap_or_default();
                // A retry after the switch: the serving colour runs this commit already.
                if resume && self.serving_commit(&spec.id).await.as_deref() == Some(commit.as_str()) {
                    return Ok(json!({ "kept": true, "colour": now }));
                }
                Some(if now == "blue" { "green" } else { "blue" }.to_string())
            }
            _ => None,
        };
        let r = self.apply_all(spec, &k, colour.as_deref()).await?;
        let name = deployment_name(colour.as_deref());
        // Under rolling and blue-green the old version keeps serving meanwhile.
        self.wait_available(&ns, &name).await.map_err(|e| match e {
            DriverError::Failed(m) => DriverError::Permanent(m),
            other => other,
        })?;
        self.route(&ns, &r).await?;
        if colour.is_none() && serving.is_some() {
            // Was blue-green, is not now: the colours go.
            for c in ["blue", "green"] {
                let _ = self.api::<Deployment>(&ns).delete(&deployment_name(Some(c)), &DeleteParams::default()).await;
            }
        }
        Ok(json!({ "kept": colour.is_some() && serving.is_some(), "colour": colour, "deployment": name }))
    }

    async fn roll_back(&self, id: &str) -> Result<serde_json::Value, DriverError> {
        let ns = namespace_of(id);
        let Some(now) = self.serving_colour(&ns).await? else {
            return Err(DriverError::Permanent("not blue-green: no kept version to go back to".into()));
        };
        let back = if now == "blue" { "green" } else { "blue" };
        match self.api::<Deployment>(&ns).get_opt(&deployment_name(Some(back))).await.map_err(kube_err)? {
            Some(d) if available(&d).is_ok() => {}
            _ => return Err(DriverError::Permanent(format!("the kept colour {back} does not run"))),
        }
        // The whole Service again with the other colour: an apply that left
        // out its ports would take them away.
        let services = self.api::<Service>(&ns);
        let Some(mut service) = services.get_opt("app").await.map_err(kube_err)? else {
            return Err(DriverError::Permanent("the environment has no Service".into()));
        };
        service.metadata = ObjectMeta {
            name: service.metadata.name.clone(),
            namespace: service.metadata.namespace.clone(),
            labels: service.metadata.labels.clone(),
            ..ObjectMeta::default()
        };
        service.status = None;
        if let Some(selector) = service.spec.as_mut().and_then(|s| s.selector.as_mut()) {
            selector.insert(COLOUR.into(), back.into());
        }
        self.apply(&services, &service).await?;
        Ok(json!({ "colour": back, "kept": true }))
    }

    async fn retire(&self, id: &str) -> Result<(), DriverError> {
        let ns = namespace_of(id);
        let Some(now) = self.serving_colour(&ns).await? else { return Ok(()) };
        let old = deployment_name(Some(if now == "blue" { "green" } else { "blue" }));
        match self.api::<Deployment>(&ns).delete(&old, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(kube_err(e)),
        }
    }

    async fn serving_commit(&self, id: &str) -> Option<String> {
        let ns = namespace_of(id);
        let colour = self.serving_colour(&ns).await.ok()?;
        let d = self.api::<Deployment>(&ns).get_opt(&deployment_name(colour.as_deref())).await.ok()??;
        d.metadata.annotations?.get(COMMIT).cloned()
    }

    async fn probe(&self, id: &str, _health_path: &str) -> Probe {
        // The kubelet runs the readiness probe; the portal reads its verdict.
        let ns = namespace_of(id);
        let colour = match self.serving_colour(&ns).await {
            Ok(c) => c,
            Err(e) => return Probe::Failed(e.to_string()),
        };
        match self.api::<Deployment>(&ns).get_opt(&deployment_name(colour.as_deref())).await {
            Ok(None) => Probe::Gone,
            Ok(Some(d)) => match available(&d) {
                Ok(()) => Probe::Passed,
                Err(why) => Probe::Failed(why),
            },
            Err(e) => Probe::Failed(kube_err(e).to_string()),
        }
    }

    async fn log_tail(&self, id: &str, _max_bytes: u64) -> Option<String> {
        self.knows(id)
            .then(|| format!("Runs in namespace {}: kubectl logs -n {} deploy/app", namespace_of(id), namespace_of(id)))
    }

    async fn snapshots(&self, _name: &str) -> Vec<String> {
        vec![]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::fake_cluster::FakeCluster;
    use crate::drivers::{Identity, Secrets, Seed, SourceSpec, TemplateSpec};

    const ID: &str = "0b5f4a52-6f1e-4c3a-9d7e-2a1b3c4d5e6f";

    fn settings() -> KubeSettings {
        KubeSettings {
            preview_domain: "preview.example.com".into(),
            ingress_namespace: "ingress-nginx".into(),
            ingress_class: Some("nginx".into()),
            ready_timeout: Duration::from_secs(5),
            poll: Duration::from_millis(10),
        }
    }

    fn spec(id: &str, tier: &str, strategy: DeploymentStrategy, commit: &str) -> EnvSpec {
        let period = if tier == "staging" || tier == "production" { 60 } else { 30 };
        EnvSpec {
            id: id.into(),
            name: "shop-main-ab12".into(),
            tier: tier.into(),
            source: Some(SourceSpec { app_id: "app-1".into(), commit: commit.into() }),
            build: None,
            build_timeout: Duration::from_secs(1),
            start: String::new(),
            health_path: "/up".into(),
            template: TemplateSpec { key: "empty".into(), seed: Seed::Empty },
            migrate: None,
            env: [("MODE".to_string(), "preview".to_string())].into(),
            secrets: Secrets([("STRIPE_KEY".to_string(), "sk_test_1".to_string())].into()),
            limits: app::domain::tier::WorkloadLimits::DEFAULT,
            script: None,
            identity: Identity {
                team: "payments".into(),
                app: "shop".into(),
                git_ref: Some("main".into()),
                commit: Some(commit.into()),
                pr: Some(42),
            },
            kube: Some(KubeSpec {
                image: format!("registry.example.com/shop:{commit}"),
                port: 3000,
                cpu: "250m".into(),
                memory: "256Mi".into(),
                strategy,
                probe_period_seconds: period,
                failure_threshold: 3,
                compliance: tier == "preview-compliance",
                owner: "alice@example.com".into(),
                created_at_ms: 1_796_000_000_000,
                expires_at_ms: Some(1_796_003_600_000),
            }),
        }
    }

    fn rendered(tier: &str, strategy: DeploymentStrategy, colour: Option<&str>) -> Value {
        let s = spec(ID, tier, strategy, "c0ffee");
        let r = render(&s, s.kube.as_ref().unwrap(), &settings(), colour).unwrap();
        json!({ "namespace": r.namespace, "quota": r.quota, "limits": r.limits, "policy": r.policy,
                "secret": r.secret, "deployment": r.deployment, "service": r.service, "ingress": r.ingress })
    }

    #[test]
    fn the_rendered_objects_follow_the_tier_and_are_labelled_for_cleanup() {
        let preview = rendered("preview-full", DeploymentStrategy::Recreate, None);
        let ns = &preview["namespace"]["metadata"];
        assert_eq!(ns["name"], format!("eod-{ID}"));
        assert_eq!(ns["labels"][OWNER], "alice-example.com");
        assert_eq!(ns["labels"][ENV_ID], ID);
        assert_eq!(ns["labels"]["environment.on-demand/team"], "payments");
        assert_eq!(ns["labels"]["environment.on-demand/app"], "shop");
        assert_eq!(ns["labels"]["environment.on-demand/tier"], "preview-full");
        assert_eq!(ns["labels"]["environment.on-demand/pr"], "42");
        assert_eq!(ns["annotations"][CREATED_AT], "2026-11-30T00:53:20Z");
        assert!(
            ns["annotations"][CREATED_AT].as_str().unwrap().ends_with('Z'),
            "UTC: {}",
            ns["annotations"][CREATED_AT]
        );
        assert_eq!(ns["annotations"][EXPIRES_AT], rfc3339(1_796_003_600_000));
        let d = &preview["deployment"];
        assert_eq!(d["metadata"]["name"], "app");
        assert_eq!(d["spec"]["strategy"], json!({ "type": "Recreate" }));
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "registry.example.com/shop:c0ffee");
        assert_eq!(c["readinessProbe"]["periodSeconds"], 30);
        assert_eq!(c["readinessProbe"]["failureThreshold"], 3);
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/up");
        assert_eq!(c["resources"]["requests"], json!({ "cpu": "250m", "memory": "256Mi" }));
        assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
        assert_eq!(d["spec"]["template"]["spec"]["automountServiceAccountToken"], false);
        // Secrets are a Secret the pod reads, never values in the Deployment.
        assert_eq!(c["envFrom"][0]["secretRef"]["name"], "app-secrets");
        assert!(!d.to_string().contains("sk_test_1"));
        assert_eq!(preview["secret"]["stringData"]["STRIPE_KEY"], "sk_test_1");
        assert!(c["env"].as_array().unwrap().contains(&json!({ "name": "MODE", "value": "preview" })));
        assert_eq!(preview["quota"]["spec"]["hard"]["requests.cpu"], "750m");
        assert_eq!(preview["quota"]["spec"]["hard"]["limits.memory"], "768Mi");
        assert_eq!(preview["policy"]["spec"]["policyTypes"], json!(["Ingress"]));
        assert_eq!(
            preview["policy"]["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"]
                ["kubernetes.io/metadata.name"],
            "ingress-nginx"
        );
        assert_eq!(preview["ingress"]["spec"]["rules"][0]["host"], "shop-main-ab12.preview.example.com");
        assert_eq!(preview["ingress"]["spec"]["ingressClassName"], "nginx");

        let staging = rendered("staging", DeploymentStrategy::Rolling, None);
        assert_eq!(
            staging["deployment"]["spec"]["strategy"],
            json!({ "type": "RollingUpdate", "rollingUpdate": { "maxSurge": "25%", "maxUnavailable": "25%" } })
        );
        assert_eq!(
            staging["deployment"]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["periodSeconds"],
            60
        );

        let production = rendered("production", DeploymentStrategy::BlueGreen, Some("green"));
        assert_eq!(production["deployment"]["metadata"]["name"], "app-green");
        assert_eq!(production["service"]["spec"]["selector"][COLOUR], "green");
        assert_eq!(production["deployment"]["spec"]["selector"]["matchLabels"][COLOUR], "green");

        let compliance = rendered("preview-compliance", DeploymentStrategy::Recreate, None);
        assert_eq!(compliance["policy"]["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        assert_eq!(compliance["policy"]["spec"]["egress"][0]["ports"][0]["port"], 53);
    }

    #[test]
    fn a_field_the_api_does_not_know_is_refused() {
        let bad = json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "x" }, "spek": {} });
        assert!(matches!(typed::<Namespace>("namespace", bad), Err(DriverError::Permanent(_))));
        assert_eq!(label_value("Alice Nakamura <alice@x>"), "Alice-Nakamura--alice-x");
        assert_eq!(scale("1.5Gi", 3), "4.5Gi");
        assert_eq!(scale("1", 3), "3");
    }

    fn driver(fake: &FakeCluster) -> KubeDriver {
        KubeDriver::new(fake.client(), settings())
    }

    #[tokio::test]
    async fn create_becomes_ready_and_destroy_waits_until_the_namespace_is_gone() {
        let fake = FakeCluster::new(Duration::from_millis(200));
        let d = driver(&fake);
        let facts = d.provision(&spec(ID, "preview-full", DeploymentStrategy::Recreate, "c0ffee")).await.unwrap();
        let ns = namespace_of(ID);
        assert_eq!(facts["namespace"], ns);
        for (resource, name) in [
            ("resourcequotas", "eod-quota"),
            ("limitranges", "eod-limits"),
            ("networkpolicies", "default-deny"),
            ("secrets", "app-secrets"),
            ("deployments", "app"),
            ("services", "app"),
            ("ingresses", "app"),
        ] {
            assert_eq!(fake.names(resource, &ns), vec![name.to_string()], "{resource}");
        }
        assert!(d.knows(ID));
        assert!(d.endpoint(ID).await.is_some_and(|a| a.port() == 80 && a.ip().to_string().starts_with("10.96.")));
        assert!(matches!(d.probe(ID, "/up").await, Probe::Passed));
        assert_eq!(d.serving_commit(ID).await.as_deref(), Some("c0ffee"));
        // Applying again (a retried job) changes nothing.
        let before = fake.get("deployments", &ns, "app").unwrap()["metadata"]["generation"].clone();
        d.provision(&spec(ID, "preview-full", DeploymentStrategy::Recreate, "c0ffee")).await.unwrap();
        assert_eq!(fake.get("deployments", &ns, "app").unwrap()["metadata"]["generation"], before);

        d.teardown(ID).await.unwrap();
        assert!(fake.get("namespaces", "", &ns).is_none());
        assert!(fake.names("deployments", &ns).is_empty(), "everything in it went with it");
        let looks = fake.state().calls.iter().filter(|c| *c == &format!("GET /api/v1/namespaces/{ns}")).count();
        assert!(looks >= 2, "the destroy waited for the namespace to go ({looks} looks)");
        assert!(!d.knows(ID));
        assert!(matches!(d.probe(ID, "/up").await, Probe::Gone));
        d.teardown(ID).await.unwrap();
    }

    #[tokio::test]
    async fn killed_mid_create_a_restart_converges_with_nothing_doubled() {
        let fake = FakeCluster::new(Duration::from_millis(50));
        fake.state().hold_unavailable = true;
        let first = driver(&fake);
        let s = spec(ID, "preview-full", DeploymentStrategy::Recreate, "c0ffee");
        let creating = tokio::spawn(async move { first.provision(&s).await });
        let ns = namespace_of(ID);
        while fake.get("deployments", &ns, "app").is_none() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // kill -9: the create stops where it is (no Service, no Ingress yet).
        creating.abort();
        assert!(fake.get("services", &ns, "app").is_none());
        fake.state().hold_unavailable = false;
        let restarted = driver(&fake);
        assert_eq!(restarted.owned().await.unwrap(), vec![ID.to_string()]);
        restarted.provision(&spec(ID, "preview-full", DeploymentStrategy::Recreate, "c0ffee")).await.unwrap();
        let namespaces = fake.names("namespaces", "");
        assert_eq!(namespaces, vec![ns.clone()]);
        for resource in ["deployments", "services", "ingresses", "secrets", "resourcequotas"] {
            assert_eq!(fake.names(resource, &ns).len(), 1, "{resource}");
        }
    }

    #[tokio::test]
    async fn a_deployment_that_never_becomes_available_fails_with_why() {
        let fake = FakeCluster::new(Duration::from_millis(10));
        fake.state().hold_unavailable = true;
        let mut d = driver(&fake);
        d.settings.ready_timeout = Duration::from_millis(200);
        let err = d.provision(&spec(ID, "preview-full", DeploymentStrategy::Recreate, "c0ffee")).await.unwrap_err();
        assert!(err.to_string().contains("pulling the image"), "{err}");
    }

    #[tokio::test]
    async fn the_sweep_finds_a_foreign_labelled_namespace_and_leaves_others_alone() {
        let fake = FakeCluster::new(Duration::from_millis(10));
        let orphan = "7d1c1f0e-1111-4222-8333-944455556666";
        fake.insert(
            "namespaces",
            "",
            &namespace_of(orphan),
            json!({ "apiVersion": "v1", "kind": "Namespace",
            "metadata": { "name": namespace_of(orphan), "labels": { OWNER: "bob", ENV_ID: orphan } } }),
        );
        fake.insert(
            "namespaces",
            "",
            "team-tools",
            json!({ "apiVersion": "v1", "kind": "Namespace",
            "metadata": { "name": "team-tools", "labels": { OWNER: "carol" } } }),
        );
        fake.insert(
            "namespaces",
            "",
            "kube-system",
            json!({ "apiVersion": "v1", "kind": "Namespace",
            "metadata": { "name": "kube-system" } }),
        );
        let d = driver(&fake);
        assert_eq!(d.owned().await.unwrap(), vec![orphan.to_string()]);
        assert!(d.knows(orphan));
        d.teardown(orphan).await.unwrap();
        assert_eq!(fake.names("namespaces", ""), vec!["kube-system".to_string(), "team-tools".to_string()]);
    }

    #[tokio::test]
    async fn conflicts_are_tried_again_and_too_many_fail_the_step() {
        let fake = FakeCluster::new(Duration::from_millis(10));
        fake.state().conflicts = 2;
        let d = driver(&fake);
        d.provision(&spec(ID, "preview-full", DeploymentStrategy::Recreate, "c0ffee")).await.unwrap();
        fake.state().conflicts = 50;
        let err = d.provision(&spec(ID, "preview-full", DeploymentStrategy::Recreate, "c0ffee")).await.unwrap_err();
        assert!(matches!(&err, DriverError::Failed(m) if m.contains("409")), "{err}");
    }

    #[tokio::test]
    async fn blue_green_switches_the_service_and_rolls_back_to_the_kept_colour() {
        let fake = FakeCluster::new(Duration::from_millis(10));
        let d = driver(&fake);
        let ns = namespace_of(ID);
        d.provision(&spec(ID, "production", DeploymentStrategy::BlueGreen, "aaaa")).await.unwrap();
        assert_eq!(fake.get("services", &ns, "app").unwrap()["spec"]["selector"][COLOUR], "blue");
        let facts = d
            .deploy(
                &spec(ID, "production", DeploymentStrategy::BlueGreen, "bbbb"),
                DeploymentStrategy::BlueGreen,
                false,
            )
            .await
            .unwrap();
        assert_eq!((facts["kept"].as_bool(), facts["colour"].as_str()), (Some(true), Some("green")));
        assert_eq!(fake.get("services", &ns, "app").unwrap()["spec"]["selector"][COLOUR], "green");
        assert_eq!(fake.names("deployments", &ns), vec!["app-blue".to_string(), "app-green".to_string()]);
        assert_eq!(d.serving_commit(ID).await.as_deref(), Some("bbbb"));
        d.roll_back(ID).await.unwrap();
        assert_eq!(d.serving_commit(ID).await.as_deref(), Some("aaaa"));
        d.retire(ID).await.unwrap();
        assert_eq!(fake.names("deployments", &ns), vec!["app-blue".to_string()]);
        // A rolling deployment replaces the one Deployment in place.
        let staging = "9a8b7c6d-1111-4222-8333-944455556666";
        d.provision(&spec(staging, "staging", DeploymentStrategy::Rolling, "aaaa")).await.unwrap();
        d.deploy(&spec(staging, "staging", DeploymentStrategy::Rolling, "cccc"), DeploymentStrategy::Rolling, false)
            .await
            .unwrap();
        assert_eq!(fake.names("deployments", &namespace_of(staging)), vec!["app".to_string()]);
        assert_eq!(d.serving_commit(staging).await.as_deref(), Some("cccc"));
    }

    /// Against a real cluster when `KUBECONFIG` names one (kind or k3d:
    /// see the README); skipped otherwise.
    #[tokio::test]
    async fn a_real_cluster_runs_and_removes_a_preview_when_kubeconfig_is_set() {
        if std::env::var_os("KUBECONFIG").is_none() {
            eprintln!("KUBECONFIG is not set: skipping the real-cluster test");
            return;
        }
        let client = kube::Client::try_default().await.expect("a client from KUBECONFIG");
        let mut s = settings();
        s.ready_timeout = Duration::from_secs(300);
        s.poll = Duration::from_millis(500);
        s.ingress_class = None;
        let d = KubeDriver::new(client, s);
        let id = "5e1f7a52-0000-4c3a-9d7e-2a1b3c4d5e6f";
        let mut env = spec(id, "preview-full", DeploymentStrategy::Recreate, "c0ffee");
        if let Some(k) = env.kube.as_mut() {
            k.image = "nginxinc/nginx-unprivileged:stable".into();
            k.port = 8080;
        }
        env.health_path = "/".into();
        d.provision(&env).await.unwrap();
        assert!(matches!(d.probe(id, "/").await, Probe::Passed));
        assert!(d.owned().await.unwrap().contains(&id.to_string()));
        d.teardown(id).await.unwrap();
        assert!(!d.owned().await.unwrap().contains(&id.to_string()));
    }
}
