//! The script driver: a blueprint's `create`, `status`, `destroy` and
//! (optional) `snapshot` commands make the environment's resources —
//! `terraform apply` in a workspace named after the environment, Pulumi, a
//! cloud CLI. The portal gives each step the environment's identity as
//! `EOD_ENV_*` variables and as JSON on stdin, reads what `create` made as
//! JSON on stdout (`{"url": …, "resources": [{"kind", "hourly_rate_micros"}]}`),
//! polls `status` until it prints `{"ready": true}`, keeps every step's
//! output in the environment's log, and stops a step at its time limit.
//! Steps are retried by the reconciler, so they must be idempotent (as
//! `terraform apply` and `destroy` are).
//!
//! The commands are a platform admin's (only they may save a script
//! blueprint) and run as the portal's user on its host, not in a workload's
//! sandbox.
//!
//! What it keeps, per environment, under `<data>/script/<id>/`: `steps.json`
//! (written before `create` runs, so a crash mid-create still leaves what
//! `destroy` needs), `outputs.json` (the last `create`'s output and commit),
//! `output.log` and `work/` (the steps' working directory and `HOME`).

use super::local::{is_portal_id, last_lines, tail};
use super::{Driver, DriverError, EnvSpec, Secrets};
use app::domain::health::Probe;
use app::domain::tier::DeploymentStrategy;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The commands of a script blueprint and how long each may run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptSteps {
    pub create: String,
    pub status: String,
    pub destroy: String,
    pub snapshot: Option<String>,
    pub timeout_secs: u64,
}

/// The most of a step's stdout read (its JSON is on the last line).
const MAX_STDOUT: u64 = 1 << 20;
/// A health probe's `status` run may take this long.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// What is recorded before `create` runs: enough to run `status` and
/// `destroy` later by the environment's id alone (no secret values).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Recorded {
    steps: ScriptSteps,
    /// `EOD_ENV_*` and the blueprint's plain variables.
    vars: BTreeMap<String, String>,
    /// The JSON each step reads on stdin.
    input: serde_json::Value,
}

/// What `create` printed (and the commit it made).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Outputs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default)]
    pub resources: Vec<ReportedResource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ReportedResource {
    pub kind: String,
    pub hourly_rate_micros: i64,
}

pub struct ScriptDriver {
    root: PathBuf,
    snapshots: PathBuf,
    /// The first wait between `status` runs (doubling to 5 s).
    poll: Duration,
    http: reqwest::Client,
}

impl ScriptDriver {
    pub fn new(data_dir: &Path) -> ScriptDriver {
        let data = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap_or_default();
        ScriptDriver {
            root: data.join("script"),
            snapshots: data.join("script-snapshots"),
            poll: Duration::from_millis(250),
            http,
        }
    }

    fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Whether this driver made (or began making) the environment.
    pub async fn holds(&self, id: &str) -> bool {
        is_portal_id(id) && matches!(tokio::fs::try_exists(self.dir(id).join("steps.json")).await, Ok(true))
    }

    async fn recorded(&self, id: &str) -> Option<Recorded> {
        let bytes = tokio::fs::read(self.dir(id).join("steps.json")).await.ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    async fn outputs(&self, id: &str) -> Option<Outputs> {
        let bytes = tokio::fs::read(self.dir(id).join("outputs.json")).await.ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Records the steps and identity (replacing an earlier record: a
    /// deployment's commit, an edited blueprint) before anything runs.
    async fn record(&self, spec: &EnvSpec) -> Result<Recorded, DriverError> {
        let Some(steps) = spec.script.clone() else {
            return Err(DriverError::Permanent("not a script blueprint".into()));
        };
        if !is_portal_id(&spec.id) {
            return Err(DriverError::Permanent(format!("{:?} is not an environment id", spec.id)));
        }
        let dir = self.dir(&spec.id);
        make_private_dir(&dir.join("work")).await?;
        let who = &spec.identity;
        let commit = spec.source.as_ref().map(|s| s.commit.clone()).or_else(|| who.commit.clone()).unwrap_or_default();
        let mut vars: BTreeMap<String, String> = spec.env.clone();
        for (name, value) in [
            ("EOD_ENV_ID", spec.id.clone()),
            ("EOD_ENV_NAME", spec.name.clone()),
            ("EOD_ENV_TEAM", who.team.clone()),
            ("EOD_ENV_APP", who.app.clone()),
            ("EOD_ENV_TIER", spec.tier.clone()),
            ("EOD_ENV_REF", who.git_ref.clone().unwrap_or_default()),
            ("EOD_ENV_COMMIT", commit.clone()),
            ("EOD_ENV_PR", who.pr.map(|n| n.to_string()).unwrap_or_default()),
        ] {
            vars.insert(name.into(), value);
        }
        let input = serde_json::json!({
            "id": spec.id, "name": spec.name, "team": who.team, "app": who.app, "tier": spec.tier,
            "ref": who.git_ref, "commit": (!commit.is_empty()).then_some(&commit), "pr": who.pr,
            "env": spec.env,
        });
        let rec = Recorded { steps, vars, input };
        let json = serde_json::to_vec_pretty(&rec).map_err(|e| DriverError::Failed(e.to_string()))?;
        write_atomic(&dir.join("steps.json"), &json).await?;
        Ok(rec)
    }

    /// Runs one step to its end or its time limit; its stderr and stdout go
    /// to the environment's log. Returns stdout.
    async fn run(
        &self,
        id: &str,
        step: &str,
        rec: &Recorded,
        secrets: &Secrets,
        extra: &[(&str, &str)],
        limit: Duration,
    ) -> Result<String, DriverError> {
        use std::process::Stdio;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let command = match step {
            "create" => rec.steps.create.as_str(),
            "status" => rec.steps.status.as_str(),
            "destroy" => rec.steps.destroy.as_str(),
            _ => rec.steps.snapshot.as_deref().unwrap_or("true"),
        };
        let dir = self.dir(id);
        let work = dir.join("work");
        make_private_dir(&work).await?;
        let log_path = dir.join("output.log");
        append(
            &log_path,
            &format!("--- {step} at {} ---\n", app::domain::time::utc_datetime(app::ssr::clock::now_ms())),
        )
        .await;
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path)?;
        let mut cmd = tokio::process::Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(command)
            .current_dir(&work)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()))
            .env("HOME", &work)
            .envs(&rec.vars)
            .envs(&secrets.0)
            .env("EOD_STEP", step)
            .envs(extra.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .process_group(0)
            .kill_on_drop(true);
        // A step dies with the portal (a crash, kill -9) rather than run on
        // unwatched: the restarted portal runs it again from the start.
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).map_err(std::io::Error::from)
            });
        }
        let started = Instant::now();
        let mut child = cmd.spawn()?;
        let pid = child.id();
        if let Some(mut stdin) = child.stdin.take() {
            let mut input = rec.input.clone();
            input["step"] = step.into();
            // A step that does not read stdin closes it early: not an error.
            let _ = stdin.write_all(input.to_string().as_bytes()).await;
        }
        let mut stdout = child.stdout.take().map(|s| s.take(MAX_STDOUT));
        let mut out = Vec::new();
        let finished = tokio::time::timeout(limit, async {
            // Into the log as it comes (a step stopped at its limit keeps
            // what it printed; lines stay in order with stderr's), and kept
            // for the JSON on its last line.
            if let Some(s) = stdout.as_mut() {
                let mut chunk = [0_u8; 8192];
                loop {
                    let n = s.read(&mut chunk).await?;
                    if n == 0 {
                        break;
                    }
                    append_bytes(&log_path, &chunk[..n]).await;
                    out.extend_from_slice(&chunk[..n]);
                }
            }
            child.wait().await
        })
        .await;
        let took = started.elapsed().as_secs_f64();
        let Ok(done) = finished else {
            // The whole group: a shell's children (terraform's providers) too.
            if let Some(pid) = pid {
                let _ =
                    nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
            }
            let _ = child.wait().await;
            append(&log_path, &format!("--- {step} stopped: over its {} s limit ---\n", limit.as_secs())).await;
            return Err(DriverError::Failed(format!(
                "{step} did not finish within {} s and was stopped",
                limit.as_secs()
            )));
        };
        let status = done?;
        let out = String::from_utf8_lossy(&out).into_owned();
        let newline = if out.ends_with('\n') || out.is_empty() { "" } else { "\n" };
        append(&log_path, &format!("{newline}--- {step}: {status} after {took:.1} s ---\n")).await;
        if !status.success() {
            // This run's output only, secret values masked: the reason is
            // stored, shown, notified and logged.
            let recent = tail(&log_path, 4_000).await;
            let mark = format!("--- {step} at ");
            let this_run = recent.rfind(&mark).map_or(recent.as_str(), |at| &recent[at..]);
            let mut why = last_lines(this_run, 8);
            for value in secrets.0.values().filter(|v| !v.is_empty()) {
                why = why.replace(value.as_str(), "[secret]");
            }
            return Err(DriverError::Failed(format!("{step} failed ({status}):\n{why}")));
        }
        Ok(out)
    }

    /// Runs `create`, then `status` until ready; records what it printed.
    async fn converge(&self, spec: &EnvSpec, extra: &[(&str, &str)]) -> Result<serde_json::Value, DriverError> {
        let rec = self.record(spec).await?;
        let limit = Duration::from_secs(rec.steps.timeout_secs);
        let out = self.run(&spec.id, "create", &rec, &spec.secrets, extra, limit).await?;
        let mut outputs = parse_outputs(&out)?;
        outputs.commit = rec.vars.get("EOD_ENV_COMMIT").filter(|c| !c.is_empty()).cloned();
        self.wait_ready(&spec.id, &rec, &spec.secrets, limit).await?;
        let json = serde_json::to_vec_pretty(&outputs).map_err(|e| DriverError::Failed(e.to_string()))?;
        write_atomic(&self.dir(&spec.id).join("outputs.json"), &json).await?;
        Ok(serde_json::json!({
            "driver": "script", "url": outputs.url, "resources": outputs.resources, "commit": outputs.commit,
            "kept": false,
        }))
    }

    /// Polls `status` until it exits 0 printing `{"ready": true}`, within `limit`.
    async fn wait_ready(
        &self,
        id: &str,
        rec: &Recorded,
        secrets: &Secrets,
        limit: Duration,
    ) -> Result<(), DriverError> {
        let deadline = Instant::now() + limit;
        let mut wait = self.poll;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(DriverError::Failed(format!(
                    "status did not print {{\"ready\": true}} within {} s",
                    limit.as_secs()
                )));
            }
            // Not ready, or status failed this time: both are asked again.
            if let Ok(out) = self.run(id, "status", rec, secrets, &[], left).await {
                if is_ready(&out) {
                    return Ok(());
                }
            }
            tokio::time::sleep(wait.min(deadline.saturating_duration_since(Instant::now()))).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    /// Runs `destroy` with the recorded steps; forgets the environment once it exits 0.
    async fn destroy_recorded(&self, id: &str, secrets: &Secrets) -> Result<(), DriverError> {
        let Some(rec) = self.recorded(id).await else {
            // Nothing recorded: nothing was made (or it is gone already).
            let _ = tokio::fs::remove_dir_all(self.dir(id)).await;
            return Ok(());
        };
        self.run(id, "destroy", &rec, secrets, &[], Duration::from_secs(rec.steps.timeout_secs)).await?;
        match tokio::fs::remove_dir_all(self.dir(id)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl Driver for ScriptDriver {
    async fn provision(&self, spec: &EnvSpec) -> Result<serde_json::Value, DriverError> {
        self.converge(spec, &[]).await
    }

    async fn snapshot(&self, spec: &EnvSpec) -> Result<String, DriverError> {
        let Some(rec) = self.recorded(&spec.id).await else {
            return Err(DriverError::Permanent("nothing was made: no snapshot to take".into()));
        };
        if rec.steps.snapshot.is_none() {
            return Ok("no snapshot step: nothing kept".into());
        }
        let out = self
            .run(&spec.id, "snapshot", &rec, &spec.secrets, &[], Duration::from_secs(rec.steps.timeout_secs))
            .await?;
        // The last line names what was kept (a bucket path, a snapshot id).
        let kept = last_lines(&out, 1);
        let kept = if kept.is_empty() { format!("{} (snapshot step ran)", spec.name) } else { kept };
        make_private_dir(&self.snapshots).await?;
        write_atomic(&self.snapshots.join(&spec.name), kept.as_bytes()).await?;
        Ok(kept)
    }

    async fn teardown(&self, id: &str) -> Result<(), DriverError> {
        self.destroy_recorded(id, &Secrets::default()).await
    }

    async fn destroy(&self, spec: &EnvSpec) -> Result<(), DriverError> {
        self.destroy_recorded(&spec.id, &spec.secrets).await
    }

    async fn owned(&self) -> Result<Vec<String>, DriverError> {
        let mut ids = vec![];
        let mut dir = match tokio::fs::read_dir(&self.root).await {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ids),
            Err(e) => return Err(e.into()),
        };
        while let Some(entry) = dir.next_entry().await? {
            if let Some(name) = entry.file_name().to_str().filter(|n| is_portal_id(n)) {
                ids.push(name.to_string());
            }
        }
        Ok(ids)
    }

    async fn endpoint(&self, id: &str) -> Option<std::net::SocketAddr> {
        let url = self.outputs(id).await?.url?;
        let uri: http::Uri = url.parse().ok()?;
        if uri.scheme_str() != Some("http") {
            return None;
        }
        let host = uri.host()?.trim_start_matches('[').trim_end_matches(']').to_string();
        tokio::net::lookup_host((host, uri.port_u16().unwrap_or(80))).await.ok()?.next()
    }

    async fn deploy(
        &self,
        spec: &EnvSpec,
        strategy: DeploymentStrategy,
        _resume: bool,
    ) -> Result<serde_json::Value, DriverError> {
        // `create` again with the new commit: the script applies it by the
        // strategy it is told (Terraform replaces what changed).
        self.converge(spec, &[("EOD_DEPLOY_STRATEGY", strategy.as_str())]).await.map_err(|e| match e {
            DriverError::Failed(m) => DriverError::Permanent(m),
            other => other,
        })
    }

    async fn roll_back(&self, _id: &str) -> Result<serde_json::Value, DriverError> {
        Err(DriverError::Permanent("the script driver keeps no earlier version: deploy the earlier commit".into()))
    }

    async fn retire(&self, _id: &str) -> Result<(), DriverError> {
        Ok(())
    }

    async fn serving_commit(&self, id: &str) -> Option<String> {
        self.outputs(id).await?.commit
    }

    /// Over HTTP when `create` printed an `http://` URL; otherwise `status`
    /// (with the recorded variables; secrets are given only to the steps the
    /// reconciler runs).
    async fn probe(&self, id: &str, health_path: &str) -> Probe {
        let Some(rec) = self.recorded(id).await else { return Probe::Gone };
        if let Some(addr) = self.endpoint(id).await {
            return match self.http.get(format!("http://{addr}{health_path}")).send().await {
                Ok(r) if r.status().is_success() => Probe::Passed,
                Ok(r) => Probe::Failed(format!("{health_path} answered {}", r.status().as_u16())),
                Err(_) => Probe::Failed(format!("{health_path} did not answer")),
            };
        }
        match self.run(id, "status", &rec, &Secrets::default(), &[], PROBE_TIMEOUT).await {
            Ok(out) if is_ready(&out) => Probe::Passed,
            Ok(_) => Probe::Failed("status did not print {\"ready\": true}".into()),
            Err(e) => Probe::Failed(e.to_string()),
        }
    }

    async fn log_tail(&self, id: &str, max_bytes: u64) -> Option<String> {
        let path = self.dir(id).join("output.log");
        tokio::fs::try_exists(&path).await.ok()?.then_some(())?;
        Some(tail(&path, max_bytes).await)
    }

    async fn snapshots(&self, name: &str) -> Vec<String> {
        match tokio::fs::read_to_string(self.snapshots.join(name)).await {
            Ok(kept) => vec![kept],
            Err(_) => vec![],
        }
    }
}

/// `create`'s output: the last line that is a JSON object (tools print
/// progress before it), or the whole of stdout.
pub fn parse_outputs(stdout: &str) -> Result<Outputs, DriverError> {
    let parsed = stdout
        .lines()
        .rev()
        .map(str::trim)
        .filter(|l| l.starts_with('{'))
        .find_map(|l| serde_json::from_str::<Outputs>(l).ok())
        .or_else(|| serde_json::from_str::<Outputs>(stdout.trim()).ok());
    let Some(outputs) = parsed else {
        return Err(DriverError::Permanent(
            "create printed no JSON object like {\"url\": …, \"resources\": [{\"kind\", \"hourly_rate_micros\"}]} on stdout"
                .into(),
        ));
    };
    for r in &outputs.resources {
        let slug = !r.kind.is_empty()
            && r.kind.len() <= 40
            && r.kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !slug || r.hourly_rate_micros < 0 {
            return Err(DriverError::Permanent(format!(
                "create reported a resource {:?} at {}: kinds are lowercase letters, digits and -, rates not negative",
                r.kind, r.hourly_rate_micros
            )));
        }
    }
    Ok(outputs)
}

/// Whether `status` said ready: a JSON object with `"ready": true` on its last such line.
fn is_ready(stdout: &str) -> bool {
    stdout
        .lines()
        .rev()
        .map(str::trim)
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok().filter(|v| v.is_object()))
        .is_some_and(|v| v["ready"] == true)
}

async fn make_private_dir(dir: &Path) -> Result<(), DriverError> {
    use std::os::unix::fs::PermissionsExt;
    tokio::fs::create_dir_all(dir).await?;
    tokio::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).await?;
    Ok(())
}

/// Replaces a file whole (a crash leaves the old one or the new one).
async fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DriverError> {
    let tmp = path.with_extension("tmp");
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, path).await?;
    Ok(())
}

async fn append(path: &Path, text: &str) {
    append_bytes(path, text.as_bytes()).await;
}

async fn append_bytes(path: &Path, bytes: &[u8]) {
    use tokio::io::AsyncWriteExt;
    if let Ok(mut f) = tokio::fs::OpenOptions::new().create(true).append(true).open(path).await {
        let _ = f.write_all(bytes).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::{Identity, Seed, SourceSpec, TemplateSpec};

    /// A fake Terraform keeping its state in `$STATE`: `create` counts its
    /// runs and writes the environment's file (hanging on its first run when
    /// `HANG_FIRST` is set), `status` is ready once the file exists,
    /// `destroy` fails once ("state locked") and then removes it.
    fn spec(id: &str, state: &Path, timeout_secs: u64, extra_env: &[(&str, &str)]) -> EnvSpec {
        let mut env: BTreeMap<String, String> = [("STATE".to_string(), state.display().to_string())].into();
        env.extend(extra_env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        EnvSpec {
            id: id.into(),
            name: "shop-main-ab12".into(),
            tier: "preview-full".into(),
            source: Some(SourceSpec { app_id: "app-1".into(), commit: "c0ffee".into() }),
            build: None,
            build_timeout: Duration::from_secs(1),
            start: String::new(),
            health_path: "/healthz".into(),
            template: TemplateSpec { key: "empty".into(), seed: Seed::Empty },
            migrate: None,
            env,
            secrets: Secrets([("TF_TOKEN".to_string(), "tok-s3cr3t".to_string())].into()),
            limits: app::domain::tier::WorkloadLimits::DEFAULT,
            script: Some(ScriptSteps {
                create: r#"n=$(cat "$STATE/$EOD_ENV_ID.creates" 2>/dev/null || echo 0)
echo $((n+1)) > "$STATE/$EOD_ENV_ID.creates"
if [ "$n" = 0 ] && [ -n "$HANG_FIRST" ]; then echo $$ > "$STATE/hung.pid"; echo "hanging now"; exec sleep 60; fi
env | grep '^EOD_' | sort > "$STATE/$EOD_ENV_ID.env"
cat > "$STATE/$EOD_ENV_ID.stdin"
echo "$TF_TOKEN" > "$STATE/$EOD_ENV_ID.token"
echo "$EOD_ENV_COMMIT" > "$STATE/$EOD_ENV_ID"
echo "applying $EOD_ENV_NAME" >&2
echo "Apply complete! Resources: 1 added."
echo '{"url": "http://127.0.0.1:9/", "resources": [{"kind": "vm", "hourly_rate_micros": 42000}]}'"#
                    .into(),
                status: r#"if [ -f "$STATE/$EOD_ENV_ID" ]; then echo '{"ready": true}'; else echo '{"ready": false}'; fi"#
                    .into(),
                destroy: r#"if [ ! -f "$STATE/$EOD_ENV_ID.destroy-tried" ]; then touch "$STATE/$EOD_ENV_ID.destroy-tried"; echo "state locked for $TF_TOKEN" >&2; exit 1; fi
rm -f "$STATE/$EOD_ENV_ID""#
                    .into(),
                snapshot: Some(r#"echo "snapshot of $EOD_ENV_NAME"; echo "s3://snapshots/$EOD_ENV_NAME.tar""#.into()),
                timeout_secs,
            }),
            identity: Identity {
                team: "payments".into(),
                app: "shop".into(),
                git_ref: Some("main".into()),
                commit: Some("c0ffee".into()),
                pr: Some(7),
            },
            kube: None,
        }
    }

    const ID: &str = "0b5f4a52-6f1e-4c3a-9d7e-2a1b3c4d5e6f";

    fn driver(data: &Path) -> ScriptDriver {
        let mut d = ScriptDriver::new(data);
        d.poll = Duration::from_millis(20);
        d
    }

    #[tokio::test]
    async fn create_reports_what_it_made_and_destroy_is_retried_until_it_succeeds() {
        let (data, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let d = driver(data.path());
        let spec = spec(ID, state.path(), 30, &[]);
        let facts = d.provision(&spec).await.unwrap();
        assert_eq!(facts["url"], "http://127.0.0.1:9/");
        assert_eq!(facts["resources"][0]["kind"], "vm");
        assert_eq!(facts["resources"][0]["hourly_rate_micros"], 42000);
        assert_eq!(std::fs::read_to_string(state.path().join(ID)).unwrap().trim(), "c0ffee");
        // The identity, as variables and as JSON on stdin; the secret for the step only.
        let vars = std::fs::read_to_string(state.path().join(format!("{ID}.env"))).unwrap();
        for want in [
            "EOD_ENV_APP=shop",
            "EOD_ENV_TEAM=payments",
            "EOD_ENV_TIER=preview-full",
            "EOD_ENV_REF=main",
            "EOD_ENV_COMMIT=c0ffee",
            "EOD_ENV_PR=7",
            "EOD_ENV_NAME=shop-main-ab12",
            "EOD_STEP=create",
        ] {
            assert!(vars.lines().any(|l| l == want), "{want} in {vars}");
        }
        assert!(vars.contains(&format!("EOD_ENV_ID={ID}")));
        let stdin: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(state.path().join(format!("{ID}.stdin"))).unwrap()).unwrap();
        assert_eq!(
            (stdin["team"].as_str(), stdin["pr"].as_i64(), stdin["step"].as_str()),
            (Some("payments"), Some(7), Some("create"))
        );
        assert_eq!(std::fs::read_to_string(state.path().join(format!("{ID}.token"))).unwrap().trim(), "tok-s3cr3t");
        let recorded = std::fs::read_to_string(data.path().join("script").join(ID).join("steps.json")).unwrap();
        assert!(!recorded.contains("tok-s3cr3t"), "secret values are never written down");
        // What it printed is in its log; where it answers is what it printed.
        assert!(d.log_tail(ID, 10_000).await.unwrap().contains("applying shop-main-ab12"));
        assert_eq!(d.endpoint(ID).await, Some("127.0.0.1:9".parse().unwrap()));
        assert_eq!(d.serving_commit(ID).await.as_deref(), Some("c0ffee"));
        assert_eq!(d.owned().await.unwrap(), vec![ID.to_string()]);
        // Run again (a retried job): the same one, not a second.
        d.provision(&spec).await.unwrap();
        assert_eq!(std::fs::read_to_string(state.path().join(format!("{ID}.creates"))).unwrap().trim(), "2");
        // The snapshot step names what it kept.
        assert_eq!(d.snapshot(&spec).await.unwrap(), "s3://snapshots/shop-main-ab12.tar");
        assert_eq!(d.snapshots("shop-main-ab12").await, vec!["s3://snapshots/shop-main-ab12.tar".to_string()]);
        // destroy fails once: the environment is still held, and says why
        // (this run's output only, the secret's value masked).
        let err = d.destroy(&spec).await.unwrap_err().to_string();
        assert!(err.contains("state locked") && err.contains("[secret]"), "{err}");
        assert!(!err.contains("tok-s3cr3t") && !err.contains("Apply complete"), "{err}");
        assert!(d.holds(ID).await);
        assert_eq!(d.owned().await.unwrap().len(), 1);
        // The retry succeeds: nothing is left, here or in the fake cloud.
        d.destroy(&spec).await.unwrap();
        assert!(!state.path().join(ID).exists());
        assert!(d.owned().await.unwrap().is_empty());
        assert!(!d.holds(ID).await);
        assert!(matches!(d.probe(ID, "/healthz").await, Probe::Gone));
        // Once gone, destroying again is a no-op.
        d.teardown(ID).await.unwrap();
    }

    #[tokio::test]
    async fn a_step_over_its_limit_is_stopped_and_a_restart_converges_with_nothing_doubled() {
        let (data, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let hanging = spec(ID, state.path(), 1, &[("HANG_FIRST", "1")]);
        let err = driver(data.path()).provision(&hanging).await.unwrap_err();
        assert!(matches!(&err, DriverError::Failed(m) if m.contains("within 1 s")), "{err}");
        // What it printed before it hung is in its log.
        let log = std::fs::read_to_string(data.path().join("script").join(ID).join("output.log")).unwrap();
        assert!(log.contains("hanging now"), "{log}");
        // The hung step (and its process group) is gone, not left running.
        let pid: i32 = std::fs::read_to_string(state.path().join("hung.pid")).unwrap().trim().parse().unwrap();
        assert!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err(), "step {pid} still runs");
        // What a half-made environment needs to be destroyed was recorded before it began.
        let restarted = driver(data.path());
        assert_eq!(restarted.owned().await.unwrap(), vec![ID.to_string()]);
        // A restarted portal runs the step again and converges: one environment.
        let spec = spec(ID, state.path(), 30, &[("HANG_FIRST", "1")]);
        restarted.provision(&spec).await.unwrap();
        let made: Vec<_> = std::fs::read_dir(state.path())
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n == ID)
            .collect();
        assert_eq!(made.len(), 1);
        assert!(restarted.log_tail(ID, 10_000).await.unwrap().contains("over its 1 s limit"));
    }

    #[tokio::test]
    async fn a_status_that_never_says_ready_fails_the_step_within_its_limit() {
        let (data, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut spec = spec(ID, state.path(), 1, &[]);
        if let Some(s) = spec.script.as_mut() {
            s.status = r#"echo '{"ready": false}'"#.into();
        }
        let err = driver(data.path()).provision(&spec).await.unwrap_err().to_string();
        assert!(err.contains("ready") && err.contains("within 1 s"), "{err}");
    }

    #[test]
    fn create_output_is_its_last_json_line_and_is_checked() {
        let out = parse_outputs("Plan: 1 to add\n{\"progress\": 1}\n{\"url\": \"http://x:1/\"}\n").unwrap();
        assert_eq!(out.url.as_deref(), Some("http://x:1/"));
        assert!(out.resources.is_empty());
        let whole = parse_outputs("{\n  \"resources\": [{\"kind\": \"db\", \"hourly_rate_micros\": 5}]\n}\n").unwrap();
        assert_eq!(whole.resources[0].kind, "db");
        for bad in [
            "",
            "done",
            r#"{"resources": [{"kind": "Big VM", "hourly_rate_micros": 1}]}"#,
            r#"{"resources": [{"kind": "vm", "hourly_rate_micros": -1}]}"#,
        ] {
            assert!(matches!(parse_outputs(bad), Err(DriverError::Permanent(_))), "{bad}");
        }
        assert!(is_ready("checking\n{\"ready\": true}\n"));
        assert!(!is_ready("{\"ready\": \"yes\"}"));
        assert!(!is_ready(""));
    }
}
