//! Chargeback on the server: the month's resource intervals and price book
//! read from the database, reports computed by `domain::chargeback`, and the
//! one write path for budgets (with their alerts), the price book, shared
//! environments and the admission gate.

use super::clock::{new_id, now_ms};
use super::store::audit::{AuditEvent, Outcome};
use super::store::{self, Flag};
use super::{authz, internal, AppState, Db, RequestMeta};
use crate::domain::access::Viewer;
use crate::domain::authz::Action;
use crate::domain::budget::{self, Budget, GateOutcome};
use crate::domain::chargeback::{month_report, Basis, MonthReport, Usage};
use crate::domain::cost::Month;
use crate::domain::money::Micros;
use crate::domain::price::{PriceBook, RateEntry};
use crate::domain::tier::Tier;
use crate::error::AppError;
use futures_util::{Stream, StreamExt};

/// The row a usage is read from.
#[derive(sqlx::FromRow)]
struct UsageRow {
    environment_id: String,
    env_name: String,
    team: String,
    app: String,
    tier: String,
    kind: String,
    git_ref: Option<String>,
    pr_number: Option<i64>,
    hourly_rate_micros: i64,
    started_at: i64,
    ended_at: Option<i64>,
    #[sqlx(try_from = "Flag")]
    pooled: bool,
    claimed_at: Option<i64>,
    expires_at: Option<i64>,
}

/// Every environment's shared periods (a small table), sorted.
pub type SharedPeriods = std::collections::HashMap<String, Vec<(i64, i64)>>;

pub async fn shared_periods(db: &Db) -> Result<SharedPeriods, AppError> {
    let rows: Vec<(String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT environment_id, started_at, ended_at FROM shared_periods ORDER BY environment_id, started_at",
    )
    .fetch_all(db.pool())
    .await
    .map_err(internal("reading shared periods"))?;
    let mut out = SharedPeriods::new();
    for (env, from, to) in rows {
        out.entry(env).or_default().push((from, to.unwrap_or(i64::MAX)));
    }
    Ok(out)
}

impl UsageRow {
    fn into_usage(self, shared: &SharedPeriods) -> Option<Usage> {
        let tier: Tier = match self.tier.parse() {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, id = %self.environment_id, "bad tier in database");
                return None;
            }
        };
        let idle_until = if self.pooled { Some(i64::MAX) } else { self.claimed_at };
        let shared = shared.get(&self.environment_id).cloned().unwrap_or_default();
        Some(Usage {
            env_id: self.environment_id,
            env_name: self.env_name,
            team: self.team,
            app: self.app,
            tier,
            kind: self.kind,
            git_ref: self.git_ref,
            pr_number: self.pr_number,
            recorded_rate: Micros(self.hourly_rate_micros),
            started_at: self.started_at,
            ended_at: self.ended_at,
            idle_until,
            shared,
            // Pool members wait without an expiry: they run on.
            expected_end: if self.pooled { None } else { self.expires_at },
        })
    }
}

const USAGE_SQL: &str = "SELECT r.environment_id, e.name AS env_name, t.slug AS team, a.slug AS app, e.tier, r.kind,
        e.git_ref, e.pr_number, r.hourly_rate_micros, r.started_at, r.ended_at, e.pooled, e.claimed_at, e.expires_at
     FROM resources r
     JOIN environments e ON e.id = r.environment_id
     JOIN teams t ON t.id = e.team_id
     JOIN apps a ON a.id = e.app_id
     WHERE r.started_at IS NOT NULL AND r.started_at < $2 AND (r.ended_at IS NULL OR r.ended_at > $1)";

/// Every priced resource interval overlapping [from, to), in no order.
pub async fn usages(db: &Db, from: i64, to: i64) -> Result<Vec<Usage>, AppError> {
    let rows: Vec<UsageRow> = sqlx::query_as(USAGE_SQL)
        .bind(from)
        .bind(to)
        .fetch_all(db.pool())
        .await
        .map_err(internal("reading resource usage"))?;
    let shared = shared_periods(db).await?;
    Ok(rows.into_iter().filter_map(|r| r.into_usage(&shared)).collect())
}

/// Every priced resource interval of the environments (not pool members)
/// destroyed at or after `since`, with each one's (destroyed_at, demo flag).
pub async fn destroyed_usages(
    db: &Db,
    since: i64,
) -> Result<(Vec<Usage>, std::collections::HashMap<String, (i64, bool)>), AppError> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let select = &USAGE_SQL[..USAGE_SQL.find(" WHERE ").expect("USAGE_SQL has a WHERE")];
        format!("{select} WHERE r.started_at IS NOT NULL AND e.destroyed_at >= $1 AND e.pooled = 0")
    });
    let rows: Vec<UsageRow> = sqlx::query_as(SQL.as_str())
        .bind(since)
        .fetch_all(db.pool())
        .await
        .map_err(internal("reading destroyed usage"))?;
    let gone: Vec<(String, i64, i64)> =
        sqlx::query_as("SELECT id, destroyed_at, demo FROM environments WHERE destroyed_at >= $1 AND pooled = 0")
            .bind(since)
            .fetch_all(db.pool())
            .await
            .map_err(internal("reading destroyed environments"))?;
    let shared = shared_periods(db).await?;
    Ok((
        rows.into_iter().filter_map(|r| r.into_usage(&shared)).collect(),
        gone.into_iter().map(|(id, at, demo)| (id, (at, demo != 0))).collect(),
    ))
}

/// The same intervals as a stream, by team and environment, for exports of any size.
pub fn usage_stream<'a>(
    db: &'a Db,
    shared: &'a SharedPeriods,
    from: i64,
    to: i64,
) -> impl Stream<Item = Result<Usage, AppError>> + Send + 'a {
    static ORDERED: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("{USAGE_SQL} ORDER BY t.slug, e.name, r.kind"));
    sqlx::query_as::<_, UsageRow>(ORDERED.as_str()).bind(from).bind(to).fetch(db.pool()).filter_map(
        move |row| async move {
            match row {
                Ok(r) => r.into_usage(shared).map(Ok),
                Err(e) => Some(Err(internal("streaming resource usage")(e))),
            }
        },
    )
}

#[derive(sqlx::FromRow)]
struct RateRow {
    tier: String,
    kind: String,
    effective_from: i64,
    hourly_rate_micros: i64,
}

/// The price book in force (every row, every instant).
pub async fn price_book(db: &Db) -> Result<PriceBook, AppError> {
    let rows: Vec<RateRow> = sqlx::query_as("SELECT tier, kind, effective_from, hourly_rate_micros FROM price_book")
        .fetch_all(db.pool())
        .await
        .map_err(internal("reading the price book"))?;
    Ok(PriceBook::new(rows.into_iter().filter_map(|r| {
        Some(RateEntry {
            tier: r.tier.parse().ok()?,
            kind: r.kind,
            effective_from: r.effective_from,
            hourly_rate: Micros(r.hourly_rate_micros),
        })
    })))
}

/// A month's report, actual to now and forecast to the month's end.
pub async fn report(state: &AppState, month: Month, now: i64) -> Result<(MonthReport, MonthReport), AppError> {
    report_with(&state.db, &state.settings.cost_rules, month, now).await
}

pub async fn report_with(
    db: &Db,
    rules: &crate::domain::chargeback::AllocationRules,
    month: Month,
    now: i64,
) -> Result<(MonthReport, MonthReport), AppError> {
    let book = price_book(db).await?;
    let usages = usages(db, month.start_ms(), month.next().start_ms()).await?;
    Ok((
        month_report(&book, rules, &usages, month, now, Basis::Actual),
        month_report(&book, rules, &usages, month, now, Basis::Forecast),
    ))
}

/// The budget in force for a team in a month: its latest row at or before it.
pub async fn budget_for<'c>(ex: impl store::Exec<'c>, team_id: &str, month: Month) -> Result<Option<Budget>, AppError> {
    let row: Option<(i64, String, String)> = sqlx::query_as(
        "SELECT amount_micros, alert_pcts, month FROM budgets WHERE team_id = $1 AND month <= $2
         ORDER BY month DESC LIMIT 1",
    )
    .bind(team_id)
    .bind(month.label())
    .fetch_optional(ex)
    .await
    .map_err(internal("reading a budget"))?;
    Ok(row.map(|(amount, pcts, since)| Budget {
        amount: Micros(amount),
        thresholds: budget::parse_thresholds(&pcts).unwrap_or_else(|_| budget::DEFAULT_THRESHOLDS.to_vec()),
        since,
    }))
}

/// Every budget row of a team, oldest first (for the trend's budget line).
pub async fn budget_history(db: &Db, team_id: &str) -> Result<Vec<(String, Micros)>, AppError> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT month, amount_micros FROM budgets WHERE team_id = $1 ORDER BY month")
            .bind(team_id)
            .fetch_all(db.pool())
            .await
            .map_err(internal("reading budgets"))?;
    Ok(rows.into_iter().map(|(m, a)| (m, Micros(a))).collect())
}

/// An alert level reached and recorded.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SentAlert {
    pub basis: String,
    pub pct: i64,
    pub spent: Micros,
    pub budget: Micros,
    pub at: i64,
}

pub async fn alerts_sent(db: &Db, team_id: &str, month: Month) -> Result<Vec<SentAlert>, AppError> {
    let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT basis, pct, spent_micros, budget_micros, at FROM budget_alerts WHERE team_id = $1 AND month = $2
         ORDER BY basis, pct",
    )
    .bind(team_id)
    .bind(month.label())
    .fetch_all(db.pool())
    .await
    .map_err(internal("reading budget alerts"))?;
    Ok(rows
        .into_iter()
        .map(|(basis, pct, spent, budget, at)| SentAlert {
            basis,
            pct,
            spent: Micros(spent),
            budget: Micros(budget),
            at,
        })
        .collect())
}

/// Records every alert level `actual` and `forecast` have reached that was
/// not recorded yet this month — once per (team, month, basis, level), the
/// primary key decides — with its audit event and a notification to each
/// of the team's managers, in `tx`. Returns how many were new.
async fn record_alerts(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    team: &store::teams::Team,
    month: Month,
    budget: &Budget,
    actual: Micros,
    forecast: Micros,
    now: i64,
) -> Result<usize, AppError> {
    let mut new = 0;
    for (basis, spent) in [("actual", actual), ("forecast", forecast)] {
        for pct in budget::reached(budget, spent) {
            let inserted = sqlx::query(
                "INSERT INTO budget_alerts (team_id, month, basis, pct, spent_micros, budget_micros, at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            )
            .bind(&team.id)
            .bind(month.label())
            .bind(basis)
            .bind(i64::from(pct))
            .bind(spent.0)
            .bind(budget.amount.0)
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(internal("recording a budget alert"))?
            .rows_affected();
            if inserted == 0 {
                continue;
            }
            new += 1;
            let message = match basis {
                "actual" => format!(
                    "{} has spent {spent} of its {} budget of {} ({pct}% reached)",
                    team.slug,
                    month.label(),
                    budget.amount
                ),
                _ => format!(
                    "{} is forecast to spend {spent} in {}: past its {pct}% alert level of its budget of {}",
                    team.slug,
                    month.label(),
                    budget.amount
                ),
            };
            let mut event =
                AuditEvent::system("budget.alert", None, Some(team.id.clone())).with_detail(serde_json::json!({
                    "team": team.slug, "month": month.label(), "basis": basis, "pct": pct,
                    "spent_micros": spent.0, "budget_micros": budget.amount.0,
                }));
            event.target_kind = "team".into();
            event.target_id = Some(team.id.clone());
            store::audit::append(&mut **tx, &event).await.map_err(internal("auditing a budget alert"))?;
            super::notify::to_managers(tx, &team.id, "budget_alert", &message, now).await?;
            let kind = crate::domain::notification::EventKind::BudgetThreshold;
            let title = format!("Team {} reached {pct}% of its {} budget ({basis})", team.slug, month.label());
            super::notify::to_team(tx, &team.id, kind, None, &title, &message, now).await?;
        }
    }
    Ok(new)
}

/// Checks every team with a budget against this month's actual and
/// forecast spend and records the alert levels newly reached. The
/// scheduler runs it every minute; only the current month is checked, so
/// last month's spend never alerts.
pub async fn check_budgets(db: &Db, settings: &super::PortalSettings, now: i64) -> Result<usize, AppError> {
    let month = Month::containing(now);
    let teams = store::teams::list(db.pool()).await.map_err(internal("listing teams"))?;
    let mut budgets = Vec::new();
    for team in teams {
        if let Some(b) = budget_for(db.pool(), &team.id, month).await? {
            budgets.push((team, b));
        }
    }
    if budgets.is_empty() {
        return Ok(0);
    }
    let (actual, forecast) = report_with(db, &settings.cost_rules, month, now).await?;
    let mut new = 0;
    let mut tx = db.begin_write().await.map_err(internal("starting a transaction"))?;
    for (team, b) in &budgets {
        let a = actual.team(&team.slug).total;
        let f = forecast.team(&team.slug).total;
        new += record_alerts(&mut tx, team, month, b, a, f, now).await?;
    }
    tx.commit().await.map_err(internal("committing budget alerts"))?;
    Ok(new)
}

/// What a manager asks to set.
#[derive(Clone, Debug)]
pub struct BudgetInput {
    pub team: String,
    pub amount: Micros,
    /// `50,80,100`; empty for the defaults.
    pub thresholds: String,
}

/// The team a budget is set for, if the viewer may set it (404 for an
/// unknown team or one they are not in, 403 for a developer).
pub async fn may_set_budget(state: &AppState, meta: &RequestMeta, team: &str) -> Result<store::teams::Team, AppError> {
    let team = store::teams::find_by_slug(state.db.pool(), team.trim())
        .await
        .map_err(internal("finding a team"))?
        .ok_or(AppError::NotFound)?;
    authz::require(state, meta, Action::ManageBudgets, Some(&team.id)).await?;
    Ok(team)
}

/// Sets a team's monthly budget from the current month on: authorize
/// (managers of the team, platform admins), write, audit, and record the
/// alert levels already reached — in one transaction.
pub async fn set_budget(state: &AppState, meta: &RequestMeta, input: BudgetInput) -> Result<Budget, AppError> {
    let team = may_set_budget(state, meta, &input.team).await?;
    if input.amount.0 < 0 || input.amount.0 > 1_000_000_000 * 1_000_000 {
        return Err(AppError::invalid("amount", "give an amount between $0 and $1,000,000,000"));
    }
    let thresholds = budget::parse_thresholds(&input.thresholds).map_err(|e| AppError::invalid("thresholds", e))?;
    let now = now_ms();
    let month = Month::containing(now);
    let budget = Budget { amount: input.amount, thresholds, since: month.label() };
    let (actual, forecast) = report(state, month, now).await?;
    let mut tx = state.db.begin_write().await.map_err(internal("starting a transaction"))?;
    sqlx::query(
        "INSERT INTO budgets (team_id, month, amount_micros, alert_pcts, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (team_id, month) DO UPDATE
         SET amount_micros = excluded.amount_micros, alert_pcts = excluded.alert_pcts, updated_at = excluded.updated_at",
    )
    .bind(&team.id)
    .bind(month.label())
    .bind(budget.amount.0)
    .bind(budget::format_thresholds(&budget.thresholds))
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(internal("writing a budget"))?;
    let mut event = AuditEvent::from_request(meta, "budget.set", "team", Some(team.id.clone()), Outcome::Success)
        .with_detail(serde_json::json!({
            "team": team.slug, "from_month": month.label(), "amount_micros": budget.amount.0,
            "thresholds": budget.thresholds,
        }));
    event.team_id = Some(team.id.clone());
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a budget"))?;
    let (a, f) = (actual.team(&team.slug).total, forecast.team(&team.slug).total);
    record_alerts(&mut tx, &team, month, &budget, a, f, now).await?;
    tx.commit().await.map_err(internal("committing a budget"))?;
    Ok(budget)
}

/// The admission gate, run by the one write path before an environment is
/// created or claimed: refuses (409) a blocking tier for a team at or over
/// its budget, or returns the warning a `warn` tier gives.
pub async fn admit(state: &AppState, viewer: &Viewer, team_id: &str, tier: Tier) -> Result<Option<String>, AppError> {
    let setting = state.settings.tiers.get(tier).budget_gate;
    if setting == budget::BudgetGate::Off || viewer.is_platform_admin {
        return Ok(None);
    }
    let now = now_ms();
    let month = Month::containing(now);
    let Some((team, b, spent)) = month_to_date(state, team_id, now).await? else { return Ok(None) };
    match budget::gate(setting, tier, &team.slug, &month.label(), Some(&b), spent, false) {
        GateOutcome::Pass => Ok(None),
        GateOutcome::Warn(message) => Ok(Some(message)),
        GateOutcome::Block(message) => Err(AppError::Conflict(message)),
    }
}

/// A platform admin adds a rate to the price book, effective from
/// `effective_from` (never in the past: past cost is never rewritten).
pub async fn add_rate(
    state: &AppState,
    meta: &RequestMeta,
    tier: Tier,
    kind: &str,
    hourly_rate: Micros,
    effective_from: Option<i64>,
) -> Result<RateEntry, AppError> {
    let viewer = authz::require(state, meta, Action::ManagePolicies, None).await?;
    let kind = kind.trim();
    if kind.is_empty()
        || kind.len() > 40
        || !kind.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(AppError::invalid("kind", "lowercase letters, digits and -, at most 40"));
    }
    if hourly_rate.0 < 0 || hourly_rate.0 > 1_000_000_000_000 {
        return Err(AppError::invalid("hourly_rate", "give a rate between $0 and $1,000,000 an hour"));
    }
    let now = now_ms();
    let from = effective_from.unwrap_or(now);
    if from < now - 60_000 {
        return Err(AppError::invalid(
            "effective_from",
            "a rate change cannot start in the past: past cost is never rewritten",
        ));
    }
    let from = from.max(now);
    let mut tx = state.db.begin_write().await.map_err(internal("starting a transaction"))?;
    let inserted = sqlx::query(
        "INSERT INTO price_book (id, tier, kind, effective_from, hourly_rate_micros, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(new_id())
    .bind(tier.as_str())
    .bind(kind)
    .bind(from)
    .bind(hourly_rate.0)
    .bind(&viewer.user_id)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(internal("adding a rate"))?
    .rows_affected();
    if inserted == 0 {
        return Err(AppError::Conflict(format!("{} {kind} already has a rate from that instant", tier.as_str())));
    }
    let event = AuditEvent::from_request(meta, "price.set", "price_book", None, Outcome::Success).with_detail(
        serde_json::json!({ "tier": tier.as_str(), "kind": kind, "hourly_rate_micros": hourly_rate.0, "effective_from": from }),
    );
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a rate"))?;
    tx.commit().await.map_err(internal("committing a rate"))?;
    state.db.forget_headline_report();
    Ok(RateEntry { tier, kind: kind.to_string(), effective_from: from, hourly_rate })
}

/// A platform admin withdraws a rate that has not taken effect yet (a
/// mistyped future change); rates in force or past stay: past cost is
/// never rewritten.
pub async fn remove_future_rate(
    state: &AppState,
    meta: &RequestMeta,
    tier: Tier,
    kind: &str,
    effective_from: i64,
) -> Result<(), AppError> {
    authz::require(state, meta, Action::ManagePolicies, None).await?;
    let now = now_ms();
    if effective_from <= now {
        return Err(AppError::Conflict("only a rate that has not taken effect yet can be withdrawn".into()));
    }
    let mut tx = state.db.begin_write().await.map_err(internal("starting a transaction"))?;
    let deleted = sqlx::query(
        "DELETE FROM price_book WHERE tier = $1 AND kind = $2 AND effective_from = $3 AND effective_from > $4",
    )
    .bind(tier.as_str())
    .bind(kind)
    .bind(effective_from)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(internal("withdrawing a rate"))?
    .rows_affected();
    if deleted == 0 {
        return Err(AppError::NotFound);
    }
    let event = AuditEvent::from_request(meta, "price.withdraw", "price_book", None, Outcome::Success)
        .with_detail(serde_json::json!({ "tier": tier.as_str(), "kind": kind, "effective_from": effective_from }));
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a rate"))?;
    tx.commit().await.map_err(internal("committing a withdrawal"))?;
    Ok(())
}

/// Every rate row with who added it, newest first, for the Price book page.
pub async fn rate_rows(db: &Db) -> Result<Vec<(RateEntry, Option<String>, i64)>, AppError> {
    let rows: Vec<(String, String, i64, i64, Option<String>, i64)> = sqlx::query_as(
        "SELECT p.tier, p.kind, p.effective_from, p.hourly_rate_micros, u.login, p.created_at
         FROM price_book p LEFT JOIN users u ON u.id = p.created_by
         ORDER BY p.tier, p.kind, p.effective_from DESC",
    )
    .fetch_all(db.pool())
    .await
    .map_err(internal("reading the price book"))?;
    Ok(rows
        .into_iter()
        .filter_map(|(tier, kind, from, rate, by, at)| {
            Some((
                RateEntry { tier: tier.parse().ok()?, kind, effective_from: from, hourly_rate: Micros(rate) },
                by,
                at,
            ))
        })
        .collect())
}

/// Marks an environment shared from now on (its cost becomes a shared
/// cost) or ends its sharing now: platform admins only, audited. Earlier
/// months are never reattributed.
pub async fn set_shared(state: &AppState, meta: &RequestMeta, env_id: &str, shared: bool) -> Result<(), AppError> {
    authz::require(state, meta, Action::ManagePolicies, None).await?;
    let now = now_ms();
    let mut tx = state.db.begin_write().await.map_err(internal("starting a transaction"))?;
    let team: Option<(String, String)> = sqlx::query_as("SELECT team_id, state FROM environments WHERE id = $1")
        .bind(env_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(internal("finding an environment"))?;
    let Some((team_id, env_state)) = team else { return Err(AppError::NotFound) };
    // Only something that runs can start being shared.
    if shared && matches!(env_state.as_str(), "destroyed" | "failed") {
        return Err(AppError::Conflict(format!(
            "a {env_state} environment costs nothing more: there is nothing to share"
        )));
    }
    let open: Option<(i64,)> =
        sqlx::query_as("SELECT started_at FROM shared_periods WHERE environment_id = $1 AND ended_at IS NULL")
            .bind(env_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(internal("reading shared periods"))?;
    match (shared, open) {
        (true, None) => {
            sqlx::query("INSERT INTO shared_periods (environment_id, started_at) VALUES ($1, $2)")
                .bind(env_id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(internal("opening a shared period"))?;
        }
        (false, Some(_)) => {
            sqlx::query("UPDATE shared_periods SET ended_at = $1 WHERE environment_id = $2 AND ended_at IS NULL")
                .bind(now)
                .bind(env_id)
                .execute(&mut *tx)
                .await
                .map_err(internal("closing a shared period"))?;
        }
        // Already as asked: nothing to write or audit.
        _ => return Ok(()),
    }
    let mut event = AuditEvent::from_request(
        meta,
        if shared { "environment.share" } else { "environment.unshare" },
        "environment",
        Some(env_id.to_string()),
        Outcome::Success,
    );
    event.team_id = Some(team_id);
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a share"))?;
    tx.commit().await.map_err(internal("committing a share"))?;
    Ok(())
}

/// Whether an environment is shared now.
pub async fn is_shared(db: &Db, env_id: &str) -> Result<bool, AppError> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT started_at FROM shared_periods WHERE environment_id = $1 AND ended_at IS NULL")
            .bind(env_id)
            .fetch_optional(db.pool())
            .await
            .map_err(internal("reading an environment"))?;
    Ok(row.is_some())
}

/// One environment's cost to the team, priced by the price book as the
/// Costs page prices it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EnvironmentCost {
    /// Since `from` (or since it started) until `to`.
    pub so_far: Micros,
    /// What it costs per hour now (resources not yet deleted).
    pub hourly: Micros,
}

/// The cost of `env` over `[from, to)`: the team pays from the claim for a
/// pool member (the wait was the platform's).
pub async fn environment_cost(
    db: &Db,
    book: &PriceBook,
    env: &store::environments::Environment,
    from: i64,
    to: i64,
) -> Result<EnvironmentCost, AppError> {
    let tier: Tier = super::environments::stored(&env.tier, "tier", &env.id)?;
    let resources =
        store::resources::for_environment(db.pool(), &env.id).await.map_err(internal("loading resources"))?;
    let start = from.max(env.claimed_at.unwrap_or(i64::MIN));
    let mut cost = EnvironmentCost::default();
    for r in resources {
        let recorded = Micros(r.hourly_rate_micros);
        if let Some(started) = r.started_at {
            let end = r.ended_at.unwrap_or(to).min(to);
            if end > started.max(start) {
                cost.so_far += book.cost(tier, &r.kind, recorded, started.max(start), end);
            }
        }
        if r.state != "deleted" {
            cost.hourly += book.rate_at(tier, &r.kind, recorded, to);
        }
    }
    Ok(cost)
}

/// What is left of the team's budget this month (negative when over);
/// `None` without a budget.
pub async fn budget_headroom(state: &AppState, team_id: &str, now: i64) -> Result<Option<Micros>, AppError> {
    let spent = month_to_date(state, team_id, now).await?;
    Ok(spent.map(|(_, b, spent)| Micros(b.amount.0 - spent.0)))
}

/// A team with a budget this month: the team, the budget and its spend so
/// far (`None` without a budget, so no report is computed for nothing).
async fn month_to_date(
    state: &AppState,
    team_id: &str,
    now: i64,
) -> Result<Option<(store::teams::Team, Budget, Micros)>, AppError> {
    let month = Month::containing(now);
    let Some(b) = budget_for(state.db.pool(), team_id, month).await? else { return Ok(None) };
    let team = store::teams::find(state.db.pool(), team_id)
        .await
        .map_err(internal("finding a team"))?
        .ok_or(AppError::NotFound)?;
    let (actual, _) = report(state, month, now).await?;
    let spent = actual.team(&team.slug).total;
    Ok(Some((team, b, spent)))
}
