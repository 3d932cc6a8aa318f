//! The manager's chargeback: the Costs page, budgets, the price book and
//! shared environments. The same view is the JSON of `GET /api/v1/costs`.

use crate::domain::money::Micros;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// An environment's direct cost in the month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvLine {
    pub id: String,
    pub name: String,
    pub team: String,
    pub app: String,
    pub tier: String,
    /// `fix/cart` or `PR #7`.
    pub source: String,
    pub cost_micros: Micros,
    /// Cost per resource kind.
    pub by_kind: Vec<(String, Micros)>,
}

/// A shared-cost pool as the selection sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedLine {
    pub pool: String,
    pub label: String,
    /// `proportional` or `even`.
    pub rule: String,
    /// The pool's whole cost this month (all teams).
    pub pool_cost_micros: Micros,
    /// The selection's share: the team's allocation, or every team's on the all-teams view.
    pub share_micros: Micros,
    /// What the pool's cost is made of.
    pub sources: Vec<(String, Micros)>,
    /// Each team's share.
    pub allocations: Vec<(String, Micros)>,
    pub unallocated_micros: Micros,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamLine {
    pub team: String,
    pub direct_micros: Micros,
    pub allocated_micros: Micros,
    pub total_micros: Micros,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrendPoint {
    pub month: String,
    pub direct_micros: Micros,
    pub allocated_micros: Micros,
    pub total_micros: Micros,
    /// The budget in force that month (the sum of teams' budgets on the all-teams view).
    pub budget_micros: Option<Micros>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertLine {
    /// `actual` or `forecast`.
    pub basis: String,
    pub pct: i64,
    pub spent_micros: Micros,
    /// The budget the level was measured against.
    pub budget_micros: Micros,
    pub at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetView {
    pub amount_micros: Micros,
    pub thresholds: Vec<u32>,
    /// The month the budget was set for (it applies until changed).
    pub since: String,
    pub actual_pct: Option<i64>,
    pub forecast_pct: Option<i64>,
    /// Alert levels reached this month, each recorded once.
    pub alerts: Vec<AlertLine>,
}

/// The sums that must agree, shown as numbers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciliation {
    /// Σ environment lines shown.
    pub environments_micros: Micros,
    /// Σ shared-cost shares of the selection.
    pub allocated_micros: Micros,
    /// The selection's total.
    pub selection_total_micros: Micros,
    /// Σ every team's total (all-teams view only).
    pub teams_micros: Option<Micros>,
    /// What no team could take (all-teams view only).
    pub unallocated_micros: Option<Micros>,
    /// The month's platform total (all-teams view only).
    pub platform_total_micros: Option<Micros>,
    /// Both equations hold (the platform one is checked on every view).
    pub balanced: bool,
}

/// A month's chargeback for one team or all teams.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostsView {
    pub month: String,
    /// Months to pick from, newest first.
    pub months: Vec<String>,
    /// Team slug; `None` for all teams.
    pub team: Option<String>,
    pub team_name: String,
    /// (slug, name) of the teams the viewer may read.
    pub team_choices: Vec<(String, String)>,
    pub can_view_all: bool,
    pub can_manage_budget: bool,
    /// Figures are up to this instant (the month's end for a closed month).
    pub as_of: i64,
    pub month_closed: bool,
    /// The selection's month total: direct + allocated shared (+ unallocated on the all-teams view).
    pub total_micros: Micros,
    pub direct_micros: Micros,
    pub allocated_micros: Micros,
    pub unallocated_micros: Micros,
    /// Month to date plus what running environments will cost until their
    /// expiry or the month's end.
    pub forecast_micros: Micros,
    pub environments: Vec<EnvLine>,
    pub by_tier: Vec<(String, Micros)>,
    pub by_app: Vec<(String, Micros)>,
    pub by_kind: Vec<(String, Micros)>,
    pub shared: Vec<SharedLine>,
    pub teams: Vec<TeamLine>,
    pub trend: Vec<TrendPoint>,
    pub budget: Option<BudgetView>,
    pub reconciliation: Reconciliation,
    /// Demo mode: the history is seeded demo data, not measured.
    pub demo: bool,
}

#[server(prefix = "/api/fn", endpoint = "costs_report")]
pub async fn costs_report(month: Option<String>, team: Option<String>) -> Result<CostsView, AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::context::*;
            let (state, meta) = (app_state()?, request_meta());
            build(&state, &meta, month.as_deref(), team.as_deref()).await
        }
        .await,
    )
}

/// Sets a team's monthly budget (dollars, e.g. `1500` or `1,500.50`) and alert levels (`50,80,100`).
#[server(prefix = "/api/fn", endpoint = "set_budget")]
pub async fn set_budget(team: String, amount: String, thresholds: String) -> Result<(), AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::{context::*, costs};
            let (state, meta) = (app_state()?, request_meta());
            // Who may comes before what is wrong with the input.
            costs::may_set_budget(&state, &meta, &team).await?;
            let amount = crate::domain::budget::parse_dollars(&amount).map_err(|e| AppError::invalid("amount", e))?;
            costs::set_budget(&state, &meta, costs::BudgetInput { team, amount, thresholds }).await.map(|_| ())
        }
        .await,
    )
}

/// The budget line of the Environments page header, per team of the viewer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetHeadline {
    pub team: String,
    pub spent_micros: Micros,
    pub budget_micros: Micros,
    pub pct: Option<i64>,
}

#[server(prefix = "/api/fn", endpoint = "budget_headlines")]
pub async fn budget_headlines() -> Result<Vec<BudgetHeadline>, AppError> {
    crate::ssr::with_status(
        async {
            use crate::domain::cost::Month;
            use crate::ssr::{clock::now_ms, context::*, costs};
            let (state, viewer) = (app_state()?, require_viewer()?);
            let now = now_ms();
            let month = Month::containing(now);
            let mut budgets = Vec::new();
            for m in &viewer.memberships {
                if let Some(b) = costs::budget_for(state.db.pool(), &m.team_id, month).await? {
                    budgets.push((m.team_slug.clone(), b));
                }
            }
            if budgets.is_empty() {
                return Ok(Vec::new());
            }
            let actual = match state.db.headline_report(now) {
                Some(report) => report,
                None => {
                    let (actual, _) = costs::report(&state, month, now).await?;
                    state.db.remember_headline_report(now, &actual);
                    actual
                }
            };
            Ok(budgets
                .into_iter()
                .map(|(team, b)| {
                    let spent = actual.team(&team).total;
                    BudgetHeadline {
                        pct: crate::domain::budget::percent(spent, b.amount),
                        team,
                        spent_micros: spent,
                        budget_micros: b.amount,
                    }
                })
                .collect())
        }
        .await,
    )
}

/// A price-book row for the Price book page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateRow {
    pub tier: String,
    pub kind: String,
    pub effective_from: i64,
    pub hourly_rate_micros: Micros,
    /// Login of the admin who added it; `None` for the seeded defaults.
    pub added_by: Option<String>,
    /// Whether this row is the rate in force now for its (tier, kind).
    pub current: bool,
    /// Not in effect yet: it may still be withdrawn.
    pub future: bool,
}

#[server(prefix = "/api/fn", endpoint = "price_book_rows")]
pub async fn price_book_rows() -> Result<Vec<RateRow>, AppError> {
    crate::ssr::with_status(
        async {
            use crate::domain::authz::Action;
            use crate::ssr::{authz, clock::now_ms, context::*, costs};
            let (state, meta) = (app_state()?, request_meta());
            authz::require(&state, &meta, Action::ManagePolicies, None).await?;
            let now = now_ms();
            let rows = costs::rate_rows(&state.db).await?;
            let book = costs::price_book(&state.db).await?;
            Ok(rows
                .into_iter()
                .map(|(e, by, _)| {
                    let in_force = book.rate_at(e.tier, &e.kind, Micros(-1), now) == e.hourly_rate
                        && e.effective_from <= now
                        && book
                            .entries()
                            .iter()
                            .filter(|o| o.tier == e.tier && o.kind == e.kind && o.effective_from <= now)
                            .all(|o| o.effective_from <= e.effective_from);
                    RateRow {
                        tier: e.tier.as_str().to_string(),
                        kind: e.kind,
                        effective_from: e.effective_from,
                        hourly_rate_micros: e.hourly_rate,
                        added_by: by,
                        current: in_force,
                        future: e.effective_from > now,
                    }
                })
                .collect())
        }
        .await,
    )
}

/// Adds a rate: `rate` in dollars per hour; `effective_from` as
/// `YYYY-MM-DDTHH:MM` UTC, empty for now.
#[server(prefix = "/api/fn", endpoint = "add_price")]
pub async fn add_price(tier: String, kind: String, rate: String, effective_from: String) -> Result<(), AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::{authz, context::*, costs};
            let (state, meta) = (app_state()?, request_meta());
            authz::require(&state, &meta, crate::domain::authz::Action::ManagePolicies, None).await?;
            let tier: crate::domain::tier::Tier =
                tier.parse().map_err(|e: crate::domain::tier::UnknownTier| AppError::invalid("tier", e.to_string()))?;
            let rate = crate::domain::budget::parse_dollars(&rate).map_err(|e| AppError::invalid("rate", e))?;
            let from = match effective_from.trim() {
                t if t.is_empty() || t.eq_ignore_ascii_case("now") => None,
                t => Some(parse_utc_minute(t).ok_or_else(|| {
                    AppError::invalid("effective_from", "give a UTC date and time like 2026-12-01T00:00")
                })?),
            };
            costs::add_rate(&state, &meta, tier, &kind, rate, from).await.map(|_| ())
        }
        .await,
    )
}

/// Withdraws a rate that has not taken effect yet.
#[server(prefix = "/api/fn", endpoint = "withdraw_price")]
pub async fn withdraw_price(tier: String, kind: String, effective_from: i64) -> Result<(), AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::{authz, context::*, costs};
            let (state, meta) = (app_state()?, request_meta());
            authz::require(&state, &meta, crate::domain::authz::Action::ManagePolicies, None).await?;
            let tier: crate::domain::tier::Tier =
                tier.parse().map_err(|e: crate::domain::tier::UnknownTier| AppError::invalid("tier", e.to_string()))?;
            costs::remove_future_rate(&state, &meta, tier, &kind, effective_from).await
        }
        .await,
    )
}

/// `YYYY-MM-DDTHH:MM[:SS][Z]` (UTC) to epoch ms.
pub fn parse_utc_minute(text: &str) -> Option<i64> {
    let t = text.trim().trim_end_matches('Z');
    let (date, time) = t.split_once('T').or_else(|| t.split_once(' '))?;
    let mut d = date.split('-');
    let (y, m, day): (i64, u32, u32) = (d.next()?.parse().ok()?, d.next()?.parse().ok()?, d.next()?.parse().ok()?);
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&day) || !(1970..=2999).contains(&y) {
        return None;
    }
    let mut tp = time.split(':');
    let (h, min): (i64, i64) = (tp.next()?.parse().ok()?, tp.next()?.parse().ok()?);
    let s: i64 = match tp.next() {
        Some(s) => s.parse().ok()?,
        None => 0,
    };
    if !(0..24).contains(&h) || !(0..60).contains(&min) || !(0..60).contains(&s) {
        return None;
    }
    let days = crate::domain::cost::days_from_civil(y, m, day);
    // Reject dates like 02-31 that roll over into the next month.
    if crate::domain::time::civil_from_days(days) != (y, m, day) {
        return None;
    }
    Some(days * crate::domain::time::DAY_MS + (h * 3600 + min * 60 + s) * 1000)
}

/// Marks an environment shared across teams (platform admins).
#[server(prefix = "/api/fn", endpoint = "set_environment_shared")]
pub async fn set_environment_shared(id: String, shared: bool) -> Result<(), AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::{context::*, costs};
            let (state, meta) = (app_state()?, request_meta());
            costs::set_shared(&state, &meta, &id, shared).await
        }
        .await,
    )
}

/// Whose costs a request reads: a team (slug), `all` (platform admins), or
/// by default all teams for a platform admin and otherwise the first team
/// the viewer manages. Authorizes: a developer gets 403, a team the viewer
/// is not in 404, an unknown team 404.
#[cfg(feature = "ssr")]
pub async fn selection(
    state: &crate::ssr::AppState,
    meta: &crate::ssr::RequestMeta,
    teams: &[crate::ssr::store::teams::Team],
    team: Option<&str>,
) -> Result<Option<crate::ssr::store::teams::Team>, AppError> {
    use crate::domain::access::TeamRole;
    use crate::domain::authz::Action;
    use crate::ssr::authz;
    let viewer = meta.viewer.clone().ok_or(AppError::Unauthorized)?;
    let selected = match team.map(str::trim).filter(|t| !t.is_empty()) {
        Some("all") => None,
        Some(slug) => Some(teams.iter().find(|t| t.slug == slug).cloned().ok_or(AppError::NotFound)?),
        None if viewer.is_platform_admin => None,
        None => {
            let managed =
                viewer.memberships.iter().find(|m| m.role == TeamRole::Manager).or(viewer.memberships.first());
            match managed {
                Some(m) => teams.iter().find(|t| t.id == m.team_id).cloned(),
                None => {
                    authz::audit_denial(state, meta, Action::ViewCosts, None, "no team").await;
                    return Err(AppError::Forbidden);
                }
            }
        }
    };
    match &selected {
        Some(t) => {
            authz::require(state, meta, Action::ViewCosts, Some(&t.id)).await?;
        }
        None if !viewer.is_platform_admin => {
            authz::audit_denial(state, meta, Action::ViewCosts, None, "all teams is for platform admins").await;
            return Err(AppError::Forbidden);
        }
        None => {}
    }
    Ok(selected)
}

/// Builds the view for `month` (default: the current one) and `team`
/// (a slug, `all`, or `None` for the viewer's default: all teams for a
/// platform admin, else the first team they manage).
#[cfg(feature = "ssr")]
pub async fn build(
    state: &crate::ssr::AppState,
    meta: &crate::ssr::RequestMeta,
    month: Option<&str>,
    team: Option<&str>,
) -> Result<CostsView, AppError> {
    use crate::domain::authz::{decide, Action, Decision};
    use crate::domain::chargeback::{breakdown, month_report, month_totals, Basis};
    use crate::domain::cost::Month;
    use crate::domain::export::parse_month;
    use crate::ssr::{clock::now_ms, costs, internal, store};

    let viewer = meta.viewer.clone().ok_or(AppError::Unauthorized)?;
    let now = now_ms();
    let current = Month::containing(now);
    let month = match month.map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => parse_month(m).map_err(|e| AppError::invalid("month", e))?,
        None => current,
    };
    let teams = store::teams::list(state.db.pool()).await.map_err(internal("listing teams"))?;
    let selected = selection(state, meta, &teams, team).await?;
    let team_choices: Vec<(String, String)> = teams
        .iter()
        .filter(|t| decide(&viewer, Action::ViewCosts, Some(&t.id)) == Decision::Allow)
        .map(|t| (t.slug.clone(), t.name.clone()))
        .collect();

    // The trend: the eleven months before this one. Closed months' totals
    // are remembered; one read covers the selected month and any month not
    // computed yet.
    let mut first = month;
    for _ in 0..11 {
        first = first.prev();
    }
    let mut oldest_needed = month;
    let mut m = first;
    while m < month {
        let closed = m.next().start_ms() <= now;
        if !closed || state.db.closed_month(&m.label()).is_none() {
            oldest_needed = oldest_needed.min(m);
            break;
        }
        m = m.next();
    }
    let book = costs::price_book(&state.db).await?;
    let usages = costs::usages(&state.db, oldest_needed.start_ms(), month.next().start_ms()).await?;
    let rules = &state.settings.cost_rules;
    let actual = month_report(&book, rules, &usages, month, now, Basis::Actual);
    let forecast = month_totals(&book, rules, &usages, month, now, Basis::Forecast);

    let slug = selected.as_ref().map(|t| t.slug.clone());
    let in_selection = |team: &str| slug.as_deref().is_none_or(|s| s == team);
    let env_costs: Vec<_> = actual.environments.iter().filter(|e| in_selection(&e.team)).collect();
    let environments: Vec<EnvLine> = env_costs
        .iter()
        .map(|e| EnvLine {
            id: e.env_id.clone(),
            name: e.name.clone(),
            team: e.team.clone(),
            app: e.app.clone(),
            tier: e.tier.as_str().to_string(),
            source: match (&e.pr_number, &e.git_ref) {
                (Some(n), _) => format!("PR #{n}"),
                (None, Some(r)) => r.clone(),
                (None, None) => String::new(),
            },
            cost_micros: e.cost,
            by_kind: e.by_kind.clone(),
        })
        .collect();
    let by_tier = breakdown(env_costs.iter().copied(), |e| vec![(e.tier.as_str().to_string(), e.cost)]);
    let by_app = breakdown(env_costs.iter().copied(), |e| vec![(e.app.clone(), e.cost)]);
    let by_kind = breakdown(env_costs.iter().copied(), |e| e.by_kind.clone());
    // A team's view shows its own share of each pool, not what the pool is
    // made of or what other teams took (that would reveal their spend).
    let all = slug.is_none();
    let shared: Vec<SharedLine> = actual
        .pools
        .iter()
        .map(|p| SharedLine {
            pool: p.pool.as_str().to_string(),
            label: p.pool.label().to_string(),
            rule: p.rule.as_str().to_string(),
            pool_cost_micros: p.cost,
            share_micros: p.allocations.iter().filter(|(t, _)| in_selection(t)).map(|(_, c)| *c).sum(),
            sources: if all { p.sources.clone() } else { Vec::new() },
            allocations: p.allocations.iter().filter(|(t, _)| in_selection(t)).cloned().collect(),
            unallocated_micros: if all { p.unallocated } else { Micros::ZERO },
        })
        .collect();
    let teams_lines: Vec<TeamLine> = actual
        .teams
        .iter()
        .filter(|t| in_selection(&t.team))
        .map(|t| TeamLine {
            team: t.team.clone(),
            direct_micros: t.direct,
            allocated_micros: t.allocated,
            total_micros: t.total,
        })
        .collect();
    let (total, direct, allocated, unallocated, forecast_total) = match &slug {
        Some(s) => {
            let t = actual.team(s);
            (t.total, t.direct, t.allocated, Micros::ZERO, forecast.team(s).total)
        }
        None => (
            actual.total,
            actual.teams.iter().map(|t| t.direct).sum(),
            actual.teams.iter().map(|t| t.allocated).sum(),
            actual.unallocated,
            forecast.total,
        ),
    };
    let environments_micros: Micros = environments.iter().map(|e| e.cost_micros).sum();
    let allocated_micros: Micros = shared.iter().map(|s| s.share_micros).sum();
    let teams_micros: Micros = actual.teams.iter().map(|t| t.total).sum();
    let reconciliation = Reconciliation {
        environments_micros,
        allocated_micros,
        selection_total_micros: total,
        // Platform-wide figures are for the all-teams view only.
        teams_micros: all.then_some(teams_micros),
        unallocated_micros: all.then_some(actual.unallocated),
        platform_total_micros: all.then_some(actual.total),
        balanced: environments_micros + allocated_micros + unallocated == total
            && teams_micros + actual.unallocated == actual.total,
    };

    // Trend: the twelve months up to the selected one, with the budget line.
    let budget_rows: Vec<(String, Vec<(String, Micros)>)> = match &selected {
        Some(t) => vec![(t.id.clone(), costs::budget_history(&state.db, &t.id).await?)],
        None => {
            let mut all = Vec::new();
            for t in &teams {
                all.push((t.id.clone(), costs::budget_history(&state.db, &t.id).await?));
            }
            all
        }
    };
    let budget_in = |m: &str| -> Option<Micros> {
        let mut sum = None;
        for (_, rows) in &budget_rows {
            if let Some((_, a)) = rows.iter().rev().find(|(since, _)| since.as_str() <= m) {
                sum = Some(sum.unwrap_or(Micros::ZERO) + *a);
            }
        }
        sum
    };
    let mut trend = Vec::with_capacity(12);
    let mut m = first;
    loop {
        // Team totals are all the trend needs: no per-environment lines.
        let closed = m.next().start_ms() <= now;
        let r = match (m == month, closed.then(|| state.db.closed_month(&m.label())).flatten()) {
            (true, _) => actual.clone(),
            (false, Some(r)) => r,
            (false, None) => {
                let r = month_totals(&book, rules, &usages, m, now, Basis::Actual);
                if closed {
                    state.db.remember_closed_month(&r);
                }
                r
            }
        };
        let (d, a, t) = match &slug {
            Some(s) => {
                let t = r.team(s);
                (t.direct, t.allocated, t.total)
            }
            None => (
                r.teams.iter().map(|t| t.direct).sum(),
                r.teams.iter().map(|t| t.allocated).sum::<Micros>() + r.unallocated,
                r.total,
            ),
        };
        trend.push(TrendPoint {
            month: m.label(),
            direct_micros: d,
            allocated_micros: a,
            total_micros: t,
            budget_micros: budget_in(&m.label()),
        });
        if m == month {
            break;
        }
        m = m.next();
    }

    let budget = match &selected {
        Some(t) => match costs::budget_for(state.db.pool(), &t.id, month).await? {
            Some(b) => {
                let alerts = costs::alerts_sent(&state.db, &t.id, month).await?;
                Some(BudgetView {
                    actual_pct: crate::domain::budget::percent(total, b.amount),
                    forecast_pct: crate::domain::budget::percent(forecast_total, b.amount),
                    amount_micros: b.amount,
                    thresholds: b.thresholds,
                    since: b.since,
                    alerts: alerts
                        .into_iter()
                        .map(|a| AlertLine {
                            basis: a.basis,
                            pct: a.pct,
                            spent_micros: a.spent,
                            budget_micros: a.budget,
                            at: a.at,
                        })
                        .collect(),
                })
            }
            None => None,
        },
        None => None,
    };
    // A budget is set from the current month on: the form is offered there only.
    let can_manage_budget = month == current
        && selected.as_ref().is_some_and(|t| decide(&viewer, Action::ManageBudgets, Some(&t.id)) == Decision::Allow);
    let mut months = Vec::new();
    let mut m = current;
    for _ in 0..13 {
        months.push(m.label());
        m = m.prev();
    }
    if !months.contains(&month.label()) {
        months.push(month.label());
    }
    Ok(CostsView {
        month: month.label(),
        months,
        team_name: selected.as_ref().map_or("All teams".to_string(), |t| t.name.clone()),
        team: slug,
        team_choices,
        can_view_all: viewer.is_platform_admin,
        can_manage_budget,
        as_of: actual.to,
        month_closed: month < current,
        total_micros: total,
        direct_micros: direct,
        allocated_micros: allocated,
        unallocated_micros: unallocated,
        forecast_micros: forecast_total.max(total),
        environments,
        by_tier,
        by_app,
        by_kind,
        shared,
        teams: teams_lines,
        trend,
        budget,
        reconciliation,
        demo: state.settings.demo,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_minutes_parse_and_impossible_dates_do_not() {
        assert_eq!(parse_utc_minute("1970-01-02T00:01"), Some(86_400_000 + 60_000));
        assert_eq!(parse_utc_minute("2026-12-01T00:00:00Z").map(|t| t % 86_400_000), Some(0));
        for bad in ["2026-02-31T00:00", "2026-13-01T00:00", "2026-12-01T24:00", "tomorrow", "2026-12-01"] {
            assert_eq!(parse_utc_minute(bad), None, "{bad}");
        }
    }
}
