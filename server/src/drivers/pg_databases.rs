//! Environment databases on a PostgreSQL server (`EOD_ENV_DATABASE_URL`):
//! each environment gets its own login role with a generated password and
//! `CREATE DATABASE … OWNER <its role> TEMPLATE <app's template>`, with
//! CONNECT revoked from PUBLIC, so a workload reaches its own database and
//! nothing else; the server's admin credentials never leave the portal.
//! Templates are seeded by a role of their own (an app's seed is its code
//! too), whose objects each clone hands to the environment's role; the
//! template role cannot log in once its template is built. Snapshots are
//! `pg_dump` archives taken as the environment's role with the password in
//! `PGPASSWORD`, never on a command line. Names carry a key derived from
//! this portal's data directory, so several portals share one server
//! without sweeping each other's databases.

use super::DriverError;
use sqlx::{Connection, Executor, PgConnection};
use std::path::Path;

pub struct PgDatabases {
    /// A database to connect to for CREATE/DROP DATABASE (the URL as configured).
    admin_url: String,
    /// The admin URL without its database name: `postgres://user:pass@host:port`.
    base: String,
    /// `host:port` (no credentials), for the URLs workloads get.
    server: String,
    key: String,
    /// One template build at a time on this replica: jobs run concurrently,
    /// and two provisions of one app would otherwise build its template
    /// under the same private name.
    templates: tokio::sync::Mutex<()>,
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

/// A new role password: 128 random bits (hex, so it needs no URL escaping).
pub fn new_password() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl PgDatabases {
    pub fn new(admin_url: &str, root: &Path) -> PgDatabases {
        let h = app::domain::naming::stable_hash(&root.display().to_string()) as u32;
        let base = admin_url.split('?').next().unwrap_or(admin_url);
        let base = base.rsplit_once('/').filter(|(b, _)| b.contains("://")).map_or(base, |(b, _)| b).to_string();
        let after_scheme = base.split_once("://").map_or(base.as_str(), |(_, rest)| rest);
        let server = after_scheme.rsplit_once('@').map_or(after_scheme, |(_, host)| host).to_string();
        PgDatabases {
            admin_url: admin_url.to_string(),
            base,
            server,
            key: format!("{h:08x}"),
            templates: tokio::sync::Mutex::new(()),
        }
    }

    /// The environment's database, and its role (the same name).
    fn env_db(&self, id: &str) -> Result<String, DriverError> {
        Ok(format!("eod_env_{}_{}", self.key, ident_part(id)?))
    }

    /// A template database, and the role that seeds it (the same name).
    /// (`eod_tpl_`: templates of earlier versions belonged to the admin.)
    fn template_db(&self, template: &str) -> Result<String, DriverError> {
        Ok(format!("eod_tpl_{}_{}", self.key, ident_part(template)?))
    }

    /// A database's URL with the admin's credentials (the portal's use only).
    pub fn url_of(&self, db: &str) -> String {
        format!("{}/{db}", self.base)
    }

    /// A database's URL as `role` with `password`: what a workload gets.
    fn url_as(&self, role: &str, password: &str, db: &str) -> String {
        format!("postgres://{role}:{password}@{}/{db}", self.server)
    }

    /// A connection as the admin. Its search path is only `pg_catalog`: a
    /// workload role that may create objects in a schema the admin searches
    /// could otherwise shadow a function the admin calls (CVE-2018-1058).
    async fn admin(&self) -> Result<PgConnection, DriverError> {
        let mut conn = PgConnection::connect(&self.admin_url)
            .await
            .map_err(failed("connecting to the environments' PostgreSQL"))?;
        conn.execute("SET search_path TO pg_catalog").await.map_err(failed("setting the admin's search path"))?;
        Ok(conn)
    }

    async fn exists(conn: &mut PgConnection, name: &str) -> Result<bool, DriverError> {
        let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_optional(&mut *conn)
            .await
            .map_err(failed("looking up a database"))?;
        Ok(found.is_some())
    }

    /// Makes (or updates) a login role with `password`, and lets the admin
    /// act for it (create its database, reassign objects to it).
    async fn login_role(conn: &mut PgConnection, role: &str, password: &str) -> Result<(), DriverError> {
        let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_roles WHERE rolname = $1")
            .bind(role)
            .fetch_optional(&mut *conn)
            .await
            .map_err(failed("looking up a role"))?;
        // Identifiers and the password are [a-z0-9_] only (see ident_part, new_password).
        // ALTER names only what it changes: a role made here has no other
        // attribute, and a CREATEROLE admin may not mention SUPERUSER at all.
        let statement = if found.is_some() {
            format!("ALTER ROLE \"{role}\" LOGIN PASSWORD '{password}'")
        } else {
            format!("CREATE ROLE \"{role}\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{password}'")
        };
        conn.execute(statement.as_str())
            .await
            .map_err(failed("making the environment's role (the admin needs CREATEROLE)"))?;
        if found.is_none() {
            conn.execute(format!("GRANT \"{role}\" TO CURRENT_USER").as_str())
                .await
                .map_err(failed("granting the environment's role to the admin"))?;
        }
        Ok(())
    }

    /// Creates (or finds) the environment's role and database, cloned from
    /// the template `key` (built first with `fill`, given the URL the seed
    /// runs with, if it does not exist yet); returns the URL the workload
    /// gets: its own role and `password`, its own database.
    pub async fn ensure<F, Fut>(&self, id: &str, key: &str, password: &str, fill: F) -> Result<String, DriverError>
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = Result<(), DriverError>>,
    {
        let (db, tmpl) = (self.env_db(id)?, self.template_db(key)?);
        let mut conn = self.admin().await?;
        let building_templates = self.templates.lock().await;
        if !Self::exists(&mut conn, &tmpl).await? {
            // Build under a private name, then rename: a crash never leaves half a template.
            let building = format!("{tmpl}_b{}", std::process::id());
            conn.execute(format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)").as_str())
                .await
                .map_err(failed("dropping a stale template"))?;
            conn.execute(format!("CREATE DATABASE \"{building}\"").as_str())
                .await
                .map_err(failed("creating a template"))?;
            // The seed runs as the template's role: it may create in the
            // database, nothing more, and nobody else may connect.
            let seed_password = new_password();
            Self::login_role(&mut conn, &tmpl, &seed_password).await?;
            for grant in [
                format!("REVOKE CONNECT, TEMPORARY ON DATABASE \"{building}\" FROM PUBLIC"),
                format!("GRANT CONNECT ON DATABASE \"{building}\" TO \"{tmpl}\""),
            ] {
                conn.execute(grant.as_str()).await.map_err(failed("restricting the template"))?;
            }
            let mut inside = PgConnection::connect(&self.url_of(&building))
                .await
                .map_err(failed("connecting to the new template"))?;
            inside
                .execute(format!("GRANT USAGE, CREATE ON SCHEMA public TO \"{tmpl}\"").as_str())
                .await
                .map_err(failed("letting the seed create tables"))?;
            let _ = inside.close().await;
            let filled = fill(self.url_as(&tmpl, &seed_password, &building)).await;
            // Nobody logs in as the template's role again.
            let _ = conn.execute(format!("ALTER ROLE \"{tmpl}\" NOLOGIN PASSWORD NULL").as_str()).await;
            if let Err(err) = filled {
                let _ = conn.execute(format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)").as_str()).await;
                return Err(err);
            }
            if conn.execute(format!("ALTER DATABASE \"{building}\" RENAME TO \"{tmpl}\"").as_str()).await.is_err() {
                // Another replica won the race; use theirs.
                let _ = conn.execute(format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)").as_str()).await;
            }
        }
        drop(building_templates);
        Self::login_role(&mut conn, &db, password).await?;
        if !Self::exists(&mut conn, &db).await? {
            let building = format!("{db}_b");
            conn.execute(format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)").as_str())
                .await
                .map_err(failed("dropping a half-made database"))?;
            conn.execute(format!("CREATE DATABASE \"{building}\" OWNER \"{db}\" TEMPLATE \"{tmpl}\"").as_str())
                .await
                .map_err(failed("creating the environment's database"))?;
            conn.execute(format!("REVOKE CONNECT, TEMPORARY ON DATABASE \"{building}\" FROM PUBLIC").as_str())
                .await
                .map_err(failed("restricting the environment's database"))?;
            let mut inside = PgConnection::connect(&self.url_of(&building))
                .await
                .map_err(failed("connecting to the new database"))?;
            for sql in [
                format!("REASSIGN OWNED BY \"{tmpl}\" TO \"{db}\""),
                format!("REVOKE ALL ON SCHEMA public FROM \"{tmpl}\""),
            ] {
                inside.execute(sql.as_str()).await.map_err(failed("giving the seeded tables to the environment"))?;
            }
            let _ = inside.close().await;
            // Complete only now: a crash above leaves `_b`, made again next time.
            conn.execute(format!("ALTER DATABASE \"{building}\" RENAME TO \"{db}\"").as_str())
                .await
                .map_err(failed("naming the environment's database"))?;
        }
        let _ = conn.close().await;
        Ok(self.url_as(&db, password, &db))
    }

    /// `pg_dump` of the environment's database into `dest` (custom format),
    /// as its own role; the password goes in the environment, not the
    /// command line (which every user of the host can read).
    pub async fn snapshot(&self, id: &str, password: &str, dest: &Path) -> Result<(), DriverError> {
        let db = self.env_db(id)?;
        let (host, port) = self.server.rsplit_once(':').unwrap_or((self.server.as_str(), "5432"));
        let out = tokio::process::Command::new("pg_dump")
            .args(["--format=custom", "--no-password", "--host", host, "--port", port, "--username", &db])
            .arg("--file")
            .arg(dest)
            .arg(&db)
            .env("PGPASSWORD", password)
            .output()
            .await
            .map_err(|e| DriverError::Failed(format!("running pg_dump: {e}")))?;
        if !out.status.success() {
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
        for sql in [
            format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"),
            format!("DROP DATABASE IF EXISTS \"{db}_b\" WITH (FORCE)"),
        ] {
            conn.execute(sql.as_str()).await.map_err(failed("dropping the environment's database"))?;
        }
        let role: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_roles WHERE rolname = $1")
            .bind(&db)
            .fetch_optional(&mut conn)
            .await
            .map_err(failed("looking up a role"))?;
        if role.is_some() {
            // Whatever it left in the admin's database (default privileges,
            // grants) would keep DROP ROLE from working.
            for sql in [format!("DROP OWNED BY \"{db}\""), format!("DROP ROLE \"{db}\"")] {
                conn.execute(sql.as_str()).await.map_err(failed("dropping the environment's role"))?;
            }
        }
        let _ = conn.close().await;
        Ok(())
    }

    /// Ids of environments that have a database or a role here.
    pub async fn owned(&self) -> Result<Vec<String>, DriverError> {
        let prefix = format!("eod_env_{}_", self.key);
        let mut conn = self.admin().await?;
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1)
             UNION SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1)",
        )
        .bind(&prefix)
        .fetch_all(&mut conn)
        .await
        .map_err(failed("listing databases"))?;
        let _ = conn.close().await;
        let ids = names.iter().filter_map(|n| n.strip_prefix(&prefix)).map(|id| id.trim_end_matches("_b"));
        Ok(ids.map(|id| id.replace('_', "-")).collect())
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
        assert_eq!(a.server, "h:5432");
        assert_eq!(a.url_as("r", "pw", "d"), "postgres://r:pw@h:5432/d");
        let db = a.env_db("0199e1c2-aaaa-7bbb-8ccc-0123456789ab").unwrap();
        assert!(db.starts_with("eod_env_") && db.len() <= 63, "{db}");
        assert!(db.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_'));
        assert_ne!(a.env_db("x").unwrap(), b.env_db("x").unwrap());
        assert!(a.env_db("x\"; DROP").is_err());
    }
}
