//! The embedded default driver, real on one host: per environment a
//! directory `<data>/envs/<id>/` holding a checkout of the environment's
//! commit (`src/`, sharing the app's mirror objects), its own database (a
//! copy of the app's template, then migrated), its process (the blueprint's
//! start command with `PORT`, `DATABASE_URL`, its variables and secrets and
//! `EOD_ENV_*`, nothing else of the portal's environment), the output of
//! every step (build, migrate, start) and its pid/port/commit files.
//! Provisioning is build → migrate → start → probe; a failing build or
//! migration fails the environment at once with the step and its output's
//! last lines, and leaves nothing behind but that output. Snapshots are
//! copies kept in `<data>/snapshots/`. With `EOD_ENV_DATABASE_URL` the
//! databases live on PostgreSQL instead (`pg_databases.rs`).
//!
//! Every process also carries `EOD_ENV_ROOT` (this driver's directory), so
//! processes are found through `/proc` even when a crash came between the
//! spawn and the pid file: nothing this driver starts can leak.
//!
//! Workloads are untrusted (a team's branch). When the portal runs as root
//! each environment's steps and process run under its own unprivileged uid
//! (`Isolation`) with the tier's resource limits, in a directory only it
//! owns; what the portal relies on — which process serves on which port, the
//! build marker, the output log, database passwords — lives in
//! `<data>/runtime/<id>/`, which no workload can read or write. The data
//! directory itself is 0711 (workloads pass through to their own directory
//! but cannot list it); the portal's files in it are 0600/0700.

use super::git::Git;
use super::pg_databases::PgDatabases;
use super::{Driver, DriverError, EnvSpec, Seed};
use app::domain::tier::{DeploymentStrategy, WorkloadLimits};
use async_trait::async_trait;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How workloads are separated from the portal and from each other when
/// the portal runs as root: the group of the `EOD_RUN_AS` user, and per
/// environment its own uid (`uid_of`), so no two workloads share files,
/// signals or `/proc` entries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Isolation {
    pub gid: u32,
    /// Keys the uid hash (`<data>/runtime/uid-key`, the portal's): a team
    /// that chooses its template's inputs cannot aim at another's uid.
    key: [u8; 32],
}

impl std::fmt::Debug for Isolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Isolation").field("gid", &self.gid).finish_non_exhaustive()
    }
}

impl Isolation {
    /// From the configuration: `None` when the portal is not root (it
    /// cannot switch users) or `EOD_RUN_AS=portal`.
    pub fn resolve(run_as: &crate::config::RunAs, data_dir: &Path) -> Result<Option<Isolation>, String> {
        let crate::config::RunAs::User(name) = run_as else {
            tracing::warn!("EOD_RUN_AS=portal: environments run as the portal's own user, unisolated");
            return Ok(None);
        };
        if !nix::unistd::geteuid().is_root() {
            tracing::warn!("the portal is not root: environments run as its own user, unisolated (see the README)");
            return Ok(None);
        }
        match nix::unistd::User::from_name(name) {
            Ok(Some(user)) if user.uid.is_root() || user.gid.as_raw() == 0 => {
                Err(format!("EOD_RUN_AS: {name:?} is root or in group 0; name an unprivileged system user"))
            }
            Ok(Some(user)) => Ok(Some(Isolation { gid: user.gid.as_raw(), key: uid_key(data_dir)? })),
            Ok(None) => Err(format!(
                "EOD_RUN_AS: there is no user {name:?} on this host (bash .ci/install makes eod-workload), \
                 or set EOD_RUN_AS=portal to run environments unisolated"
            )),
            Err(e) => Err(format!("EOD_RUN_AS: looking up {name:?}: {e}")),
        }
    }

    /// The unprivileged uid a workload keyed by `owner` (an environment's
    /// id, or `template:<key>`) runs as: far above any login or system
    /// account, environments in [2^30, 2^30 + 2^29), templates in the next
    /// 2^29, each by a keyed SHA-256 of its name.
    pub fn uid_of(&self, owner: &str) -> u32 {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new().chain_update(self.key).chain_update(owner.as_bytes()).finalize();
        let h = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) & ((1 << 29) - 1);
        let range = if owner.starts_with("template:") { 1 << 29 } else { 0 };
        (1 << 30) | range | h
    }
}

/// The uid hash's key, made once (random) and kept with the portal's records.
fn uid_key(data_dir: &Path) -> Result<[u8; 32], String> {
    use std::os::unix::fs::PermissionsExt;
    let dir = data_dir.join("runtime");
    let path = dir.join("uid-key");
    let fail = |e: std::io::Error| format!("the workload uid key {}: {e}", path.display());
    std::fs::create_dir_all(&dir).map_err(fail)?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(fail)?;
    let hex = match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let fresh = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
            std::fs::write(&path, &fresh).map_err(fail)?;
            fresh
        }
        Err(e) => return Err(fail(e)),
    };
    let mut key = [0u8; 32];
    if hex.len() != 64 {
        return Err(format!("{} is not 64 hexadecimal characters", path.display()));
    }
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
            .map_err(|_| format!("{} is not 64 hexadecimal characters", path.display()))?;
    }
    Ok(key)
}

/// Whether `id` is one of the portal's environment ids (a canonical UUID):
/// anything else — a name a workload made up, a path — is never acted on.
pub fn is_portal_id(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok_and(|u| u.hyphenated().to_string() == id)
}

/// After traffic moves to another version, the one it left keeps serving
/// this long before it is stopped: requests the proxy routed just before the
/// switch reach a process that still accepts them.
const DRAIN: Duration = Duration::from_millis(500);

pub struct LocalDriver {
    root: PathBuf,
    git: std::sync::Arc<Git>,
    http: openidconnect::reqwest::Client,
    /// Environments' databases on PostgreSQL instead of SQLite copies.
    pg: Option<PgDatabases>,
    isolation: Option<Isolation>,
    /// The last scan of /proc for teardowns: (when, what runs). Reading
    /// every process's environment per teardown made expiring N
    /// environments cost N scans of N processes.
    /// Async: teardowns that arrive together wait for one scan, not one each.
    teardown_scan: tokio::sync::Mutex<Option<(std::time::Instant, std::sync::Arc<Vec<Running>>)>>,
}

/// A process as a teardown sees it: its uid and the environment its
/// marker names (if any).
struct Running {
    pid: i32,
    uid: Option<u32>,
    env: Option<String>,
}

/// How old a /proc scan a teardown may use: an environment being torn down
/// started its processes long before, and the orphan sweep stops anything
/// that slips past.
const TEARDOWN_SCAN_MS: u64 = 1_000;

impl LocalDriver {
    pub fn new(
        data_dir: &Path,
        env_database_url: Option<&str>,
        git: std::sync::Arc<Git>,
        isolation: Option<Isolation>,
    ) -> LocalDriver {
        // Absolute, so the marker in each process's environment is exact.
        let root = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
        let http = openidconnect::reqwest::ClientBuilder::new()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(2))
            .build()
            .expect("HTTP client");
        let pg = env_database_url.map(|url| PgDatabases::new(url, &root));
        LocalDriver { root, git, http, pg, isolation, teardown_scan: tokio::sync::Mutex::new(None) }
    }

    /// The workload's own directory (its checkouts, home and database).
    fn env_dir(&self, id: &str) -> PathBuf {
        self.root.join("envs").join(id)
    }

    /// The portal's records of an environment (`serving`, `kept`, `built`,
    /// `output.log`, database password): never reachable by a workload.
    fn runtime_dir(&self, id: &str) -> PathBuf {
        self.root.join("runtime").join(id)
    }

    /// Makes the environment's two directories: its own (0711 and the
    /// portal's, so the workload cannot plant entries the portal later
    /// writes through; what it writes is in `src`, `home`, `data`) and the
    /// portal's records (0700).
    async fn make_dirs(&self, id: &str) -> Result<(), DriverError> {
        use std::os::unix::fs::PermissionsExt;
        if !is_portal_id(id) {
            return Err(DriverError::Permanent(format!("{id:?} is not an environment id")));
        }
        for (dir, mode) in [
            (self.root.join("envs"), 0o711),
            (self.env_dir(id), 0o711),
            (self.root.join("runtime"), 0o700),
            (self.runtime_dir(id), 0o700),
        ] {
            tokio::fs::create_dir_all(&dir).await?;
            tokio::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).await?;
        }
        // Made (and handed over) once: the portal never walks a tree the
        // workload already owns (it could swap a directory for a link mid-walk).
        // One still the portal's was made by a run that crashed before handing
        // it over; the workload could not write in it, so it is handed over now.
        for part in ["home", "data"] {
            let dir = self.env_dir(id).join(part);
            match tokio::fs::create_dir(&dir).await {
                Ok(()) => self.hand_over(&dir, id).await?,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if self.still_the_portals(&dir, id).await? {
                        self.hand_over(&dir, id).await?;
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Whether `dir` (a real directory, never a link) is not yet owned by
    /// the workload keyed by `key`. Always false without isolation.
    async fn still_the_portals(&self, dir: &Path, key: &str) -> Result<bool, DriverError> {
        use std::os::unix::fs::MetadataExt;
        let Some(iso) = self.isolation else { return Ok(false) };
        let meta = tokio::fs::symlink_metadata(dir).await?;
        Ok(meta.is_dir() && meta.uid() != iso.uid_of(key))
    }

    /// Gives a tree the portal just made (a checkout, a home), which no
    /// workload can reach yet (its top is the portal's, 0700), to the
    /// workload keyed by `key`: owner its uid, without following links,
    /// the top last, so the workload gets in only once all of it is its own.
    async fn hand_over(&self, path: &Path, key: &str) -> Result<(), DriverError> {
        let Some(iso) = self.isolation else { return Ok(()) };
        let (path, uid) = (path.to_path_buf(), iso.uid_of(key));
        tokio::task::spawn_blocking(move || chown_tree(&path, uid, iso.gid))
            .await
            .map_err(|e| DriverError::Failed(e.to_string()))??;
        Ok(())
    }

    /// A step's or the process's command: `/bin/sh -c`, a cleared
    /// environment, its own process group and, when isolated, its own uid,
    /// the workloads' group and the tier's resource limits.
    fn command(&self, script: &str, cwd: &Path, key: &str, limits: WorkloadLimits) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("/bin/sh");
        cmd.arg("-c").arg(script).current_dir(cwd).env_clear().stdin(std::process::Stdio::null());
        cmd.kill_on_drop(false);
        // Its own session (and process group, led by it): nothing it starts
        // can reach the portal's terminal, and the group is stopped as one.
        // SAFETY: runs in the child between fork and exec; setsid is
        // async-signal-safe.
        unsafe {
            cmd.pre_exec(|| nix::unistd::setsid().map(|_| ()).map_err(std::io::Error::from));
        }
        if let Some(iso) = self.isolation {
            // std drops supplementary groups when a root parent sets the uid.
            cmd.uid(iso.uid_of(key)).gid(iso.gid);
            let caps = [
                (nix::sys::resource::Resource::RLIMIT_NOFILE, limits.open_files),
                (nix::sys::resource::Resource::RLIMIT_NPROC, limits.processes),
                (nix::sys::resource::Resource::RLIMIT_AS, limits.address_space_mb.saturating_mul(1024 * 1024)),
                (nix::sys::resource::Resource::RLIMIT_CORE, 0),
            ];
            // SAFETY: runs in the child between fork and exec; setrlimit is
            // async-signal-safe and nothing here allocates.
            unsafe {
                cmd.pre_exec(move || {
                    for (resource, cap) in caps {
                        nix::sys::resource::setrlimit(resource, cap, cap).map_err(std::io::Error::from)?;
                    }
                    Ok(())
                });
            }
        }
        cmd
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
            let Some(id) = vars.iter().find_map(|v| v.strip_prefix(b"EOD_ENV_ID=")) else { continue };
            let id = String::from_utf8_lossy(id).into_owned();
            // A workload can set any variables in what it starts; only its
            // uid says whose it is, and only portal ids name environments.
            let owner_ok = self.isolation.is_none_or(|iso| process_uid(pid) == Some(iso.uid_of(&id)));
            if is_portal_id(&id) && owner_ok {
                found.push((pid, id));
            }
        }
        found
    }

    /// Stops every process of one environment (its process group first).
    /// `keep`: running processes whose whole process groups (the start
    /// command's shell and what it started) stay.
    async fn stop(&self, id: &str, keep: &[i32]) {
        let keep: Vec<Option<i32>> = keep.iter().map(|pid| process_group(*pid)).collect();
        let mut pids: Vec<i32> = self.processes().into_iter().filter(|(_, env)| env == id).map(|(p, _)| p).collect();
        // Isolated, whatever runs under its uid is its own, even a process
        // that dropped the marker from its environment.
        if let Some(iso) = self.isolation {
            pids.extend(processes_of_uid(iso.uid_of(id)));
            pids.sort_unstable();
            pids.dedup();
        }
        self.stop_pids(pids, &keep).await;
    }

    /// What a teardown stops: the environment's processes by marker or,
    /// isolated, by uid, from a scan at most `TEARDOWN_SCAN_MS` old.
    async fn stop_for_teardown(&self, id: &str) {
        let scan = self.recent_scan().await;
        let marker = format!("EOD_ENV_ROOT={}", self.root.display());
        let uid = self.isolation.map(|iso| iso.uid_of(id));
        let pids = scan
            .iter()
            .filter(|p| {
                let marked = p.env.as_deref() == Some(id) && self.isolation.is_none_or(|_| p.uid == uid);
                marked || (uid.is_some() && p.uid == uid)
            })
            .map(|p| p.pid)
            // The scan may be a second old: a pid is signalled only if it is
            // still this environment's now (not reused by another process).
            .filter(|pid| match uid {
                Some(uid) => alive(*pid) && process_uid(*pid) == Some(uid),
                None => alive(*pid) && marked_for(*pid, &marker, id),
            })
            .collect();
        self.stop_pids(pids, &[]).await;
    }

    async fn recent_scan(&self) -> std::sync::Arc<Vec<Running>> {
        let mut last = self.teardown_scan.lock().await;
        if let Some((at, scan)) = last.as_ref() {
            if at.elapsed() < Duration::from_millis(TEARDOWN_SCAN_MS) {
                return scan.clone();
            }
        }
        let marker = format!("EOD_ENV_ROOT={}", self.root.display());
        let at = std::time::Instant::now();
        let scan = tokio::task::spawn_blocking(move || scan_processes(&marker)).await.unwrap_or_default();
        let scan = std::sync::Arc::new(scan);
        *last = Some((at, scan.clone()));
        scan
    }

    async fn stop_pids(&self, mut pids: Vec<i32>, keep: &[Option<i32>]) {
        pids.retain(|pid| !keep.contains(&process_group(*pid)));
        for pid in &pids {
            let _ = killpg(Pid::from_raw(*pid), Signal::SIGTERM);
            let _ = kill(Pid::from_raw(*pid), Signal::SIGTERM);
        }
        // Most workloads exit within milliseconds of SIGTERM: look again
        // soon, then less often, for 1.5 s in all before SIGKILL.
        let mut waited = 0;
        for step in [2_u64, 3, 5, 10, 20, 40].into_iter().chain(std::iter::repeat(50)) {
            if pids.iter().all(|p| !alive(*p)) {
                return;
            }
            if waited >= 1_500 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(step)).await;
            waited += step;
        }
        for pid in pids.iter().filter(|p| alive(**p)) {
            let _ = killpg(Pid::from_raw(*pid), Signal::SIGKILL);
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
    }

    /// Whether `pid` is alive and one of environment `id`'s processes (by its
    /// uid when isolated, else by its marker): a recorded pid may have been
    /// reused by something else since.
    fn owns(&self, id: &str, pid: i32) -> bool {
        alive(pid)
            && match self.isolation {
                Some(iso) => process_uid(pid) == Some(iso.uid_of(id)),
                None => self.processes().contains(&(pid, id.to_string())),
            }
    }

    /// Stops one recorded version (its process group) if it is still the
    /// environment's.
    async fn stop_version(&self, id: &str, pid: i32) {
        if self.owns(id, pid) {
            stop_group(pid).await;
        }
    }

    /// A template's seed work directory (`seeds/<key>-<random>/`, the portal's,
    /// 0711) with `data/` handed to the template's own workload, fresh.
    async fn seed_work(&self, key: &str) -> Result<PathBuf, DriverError> {
        use std::os::unix::fs::PermissionsExt;
        let seeds = self.root.join("seeds");
        // Unique per attempt: two provisions sharing a template never share it.
        let work = seeds.join(format!("{key}-{}", uuid::Uuid::new_v4().simple()));
        let _ = tokio::fs::remove_dir_all(&work).await;
        tokio::fs::create_dir_all(work.join("data")).await?;
        for dir in [&seeds, &work] {
            tokio::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711)).await?;
        }
        self.hand_over(&work.join("data"), &template_owner(key)).await?;
        Ok(work)
    }

    /// The SQLite template `spec` names, built once: seeded in a work
    /// directory by the template's own workload, then copied (never through
    /// a link it may have planted) into the portal's `templates/`, beside
    /// and renamed: a crash never leaves half a template.
    async fn sqlite_template(&self, spec: &EnvSpec, log: &Path) -> Result<PathBuf, DriverError> {
        let dir = self.root.join("templates");
        tokio::fs::create_dir_all(&dir).await?;
        let key = &spec.template.key;
        let path = dir.join(format!("{key}.db"));
        if path.exists() {
            return Ok(path);
        }
        let work = self.seed_work(key).await?;
        let seeded = work.join("data").join("template.db");
        let tmp = dir.join(format!("{key}.db.tmp-{}", uuid::Uuid::new_v4().simple()));
        let filled = self.fill_template(&format!("sqlite:{}?mode=rwc", seeded.display()), spec, log, &work).await;
        let copied = match filled {
            // An empty seed wrote nothing: an empty file is an empty database.
            Ok(()) if !seeded.exists() => tokio::fs::write(&tmp, b"").await.map_err(DriverError::from),
            Ok(()) => copy_no_follow(&seeded, &tmp).await,
            Err(e) => Err(e),
        };
        let _ = tokio::fs::remove_dir_all(&work).await;
        copied?;
        tokio::fs::rename(&tmp, &path).await?;
        Ok(path)
    }

    /// Seeds an empty template database at `url` as the blueprint says. The
    /// seed is the app's (its SQL or its command): it runs as the template's
    /// own workload in `work`, never as the portal. On PostgreSQL `url`
    /// carries the template's role, which can only create in it.
    async fn fill_template(&self, url: &str, spec: &EnvSpec, log: &Path, work: &Path) -> Result<(), DriverError> {
        let owner = template_owner(&spec.template.key);
        let data = work.join("data");
        match &spec.template.seed {
            Seed::Empty => Ok(()),
            Seed::Sql(sql) if url.starts_with("postgres") => {
                use sqlx::any::AnyPoolOptions;
                sqlx::any::install_default_drivers();
                let pool = AnyPoolOptions::new()
                    .max_connections(1)
                    .connect(url)
                    .await
                    .map_err(|e| DriverError::Failed(format!("opening the template database: {e}")))?;
                append_log(log, "==> seed: the seed file into the template database\n").await;
                let seeded = sqlx::raw_sql(sql).execute(&pool).await;
                pool.close().await;
                seeded
                    .map(|_| ())
                    .map_err(|e| DriverError::Permanent(format!("seeding the template database failed: {e}")))
            }
            Seed::Sql(sql) => {
                append_log(log, "==> seed: the seed file into the template database\n").await;
                let file = data.join("seed.sql");
                tokio::fs::write(&file, sql).await?;
                self.hand_over(&file, &owner).await?;
                self.run_step(
                    "seed",
                    "eod seed-sql seed.sql",
                    (&data, &owner, &data),
                    spec,
                    Some(url),
                    spec.build_timeout,
                    log,
                )
                .await
            }
            Seed::Command { app_id, commit, command } => {
                let src = work.join("src");
                self.git.checkout(app_id, commit, &src).await.map_err(DriverError::Failed)?;
                self.hand_over(&src, &owner).await?;
                append_log(log, &format!("==> seed (at {}): {command}\n", short(commit))).await;
                self.run_step("seed", command, (&src, &owner, &data), spec, Some(url), spec.build_timeout, log).await
            }
        }
    }

    /// The variables every step of an environment gets: nothing of the
    /// portal's own environment, only what the environment needs.
    fn step_env(&self, spec: &EnvSpec, database_url: Option<&str>, home: &Path) -> Vec<(String, String)> {
        let exe_dir = std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf));
        let path = match exe_dir {
            // `eod` in a blueprint (the sample app) is this binary.
            Some(dir) => format!("{}:/usr/local/bin:/usr/bin:/bin", dir.display()),
            None => "/usr/local/bin:/usr/bin:/bin".into(),
        };
        let mut vars: Vec<(String, String)> = vec![
            ("PATH".into(), path),
            ("HOME".into(), home.display().to_string()),
            ("LANG".into(), "C.UTF-8".into()),
            ("EOD_ENV_ID".into(), spec.id.clone()),
            ("EOD_ENV_ROOT".into(), self.root.display().to_string()),
            ("EOD_ENV_NAME".into(), spec.name.clone()),
            ("EOD_ENV_TIER".into(), spec.tier.clone()),
        ];
        if let Some(source) = &spec.source {
            vars.push(("EOD_ENV_COMMIT".into(), source.commit.clone()));
        }
        if let Some(url) = database_url {
            vars.push(("DATABASE_URL".into(), url.to_string()));
        }
        vars.extend(spec.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        vars.extend(spec.secrets.0.iter().map(|(k, v)| (k.clone(), v.clone())));
        vars
    }

    /// Runs one step (build, migrate, seed) to completion under a time
    /// limit, its output appended to `log`. A non-zero exit or the time
    /// limit is permanent: the step and the output's last lines.
    /// `key`: whose uid it runs as (the environment's id, or the template's
    /// for a seed); `home`: its HOME.
    #[allow(clippy::too_many_arguments)]
    async fn run_step(
        &self,
        step: &str,
        command: &str,
        (cwd, key, home): (&Path, &str, &Path),
        spec: &EnvSpec,
        database_url: Option<&str>,
        limit: Duration,
        log: &Path,
    ) -> Result<(), DriverError> {
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
        let mut cmd = self.command(command, cwd, key, spec.limits);
        cmd.envs(self.step_env(spec, database_url, home)).stdout(out.try_clone()?).stderr(out);
        let mut child = cmd.spawn()?;
        let pid = child.id().map(|p| p as i32);
        let status = match tokio::time::timeout(limit, child.wait()).await {
            Ok(status) => status?,
            Err(_) => {
                if let Some(pid) = pid {
                    let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
                }
                let _ = child.wait().await;
                append_log(log, &format!("==> {step} stopped after {} s\n", limit.as_secs())).await;
                return Err(DriverError::Permanent(format!(
                    "{step} took longer than {} s; last output:\n{}",
                    limit.as_secs(),
                    self.failure_output(spec, log).await
                )));
            }
        };
        if status.success() {
            return Ok(());
        }
        append_log(log, &format!("==> {step} failed ({status})\n")).await;
        Err(DriverError::Permanent(format!(
            "{step} failed ({status}); last output:\n{}",
            self.failure_output(spec, log).await
        )))
    }

    /// After a permanent failure: nothing left but the output.
    /// A failing step's output for its reason: the last lines, with the
    /// environment's secret values masked (a build may print them; the
    /// reason is stored, shown and logged).
    async fn failure_output(&self, spec: &EnvSpec, log: &Path) -> String {
        // Only this attempt's output: from its last "==> provisioning" or
        // "==> deploying" line on (earlier attempts' errors would mislead).
        let recent = tail(log, 4_000).await;
        let start = ["==> provisioning ", "==> deploying "].iter().filter_map(|m| recent.rfind(m)).max().unwrap_or(0);
        let mut text = last_lines(&recent[start..], 15);
        for value in spec.secrets.0.values().filter(|v| !v.is_empty()) {
            text = text.replace(value.as_str(), "[secret]");
        }
        text
    }

    async fn clean_up_failed(&self, id: &str) {
        self.stop(id, &[]).await;
        if let Some(pg) = &self.pg {
            let _ = pg.drop_env(id).await;
        }
        let (dir, rt) = (self.env_dir(id), self.runtime_dir(id));
        let parts = ["src", "src.tmp", "next", "next.tmp", "prev", "home", "data", "app.db", "app.db.tmp"];
        let records = ["serving", "kept", "built", "db-password"];
        let paths = parts.iter().map(|p| dir.join(p)).chain(records.iter().map(|p| rt.join(p)));
        for path in paths {
            let _ = tokio::fs::remove_dir_all(&path).await;
            let _ = tokio::fs::remove_file(&path).await;
        }
    }

    async fn provision_steps(&self, spec: &EnvSpec, log: &Path) -> Result<serde_json::Value, DriverError> {
        let cwd = self.env_dir(&spec.id).join("src");
        let database_url = self.prepare(spec, &cwd, true, log).await?;
        let serving = self.start_ready(spec, &cwd, &database_url, log).await?;
        let rt = self.runtime_dir(&spec.id);
        write_serving(&rt, "serving", &serving).await?;
        Ok(serving.facts(&self.env_dir(&spec.id)))
    }

    /// The environment's database password (PostgreSQL), made once and kept
    /// in the portal's records: a restart or a second version started
    /// beside the first connects with the same one.
    async fn db_password(&self, id: &str) -> Result<String, DriverError> {
        let path = self.runtime_dir(id).join("db-password");
        match tokio::fs::read_to_string(&path).await {
            Ok(p) if !p.trim().is_empty() => Ok(p.trim().to_string()),
            _ => {
                let password = super::pg_databases::new_password();
                let tmp = path.with_extension("tmp");
                tokio::fs::write(&tmp, &password).await?;
                tokio::fs::rename(&tmp, &path).await?;
                Ok(password)
            }
        }
    }

    /// Everything before the start, in `cwd`: the code at the commit, its
    /// build (once per commit in `src`, whose `built` marker a retry after a
    /// crash trusts; always in a deployment's `next`), the environment's own
    /// database (cloned from the template once) and the migration. Returns
    /// the database URL.
    async fn prepare(&self, spec: &EnvSpec, cwd: &Path, marked: bool, log: &Path) -> Result<String, DriverError> {
        self.make_dirs(&spec.id).await?;
        let (dir, rt) = (self.env_dir(&spec.id), self.runtime_dir(&spec.id));
        let commit = spec.source.as_ref().map(|s| s.commit.as_str()).unwrap_or("");
        let built =
            if marked { tokio::fs::read_to_string(rt.join("built")).await.unwrap_or_default() } else { String::new() };
        // A retry after a crash keeps the tree it built at this commit.
        let reuse = !commit.is_empty() && built.trim() == commit && tokio::fs::try_exists(cwd).await.unwrap_or(false);
        // 1. The code at the environment's commit. Never git in a tree the
        // workload could have changed (its hooks and config would run as
        // the portal): a fresh clone, then handed over.
        if !reuse {
            let _ = tokio::fs::remove_dir_all(cwd).await;
            match &spec.source {
                Some(source) => {
                    append_log(log, &format!("==> checkout {}\n", source.commit)).await;
                    self.git.checkout(&source.app_id, &source.commit, cwd).await.map_err(DriverError::Failed)?;
                }
                None => tokio::fs::create_dir_all(cwd).await?,
            }
            self.hand_over(cwd, &spec.id).await?;
        }
        // 2. The build.
        let home = dir.join("home");
        if let Some(build) = spec.build.as_ref().filter(|_| !reuse) {
            append_log(log, &format!("==> build: {build}\n")).await;
            self.run_step("build", build, (cwd, &spec.id, &home), spec, None, spec.build_timeout, log).await?;
        }
        if marked && !reuse {
            tokio::fs::write(rt.join("built"), commit).await?;
        }
        // 3. Its own database, cloned from the template, then migrated.
        let database_url = match &self.pg {
            Some(pg) => {
                let fill = |url: String| async move {
                    let work = self.seed_work(&spec.template.key).await?;
                    let filled = self.fill_template(&url, spec, log, &work).await;
                    let _ = tokio::fs::remove_dir_all(&work).await;
                    filled
                };
                let password = self.db_password(&spec.id).await?;
                pg.ensure(&spec.id, &spec.template.key, &password, fill).await?
            }
            None => {
                let db = dir.join("data").join("app.db");
                // Before isolation the database lay beside `src`.
                if !db.exists() && dir.join("app.db").exists() {
                    tokio::fs::rename(dir.join("app.db"), &db).await?;
                    self.hand_over(&db, &spec.id).await?;
                }
                if !db.exists() {
                    let template = self.sqlite_template(spec, log).await?;
                    // Copied in the portal's part of the directory, then
                    // renamed into the workload's: nothing it planted is
                    // written through.
                    let tmp = dir.join("app.db.tmp");
                    let _ = tokio::fs::remove_file(&tmp).await;
                    tokio::fs::copy(&template, &tmp).await?;
                    self.hand_over(&tmp, &spec.id).await?;
                    tokio::fs::rename(&tmp, &db).await?;
                }
                format!("sqlite:{}", db.display())
            }
        };
        if let Some(migrate) = &spec.migrate {
            append_log(log, &format!("==> migrate: {migrate}\n")).await;
            self.run_step(
                "migrate",
                migrate,
                (cwd, &spec.id, &home),
                spec,
                Some(&database_url),
                spec.build_timeout,
                log,
            )
            .await?;
        }
        Ok(database_url)
    }

    /// Starts the blueprint's start command in `cwd` on a free port and
    /// waits for its readiness probe (polling quickly at first, 60 s at
    /// most). A process that never gets ready is killed.
    async fn start_ready(
        &self,
        spec: &EnvSpec,
        cwd: &Path,
        database_url: &str,
        log: &Path,
    ) -> Result<Serving, DriverError> {
        let commit = spec.source.as_ref().map(|s| s.commit.clone()).unwrap_or_default();
        append_log(log, &format!("==> start: {}\n", spec.start)).await;
        let port = free_port()?;
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
        // Its own process group: environments outlive a portal restart
        // and are adopted (or swept) by the next one.
        let mut cmd = self.command(&spec.start, cwd, &spec.id, spec.limits);
        let home = self.env_dir(&spec.id).join("home");
        cmd.envs(self.step_env(spec, Some(database_url), &home))
            .env("PORT", port.to_string())
            .stdout(out.try_clone()?)
            .stderr(out);
        let child = cmd.spawn()?;
        let pid = child.id().ok_or_else(|| DriverError::Failed("the process exited at once".into()))? as i32;
        for attempt in 0..650 {
            if self.healthy(port, &spec.health_path).await {
                return Ok(Serving { pid, port, commit });
            }
            if !alive(pid) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(if attempt < 50 { 20 } else { 100 })).await;
        }
        stop_group(pid).await;
        let output = self.failure_output(spec, log).await;
        Err(DriverError::Failed(format!("readiness probe on {} failed; output:\n{output}", spec.health_path)))
    }

    /// What serves the environment now, if its process is alive.
    async fn running(&self, id: &str) -> Option<(i32, u16)> {
        let s = read_serving(&self.runtime_dir(id), "serving").await?;
        alive(s.pid).then_some((s.pid, s.port))
    }

    /// Rolling and blue-green: the new version starts in `next/` beside
    /// what serves, and takes the traffic only once it passes its readiness
    /// probe (one atomic rename of the `serving` record, which the proxy
    /// reads). Rolling then stops the old process; blue-green keeps it
    /// (`kept`, `prev/`) for the rollback window.
    async fn deploy_beside(
        &self,
        spec: &EnvSpec,
        strategy: DeploymentStrategy,
        log: &Path,
    ) -> Result<serde_json::Value, DriverError> {
        let (dir, rt) = (self.env_dir(&spec.id), self.runtime_dir(&spec.id));
        let Some(old) = read_serving(&rt, "serving").await.filter(|s| alive(s.pid)) else {
            // Nothing serves to keep serving: the same as a recreate.
            append_log(log, "==> nothing serves now: starting it afresh\n").await;
            return Ok(with_kept(self.provision(spec).await?, false));
        };
        // Nothing left of an interrupted attempt; what serves and the kept
        // colour stay until the new version is ready.
        let kept = read_serving(&rt, "kept").await.filter(|k| alive(k.pid) && k.pid != old.pid);
        let keep: Vec<i32> = [Some(old.pid), kept.as_ref().map(|k| k.pid)].into_iter().flatten().collect();
        self.stop(&spec.id, &keep).await;
        let next = dir.join("next");
        let _ = tokio::fs::remove_dir_all(&next).await;
        let database_url = self.prepare(spec, &next, false, log).await?;
        let new = match self.start_ready(spec, &next, &database_url, log).await {
            Ok(new) => new,
            Err(e) => {
                let _ = tokio::fs::remove_dir_all(&next).await;
                append_log(
                    log,
                    &format!("==> the new version never became ready; {} keeps serving\n", short(&old.commit)),
                )
                .await;
                return Err(DriverError::Permanent(format!(
                    "the new version never became ready; the previous one keeps serving. {e}"
                )));
            }
        };
        // The switch: `serving` names the new process in one rename. One
        // kept colour at most: an older one goes first.
        if let Some(kept) = &kept {
            self.stop_version(&spec.id, kept.pid).await;
        }
        let prev = dir.join("prev");
        let _ = tokio::fs::remove_dir_all(&prev).await;
        if tokio::fs::try_exists(dir.join("src")).await.unwrap_or(false) {
            tokio::fs::rename(dir.join("src"), &prev).await?;
        }
        tokio::fs::rename(&next, dir.join("src")).await?;
        tokio::fs::write(rt.join("built"), &new.commit).await?;
        if strategy == DeploymentStrategy::BlueGreen {
            write_serving(&rt, "kept", &old).await?;
        } else {
            let _ = tokio::fs::remove_file(rt.join("kept")).await;
        }
        write_serving(&rt, "serving", &new).await?;
        append_log(log, &format!("==> {} serves now ({})\n", short(&new.commit), strategy.as_str())).await;
        if strategy != DeploymentStrategy::BlueGreen {
            tokio::time::sleep(DRAIN).await;
            self.stop_version(&spec.id, old.pid).await;
            let _ = tokio::fs::remove_dir_all(&prev).await;
        }
        Ok(with_kept(new.facts(&dir), strategy == DeploymentStrategy::BlueGreen))
    }

    /// Blue-green: stops the kept colour, if any (its window closed, or a
    /// new deployment replaces it).
    async fn retire_kept(&self, id: &str) -> Result<(), DriverError> {
        let (dir, rt) = (self.env_dir(id), self.runtime_dir(id));
        if let Some(kept) = read_serving(&rt, "kept").await {
            let serving = read_serving(&rt, "serving").await;
            // Never the one that serves (a rollback already swapped them).
            if serving.is_none_or(|s| s.pid != kept.pid) {
                self.stop_version(id, kept.pid).await;
            }
        }
        let _ = tokio::fs::remove_dir_all(dir.join("prev")).await;
        match tokio::fs::remove_file(rt.join("kept")).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Blue-green: traffic back to the kept colour in one rename, then the
    /// rolled-back one stops.
    async fn switch_back(&self, id: &str) -> Result<serde_json::Value, DriverError> {
        let (dir, rt) = (self.env_dir(id), self.runtime_dir(id));
        let log = rt.join("output.log");
        let Some(kept) = read_serving(&rt, "kept").await.filter(|k| alive(k.pid)) else {
            return Err(DriverError::Permanent(
                "the previous colour is no longer running; nothing to switch back to".into(),
            ));
        };
        let current = read_serving(&rt, "serving").await;
        write_serving(&rt, "serving", &kept).await?;
        append_log(&log, &format!("==> rolled back: {} serves again\n", short(&kept.commit))).await;
        if let Some(current) = current.filter(|c| c.pid != kept.pid) {
            tokio::time::sleep(DRAIN).await;
            self.stop_version(id, current.pid).await;
        }
        let gone = dir.join("rolled-back");
        let _ = tokio::fs::remove_dir_all(&gone).await;
        if tokio::fs::try_exists(dir.join("prev")).await.unwrap_or(false) {
            tokio::fs::rename(dir.join("src"), &gone).await?;
            tokio::fs::rename(dir.join("prev"), dir.join("src")).await?;
            tokio::fs::write(rt.join("built"), &kept.commit).await?;
            let _ = tokio::fs::remove_dir_all(&gone).await;
        }
        tokio::fs::remove_file(rt.join("kept")).await?;
        Ok(kept.facts(&dir))
    }

    async fn healthy(&self, port: u16, path: &str) -> bool {
        self.check(port, path).await.is_ok()
    }

    /// One GET of the health path (the client's 2 s timeout); why it failed.
    async fn check(&self, port: u16, path: &str) -> Result<(), String> {
        let url = format!("http://127.0.0.1:{port}{path}");
        match self.http.get(url).send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("{path} answered {}", r.status().as_u16())),
            Err(e) if e.is_timeout() => Err(format!("{path} did not answer within 2 s")),
            Err(_) => Err(format!("{path} refused the connection")),
        }
    }
}

/// One running version of an environment: its process (group leader), port
/// and commit. `serving` names the one the proxy sends traffic to; `kept`,
/// blue-green's previous colour. Each is one small file replaced by a
/// rename, so a reader (or a crash) sees the old record or the new one,
/// never half of each.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Serving {
    pid: i32,
    port: u16,
    commit: String,
}

impl Serving {
    fn facts(&self, dir: &Path) -> serde_json::Value {
        serde_json::json!({ "pid": self.pid, "port": self.port, "dir": dir, "commit": self.commit })
    }
}

/// A deployment's facts with whether the old version was kept (a rollback
/// is possible only then).
fn with_kept(mut facts: serde_json::Value, kept: bool) -> serde_json::Value {
    facts["kept"] = serde_json::Value::Bool(kept);
    facts
}

async fn write_serving(dir: &Path, name: &str, s: &Serving) -> std::io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    tokio::fs::write(&tmp, format!("{} {} {}\n", s.pid, s.port, s.commit)).await?;
    tokio::fs::rename(&tmp, dir.join(name)).await
}

async fn read_serving(dir: &Path, name: &str) -> Option<Serving> {
    let text = tokio::fs::read_to_string(dir.join(name)).await.ok()?;
    let mut parts = text.split_whitespace();
    let pid = parts.next()?.parse().ok()?;
    let port = parts.next()?.parse().ok()?;
    let commit = parts.next().unwrap_or("").to_string();
    Some(Serving { pid, port, commit })
}

/// Stops one process group (TERM, then KILL after 1.5 s).
async fn stop_group(pid: i32) {
    let _ = killpg(Pid::from_raw(pid), Signal::SIGTERM);
    let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    for _ in 0..30 {
        if !alive(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
}

/// Whose uid a template's seed runs under (not any environment's).
fn template_owner(key: &str) -> String {
    format!("template:{key}")
}

/// Sets the owner of a tree the portal made, never following a symlink,
/// children before their directory.
fn chown_tree(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    if std::fs::symlink_metadata(path)?.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
}

/// Copies a file a workload owns without following a link it may have put
/// in its place (which could name the portal's database).
async fn copy_no_follow(src: &Path, dest: &Path) -> Result<(), DriverError> {
    use std::os::unix::fs::OpenOptionsExt;
    let (src, dest) = (src.to_path_buf(), dest.to_path_buf());
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        // O_NONBLOCK: a FIFO put in its place cannot hang the copy.
        let flags = nix::fcntl::OFlag::O_NOFOLLOW | nix::fcntl::OFlag::O_NONBLOCK;
        let mut from = std::fs::OpenOptions::new().read(true).custom_flags(flags.bits()).open(&src)?;
        let meta = from.metadata()?;
        // A hard link to someone else's file is not the workload's data.
        if !meta.is_file() || std::os::unix::fs::MetadataExt::nlink(&meta) != 1 {
            return Err(std::io::Error::other(format!("{} is not a plain file of its own", src.display())));
        }
        let mut to = std::fs::File::create(&dest)?;
        std::io::copy(&mut from, &mut to)?;
        Ok(())
    })
    .await
    .map_err(|e| DriverError::Failed(e.to_string()))??;
    Ok(())
}

/// Every live process running as `uid`.
/// Every process with its uid and the environment id its marker (`marker`,
/// then `EOD_ENV_ID=`) names, in one pass over /proc.
fn scan_processes(marker: &str) -> Vec<Running> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return vec![] };
    let mut found = vec![];
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let env = std::fs::read(entry.path().join("environ")).ok().and_then(|environ| {
            let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
            if !vars.contains(&marker.as_bytes()) {
                return None;
            }
            let id = vars.iter().find_map(|v| v.strip_prefix(b"EOD_ENV_ID="))?;
            Some(String::from_utf8_lossy(id).into_owned()).filter(|id| is_portal_id(id))
        });
        found.push(Running { pid, uid: process_uid(pid), env });
    }
    found
}

/// Whether process `pid` carries `marker` and names environment `id`.
fn marked_for(pid: i32, marker: &str, id: &str) -> bool {
    let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else { return false };
    let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
    let named = format!("EOD_ENV_ID={id}");
    vars.contains(&marker.as_bytes()) && vars.contains(&named.as_bytes())
}

fn processes_of_uid(uid: u32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return vec![] };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|pid| process_uid(*pid) == Some(uid) && alive(*pid))
        .collect()
}

/// A process's real uid (from `/proc/<pid>/status`).
fn process_uid(pid: i32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("Uid:"))?.split_whitespace().next()?.parse().ok()
}

/// A process's group id (from `/proc/<pid>/stat`).
fn process_group(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After "pid (comm) ": state, ppid, pgrp.
    stat.rsplit(')').next()?.split_whitespace().nth(2)?.parse().ok()
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
        let (dir, rt) = (self.env_dir(&spec.id), self.runtime_dir(&spec.id));
        let commit = spec.source.as_ref().map(|s| s.commit.as_str()).unwrap_or("");
        if let Some(s) = read_serving(&rt, "serving").await.filter(|s| alive(s.pid)) {
            if s.commit == commit && self.healthy(s.port, &spec.health_path).await {
                // Strays from an interrupted attempt (a kept colour too) go.
                self.stop(&spec.id, &[s.pid]).await;
                let _ = self.retire_kept(&spec.id).await;
                return Ok(s.facts(&dir));
            }
        }
        // Whatever an earlier, interrupted attempt (or the previous commit) left running goes first.
        self.stop(&spec.id, &[]).await;
        let _ = self.retire_kept(&spec.id).await;
        self.make_dirs(&spec.id).await?;
        let log = rt.join("output.log");
        append_log(
            &log,
            &format!(
                "==> provisioning {} ({}){}\n",
                spec.name,
                spec.tier,
                if commit.is_empty() { String::new() } else { format!(" at {}", short(commit)) }
            ),
        )
        .await;
        match self.provision_steps(spec, &log).await {
            Err(DriverError::Permanent(reason)) => {
                self.clean_up_failed(&spec.id).await;
                Err(DriverError::Permanent(reason))
            }
            other => other,
        }
    }

    async fn snapshot(&self, spec: &EnvSpec) -> Result<String, DriverError> {
        let dir = self.root.join("snapshots");
        tokio::fs::create_dir_all(&dir).await?;
        if let Some(pg) = &self.pg {
            let dest = dir.join(format!("{}.dump", spec.name));
            pg.snapshot(&spec.id, &self.db_password(&spec.id).await?, &dest).await?;
            return Ok(dest.display().to_string());
        }
        let src = self.env_dir(&spec.id).join("data").join("app.db");
        let dest = dir.join(format!("{}.db", spec.name));
        if src.exists() {
            // The workload's file: a link it planted is not followed.
            copy_no_follow(&src, &dest).await?;
        }
        Ok(dest.display().to_string())
    }

    async fn teardown(&self, id: &str) -> Result<(), DriverError> {
        // Only ever paths inside this driver's directory (`id` is joined to
        // it). Nothing can exist here for an id that is not the portal's
        // (provisioning refuses it), so there is nothing to remove.
        if !is_portal_id(id) {
            return Ok(());
        }
        self.stop_for_teardown(id).await;
        if let Some(pg) = &self.pg {
            pg.drop_env(id).await?;
        }
        for dir in [self.env_dir(id), self.runtime_dir(id)] {
            match tokio::fs::remove_dir_all(dir).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn owned(&self) -> Result<Vec<String>, DriverError> {
        let mut ids: Vec<String> = self.processes().into_iter().map(|(_, id)| id).collect();
        if let Some(pg) = &self.pg {
            ids.extend(pg.owned().await?);
        }
        for dir in [self.root.join("envs"), self.root.join("runtime")] {
            match tokio::fs::read_dir(dir).await {
                Ok(mut entries) => {
                    while let Some(entry) = entries.next_entry().await? {
                        ids.push(entry.file_name().to_string_lossy().into_owned());
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        // Anything else found there is not the portal's to act on.
        ids.retain(|id| is_portal_id(id));
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    async fn endpoint(&self, id: &str) -> Option<SocketAddr> {
        self.running(id).await.map(|(_, port)| SocketAddr::from(([127, 0, 0, 1], port)))
    }

    async fn deploy(
        &self,
        spec: &EnvSpec,
        strategy: DeploymentStrategy,
        resume: bool,
    ) -> Result<serde_json::Value, DriverError> {
        let (dir, rt) = (self.env_dir(&spec.id), self.runtime_dir(&spec.id));
        let log = rt.join("output.log");
        let wanted = spec.source.as_ref().map(|s| s.commit.as_str()).unwrap_or("");
        // A retry after a crash that came after the switch: done already.
        if let Some(s) = read_serving(&rt, "serving").await.filter(|s| resume && alive(s.pid) && s.commit == wanted) {
            if self.healthy(s.port, &spec.health_path).await {
                let kept = read_serving(&rt, "kept").await.is_some_and(|k| alive(k.pid));
                return Ok(with_kept(s.facts(&dir), kept));
            }
        }
        let commit = short(wanted).to_string();
        append_log(&log, &format!("==> deploying {commit} ({})\n", strategy.as_str())).await;
        match strategy {
            // Stop, start, probe, in place. A failure leaves nothing
            // running (the health monitor then restarts what the
            // environment records), but keeps its database and files.
            DeploymentStrategy::Recreate => {
                self.stop(&spec.id, &[]).await;
                self.retire_kept(&spec.id).await?;
                let facts = self.provision_steps(spec, &log).await.map_err(|e| match e {
                    DriverError::Failed(m) | DriverError::Permanent(m) => DriverError::Permanent(m),
                    other => other,
                })?;
                Ok(with_kept(facts, false))
            }
            DeploymentStrategy::Rolling | DeploymentStrategy::BlueGreen => {
                self.deploy_beside(spec, strategy, &log).await
            }
        }
    }

    async fn roll_back(&self, id: &str) -> Result<serde_json::Value, DriverError> {
        self.switch_back(id).await
    }

    async fn retire(&self, id: &str) -> Result<(), DriverError> {
        self.retire_kept(id).await
    }

    async fn serving_commit(&self, id: &str) -> Option<String> {
        read_serving(&self.runtime_dir(id), "serving").await.filter(|s| alive(s.pid)).map(|s| s.commit)
    }

    async fn probe(&self, id: &str, health_path: &str) -> app::domain::health::Probe {
        use app::domain::health::Probe;
        match self.running(id).await {
            None => Probe::Gone,
            Some((_, port)) => match self.check(port, health_path).await {
                Ok(()) => Probe::Passed,
                Err(why) => Probe::Failed(why),
            },
        }
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
        let path = self.runtime_dir(id).join("output.log");
        tokio::fs::try_exists(&path).await.ok()?.then_some(())?;
        Some(tail(&path, max_bytes).await)
    }
}

/// Appends a line to an environment's output (best effort: the log is for people).
async fn append_log(path: &Path, text: &str) {
    use tokio::io::AsyncWriteExt;
    if let Ok(mut f) = tokio::fs::OpenOptions::new().create(true).append(true).open(path).await {
        let _ = f.write_all(text.as_bytes()).await;
    }
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

/// The last `n` non-empty lines of some output.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A crash between making an environment's `data` directory and handing
    /// it over left it the portal's, and the workload's database could not
    /// be opened ("unable to open database file") on every retry. The next
    /// run hands it over.
    #[tokio::test]
    async fn a_directory_a_crash_left_the_portals_is_handed_over_on_the_next_run() {
        use std::os::unix::fs::MetadataExt;
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: workloads are isolated only when the portal runs as root");
            return;
        }
        let data = tempfile::tempdir().unwrap();
        let run_as = crate::config::RunAs::User("eod-workload".into());
        let Ok(Some(iso)) = Isolation::resolve(&run_as, data.path()) else {
            panic!("the eod-workload user exists where tests run as root (bash .ci/install test makes it)");
        };
        let git = std::sync::Arc::new(Git::new(data.path()));
        let driver = LocalDriver::new(data.path(), None, git, Some(iso));
        let id = uuid::Uuid::now_v7().hyphenated().to_string();
        // What the crashed run left: the directories, made but not handed over.
        std::fs::create_dir_all(driver.env_dir(&id).join("data")).unwrap();
        std::fs::create_dir_all(driver.env_dir(&id).join("home")).unwrap();
        driver.make_dirs(&id).await.unwrap();
        for part in ["data", "home"] {
            let meta = std::fs::symlink_metadata(driver.env_dir(&id).join(part)).unwrap();
            assert_eq!(meta.uid(), iso.uid_of(&id), "{part} belongs to the workload");
        }
    }
}
