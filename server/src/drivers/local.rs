//! The embedded default driver, real on one host: per environment a
//! directory `<data>/envs/<name>/` holding its own database (a copy of the
//! app's template), its process (the blueprint's command with `PORT`,
//! `DATABASE_URL` and `EOD_ENV_*`), that process's output and its pid/port
//! files. Snapshots are copies kept in `<data>/snapshots/`.

use super::{Driver, DriverError, EnvSpec};
use async_trait::async_trait;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct LocalDriver {
    root: PathBuf,
    http: openidconnect::reqwest::Client,
}

impl LocalDriver {
    pub fn new(data_dir: &Path) -> LocalDriver {
        let http = openidconnect::reqwest::ClientBuilder::new()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(2))
            .build()
            .expect("HTTP client");
        LocalDriver { root: data_dir.to_path_buf(), http }
    }

    fn env_dir(&self, name: &str) -> PathBuf {
        self.root.join("envs").join(name)
    }

    async fn template(&self, app: &str) -> Result<PathBuf, DriverError> {
        let dir = self.root.join("templates");
        tokio::fs::create_dir_all(&dir).await?;
        let path = dir.join(format!("{app}.db"));
        if !path.exists() {
            // Build beside, then rename: a crash never leaves half a template.
            let tmp = dir.join(format!("{app}.db.tmp-{}", std::process::id()));
            let _ = tokio::fs::remove_file(&tmp).await;
            crate::sample_app::create_template(&tmp)
                .await
                .map_err(|e| DriverError::Failed(format!("template database: {e}")))?;
            tokio::fs::rename(&tmp, &path).await?;
        }
        Ok(path)
    }

    async fn running(&self, name: &str) -> Option<(i32, u16)> {
        let dir = self.env_dir(name);
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
        let dir = self.env_dir(&spec.name);
        if let Some((pid, port)) = self.running(&spec.name).await {
            if self.healthy(port, &spec.health_path).await {
                return Ok(serde_json::json!({ "pid": pid, "port": port, "dir": dir }));
            }
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        tokio::fs::create_dir_all(&dir).await?;
        let db = dir.join("app.db");
        if !db.exists() {
            let template = self.template(&spec.app).await?;
            let tmp = dir.join("app.db.tmp");
            tokio::fs::copy(&template, &tmp).await?;
            tokio::fs::rename(&tmp, &db).await?;
        }
        let (program, args) =
            spec.command.split_first().ok_or_else(|| DriverError::Failed("the blueprint has no command".into()))?;
        let program = if program == "eod" { std::env::current_exe()? } else { PathBuf::from(program) };
        let port = free_port()?;
        let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("output.log"))?;
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .env("PORT", port.to_string())
            .env("DATABASE_URL", format!("sqlite:{}", db.display()))
            .env("EOD_ENV_NAME", &spec.name)
            .env("EOD_ENV_TIER", &spec.tier)
            .env("EOD_ENV_ID", &spec.id)
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
        let src = self.env_dir(&spec.name).join("app.db");
        let dir = self.root.join("snapshots");
        tokio::fs::create_dir_all(&dir).await?;
        let dest = dir.join(format!("{}.db", spec.name));
        if src.exists() {
            tokio::fs::copy(&src, &dest).await?;
        }
        Ok(dest.display().to_string())
    }

    async fn teardown(&self, name: &str) -> Result<(), DriverError> {
        let dir = self.env_dir(name);
        if let Ok(text) = tokio::fs::read_to_string(dir.join("pid")).await {
            if let Ok(pid) = text.trim().parse::<i32>() {
                if alive(pid) {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
                    for _ in 0..30 {
                        if !alive(pid) {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    if alive(pid) {
                        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                    }
                }
            }
        }
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn owned(&self) -> Result<Vec<String>, DriverError> {
        let mut names = vec![];
        let mut entries = match tokio::fs::read_dir(self.root.join("envs")).await {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(names),
            Err(e) => return Err(e.into()),
        };
        while let Some(entry) = entries.next_entry().await? {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        Ok(names)
    }

    async fn endpoint(&self, name: &str) -> Option<SocketAddr> {
        self.running(name).await.map(|(_, port)| SocketAddr::from(([127, 0, 0, 1], port)))
    }
}

/// The last `max` bytes of a file, for error messages and the log view.
pub async fn tail(path: &Path, max: u64) -> String {
    match tokio::fs::read(path).await {
        Ok(bytes) => {
            let start = bytes.len().saturating_sub(max as usize);
            String::from_utf8_lossy(&bytes[start..]).into_owned()
        }
        Err(_) => String::new(),
    }
}
