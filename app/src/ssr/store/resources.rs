use super::Exec;

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Resource {
    pub id: String,
    pub environment_id: String,
    pub kind: String,
    pub name: String,
    pub driver: String,
    pub state: String,
    pub hourly_rate_micros: i64,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
}

pub async fn insert<'c>(ex: impl Exec<'c>, r: &Resource) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO resources (id, environment_id, kind, name, driver, state, hourly_rate_micros, started_at, ended_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&r.id)
    .bind(&r.environment_id)
    .bind(&r.kind)
    .bind(&r.name)
    .bind(&r.driver)
    .bind(&r.state)
    .bind(r.hourly_rate_micros)
    .bind(r.started_at)
    .bind(r.ended_at)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn for_environment<'c>(ex: impl Exec<'c>, environment_id: &str) -> sqlx::Result<Vec<Resource>> {
    sqlx::query_as(
        "SELECT id, environment_id, kind, name, driver, state, hourly_rate_micros, started_at, ended_at
         FROM resources WHERE environment_id = $1 ORDER BY kind",
    )
    .bind(environment_id)
    .fetch_all(ex)
    .await
}

/// Marks an environment's planned resources created, with the driver's facts.
pub async fn mark_created<'c>(ex: impl Exec<'c>, environment_id: &str, now: i64, detail: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE resources SET state = 'created', started_at = COALESCE(started_at, $1), detail = $2
         WHERE environment_id = $3 AND state = 'planned'",
    )
    .bind(now)
    .bind(detail)
    .bind(environment_id)
    .execute(ex)
    .await?;
    Ok(())
}

/// Replaces the runtime facts of resources that exist (a restart's new
/// process id and port); their cost clocks keep running.
pub async fn record_detail<'c>(ex: impl Exec<'c>, environment_id: &str, detail: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE resources SET detail = $1 WHERE environment_id = $2 AND state = 'created'")
        .bind(detail)
        .bind(environment_id)
        .execute(ex)
        .await?;
    Ok(())
}

/// Stops the cost clock of every resource of an environment.
pub async fn mark_deleted<'c>(ex: impl Exec<'c>, environment_id: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE resources SET state = 'deleted', ended_at = CASE WHEN started_at IS NULL THEN NULL ELSE $1 END
         WHERE environment_id = $2 AND state <> 'deleted'",
    )
    .bind(now)
    .bind(environment_id)
    .execute(ex)
    .await?;
    Ok(())
}

/// The driver's recorded facts (JSON) for an environment, from its compute resource.
pub async fn runtime_detail<'c>(ex: impl Exec<'c>, environment_id: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT detail FROM resources WHERE environment_id = $1 AND kind = 'compute' AND state = 'created'",
    )
    .bind(environment_id)
    .fetch_optional(ex)
    .await
}

/// Replaces an environment's planned resources with the ones its driver
/// reported making, at the rates it reported (a script's output). Once they
/// are created (a retried provision) nothing changes: the cost clocks run.
pub async fn replace_planned(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    environment_id: &str,
    environment_name: &str,
    driver: &str,
    reported: &[(String, i64)],
) -> sqlx::Result<()> {
    let planned = sqlx::query("DELETE FROM resources WHERE environment_id = $1 AND state = 'planned'")
        .bind(environment_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if planned == 0 {
        return Ok(());
    }
    for (kind, rate) in reported {
        let r = Resource {
            id: crate::ssr::clock::new_id(),
            environment_id: environment_id.into(),
            kind: kind.clone(),
            name: format!("{environment_name}-{kind}"),
            driver: driver.into(),
            state: "planned".into(),
            hourly_rate_micros: *rate,
            started_at: None,
            ended_at: None,
        };
        insert(&mut **tx, &r).await?;
    }
    Ok(())
}
