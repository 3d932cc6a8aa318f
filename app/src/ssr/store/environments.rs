use super::{flag, Exec};
use crate::domain::access::Viewer;
use crate::ssr::db::Engine;

/// A row of `environments` as written.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Environment {
    pub id: String,
    pub name: String,
    pub team_id: String,
    pub app_id: String,
    pub owner_id: Option<String>,
    pub tier: String,
    pub state: String,
    pub git_ref: Option<String>,
    pub pr_number: Option<i64>,
    pub commit_sha: Option<String>,
    #[sqlx(try_from = "super::Flag")]
    pub pooled: bool,
    pub created_at: i64,
    pub ready_at: Option<i64>,
    pub last_activity_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub warned_at: Option<i64>,
    pub destroyed_at: Option<i64>,
    pub failure_reason: Option<String>,
    /// When a warm-pool member was handed over (see migration 0003).
    pub claimed_at: Option<i64>,
    /// When the scheduler should next tick it (see migration 0004).
    pub next_check_at: Option<i64>,
    /// What the health monitor concluded (see migration 0011); written only
    /// by `environments::record_health`.
    pub health: String,
    pub health_changed_at: Option<i64>,
    pub restarts: i64,
}

pub async fn insert<'c>(ex: impl Exec<'c>, env: &Environment) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO environments (id, name, team_id, app_id, owner_id, tier, state, health, git_ref,
             pr_number, commit_sha, pooled, created_at, ready_at, last_activity_at, expires_at,
             warned_at, destroyed_at, failure_reason, claimed_at, next_check_at, health_changed_at, restarts)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
             $22, $23)",
    )
    .bind(&env.id)
    .bind(&env.name)
    .bind(&env.team_id)
    .bind(&env.app_id)
    .bind(&env.owner_id)
    .bind(&env.tier)
    .bind(&env.state)
    .bind(&env.health)
    .bind(&env.git_ref)
    .bind(env.pr_number)
    .bind(&env.commit_sha)
    .bind(flag(env.pooled))
    .bind(env.created_at)
    .bind(env.ready_at)
    .bind(env.last_activity_at)
    .bind(env.expires_at)
    .bind(env.warned_at)
    .bind(env.destroyed_at)
    .bind(&env.failure_reason)
    .bind(env.claimed_at)
    .bind(env.next_check_at)
    .bind(env.health_changed_at)
    .bind(env.restarts)
    .execute(ex)
    .await?;
    Ok(())
}

/// One line of the Environments page: the environment with its app, team and
/// owner resolved.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Listed {
    pub id: String,
    pub name: String,
    pub tier: String,
    pub state: String,
    pub git_ref: Option<String>,
    pub pr_number: Option<i64>,
    pub commit_sha: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub health: String,
    pub app_slug: String,
    pub team_id: String,
    pub team_slug: String,
    pub owner_login: Option<String>,
    /// The pull request's page, when a webhook told it.
    pub pr_url: Option<String>,
}

const LISTED_SELECT: &str =
    "SELECT e.id, e.name, e.tier, e.state, e.git_ref, e.pr_number, e.commit_sha, e.created_at, e.expires_at,
        e.health, a.slug AS app_slug, t.id AS team_id, t.slug AS team_slug, u.login AS owner_login, p.url AS pr_url
     FROM environments e
     JOIN apps a ON a.id = e.app_id
     JOIN teams t ON t.id = e.team_id
     LEFT JOIN users u ON u.id = e.owner_id
     LEFT JOIN pull_requests p ON p.app_id = e.app_id AND p.number = e.pr_number";

/// Live (not destroyed, not pooled) environments the viewer may see: their
/// teams' or, for platform admins, everyone's; newest first.
pub async fn list_live_visible<'c>(ex: impl Exec<'c>, viewer: &Viewer, limit: i64) -> sqlx::Result<Vec<Listed>> {
    sqlx::query_as(&format!(
        "{LISTED_SELECT}
         WHERE e.state <> 'destroyed' AND e.pooled = 0
           AND ($1 = 1 OR e.team_id IN (SELECT m.team_id FROM memberships m WHERE m.user_id = $2))
         ORDER BY e.created_at DESC, e.id
         LIMIT $3"
    ))
    .bind(flag(viewer.is_platform_admin))
    .bind(&viewer.user_id)
    .bind(limit)
    .fetch_all(ex)
    .await
}

/// Running environments the viewer may see whose health is `unhealthy`
/// (a partial index keeps this cheap at 10,000 environments).
pub async fn count_unhealthy<'c>(ex: impl Exec<'c>, viewer: &Viewer) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM environments e
         WHERE e.health = 'unhealthy' AND e.state IN ('active', 'idle', 'expiring') AND e.pooled = 0
           AND ($1 = 1 OR e.team_id IN (SELECT m.team_id FROM memberships m WHERE m.user_id = $2))",
    )
    .bind(flag(viewer.is_platform_admin))
    .bind(&viewer.user_id)
    .fetch_one(ex)
    .await
}

/// One environment as listed (any state).
pub async fn listed_by_id<'c>(ex: impl Exec<'c>, id: &str) -> sqlx::Result<Option<Listed>> {
    sqlx::query_as(&format!("{LISTED_SELECT} WHERE e.id = $1")).bind(id).fetch_optional(ex).await
}

pub async fn count_by_state<'c>(ex: impl Exec<'c>) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as("SELECT state, COUNT(*) FROM environments GROUP BY state ORDER BY state").fetch_all(ex).await
}

const ENV_COLUMNS: &str =
    "id, name, team_id, app_id, owner_id, tier, state, git_ref, pr_number, commit_sha, pooled,
    created_at, ready_at, last_activity_at, expires_at, warned_at, destroyed_at, failure_reason, claimed_at, next_check_at,
    health, health_changed_at, restarts";

/// An environment with its optimistic-concurrency version.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Versioned {
    #[sqlx(flatten)]
    pub env: Environment,
    pub version: i64,
}

pub async fn find<'c>(ex: impl Exec<'c>, id: &str) -> sqlx::Result<Option<Versioned>> {
    sqlx::query_as(&format!("SELECT {ENV_COLUMNS}, version FROM environments WHERE id = $1"))
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// The preview of an app's pull request that is running or on its way
/// (not expiring, destroyed or failed): there is at most one.
pub async fn live_for_pull_request<'c>(
    ex: impl Exec<'c>,
    app_id: &str,
    pr_number: i64,
) -> sqlx::Result<Option<Versioned>> {
    sqlx::query_as(&format!(
        "SELECT {ENV_COLUMNS}, version FROM environments
         WHERE app_id = $1 AND pr_number = $2 AND state IN ('pending', 'ready', 'active', 'idle')
           AND tier LIKE 'preview-%'
         ORDER BY created_at LIMIT 1"
    ))
    .bind(app_id)
    .bind(pr_number)
    .fetch_optional(ex)
    .await
}

pub async fn find_by_name<'c>(ex: impl Exec<'c>, name: &str) -> sqlx::Result<Option<Versioned>> {
    sqlx::query_as(&format!("SELECT {ENV_COLUMNS}, version FROM environments WHERE name = $1"))
        .bind(name)
        .fetch_optional(ex)
        .await
}

/// Writes the lifecycle columns if nobody else changed the row since
/// `version` was read; returns whether it did.
pub async fn update_lifecycle<'c>(ex: impl Exec<'c>, env: &Environment, version: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE environments SET state = $1, ready_at = $2, last_activity_at = $3, expires_at = $4,
             warned_at = $5, destroyed_at = $6, failure_reason = $7, next_check_at = $8,
             health = $11, health_changed_at = $12, restarts = $13, version = version + 1
         WHERE id = $9 AND version = $10",
    )
    .bind(&env.state)
    .bind(env.ready_at)
    .bind(env.last_activity_at)
    .bind(env.expires_at)
    .bind(env.warned_at)
    .bind(env.destroyed_at)
    .bind(&env.failure_reason)
    .bind(env.next_check_at)
    .bind(&env.id)
    .bind(version)
    .bind(&env.health)
    .bind(env.health_changed_at)
    .bind(env.restarts)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One environment the health monitor probes.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Probed {
    pub id: String,
    pub tier: String,
    pub health: String,
    pub app_id: String,
    /// The commit it should serve (its last good deployment's).
    pub commit_sha: Option<String>,
}

/// Environments the health monitor probes: running (active, idle or
/// expiring, pool members included) since their readiness probe passed
/// (health known), with no work on its process under way (provisioning,
/// restart, deployment, rollback, snapshot or teardown).
pub async fn to_probe<'c>(ex: impl Exec<'c>) -> sqlx::Result<Vec<Probed>> {
    sqlx::query_as(
        "SELECT e.id, e.tier, e.health, e.app_id, e.commit_sha FROM environments e
         WHERE e.state IN ('active', 'idle', 'expiring') AND e.health <> 'unknown'
           AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.environment_id = e.id AND j.finished_at IS NULL
                             AND j.kind IN ('provision', 'restart', 'deploy', 'rollback', 'snapshot', 'teardown'))
         ORDER BY e.id",
    )
    .fetch_all(ex)
    .await
}

/// Records when the scheduler should next look (derived data: no version bump).
pub async fn set_next_check<'c>(ex: impl Exec<'c>, id: &str, next_check_at: Option<i64>) -> sqlx::Result<()> {
    sqlx::query("UPDATE environments SET next_check_at = $1 WHERE id = $2")
        .bind(next_check_at)
        .bind(id)
        .execute(ex)
        .await?;
    Ok(())
}

/// Environments whose next check has come (oldest first), for the scheduler.
pub async fn due_for_tick<'c>(ex: impl Exec<'c>, now: i64, limit: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT id FROM environments WHERE next_check_at <= $1 AND pooled = 0 ORDER BY next_check_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(ex)
    .await
}

/// Ids of every environment that still owns resources (for the orphan sweep).
pub async fn live_ids<'c>(ex: impl Exec<'c>) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT id FROM environments WHERE state <> 'destroyed'").fetch_all(ex).await
}

/// The oldest running member of a warm pool, locked for the claim on
/// PostgreSQL (another replica's concurrent claim skips it).
pub async fn pooled_member<'c>(
    ex: impl Exec<'c>,
    engine: Engine,
    app_id: &str,
    tier: &str,
    commit_sha: Option<&str>,
) -> sqlx::Result<Option<Versioned>> {
    let lock = match engine {
        Engine::Postgres => "FOR UPDATE SKIP LOCKED",
        Engine::Sqlite => "",
    };
    sqlx::query_as(&format!(
        "SELECT {ENV_COLUMNS}, version FROM environments
         WHERE app_id = $1 AND tier = $2 AND pooled = 1 AND state IN ('ready', 'active', 'idle')
         ORDER BY CASE WHEN commit_sha = $3 THEN 0 ELSE 1 END, created_at, id LIMIT 1 {lock}"
    ))
    .bind(app_id)
    .bind(tier)
    .bind(commit_sha)
    .fetch_optional(ex)
    .await
}

/// Hands a pool member to its user (name, owner, source, fresh lifecycle) if
/// it is still pooled at `version`; returns whether it did.
pub async fn claim<'c>(ex: impl Exec<'c>, env: &Environment, version: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE environments SET name = $1, owner_id = $2, git_ref = $3, pr_number = $4, pooled = 0,
             claimed_at = $5, created_at = $6, state = $7, last_activity_at = $8, expires_at = $9, warned_at = NULL,
             next_check_at = $10, commit_sha = $13, ready_at = $14, health = $15, health_changed_at = $16,
             version = version + 1
         WHERE id = $11 AND version = $12 AND pooled = 1",
    )
    .bind(&env.name)
    .bind(&env.owner_id)
    .bind(&env.git_ref)
    .bind(env.pr_number)
    .bind(env.claimed_at)
    .bind(env.created_at)
    .bind(&env.state)
    .bind(env.last_activity_at)
    .bind(env.expires_at)
    .bind(env.next_check_at)
    .bind(&env.id)
    .bind(version)
    .bind(&env.commit_sha)
    .bind(env.ready_at)
    .bind(&env.health)
    .bind(env.health_changed_at)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A pool's members that are not destroyed: (id, state), oldest first.
pub async fn pool_members<'c>(ex: impl Exec<'c>, app_id: &str, tier: &str) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(
        "SELECT id, state FROM environments
         WHERE app_id = $1 AND tier = $2 AND pooled = 1 AND state <> 'destroyed'
         ORDER BY created_at, id",
    )
    .bind(app_id)
    .bind(tier)
    .fetch_all(ex)
    .await
}

/// One page of the list: its rows in order, the total that match (when
/// asked for) and the keys of the pages either side, if there are any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    pub rows: Vec<Listed>,
    pub total: Option<i64>,
    /// The key to pass as `before` for the previous page.
    pub prev: Option<String>,
    /// The key to pass as `after` for the next page.
    pub next: Option<String>,
}

/// A value bound to a numbered placeholder.
enum Bind {
    Text(String),
    Int(i64),
}

/// The conditions (over `e`, `a` and `t`) that pick what the viewer may see
/// and the query asks for, and the values bound to their placeholders.
fn filter_of(viewer: &Viewer, q: &crate::domain::listing::ListQuery) -> (String, Vec<Bind>) {
    // Placeholders are numbered as conditions are added; values bound in order.
    let mut binds: Vec<Bind> = vec![];
    let bind = |value: Bind, binds: &mut Vec<Bind>| {
        binds.push(value);
        format!("${}", binds.len())
    };
    let mut clauses = vec!["e.pooled = 0".to_string()];
    if !viewer.is_platform_admin {
        let p = bind(Bind::Text(viewer.user_id.clone()), &mut binds);
        clauses.push(format!("e.team_id IN (SELECT m.team_id FROM memberships m WHERE m.user_id = {p})"));
    }
    match q.state {
        Some(s) => clauses.push(format!("e.state = {}", bind(Bind::Text(s.as_str().into()), &mut binds))),
        None => clauses.push("e.state <> 'destroyed'".into()),
    }
    if let Some(team) = &q.team {
        clauses.push(format!("t.slug = {}", bind(Bind::Text(team.clone()), &mut binds)));
    }
    if let Some(app) = &q.app {
        clauses.push(format!("a.slug = {}", bind(Bind::Text(app.clone()), &mut binds)));
    }
    if let Some(tier) = q.tier {
        clauses.push(format!("e.tier = {}", bind(Bind::Text(tier.as_str().into()), &mut binds)));
    }
    if let Some(pattern) = q.like_pattern() {
        let n = bind(Bind::Text(pattern), &mut binds);
        clauses.push(format!("(e.name LIKE {n} ESCAPE '\\' OR LOWER(COALESCE(e.git_ref, '')) LIKE {n} ESCAPE '\\')"));
    }
    (clauses.join(" AND "), binds)
}

/// How many environments the viewer may see match the query's filters.
pub async fn count_matching(
    pool: &sqlx::AnyPool,
    viewer: &Viewer,
    q: &crate::domain::listing::ListQuery,
) -> sqlx::Result<i64> {
    let (filter, binds) = filter_of(viewer, q);
    // The joins only matter to the count when filtering by team or app slug.
    let joins = if q.team.is_some() || q.app.is_some() {
        "JOIN apps a ON a.id = e.app_id JOIN teams t ON t.id = e.team_id"
    } else {
        ""
    };
    let count_sql = format!("SELECT COUNT(*) FROM environments e {joins} WHERE {filter}");
    let mut query = sqlx::query_scalar::<_, i64>(&count_sql);
    for b in &binds {
        query = match b {
            Bind::Text(v) => query.bind(v.clone()),
            Bind::Int(v) => query.bind(*v),
        };
    }
    query.fetch_one(pool).await
}

/// One page of at most `limit` environments the viewer may see, filtered,
/// searched and sorted as asked, from the query's keyset boundary on; with
/// the total that match if `count` (the API does not need it).
pub async fn list_page(
    pool: &sqlx::AnyPool,
    viewer: &Viewer,
    q: &crate::domain::listing::ListQuery,
    limit: i64,
    count: bool,
) -> sqlx::Result<Page> {
    use crate::domain::listing::{row_key, KeyValue, Sort};
    let (filter, mut binds) = filter_of(viewer, q);
    let bind = |value: Bind, binds: &mut Vec<Bind>| {
        binds.push(value);
        format!("${}", binds.len())
    };
    let total = if count { Some(count_matching(pool, viewer, q).await?) } else { None };

    // The page's boundary: rows strictly after (or before) the key's row in
    // the sort's order, the id breaking ties. Going backwards reads the
    // reversed order and turns the rows round.
    let keyset = q.keyset();
    let backwards = keyset.as_ref().is_some_and(|k| k.before);
    let mut page_clauses = vec![filter];
    if let Some(k) = &keyset {
        let id = bind(Bind::Text(k.id.clone()), &mut binds);
        // Whether the wanted rows sort after the key's row.
        let forward = !k.before;
        let cond = match (q.sort, &k.value) {
            (Sort::Newest | Sort::Oldest, KeyValue::Int(at)) => {
                let v = bind(Bind::Int(*at), &mut binds);
                let op = if (q.sort == Sort::Newest) == forward { "<" } else { ">" };
                format!("(e.created_at {op} {v} OR (e.created_at = {v} AND e.id {op} {id}))")
            }
            (Sort::Name, KeyValue::Text(name)) => {
                let v = bind(Bind::Text(name.clone()), &mut binds);
                let op = if forward { ">" } else { "<" };
                format!("(e.name {op} {v} OR (e.name = {v} AND e.id {op} {id}))")
            }
            // Expiry: soonest first, no expiry last.
            (Sort::Expiry, KeyValue::Int(at)) => {
                let v = bind(Bind::Int(*at), &mut binds);
                if forward {
                    format!("(e.expires_at IS NULL OR e.expires_at > {v} OR (e.expires_at = {v} AND e.id > {id}))")
                } else {
                    format!("(e.expires_at < {v} OR (e.expires_at = {v} AND e.id < {id}))")
                }
            }
            (Sort::Expiry, KeyValue::Null) => {
                if forward {
                    format!("(e.expires_at IS NULL AND e.id > {id})")
                } else {
                    format!("(e.expires_at IS NOT NULL OR e.id < {id})")
                }
            }
            // `keyset()` only parses keys of the query's sort.
            _ => "1 = 1".to_string(),
        };
        page_clauses.push(cond);
    }
    let order = match (q.sort, backwards) {
        (Sort::Newest, false) | (Sort::Oldest, true) => "e.created_at DESC, e.id DESC",
        (Sort::Oldest, false) | (Sort::Newest, true) => "e.created_at ASC, e.id ASC",
        (Sort::Expiry, false) => "CASE WHEN e.expires_at IS NULL THEN 1 ELSE 0 END, e.expires_at ASC, e.id ASC",
        (Sort::Expiry, true) => "CASE WHEN e.expires_at IS NULL THEN 1 ELSE 0 END DESC, e.expires_at DESC, e.id DESC",
        (Sort::Name, false) => "e.name ASC, e.id ASC",
        (Sort::Name, true) => "e.name DESC, e.id DESC",
    };
    let page_sql = format!("{LISTED_SELECT} WHERE {} ORDER BY {order} LIMIT {}", page_clauses.join(" AND "), limit + 1);
    let mut query = sqlx::query_as::<_, Listed>(&page_sql);
    for b in &binds {
        query = match b {
            Bind::Text(v) => query.bind(v.clone()),
            Bind::Int(v) => query.bind(*v),
        };
    }
    let mut rows = query.fetch_all(pool).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    if backwards {
        if !more {
            // Back at the beginning: show the whole first page.
            return Box::pin(list_page(pool, viewer, &q.first_page(), limit, count)).await;
        }
        rows.reverse();
    }
    let key = |r: &Listed| row_key(q.sort, &r.id, &r.name, r.created_at, r.expires_at);
    let (has_prev, has_next) = match &keyset {
        None => (false, more),
        Some(k) if k.before => (true, true),
        Some(_) => (true, more),
    };
    Ok(Page {
        prev: if has_prev { rows.first().map(key).or_else(|| q.after.clone()) } else { None },
        next: if has_next { rows.last().map(key) } else { None },
        rows,
        total,
    })
}
