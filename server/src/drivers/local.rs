//! The embedded default driver, real on one host: per environment a
//! directory `<data>/envs/<id>/` holding its own database (a copy of the
//! app's template), its process (the blueprint's command with `PORT`,
//! `DATABASE_URL` and `EOD_ENV_*`), that process's output and its pid/port
//! files. Snapshots are copies kept in `<data>/snapshots/`. With
//! `EOD_ENV_DATABASE_URL` the databases live on PostgreSQL instead
//! (`pg_databases.rs`).
//!
//! Every process also carries `EOD_ENV_ROOT` (this driver's directory), so
//! processes are found through `/proc` even when a crash came between the
//! spawn and the pid file: nothing this driver starts can leak.

use super::pg_databases::PgDatabases;
use super::{Driver, DriverError, EnvSpec};
use async_trait::async_trait;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct LocalDriver {
    root: PathBuf,
    http: openidconnect::reqwest::Client,
    /// Environments' databases on PostgreSQL instead of SQLite copies.
    pg: Option<PgDatabases>,
}

impl LocalDriver {
    pub fn new(data_dir: &Path, env_database_url: Option<&str>) -> LocalDriver {
        // Absolute, so the marker in each process's environment is exact.
        let root = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
        let http = openidconnect::reqwest::ClientBuilder::new()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(2))
            .build()
            .expect("HTTP client");
        let pg = env_database_url.map(|url| PgDatabases::new(url, &root));
        LocalDriver { root, http, pg }
    }

    fn env_dir(&self, id: &str) -> PathBuf {
        self.root.join("envs").join(id)
    }

    /// Processes this driver started, as (pid, environment id), found by the
    /// `EOD_ENV_ROOT` marker in their environment.
    fn processes(&self) -> Vec<(i32, String)> {
        let marker = format!("EOD_ENV_ROOT={}", self.root.display());
        let Ok(entries) = std::fs::read_dir("/proc") else { return vec![] };
        let mut found = vec![];
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
            let Ok(environ) = std::fs::read(entry.path().join("environ")) else { continue };
            let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
            if !vars.contains(&marker.as_bytes()) || !alive(pid) {
                continue;
            }
            if let Some(id) = vars.iter().find_map(|v| v.strip_prefix(b"EOD_ENV_ID=")) {
                found.push((pid, String::from_utf8_lossy(id).into_owned()));
            }
        }
        found
    }

    /// Stops every process of one environment (its process group first).
    async fn stop(&self, id: &str, keep: Option<i32>) {
        let pids: Vec<i32> =
            self.processes().into_iter().filter(|(pid, env)| env == id && Some(*pid) != keep).map(|(p, _)| p).collect();
        for pid in &pids {
            let _ = killpg(Pid::from_raw(*pid), Signal::SIGTERM);
            let _ = kill(Pid::from_raw(*pid), Signal::SIGTERM);
        }
        for _ in 0..30 {
            if pids.iter().all(|p| !alive(*p)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for pid in pids.iter().filter(|p| alive(**p)) {
            let _ = killpg(Pid::from_raw(*pid), Signal::SIGKILL);
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
    }

    async fn template(&self, app: &str) -> Result<PathBuf, DriverError> {
        let dir = self.root.join("templates");
        tokio::fs::create_dir_all(&dir).await?;
        let path = dir.join(format!("{app}.db"));
        if !path.exists() {
            // Build beside, then rename: a crash never leaves half a template.
            let tmp = dir.join(format!("{app}.db.tmp-{}", std::process::id()));
            let _ = tokio::fs::remove_file(&tmp).await;
            crate::sample_app::create_template(&format!("sqlite:{}?mode=rwc", tmp.display()))
                .await
                .map_err(|e| DriverError::Failed(format!("template database: {e}")))?;
            tokio::fs::rename(&tmp, &path).await?;
        }
        Ok(path)
    }

    async fn running(&self, id: &str) -> Option<(i32, u16)> {
        let dir = self.env_dir(id);
        let pid: i32 = tokio::fs::read_to_string(dir.join("pid")).await.ok()?.trim().parse().ok()?;
        let port: u16 = tokio::fs::read_to_string(dir.join("port")).await.ok()?.trim().parse().ok()?;
        alive(pid).then_some((pid, port))
    }

    async fn healthy(&self, port: u16, path: &str) -> bool {
        let url = format!("http://127.0.0.1:{port}{path}");
        matches!(self.http.get(url).send().await, Ok(r) if r.status().is_success())
    }
}

/// Whether a process exists and is not a zombie.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[async_trait]
impl Driver for LocalDriver {
    async fn provision(&self, spec: &EnvSpec) -> Result<serde_json::Value, DriverError> {
        let dir = self.env_dir(&spec.id);
        if let Some((pid, port)) = self.running(&spec.id).await {
            if self.healthy(port, &spec.health_path).await {
                self.stop(&spec.id, Some(pid)).await; // strays from an interrupted attempt
                return Ok(serde_json::json!({ "pid": pid, "port": port, "dir": dir }));
            }
        }
        // Whatever an earlier, interrupted attempt left running goes first.
        self.stop(&spec.id, None).await;
        tokio::fs::create_dir_all(&dir).await?;
        let database_url = match &self.pg {
            Some(pg) => pg.ensure(&spec.id, &spec.template).await?,
            None => {
                let db = dir.join("app.db");
                if !db.exists() {
                    let template = self.template(&spec.template).await?;
                    let tmp = dir.join("app.db.tmp");
                    tokio::fs::copy(&template, &tmp).await?;
                    tokio::fs::rename(&tmp, &db).await?;
                }
                format!("sqlite:{}", db.display())
            }
        };
        let (program, args) =
            spec.command.split_first().ok_or_else(|| DriverError::Failed("the blueprint has no command".into()))?;
        let program = if program == "eod" { std::env::current_exe()? } else { PathBuf::from(program) };
        let port = free_port()?;
        let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("output.log"))?;
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .env("PORT", port.to_string())
            .env("DATABASE_URL", database_url)
            .env("EOD_ENV_NAME", &spec.name)
            .env("EOD_ENV_TIER", &spec.tier)
            .env("EOD_ENV_ID", &spec.id)
            .env("EOD_ENV_ROOT", &self.root)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // Its own process group: environments outlive a portal restart
            // and are adopted (or swept) by the next one.
            .process_group(0)
            .kill_on_drop(false);
        let child = cmd.spawn()?;
        let pid = child.id().ok_or_else(|| DriverError::Failed("the process exited at once".into()))? as i32;
        tokio::fs::write(dir.join("pid"), pid.to_string()).await?;
        tokio::fs::write(dir.join("port"), port.to_string()).await?;
        // Readiness: poll quickly at first, give up after 15 s.
        for attempt in 0..150 {
            if self.healthy(port, &spec.health_path).await {
                return Ok(serde_json::json!({ "pid": pid, "port": port, "dir": dir }));
            }
            if !alive(pid) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(if attempt < 50 { 20 } else { 100 })).await;
        }
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        let tail = tail(&dir.join("output.log"), 2_000).await;
        Err(DriverError::Failed(format!("readiness probe on {} failed; output: {tail}", spec.health_path)))
    }

    async fn snapshot(&self, spec: &EnvSpec) -> Result<String, DriverError> {
        let dir = self.root.join("snapshots");
        tokio::fs::create_dir_all(&dir).await?;
        if let Some(pg) = &self.pg {
            let dest = dir.join(format!("{}.dump", spec.name));
            pg.snapshot(&spec.id, &dest).await?;
            return Ok(dest.display().to_string());
        }
        let src = self.env_dir(&spec.id).join("app.db");
        let dest = dir.join(format!("{}.db", spec.name));
        if src.exists() {
            tokio::fs::copy(&src, &dest).await?;
        }
        Ok(dest.display().to_string())
    }

    async fn teardown(&self, id: &str) -> Result<(), DriverError> {
        self.stop(id, None).await;
        if let Some(pg) = &self.pg {
            pg.drop_env(id).await?;
        }
        match tokio::fs::remove_dir_all(self.env_dir(id)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn owned(&self) -> Result<Vec<String>, DriverError> {
        let mut ids: Vec<String> = self.processes().into_iter().map(|(_, id)| id).collect();
        if let Some(pg) = &self.pg {
            ids.extend(pg.owned().await?);
        }
        match tokio::fs::read_dir(self.root.join("envs")).await {
            Ok(mut entries) => {
                while let Some(entry) = entries.next_entry().await? {
                    ids.push(entry.file_name().to_string_lossy().into_owned());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    async fn endpoint(&self, id: &str) -> Option<SocketAddr> {
        self.running(id).await.map(|(_, port)| SocketAddr::from(([127, 0, 0, 1], port)))
    }

    async fn snapshots(&self, name: &str) -> Vec<String> {
        let mut found = vec![];
        for file in [format!("{name}.db"), format!("{name}.dump")] {
            if matches!(tokio::fs::try_exists(self.root.join("snapshots").join(&file)).await, Ok(true)) {
                found.push(file);
            }
        }
        found
    }

    async fn log_tail(&self, id: &str, max_bytes: u64) -> Option<String> {
        let path = self.env_dir(id).join("output.log");
        tokio::fs::try_exists(&path).await.ok()?.then_some(())?;
        Some(tail(&path, max_bytes).await)
    }
}

/// The last `max` bytes of a file (read from the end, however long the
/// file grew), for error messages and the log view.
pub async fn tail(path: &Path, max: u64) -> String {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let Ok(mut file) = tokio::fs::File::open(path).await else { return String::new() };
    let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    if file.seek(std::io::SeekFrom::Start(len.saturating_sub(max))).await.is_err() {
        return String::new();
    }
    let mut bytes = Vec::with_capacity(max.min(len) as usize);
    let _ = file.take(max).read_to_end(&mut bytes).await;
    String::from_utf8_lossy(&bytes).into_owned()
}
