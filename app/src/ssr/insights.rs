//! The ROI and maturity dashboards' data: the raw rows of the last twelve
//! months read once, summarised by the pure `domain::measure` and
//! `domain::maturity`, priced by the same code as the chargeback reports.

use super::clock::now_ms;
use super::store::{self, audit::AuditEvent, audit::Outcome, documents::Document};
use super::{authz, internal, AppState, RequestMeta};
use crate::domain::authz::Action;
use crate::domain::chargeback::{lifetime_cost, span_cost, SpanCost};
use crate::domain::cost::Month;
use crate::domain::maturity::{self, PeriodFigures, Standing, Trail};
use crate::domain::measure::{self, DestroyedCost, Facts, Measured, MonthPoint};
use crate::domain::money::Micros;
use crate::domain::roi::RoiSettings;
use crate::domain::tier::Tier;
use crate::domain::time::DAY_MS;
use crate::error::AppError;
use std::collections::HashMap;

/// The windows a dashboard offers, in days.
pub const WINDOWS: [u32; 4] = [7, 30, 90, 365];

/// A window the dashboards offer, or a clear refusal.
pub fn window_days(days: Option<u32>) -> Result<u32, AppError> {
    match days {
        None => Ok(30),
        Some(d) if WINDOWS.contains(&d) => Ok(d),
        Some(_) => Err(AppError::invalid("days", "choose a window of 7, 30, 90 or 365 days")),
    }
}

/// Platform admins and managers (of any team) read the dashboards.
pub async fn require_reader(state: &AppState, meta: &RequestMeta) -> Result<(), AppError> {
    authz::require(state, meta, Action::ViewInsights, None).await.map(|_| ())
}

/// The twelve calendar months up to now's, oldest first.
pub fn last_twelve_months(now: i64) -> Vec<Month> {
    let mut m = Month::containing(now);
    let mut out = vec![m];
    for _ in 0..11 {
        m = m.prev();
        out.push(m);
    }
    out.reverse();
    out
}

/// Everything read once for a dashboard.
pub struct Gathered {
    pub now: i64,
    /// The windows' exclusive end: `now + 1`, so that what happened in the
    /// very millisecond of the read is counted.
    pub to: i64,
    pub from: i64,
    pub facts: Facts,
    pub months: Vec<Month>,
    /// Each month's chargeback (to now for the current one).
    pub month_costs: Vec<(Month, SpanCost)>,
    pub window_cost: SpanCost,
}

/// Reads the facts of the window and of the last twelve months.
pub async fn gather(state: &AppState, days: u32, now: i64) -> Result<Gathered, AppError> {
    let months = last_twelve_months(now);
    let from = now - i64::from(days) * DAY_MS;
    let since = from.min(months[0].start_ms());
    let pool = state.db.pool();
    let waits = store::measurements::waits_since(pool, since).await.map_err(internal("reading waits"))?;
    let created = store::measurements::created_since(pool, since).await.map_err(internal("reading creations"))?;
    let ratings = store::measurements::ratings_since(pool, since).await.map_err(internal("reading ratings"))?;
    let book = super::costs::price_book(&state.db).await?;
    let (gone_usages, gone) = super::costs::destroyed_usages(&state.db, since).await?;
    let mut by_env: HashMap<&str, Vec<&crate::domain::chargeback::Usage>> = HashMap::new();
    for u in &gone_usages {
        by_env.entry(u.env_id.as_str()).or_default().push(u);
    }
    let mut destroyed: Vec<DestroyedCost> = by_env
        .into_iter()
        .filter_map(|(id, us)| {
            let (destroyed_at, demo) = *gone.get(id)?;
            Some(DestroyedCost {
                env_id: id.to_string(),
                destroyed_at,
                tier: us[0].tier,
                cost: lifetime_cost(&book, us.into_iter(), now),
                demo,
            })
        })
        .collect();
    destroyed.sort_by(|a, b| a.destroyed_at.cmp(&b.destroyed_at).then_with(|| a.env_id.cmp(&b.env_id)));
    let usages = super::costs::usages(&state.db, since, now).await?;
    let rules = &state.settings.cost_rules;
    let month_costs =
        months.iter().map(|m| (*m, span_cost(&book, rules, &usages, m.start_ms(), m.next().start_ms(), now))).collect();
    let window_cost = span_cost(&book, rules, &usages, from, now, now);
    Ok(Gathered {
        now,
        to: now + 1,
        from,
        facts: Facts { waits, created, destroyed, ratings },
        months,
        month_costs,
        window_cost,
    })
}

/// The ROI dashboard's data.
pub struct RoiData {
    /// The window, in days.
    pub days: u32,
    pub measured: Measured,
    pub series: Vec<MonthPoint>,
    pub settings: RoiSettings,
    /// Who saved the settings, and when (`None`: the seed's defaults).
    pub saved: Option<(Option<String>, i64)>,
    /// Configured warm-pool members per preview tier.
    pub pools: Vec<(Tier, u32)>,
}

/// Authorizes, then checks the window (`None`: 30 days): who may comes
/// before what is wrong with the input.
pub async fn roi(state: &AppState, meta: &RequestMeta, days: Option<u32>) -> Result<RoiData, AppError> {
    require_reader(state, meta).await?;
    let days = window_days(days)?;
    let g = gather(state, days, now_ms()).await?;
    let measured = measure::summarize(&g.facts, g.from, g.to, g.window_cost.total);
    let totals: Vec<(Month, Micros)> = g.month_costs.iter().map(|(m, c)| (*m, c.total)).collect();
    let series = measure::monthly(&g.facts, &totals, g.to);
    let (settings, saved) = roi_settings(state).await?;
    let mut pools: Vec<(Tier, u32)> = Vec::new();
    for spec in &state.settings.pools {
        match pools.iter_mut().find(|(t, _)| *t == spec.tier) {
            Some((_, n)) => *n += spec.size,
            None => pools.push((spec.tier, spec.size)),
        }
    }
    Ok(RoiData { days, measured, series, settings, saved, pools })
}

/// The saved baseline and assumptions, or the seed's.
pub async fn roi_settings(state: &AppState) -> Result<(RoiSettings, Option<(Option<String>, i64)>), AppError> {
    let row = store::documents::read(state.db.pool(), Document::RoiBaseline)
        .await
        .map_err(internal("reading the ROI baseline"))?;
    Ok(match row {
        None => (RoiSettings::default(), None),
        Some((doc, by, at)) => match serde_json::from_str(&doc) {
            Ok(s) => (s, Some((by, at))),
            Err(e) => {
                tracing::error!(error = %e, "stored ROI baseline does not parse; using the seed's");
                (RoiSettings::default(), None)
            }
        },
    })
}

/// A platform admin saves the baseline and default assumptions: checked,
/// written and audited in one transaction.
pub async fn save_roi_settings(state: &AppState, meta: &RequestMeta, s: RoiSettings) -> Result<(), AppError> {
    let viewer = authz::require(state, meta, Action::ManagePolicies, None).await?;
    crate::domain::roi::validate(&s).map_err(|(field, why)| AppError::invalid(field, why))?;
    let doc = serde_json::to_string(&s).map_err(|_| AppError::Internal)?;
    let now = now_ms();
    let mut tx = state.db.begin_write().await.map_err(internal("starting a transaction"))?;
    store::documents::save(&mut *tx, Document::RoiBaseline, &doc, &viewer.user_id, now)
        .await
        .map_err(internal("saving the ROI baseline"))?;
    let event =
        AuditEvent::from_request(meta, "roi.baseline", "settings", Some("roi-baseline".into()), Outcome::Success)
            .with_detail(serde_json::to_value(&s).unwrap_or_default());
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing the ROI baseline"))?;
    tx.commit().await.map_err(internal("committing the ROI baseline"))?;
    Ok(())
}

/// The maturity dashboard's data.
pub struct MaturityData {
    pub days: u32,
    /// The window assessed, [from, to).
    pub from: i64,
    pub to: i64,
    pub assessment: maturity::Assessment,
    /// (month, provisioning, cost control, governance, overall), oldest first.
    pub history: Vec<(String, [u8; 4])>,
}

/// Authorizes, then checks the window, like [`roi`].
pub async fn maturity(state: &AppState, meta: &RequestMeta, days: Option<u32>) -> Result<MaturityData, AppError> {
    require_reader(state, meta).await?;
    let days = window_days(days)?;
    let g = gather(state, days, now_ms()).await?;
    let since = g.from.min(g.months[0].start_ms());
    let pool = state.db.pool();
    let audited = |action: &'static str, like: &'static str, people: bool| async move {
        store::measurements::audited_since(pool, action, like, people, since)
            .await
            .map_err(internal("reading the audit trail"))
    };
    let mut health = audited("environment.healthy", "%", false).await?;
    health.extend(audited("environment.failed", "%", false).await?);
    health.sort_by_key(|s| s.at);
    let trail = Trail {
        ttl_destroys: audited("environment.timer", "%\"to\":\"expiring\"%", false).await?,
        manual_destroys: audited("environment.destroy", "%", true).await?,
        alerts: store::measurements::alerts_since(pool, since).await.map_err(internal("reading budget alerts"))?,
        reviews: store::measurements::reviews_since(pool, since).await.map_err(internal("reading approvals"))?,
        created: audited("environment.create", "%", false).await?,
        refused: audited("admission.refused", "%", false).await?,
        health,
        compliance_runs: store::measurements::compliance_runs_since(pool, since)
            .await
            .map_err(internal("reading compliance runs"))?,
    };
    let (policy, source) = super::admission::policy(pool, &state.settings).await?;
    let budgets: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT team_id) FROM budgets")
        .fetch_one(pool)
        .await
        .map_err(internal("counting budgets"))?;
    let standing = Standing {
        ttl_tiers: Tier::ALL.iter().filter(|t| t.is_preview() && state.settings.tiers.get(**t).ttl_ms.is_some()).count()
            as u32,
        admission_rules: (policy.tier.len() + policy.team.len()) as u32,
        admission_since: match source {
            super::admission::PolicySource::Saved { at, .. } => Some(at),
            _ => None,
        },
        budgets: budgets as u32,
    };
    // Charged environments the demo seed invented are flagged as such.
    let demo_ids: std::collections::HashSet<String> = sqlx::query_scalar("SELECT id FROM environments WHERE demo = 1")
        .fetch_all(pool)
        .await
        .map_err(internal("reading demo environments"))?
        .into_iter()
        .collect();
    let figures = |from: i64, to: i64, cost: &SpanCost, audit_events: i64| {
        let w = measure::waits(&g.facts.waits, from, to);
        PeriodFigures {
            median_wait_ms: w.p50_ms,
            waits: w.basis,
            audit_events: audit_events.max(0) as u32,
            charged_envs: cost.charged_envs,
            charged_demo: cost.charged_ids.iter().filter(|id| demo_ids.contains(*id)).count() as u32,
            charged_teams: cost.charged_teams,
            allocated_micros: cost.shared.0,
        }
    };
    let audit_in = |from: i64, to: i64| async move {
        store::measurements::audit_count(pool, from, to).await.map_err(internal("counting audit events"))
    };
    let window = figures(g.from, g.to, &g.window_cost, audit_in(g.from, g.to).await?);
    let assessment = maturity::assess(&maturity::observed(&trail, &standing, &window, g.from, g.to));
    let mut history = Vec::with_capacity(g.months.len());
    for (m, cost) in &g.month_costs {
        let (from, to) = (m.start_ms(), m.next().start_ms().min(g.to));
        let f = figures(from, to, cost, audit_in(from, to).await?);
        let a = maturity::assess(&maturity::observed(&trail, &standing, &f, from, to));
        history.push((m.label(), [a.provisioning.level, a.cost_control.level, a.governance.level, a.overall]));
    }
    Ok(MaturityData { days, from: g.from, to: g.to, assessment, history })
}
