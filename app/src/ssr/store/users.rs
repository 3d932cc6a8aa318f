use super::{flag, Exec};
use crate::domain::access::{Membership, TeamRole, Viewer};

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct User {
    pub id: String,
    pub issuer: String,
    pub subject: String,
    pub login: String,
    pub display_name: String,
    pub email: Option<String>,
    #[sqlx(try_from = "super::Flag")]
    pub is_platform_admin: bool,
    pub created_at: i64,
}

const USER_COLUMNS: &str = "id, issuer, subject, login, display_name, email, is_platform_admin, created_at";

pub async fn insert<'c>(ex: impl Exec<'c>, user: &User) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO users (id, issuer, subject, login, display_name, email, is_platform_admin, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&user.id)
    .bind(&user.issuer)
    .bind(&user.subject)
    .bind(&user.login)
    .bind(&user.display_name)
    .bind(&user.email)
    .bind(flag(user.is_platform_admin))
    .bind(user.created_at)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn find_by_id<'c>(ex: impl Exec<'c>, id: &str) -> sqlx::Result<Option<User>> {
    sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1")).bind(id).fetch_optional(ex).await
}

pub async fn find_by_identity<'c>(ex: impl Exec<'c>, issuer: &str, subject: &str) -> sqlx::Result<Option<User>> {
    sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE issuer = $1 AND subject = $2"))
        .bind(issuer)
        .bind(subject)
        .fetch_optional(ex)
        .await
}

/// Users of one identity issuer, by login (the demo sign-in lists these).
pub async fn list_by_issuer<'c>(ex: impl Exec<'c>, issuer: &str) -> sqlx::Result<Vec<User>> {
    sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE issuer = $1 ORDER BY login"))
        .bind(issuer)
        .fetch_all(ex)
        .await
}

pub async fn add_membership<'c>(
    ex: impl Exec<'c>,
    team_id: &str,
    user_id: &str,
    role: TeamRole,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO memberships (team_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)")
        .bind(team_id)
        .bind(user_id)
        .bind(role.as_str())
        .bind(now)
        .execute(ex)
        .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct MembershipRow {
    team_id: String,
    team_slug: String,
    team_name: String,
    role: String,
    /// 1 when the team is the approver team (`meta.approver_team`).
    approvers: i64,
}

/// The user's memberships, and whether one is in the approver team.
async fn membership_rows<'c>(ex: impl Exec<'c>, user_id: &str) -> sqlx::Result<(Vec<Membership>, bool)> {
    let rows: Vec<MembershipRow> = sqlx::query_as(
        "SELECT t.id AS team_id, t.slug AS team_slug, t.name AS team_name, m.role AS role,
                CASE WHEN EXISTS (SELECT 1 FROM meta g WHERE g.key = 'approver_team' AND g.value = t.slug)
                     THEN 1 ELSE 0 END AS approvers
         FROM memberships m JOIN teams t ON t.id = m.team_id
         WHERE m.user_id = $1 ORDER BY t.slug",
    )
    .bind(user_id)
    .fetch_all(ex)
    .await?;
    let approver = rows.iter().any(|r| r.approvers == 1);
    let memberships = rows
        .into_iter()
        .map(|r| {
            let role = r.role.parse().map_err(|e: String| sqlx::Error::Decode(e.into()))?;
            Ok(Membership { team_id: r.team_id, team_slug: r.team_slug, team_name: r.team_name, role })
        })
        .collect::<sqlx::Result<_>>()?;
    Ok((memberships, approver))
}

pub async fn memberships<'c>(ex: impl Exec<'c>, user_id: &str) -> sqlx::Result<Vec<Membership>> {
    Ok(membership_rows(ex, user_id).await?.0)
}

/// The viewer for a user id: the user and their memberships, or `None` if
/// the user no longer exists.
/// The signed-in identity of an enabled user; `None` for a disabled one, so
/// their sessions, tokens and preview cookies stop working at once.
pub async fn viewer(pool: &sqlx::AnyPool, user_id: &str) -> sqlx::Result<Option<Viewer>> {
    // One query per request: the user, only while enabled.
    let user: Option<User> =
        sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1 AND disabled_at IS NULL"))
            .bind(user_id)
            .fetch_optional(pool)
            .await?;
    let Some(user) = user else {
        return Ok(None);
    };
    let (memberships, approver_group) = membership_rows(pool, user_id).await?;
    Ok(Some(Viewer {
        user_id: user.id,
        login: user.login,
        display_name: user.display_name,
        is_platform_admin: user.is_platform_admin,
        approver_group,
        memberships,
    }))
}

pub async fn find_by_login<'c>(ex: impl Exec<'c>, login: &str) -> sqlx::Result<Option<User>> {
    sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE login = $1")).bind(login).fetch_optional(ex).await
}

/// Sets (or with `None` removes) a user's role in a team.
pub async fn set_membership(
    conn: &mut sqlx::AnyConnection,
    team_id: &str,
    user_id: &str,
    role: Option<TeamRole>,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM memberships WHERE team_id = $1 AND user_id = $2")
        .bind(team_id)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    if let Some(role) = role {
        add_membership(&mut *conn, team_id, user_id, role, now).await?;
    }
    Ok(())
}

/// Refreshes what the provider says about a user, and the admin flag.
pub async fn update_profile<'c>(ex: impl Exec<'c>, user: &User, now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE users SET display_name = $1, email = $2, is_platform_admin = $3, last_seen_at = $4 WHERE id = $5",
    )
    .bind(&user.display_name)
    .bind(&user.email)
    .bind(flag(user.is_platform_admin))
    .bind(now)
    .bind(&user.id)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn is_disabled<'c>(ex: impl Exec<'c>, user_id: &str) -> sqlx::Result<bool> {
    let at: Option<Option<i64>> =
        sqlx::query_scalar("SELECT disabled_at FROM users WHERE id = $1").bind(user_id).fetch_optional(ex).await?;
    Ok(matches!(at, Some(Some(_))))
}

/// Disables (`Some(now)`) or enables (`None`) a user; false if no such user.
pub async fn set_disabled<'c>(ex: impl Exec<'c>, user_id: &str, at: Option<i64>) -> sqlx::Result<bool> {
    let done =
        sqlx::query("UPDATE users SET disabled_at = $2 WHERE id = $1").bind(user_id).bind(at).execute(ex).await?;
    Ok(done.rows_affected() == 1)
}

/// Everyone, for the platform admins' People list: (user, disabled).
pub async fn list_people<'c>(ex: impl Exec<'c>) -> sqlx::Result<Vec<(String, String, i64, Option<i64>)>> {
    sqlx::query_as("SELECT login, display_name, is_platform_admin, disabled_at FROM users ORDER BY login LIMIT 5000")
        .fetch_all(ex)
        .await
}
