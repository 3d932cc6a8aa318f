//! Environment databases on a PostgreSQL server (`EOD_ENV_DATABASE_URL`):
//! each environment gets `CREATE DATABASE … TEMPLATE <app's template>`,
//! snapshots are `pg_dump` archives, teardown drops the database. Names
//! carry a key derived from this portal's data directory, so several portals
//! can share one server without sweeping each other's databases.

use super::DriverError;
use sqlx::{Connection, Executor, PgConnection};
use std::path::Path;

pub struct PgDatabases {
    /// A database to connect to for CREATE/DROP DATABASE (the URL as configured).
    admin_url: String,
    /// The URL without its database name: `postgres://user:pass@host:port`.
    base: String,
    key: String,
}

fn failed(what: &str) -> impl FnOnce(sqlx::Error) -> DriverError + '_ {
    move |e| DriverError::Failed(format!("{what}: {e}"))
}

/// Environment ids and template names become identifiers: `[a-z0-9-]` only.
fn ident_part(s: &str) -> Result<String, DriverError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return Err(DriverError::Failed(format!("{s:?} cannot name a database")));
    }
    Ok(s.replace('-', "_"))
}

impl PgDatabases {
    pub fn new(admin_url: &str, root: &Path) -> PgDatabases {
        let h = app::domain::naming::stable_hash(&root.display().to_string()) as u32;
        let base = admin_url.split('?').next().unwrap_or(admin_url);
        let base = base.rsplit_once('/').map_or(base, |(b, _)| b).to_string();
        PgDatabases { admin_url: admin_url.to_string(), base, key: format!("{h:08x}") }
    }

    fn env_db(&self, id: &str) -> Result<String, DriverError> {
        Ok(format!("eod_env_{}_{}", self.key, ident_part(id)?))
    }

    fn template_db(&self, template: &str) -> Result<String, DriverError> {
        Ok(format!("eod_tmpl_{}_{}", self.key, ident_part(template)?))
    }

    pub fn url_of(&self, db: &str) -> String {
        format!("{}/{db}", self.base)
    }

    async fn admin(&self) -> Result<PgConnection, DriverError> {
        PgConnection::connect(&self.admin_url).await.map_err(failed("connecting to the environments' PostgreSQL"))
    }

    async fn exists(conn: &mut PgConnection, name: &str) -> Result<bool, DriverError> {
        let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_optional(&mut *conn)
            .await
            .map_err(failed("looking up a database"))?;
        Ok(found.is_some())
    }

    /// Creates (or finds) the environment's database, cloned from the
    /// template `key` (built first with `fill`, given the URL of the empty
    /// database to seed, if it does not exist yet); returns its URL.
    pub async fn ensure<F, Fut>(&self, id: &str, key: &str, fill: F) -> Result<String, DriverError>
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = Result<(), DriverError>>,
    {
        let (db, tmpl) = (self.env_db(id)?, self.template_db(key)?);
        let mut conn = self.admin().await?;
        if !Self::exists(&mut conn, &tmpl).await? {
            // Build under a private name, then rename: a crash never leaves half a template.
            let building = format!("{tmpl}_b{}", std::process::id());
            conn.execute(format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)").as_str())
                .await
                .map_err(failed("dropping a stale template"))?;
            conn.execute(format!("CREATE DATABASE \"{building}\"").as_str())
                .await
                .map_err(failed("creating a template"))?;
            if let Err(err) = fill(self.url_of(&building)).await {
                let _ = conn.execute(format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)").as_str()).await;
                return Err(err);
            }
            if conn.execute(format!("ALTER DATABASE \"{building}\" RENAME TO \"{tmpl}\"").as_str()).await.is_err() {
                // Another replica won the race; use theirs.
                let _ = conn.execute(format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)").as_str()).await;
            }
        }
        if !Self::exists(&mut conn, &db).await? {
            conn.execute(format!("CREATE DATABASE \"{db}\" TEMPLATE \"{tmpl}\"").as_str())
                .await
                .map_err(failed("creating the environment's database"))?;
        }
        let _ = conn.close().await;
        Ok(self.url_of(&db))
    }

    /// `pg_dump` of the environment's database into `dest` (custom format).
    pub async fn snapshot(&self, id: &str, dest: &Path) -> Result<(), DriverError> {
        let url = self.url_of(&self.env_db(id)?);
        let out = tokio::process::Command::new("pg_dump")
            .args(["--format=custom", "--file"])
            .arg(dest)
            .arg(&url)
            .output()
            .await
            .map_err(|e| DriverError::Failed(format!("running pg_dump: {e}")))?;
        if !out.status.success() {
            // stderr names the database, never the password (it is in the URL argument only).
            return Err(DriverError::Failed(format!(
                "pg_dump failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }

    pub async fn drop_env(&self, id: &str) -> Result<(), DriverError> {
        let db = self.env_db(id)?;
        let mut conn = self.admin().await?;
        conn.execute(format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)").as_str())
            .await
            .map_err(failed("dropping the environment's database"))?;
        let _ = conn.close().await;
        Ok(())
    }

    /// Ids of environments that have a database here.
    pub async fn owned(&self) -> Result<Vec<String>, DriverError> {
        let prefix = format!("eod_env_{}_", self.key);
        let mut conn = self.admin().await?;
        let names: Vec<String> = sqlx::query_scalar("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
            .bind(&prefix)
            .fetch_all(&mut conn)
            .await
            .map_err(failed("listing databases"))?;
        let _ = conn.close().await;
        Ok(names.iter().filter_map(|n| n.strip_prefix(&prefix)).map(|id| id.replace('_', "-")).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_identifiers_keyed_by_the_portal() {
        let a = PgDatabases::new("postgres://u:p@h:5432/postgres?sslmode=disable", Path::new("/data/a"));
        let b = PgDatabases::new("postgres://u:p@h:5432/postgres", Path::new("/data/b"));
        assert_eq!(a.base, "postgres://u:p@h:5432");
        let db = a.env_db("0199e1c2-aaaa-7bbb-8ccc-0123456789ab").unwrap();
        assert!(db.starts_with("eod_env_") && db.len() <= 63, "{db}");
        assert!(db.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_'));
        assert_ne!(a.env_db("x").unwrap(), b.env_db("x").unwrap());
        assert!(a.env_db("x\"; DROP").is_err());
    }
}
