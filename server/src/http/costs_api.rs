//! `/api/v1/costs`: a month's chargeback as JSON, as a CSV of every
//! environment × resource line, and as a FinOps FOCUS file. Readable by a
//! manager's or admin's session or a token with `costs:read`.
//!
//! The files stream: a first pass over the month's resource intervals
//! computes the team totals and shared-cost allocations (memory grows with
//! teams, not rows), a second pass writes rows as the database yields them.

use super::api_v1::{ApiError, Caller};
use app::api::costs::{build, selection, CostsView};
use app::domain::chargeback::{pieces, usage_end, Accumulator, Basis, MonthReport, Payer, SharedPool, Usage};
use app::domain::cost::Month;
use app::domain::export::{
    csv_line, dollars6, focus_line, hours6, iso_utc, parse_month, ratio, split_by_day, FocusAllocation, FocusRow,
    FocusVersion,
};
use app::domain::money::Micros;
use app::domain::price::PriceBook;
use app::domain::token::Scope;
use app::error::AppError;
use app::ssr::store::teams::Team;
use app::ssr::{clock::now_ms, costs, internal, store, AppState};
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::StreamExt;
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/costs", get(month_json))
        .route("/api/v1/costs/export.csv", get(export_csv))
        .route("/api/v1/costs/focus.csv", get(export_focus))
        .route("/api/v1/teams/{slug}/budget", axum::routing::put(set_budget))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetBody {
    /// The monthly budget in micro-dollars (from the current month on), up to $1,000,000,000.
    #[schema(minimum = 0, maximum = 1_000_000_000_000_000_i64)]
    amount_micros: i64,
    /// Alert levels in percent (1–1000, each once, at most 10); default `[50, 80, 100]`.
    #[schema(min_items = 1, max_items = 10)]
    thresholds: Option<Vec<u32>>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct BudgetJson {
    team: String,
    amount_micros: i64,
    thresholds: Vec<u32>,
    /// The month it applies from (`YYYY-MM`).
    since: String,
}

#[utoipa::path(put, path = "/api/v1/teams/{slug}/budget", params(("slug" = String, Path)), request_body = BudgetBody, responses(
    (status = 200, body = BudgetJson), (status = 401), (status = 403, description = "Not a manager of the team, or the token lacks budgets:write"),
    (status = 404), (status = 422)))]
pub async fn set_budget(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Path(slug): axum::extract::Path<String>,
    payload: Result<Json<BudgetBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<BudgetJson>, ApiError> {
    caller.require_scope(&state, Scope::BudgetsWrite).await?;
    let b = super::api_v1::body(payload)?;
    // An explicit empty list would silently mean the defaults: refuse it.
    if b.thresholds.as_ref().is_some_and(Vec::is_empty) {
        return Err(ApiError(AppError::invalid("thresholds", "give at least one level, or omit it for 50, 80, 100")));
    }
    let thresholds =
        b.thresholds.map(|t| t.iter().map(u32::to_string).collect::<Vec<_>>().join(",")).unwrap_or_default();
    let input = costs::BudgetInput { team: slug.clone(), amount: Micros(b.amount_micros), thresholds };
    let budget = costs::set_budget(&state, &caller.meta, input).await?;
    Ok(Json(BudgetJson {
        team: slug,
        amount_micros: budget.amount.0,
        thresholds: budget.thresholds,
        since: budget.since,
    }))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CostsQuery {
    /// `YYYY-MM` (UTC); the current month when absent.
    month: Option<String>,
    /// A team slug, or `all` (platform admins). Default: all teams for a
    /// platform admin, else the first team the caller manages.
    team: Option<String>,
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FocusQuery {
    /// `YYYY-MM` (UTC); the current month when absent.
    month: Option<String>,
    /// A team slug, or `all` (platform admins).
    team: Option<String>,
    /// FOCUS version: `1.3` (default) or `1.2`.
    version: Option<String>,
}

fn query<T>(q: Result<Query<T>, axum::extract::rejection::QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(q)| q).map_err(|r| ApiError(AppError::invalid("query", r.body_text())))
}

#[utoipa::path(get, path = "/api/v1/costs", params(CostsQuery), responses(
    (status = 200, description = "The month's chargeback: `total_micros` (direct + allocated shared), forecast, breakdowns, shared allocations, budget; money in integer micro-dollars"),
    (status = 401), (status = 403, description = "Not a manager of the team, or the token lacks costs:read"),
    (status = 404, description = "No such team, or not the caller's"), (status = 422, description = "A bad month")))]
pub async fn month_json(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<CostsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<CostsView>, ApiError> {
    caller.require_scope(&state, Scope::CostsRead).await?;
    let q = query(q)?;
    Ok(Json(build(&state, &caller.meta, q.month.as_deref(), q.team.as_deref()).await?))
}

/// What both files need: the month, the selection, the totals of pass one.
struct Export {
    month: Month,
    team: Option<Team>,
    teams: Vec<Team>,
    book: PriceBook,
    report: MonthReport,
    now: i64,
    shared: costs::SharedPeriods,
}

async fn prepare(
    state: &AppState,
    caller: &Caller,
    month: Option<&str>,
    team: Option<&str>,
) -> Result<Export, ApiError> {
    caller.require_scope(state, Scope::CostsRead).await?;
    let now = now_ms();
    let month = match month.map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => parse_month(m).map_err(|e| AppError::invalid("month", e))?,
        None => Month::containing(now),
    };
    let teams = store::teams::list(state.db.pool()).await.map_err(internal("listing teams"))?;
    let team = selection(state, &caller.meta, &teams, team).await?;
    let book = costs::price_book(&state.db).await?;
    let mut acc = Accumulator::new(&book, month, now, Basis::Actual, false);
    let shared = costs::shared_periods(&state.db).await?;
    {
        let mut usages =
            std::pin::pin!(costs::usage_stream(&state.db, &shared, month.start_ms(), month.next().start_ms()));
        while let Some(u) = usages.next().await {
            acc.add(&u?);
        }
    }
    let report = acc.finish(&state.settings.cost_rules);
    Ok(Export { month, team, teams, book, report, now, shared })
}

/// A streamed attachment; rows come from `produce` through a small channel,
/// so a slow client holds back the database cursor instead of memory.
fn attachment<F, Fut>(filename: String, produce: F) -> Response
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(32);
    tokio::spawn(produce(tx));
    let body = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// Rows are batched into chunks of about this many bytes.
const CHUNK: usize = 64 * 1024;

struct Sink {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: String,
}

impl Sink {
    /// Queues a line; false once the client has gone.
    async fn line(&mut self, line: &str) -> bool {
        self.buf.push_str(line);
        if self.buf.len() >= CHUNK {
            return self.flush().await;
        }
        true
    }

    async fn flush(&mut self) -> bool {
        if self.buf.is_empty() {
            return true;
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx.send(Ok(chunk)).await.is_ok()
    }

    async fn fail(&mut self, why: &str) {
        tracing::error!(error = why, "streaming a cost export");
        let _ = self.tx.send(Err(std::io::Error::other("export failed"))).await;
    }
}

fn file_name(kind: &str, e: &Export) -> String {
    let who = e.team.as_ref().map_or("all-teams", |t| t.slug.as_str());
    format!("eod-{kind}-{}-{who}.csv", e.month.label())
}

fn source(u: &Usage) -> (String, String) {
    (u.git_ref.clone().unwrap_or_default(), u.pr_number.map(|n| n.to_string()).unwrap_or_default())
}

/// The allocated shares of the selection, and (all teams) the unallocated
/// remainders: (pool, rule, team or None, share, pool cost).
fn shares(e: &Export) -> Vec<(SharedPool, String, Option<String>, Micros, Micros)> {
    let mut out = Vec::new();
    for p in &e.report.pools {
        for (team, share) in &p.allocations {
            if e.team.as_ref().is_none_or(|t| &t.slug == team) {
                out.push((p.pool, p.rule.as_str().to_string(), Some(team.clone()), *share, p.cost));
            }
        }
        if e.team.is_none() && p.unallocated != Micros::ZERO {
            out.push((p.pool, p.rule.as_str().to_string(), None, p.unallocated, p.cost));
        }
    }
    out
}

#[utoipa::path(get, path = "/api/v1/costs/export.csv", params(CostsQuery), responses(
    (status = 200, content_type = "text/csv", description = "One row per environment × resource (× rate period) of the month, plus one row per allocated shared cost; `cost_usd` sums to the month's `total_micros`"),
    (status = 401), (status = 403), (status = 404), (status = 422)))]
pub async fn export_csv(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<CostsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let e = prepare(&state, &caller, q.month.as_deref(), q.team.as_deref()).await?;
    let name = file_name("costs", &e);
    Ok(attachment(name, move |tx| async move {
        let mut sink = Sink { tx, buf: String::new() };
        let header = [
            "team",
            "app",
            "environment",
            "environment_id",
            "tier",
            "branch",
            "pr_number",
            "resource_kind",
            "line",
            "start_utc",
            "end_utc",
            "hours",
            "rate_usd_per_hour",
            "cost_usd",
        ];
        if !sink.line(&csv_line(&header)).await {
            return;
        }
        let (from, to) = (e.report.from, e.report.to);
        let mut usages =
            std::pin::pin!(costs::usage_stream(&state.db, &e.shared, e.month.start_ms(), e.month.next().start_ms()));
        while let Some(u) = usages.next().await {
            let u = match u {
                Ok(u) => u,
                Err(err) => return sink.fail(&err.to_string()).await,
            };
            if e.team.as_ref().is_some_and(|t| t.slug != u.team) {
                continue;
            }
            let (branch, pr) = source(&u);
            for p in pieces(&e.book, &u, from, to, e.now, Basis::Actual) {
                if p.payer != Payer::Team {
                    continue;
                }
                let line = csv_line(&[
                    u.team.as_str(),
                    &u.app,
                    &u.env_name,
                    &u.env_id,
                    u.tier.as_str(),
                    &branch,
                    &pr,
                    &u.kind,
                    "direct",
                    &iso_utc(p.start),
                    &iso_utc(p.end),
                    &hours6(p.end - p.start),
                    &dollars6(p.rate),
                    &dollars6(p.cost),
                ]);
                if !sink.line(&line).await {
                    return;
                }
            }
        }
        for (pool, rule, team, share, _) in shares(&e) {
            let (team, line) = match team {
                Some(t) => (t, format!("allocated ({rule})")),
                None => (String::new(), "unallocated".to_string()),
            };
            let line = csv_line(&[
                team.as_str(),
                "",
                "",
                "",
                "",
                "",
                "",
                pool.as_str(),
                &line,
                &iso_utc(from),
                &iso_utc(to),
                "",
                "",
                &dollars6(share),
            ]);
            if !sink.line(&line).await {
                return;
            }
        }
        sink.flush().await;
    }))
}

fn service_name(tier: app::domain::tier::Tier) -> String {
    format!("EoD {} environments", tier.label())
}

#[utoipa::path(get, path = "/api/v1/costs/focus.csv", params(FocusQuery), responses(
    (status = 200, content_type = "text/csv", description = "FinOps FOCUS cost-and-usage rows (1.3 by default): one per environment × resource × UTC day, plus allocated shared cost; BilledCost sums to the month's `total_micros`"),
    (status = 401), (status = 403), (status = 404), (status = 422)))]
pub async fn export_focus(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<FocusQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let version =
        FocusVersion::parse(q.version.as_deref().unwrap_or("")).map_err(|e| AppError::invalid("version", e))?;
    let e = prepare(&state, &caller, q.month.as_deref(), q.team.as_deref()).await?;
    let name = file_name(&format!("focus-{}", version.as_str()), &e);
    Ok(attachment(name, move |tx| async move {
        let mut sink = Sink { tx, buf: String::new() };
        if !sink.line(&csv_line(&version.columns())).await {
            return;
        }
        let names: BTreeMap<&str, &str> = e.teams.iter().map(|t| (t.slug.as_str(), t.name.as_str())).collect();
        let team_of = |slug: &str| (slug.to_string(), names.get(slug).copied().unwrap_or(slug).to_string());
        let billing = (e.month.start_ms(), e.month.next().start_ms());
        let (from, to) = (e.report.from, e.report.to);
        let mut usages =
            std::pin::pin!(costs::usage_stream(&state.db, &e.shared, e.month.start_ms(), e.month.next().start_ms()));
        while let Some(u) = usages.next().await {
            let u = match u {
                Ok(u) => u,
                Err(err) => return sink.fail(&err.to_string()).await,
            };
            if e.team.as_ref().is_some_and(|t| t.slug != u.team) {
                continue;
            }
            let tags = serde_json::json!({
                "team": u.team, "app": u.app, "environment": u.env_name, "tier": u.tier.as_str(),
                "branch": u.git_ref, "pr": u.pr_number,
            })
            .to_string();
            let (start, end) = (u.started_at.max(from), usage_end(&u, e.now, Basis::Actual).min(to));
            for (day_from, day_to) in split_by_day(start, end) {
                for p in pieces(&e.book, &u, day_from, day_to, e.now, Basis::Actual) {
                    if p.payer != Payer::Team {
                        continue;
                    }
                    let day = app::domain::export::day_start(p.start);
                    let row = FocusRow {
                        team: Some(team_of(&u.team)),
                        billing_period: billing,
                        charge_period: (day, day + app::domain::time::DAY_MS),
                        cost: p.cost,
                        description: format!(
                            "{} of {} ({}) at ${}/h",
                            u.kind,
                            u.env_name,
                            u.tier.as_str(),
                            dollars6(p.rate)
                        ),
                        quantity_ms: Some(p.end - p.start),
                        kind: u.kind.clone(),
                        service_name: service_name(u.tier),
                        resource_id: format!("{}/{}", u.env_id, u.kind),
                        resource_name: format!("{}-{}", u.env_name, u.kind),
                        resource_type: u.kind.clone(),
                        tags: tags.clone(),
                        environment_id: Some(u.env_id.clone()),
                        pool: None,
                        allocation: None,
                    };
                    if !sink.line(&focus_line(version, &row)).await {
                        return;
                    }
                }
            }
        }
        let period_end = app::domain::export::day_start(to.max(from + 1) - 1) + app::domain::time::DAY_MS;
        for (pool, rule, team, share, pool_cost) in shares(&e) {
            let allocation = FocusAllocation {
                rule: rule.clone(),
                team: team.as_deref().map(team_of),
                ratio: ratio(share, pool_cost),
            };
            let row = FocusRow {
                team: team.as_deref().map(team_of),
                billing_period: billing,
                charge_period: (from, period_end),
                cost: share,
                description: match &team {
                    Some(t) => format!("{}: {t}'s {rule} share", pool.label()),
                    None => format!("{}: unallocated, no team had usage", pool.label()),
                },
                quantity_ms: None,
                kind: pool.as_str().to_string(),
                service_name: "EoD shared costs".into(),
                resource_id: format!("shared:{}", pool.as_str()),
                resource_name: pool.label().to_string(),
                resource_type: "shared-cost-pool".into(),
                tags: serde_json::json!({ "shared-cost-pool": pool.as_str() }).to_string(),
                environment_id: None,
                pool: Some(pool.as_str().to_string()),
                allocation: Some(allocation),
            };
            if !sink.line(&focus_line(version, &row)).await {
                return;
            }
        }
        sink.flush().await;
    }))
}
