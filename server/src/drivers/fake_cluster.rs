//! An in-process Kubernetes API server for the driver's tests (no API
//! server can run on CI's machines): a `tower::Service` handed to
//! `kube::Client::new` that keeps objects with resourceVersions and
//! generations, applies server-side (the applied object replaces the
//! portal's fields), answers 404/403/409 as the API does — a conflict on
//! demand, creation refused in a terminating namespace — and deletes a
//! namespace the way a cluster does: terminating first, gone with
//! everything in it after a delay. Deployments are available unless held.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// (resource, namespace or "" when cluster-scoped, name).
pub type Key = (String, String, String);

#[derive(Default)]
pub struct State {
    pub objects: BTreeMap<Key, Value>,
    version: u64,
    /// Namespaces being deleted, and when they go.
    terminating: BTreeMap<String, Instant>,
    /// The next this-many applies answer 409 Conflict.
    pub conflicts: u32,
    /// Deployments report no available replica while set.
    pub hold_unavailable: bool,
    pub deletion_delay: Duration,
    /// Every request, as `METHOD path`.
    pub calls: Vec<String>,
}

#[derive(Clone, Default)]
pub struct FakeCluster(pub Arc<Mutex<State>>);

impl FakeCluster {
    pub fn new(deletion_delay: Duration) -> FakeCluster {
        let fake = FakeCluster::default();
        fake.state().deletion_delay = deletion_delay;
        fake
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn client(&self) -> kube::Client {
        let fake = self.clone();
        let service = tower::service_fn(move |req: http::Request<kube::client::Body>| {
            let fake = fake.clone();
            async move { Ok::<_, std::convert::Infallible>(fake.handle(req).await) }
        });
        kube::Client::new(service, "default")
    }

    /// Objects of `resource` in namespace `ns`.
    pub fn names(&self, resource: &str, ns: &str) -> Vec<String> {
        let mut st = self.state();
        st.finish_deletions();
        st.objects.keys().filter(|(r, n, _)| r == resource && n == ns).map(|(_, _, name)| name.clone()).collect()
    }

    pub fn get(&self, resource: &str, ns: &str, name: &str) -> Option<Value> {
        let mut st = self.state();
        st.finish_deletions();
        st.objects.get(&(resource.into(), ns.into(), name.into())).cloned()
    }

    /// Puts an object in as if someone else made it.
    pub fn insert(&self, resource: &str, ns: &str, name: &str, object: Value) {
        self.state().objects.insert((resource.into(), ns.into(), name.into()), object);
    }

    async fn handle(&self, req: http::Request<kube::client::Body>) -> http::Response<Full<Bytes>> {
        let method = req.method().clone();
        let uri = req.uri().clone();
        let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let (code, answer) = {
            let mut st = self.state();
            st.finish_deletions();
            st.calls.push(format!("{method} {}", uri.path()));
            st.serve(&method, uri.path(), uri.query().unwrap_or(""), &body)
        };
        http::Response::builder()
            .status(code)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(answer.to_string())))
            .unwrap_or_default()
    }
}

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "code": code }),
    )
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `labels` match a selector like `a,b=c,!d,e!=f`.
fn matches(selector: &str, labels: &Value) -> bool {
    selector.split(',').filter(|t| !t.is_empty()).all(|term| {
        if let Some(key) = term.strip_prefix('!') {
            labels.get(key).is_none()
        } else if let Some((k, v)) = term.split_once("!=") {
            labels.get(k).and_then(Value::as_str) != Some(v)
        } else if let Some((k, v)) = term.split_once('=') {
            labels.get(k).and_then(Value::as_str) == Some(v.trim_start_matches('='))
        } else {
            labels.get(term).is_some()
        }
    })
}

impl State {
    fn finish_deletions(&mut self) {
        let now = Instant::now();
        let gone: Vec<String> = self.terminating.iter().filter(|(_, at)| **at <= now).map(|(n, _)| n.clone()).collect();
        for ns in gone {
            self.terminating.remove(&ns);
            self.objects.retain(|(r, n, name), _| !(n == &ns || (r == "namespaces" && name == &ns)));
        }
    }

    fn with_status(&self, resource: &str, mut object: Value) -> Value {
        if resource == "deployments" {
            let replicas = object["spec"]["replicas"].as_i64().unwrap_or(1);
            let generation = object["metadata"]["generation"].as_i64().unwrap_or(1);
            object["status"] = if self.hold_unavailable {
                json!({ "observedGeneration": generation, "replicas": replicas, "availableReplicas": 0,
                        "updatedReplicas": replicas,
                        "conditions": [{ "type": "Available", "status": "False", "message": "pulling the image" }] })
            } else {
                json!({ "observedGeneration": generation, "replicas": replicas, "availableReplicas": replicas,
                        "readyReplicas": replicas, "updatedReplicas": replicas,
                        "conditions": [{ "type": "Available", "status": "True" }] })
            };
        }
        object
    }

    fn serve(&mut self, method: &http::Method, path: &str, query: &str, body: &[u8]) -> (u16, Value) {
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let rest: &[&str] = match segs.as_slice() {
            ["api", "v1", rest @ ..] => rest,
            ["apis", _, _, rest @ ..] => rest,
            _ => return status(404, "NotFound", "no such API"),
        };
        let (resource, ns, name) = match rest {
            ["namespaces"] => ("namespaces", "", None),
            ["namespaces", n] => ("namespaces", "", Some(*n)),
            ["namespaces", ns, res] => (*res, *ns, None),
            ["namespaces", ns, res, n] => (*res, *ns, Some(*n)),
            _ => return status(404, "NotFound", "no such path"),
        };
        let key = |name: &str| (resource.to_string(), ns.to_string(), name.to_string());
        match (method.as_str(), name) {
            ("GET", Some(name)) => match self.objects.get(&key(name)) {
                Some(o) => (200, self.with_status(resource, o.clone())),
                None => status(404, "NotFound", &format!("{resource} {name:?} not found")),
            },
            ("GET", None) => {
                let selector =
                    query.split('&').find_map(|p| p.strip_prefix("labelSelector=")).map(decode).unwrap_or_default();
                let items: Vec<Value> = self
                    .objects
                    .iter()
                    .filter(|((r, n, _), o)| r == resource && n == ns && matches(&selector, &o["metadata"]["labels"]))
                    .map(|(_, o)| self.with_status(resource, o.clone()))
                    .collect();
                (
                    200,
                    json!({ "apiVersion": "v1", "kind": "List", "metadata": { "resourceVersion": self.version.to_string() }, "items": items }),
                )
            }
            ("PATCH", Some(name)) => {
                if self.conflicts > 0 {
                    self.conflicts -= 1;
                    return status(409, "Conflict", "Operation cannot be fulfilled: the object has been modified");
                }
                let Ok(mut object) = serde_json::from_slice::<Value>(body) else {
                    return status(400, "BadRequest", "not JSON");
                };
                if resource != "namespaces" {
                    if !self.objects.contains_key(&("namespaces".into(), String::new(), ns.into())) {
                        return status(404, "NotFound", &format!("namespaces {ns:?} not found"));
                    }
                    if self.terminating.contains_key(ns) {
                        return status(
                            403,
                            "Forbidden",
                            &format!("unable to create new content in namespace {ns} because it is being terminated"),
                        );
                    }
                }
                self.version += 1;
                let previous = self.objects.get(&key(name)).cloned();
                let generation = match &previous {
                    Some(p) if p["spec"] == object["spec"] => p["metadata"]["generation"].as_i64().unwrap_or(1),
                    Some(p) => p["metadata"]["generation"].as_i64().unwrap_or(1) + 1,
                    None => 1,
                };
                let meta = &mut object["metadata"];
                meta["resourceVersion"] = json!(self.version.to_string());
                meta["generation"] = json!(generation);
                meta["uid"] = previous
                    .as_ref()
                    .map(|p| p["metadata"]["uid"].clone())
                    .unwrap_or_else(|| json!(format!("uid-{}", self.version)));
                if let Some(p) = &previous {
                    // A terminating namespace stays terminating.
                    if let Some(at) = p["metadata"].get("deletionTimestamp") {
                        meta["deletionTimestamp"] = at.clone();
                    }
                }
                if resource == "services" && object["spec"].get("clusterIP").is_none() {
                    let ip = previous
                        .as_ref()
                        .and_then(|p| p["spec"].get("clusterIP").cloned())
                        .unwrap_or_else(|| json!(format!("10.96.0.{}", self.version % 250 + 1)));
                    object["spec"]["clusterIP"] = ip;
                }
                if resource == "namespaces" {
                    let phase = if self.terminating.contains_key(name) { "Terminating" } else { "Active" };
                    object["status"] = json!({ "phase": phase });
                }
                self.objects.insert(key(name), object.clone());
                (200, self.with_status(resource, object))
            }
            ("DELETE", Some(name)) => {
                let Some(object) = self.objects.get_mut(&key(name)) else {
                    return status(404, "NotFound", &format!("{resource} {name:?} not found"));
                };
                if resource == "namespaces" {
                    object["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
                    object["status"] = json!({ "phase": "Terminating" });
                    let answer = object.clone();
                    let delay = self.deletion_delay;
                    self.terminating.entry(name.to_string()).or_insert_with(|| Instant::now() + delay);
                    return (200, answer);
                }
                let answer = object.clone();
                self.objects.remove(&key(name));
                (200, answer)
            }
            _ => status(405, "MethodNotAllowed", "not in the fake"),
        }
    }
}
