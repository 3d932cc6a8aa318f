//! ROI (platform admins and managers): the seed's before/after table with
//! "after" measured by the portal over a chosen window, the ROI calculation,
//! coding against waiting, the pull-request forecast and twelve months of
//! the measured series. Every slider recomputes with `domain::roi` right
//! here in the browser: the view carries the measurements, not the results.

use crate::api::insights::{roi_view, RoiDashboard, SaveRoiSettings};
use crate::domain::budget::parse_dollars;
use crate::domain::measure::{provenance, Basis, Measured, MonthPoint};
use crate::domain::money::Micros;
use crate::domain::roi::{self, Assumptions, Baseline, HoursSaved, RoiSettings, PREVIEW_TIERS};
use crate::domain::time::{utc_datetime, DAY_MS, HOUR_MS, MINUTE_MS};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

pub(crate) const CARD: &str = "rounded-lg border border-slate-200 bg-white p-4 shadow-sm";

#[component]
pub fn RoiPage() -> impl IntoView {
    let params = use_query_map();
    // A window that is not a number is refused like any other the page does not offer.
    let days = Memo::new(move |_| params.with(|m| m.get("days").map(|d| d.trim().parse::<u32>().unwrap_or(0))));
    let save = ServerAction::<SaveRoiSettings>::new();
    let data = Resource::new(move || (days.get(), save.version().get()), |(days, _)| roi_view(days));
    view! {
        <Title text="ROI" />
        <h1 class="text-2xl font-semibold tracking-tight">"Return on investment"</h1>
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(v) => view! { <RoiBody v save /> }.into_any(),
                    Err(err) => view! {
                        <p role="alert" data-testid="roi-error" class="mt-4 rounded-md border border-red-200 bg-red-50 p-3 text-red-800">{err.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

/// "(12 demo)" next to a figure that stands partly on seeded rows.
pub(crate) fn demo_badge(basis: Basis) -> Option<impl IntoView> {
    (basis.demo > 0).then(|| {
        let text = if basis.demo == basis.n { "demo".to_string() } else { format!("{} of {} demo", basis.demo, basis.n) };
        view! { <span data-testid="demo-flag" class="ml-1 rounded bg-amber-100 px-1.5 py-0.5 text-xs font-medium text-amber-900">{text}</span> }
    })
}

/// Says, above a dashboard, that some of its figures are the demo seed's.
#[component]
pub(crate) fn DemoBanner(text: &'static str) -> impl IntoView {
    view! {
        <p role="note" data-testid="demo-banner" class="mb-4 rounded-md border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900">{text}</p>
    }
}

/// A figure's window in words: `the last 30 days`.
fn window_words(m: &Measured) -> String {
    format!("the last {} days", (m.span_ms() + DAY_MS / 2) / DAY_MS)
}

#[component]
pub(crate) fn WindowPicker(action: &'static str, days: u32, windows: Vec<u32>) -> impl IntoView {
    view! {
        <form method="get" action=action class="mb-4 flex items-end gap-3 text-sm" aria-label="Choose the window">
            <label class="block"><span class="font-medium">"Measured over"</span>
                <select name="days" data-testid="window" class="mt-1 block rounded-md border border-slate-300 px-2 py-1.5">
                    {windows.into_iter().map(|d| view! { <option value=d.to_string() selected=d == days>{format!("the last {d} days")}</option> }).collect_view()}
                </select>
            </label>
            <button type="submit" class="rounded-md border border-slate-300 bg-white px-3 py-1.5 font-medium hover:bg-slate-50">"Show"</button>
        </form>
    }
}

#[component]
fn RoiBody(v: RoiDashboard, save: ServerAction<SaveRoiSettings>) -> impl IntoView {
    let m = v.measured.clone();
    let any_demo = m.waits.basis.demo + m.created.demo + m.destroyed.basis.demo + m.ratings.demo > 0;
    let measured = StoredValue::new(m.clone());
    let pools = StoredValue::new(v.pools.clone());
    let a = RwSignal::new(v.settings.assumptions.clone());
    let r = Memo::new(move |_| measured.with_value(|m| roi::roi(&a.get(), m)));
    let fc = Memo::new(move |_| measured.with_value(|m| pools.with_value(|p| roi::forecast(&a.get(), m, p))));
    let before_source = match (&v.saved_by, v.saved_at) {
        (by, Some(at)) => {
            format!("entered by {} at {}", by.clone().unwrap_or_else(|| "a platform admin".into()), utc_datetime(at))
        }
        _ => "the seed's figures (no baseline saved yet)".to_string(),
    };
    let span = m.span_ms();
    let provenances = [
        (provenance(m.waits.basis, span), m.waits.basis),
        (provenance(m.created, span), m.created),
        (
            format!("{} (destroyed environments' lifetime chargeback)", provenance(m.destroyed.basis, span)),
            m.destroyed.basis,
        ),
        (
            format!(
                "measured: the chargeback of {} (all teams, shared and pool cost included), per average month",
                window_words(&m)
            ),
            Basis { n: m.created.n + m.destroyed.basis.n, demo: m.created.demo + m.destroyed.basis.demo },
        ),
        (format!("{} (1–5 ratings after destroy)", provenance(m.ratings, span)), m.ratings),
    ];
    let rows = roi::comparison(&v.settings.baseline, &m);
    view! {
        <p class="mb-4 text-sm text-slate-600">
            "“After” is what this portal measured; “before” is a baseline a platform admin entered. "
            "The what-if sliders recompute every figure in your browser; nothing is sent until an admin saves."
        </p>
        {any_demo.then(|| view! {
            <DemoBanner text="Demo data: figures marked “demo” stand (partly) on rows the demo seed invented. They are shown so the dashboard has something to show; they are not measurements." />
        })}
        <WindowPicker action="/roi" days=v.days windows=v.windows.clone() />

        <section class=format!("{CARD} mb-6") aria-labelledby="ba-h">
            <h2 id="ba-h" class="mb-2 text-lg font-medium">"Before and after"</h2>
            <div class="overflow-x-auto">
            <table class="w-full text-sm" data-testid="before-after">
                <thead><tr class="text-left text-slate-600"><th class="py-1">"Metric"</th><th>"Before (baseline)"</th><th>"After (measured)"</th><th>"Improvement"</th></tr></thead>
                <tbody>
                    {rows.into_iter().zip(provenances).map(|(row, (source, basis))| view! {
                        <tr class="border-t border-slate-100 align-top" data-testid="ba-row" data-metric=row.metric.clone()>
                            <td class="py-2 font-medium">{row.metric.clone()}</td>
                            <td class="py-2">{row.before.clone()}<span class="block text-xs text-slate-500">{before_source.clone()}</span></td>
                            <td class="py-2"><span data-testid="after">{row.after.clone().unwrap_or_else(|| "—".into())}</span>{demo_badge(basis)}
                                <span class="block text-xs text-slate-500" data-testid="provenance" data-n=basis.n.to_string() data-demo=basis.demo.to_string()>{source}</span></td>
                            <td class="py-2">{row.improvement.clone().unwrap_or_else(|| "—".into())}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            </div>
            <p class="mt-2 text-xs text-slate-500" data-testid="wait-paths">{format!(
                "Click-to-ready: {} from the warm pool (median {}), {} cold starts (median {}); asked for in the browser {}, through the API {}, by webhooks {}.",
                m.waits.pool.n, m.waits.pool_p50_ms.map(roi::wait_text).unwrap_or_else(|| "—".into()),
                m.waits.cold.n, m.waits.cold_p50_ms.map(roi::wait_text).unwrap_or_else(|| "—".into()),
                m.waits.by_via.0, m.waits.by_via.1, m.waits.by_via.2,
            )}</p>
        </section>

        <section class=format!("{CARD} mb-6") aria-labelledby="calc-h">
            <h2 id="calc-h" class="mb-1 text-lg font-medium">"ROI calculation"</h2>
            <p class="mb-3 text-xs text-slate-500">
                "Benefit = developers × hours saved per developer-week × hourly rate (a month is 52/12 weeks). "
                "Cost = measured infrastructure (the chargeback above, per month) + tooling + maintenance FTE × loaded cost. "
                "Annual ROI = (annual benefit − annual cost) ÷ annual cost; payback = 12 × annual cost ÷ annual benefit, in months."
            </p>
            <div class="grid gap-6 md:grid-cols-2">
                <div class="space-y-3">
                    <Slider label="Developers" id="developers" min=1.0 max=500.0 step=1.0
                        value=Signal::derive(move || f64::from(a.get().developers))
                        set=Callback::new(move |v: f64| a.update(|a| a.developers = v as u32))
                        shown=Signal::derive(move || a.get().developers.to_string()) />
                    <fieldset class="text-sm">
                        <legend class="font-medium">"Hours saved per developer-week"</legend>
                        <label class="mr-4"><input type="radio" name="hours" data-testid="hours-derived"
                            prop:checked=move || a.get().hours == HoursSaved::Derived
                            on:change=move |_| a.update(|a| a.hours = HoursSaved::Derived) />" derived from the measured wait"</label>
                        <label><input type="radio" name="hours" data-testid="hours-entered"
                            prop:checked=move || a.get().hours == HoursSaved::Entered
                            on:change=move |_| a.update(|a| a.hours = HoursSaved::Entered) />" entered"</label>
                    </fieldset>
                    <Slider label="Hours saved per developer-week (entered)" id="hours" min=0.0 max=20.0 step=0.5
                        value=Signal::derive(move || f64::from(a.get().entered_hours_tenths) / 10.0)
                        set=Callback::new(move |v: f64| a.update(|a| a.entered_hours_tenths = (v * 10.0).round() as u32))
                        shown=Signal::derive(move || format!("{:.1} h", f64::from(a.get().entered_hours_tenths) / 10.0)) />
                    <Slider label="Wait per environment before (baseline)" id="baseline-wait" min=0.0 max=480.0 step=1.0
                        value=Signal::derive(move || (a.get().baseline_wait_ms / MINUTE_MS) as f64)
                        set=Callback::new(move |v: f64| a.update(|a| a.baseline_wait_ms = v as i64 * MINUTE_MS))
                        shown=Signal::derive(move || format!("{} min", a.get().baseline_wait_ms / MINUTE_MS)) />
                    <Slider label="Hourly rate" id="rate" min=10.0 max=300.0 step=5.0
                        value=Signal::derive(move || a.get().hourly_rate.0 as f64 / 1e6)
                        set=Callback::new(move |v: f64| a.update(|a| a.hourly_rate = Micros::from_dollars(v as i64)))
                        shown=Signal::derive(move || a.get().hourly_rate.to_string()) />
                    <Slider label="Tooling a month" id="tooling" min=0.0 max=5000.0 step=50.0
                        value=Signal::derive(move || a.get().tooling_monthly.0 as f64 / 1e6)
                        set=Callback::new(move |v: f64| a.update(|a| a.tooling_monthly = Micros::from_dollars(v as i64)))
                        shown=Signal::derive(move || a.get().tooling_monthly.to_string()) />
                    <Slider label="Maintenance (FTE)" id="fte" min=0.0 max=3.0 step=0.05
                        value=Signal::derive(move || f64::from(a.get().maintenance_fte_hundredths) / 100.0)
                        set=Callback::new(move |v: f64| a.update(|a| a.maintenance_fte_hundredths = (v * 100.0).round() as u32))
                        shown=Signal::derive(move || format!("{:.2} FTE", f64::from(a.get().maintenance_fte_hundredths) / 100.0)) />
                    <Slider label="Loaded cost of one FTE a year" id="fte-cost" min=50000.0 max=400000.0 step=5000.0
                        value=Signal::derive(move || a.get().fte_yearly.0 as f64 / 1e6)
                        set=Callback::new(move |v: f64| a.update(|a| a.fte_yearly = Micros::from_dollars(v as i64)))
                        shown=Signal::derive(move || a.get().fte_yearly.to_string()) />
                </div>
                <dl class="grid grid-cols-2 content-start gap-x-4 gap-y-2 text-sm" data-testid="roi-figures">
                    <dt class="text-slate-600">"Hours saved / developer-week"</dt>
                    <dd data-testid="hours-used">{move || format!("{:.1} h ({})", f64::from(r.get().hours_saved_tenths) / 10.0,
                        if a.get().hours == HoursSaved::Entered { "entered" } else { "derived" })}</dd>
                    <dt class="text-slate-600">"Derived from measurements"</dt>
                    <dd data-testid="hours-derived-value">{move || {
                        let a = a.get();
                        measured.with_value(|m| match r.get().derived_hours_tenths {
                            Some(t) => format!("{:.1} h = ({} before − {} median) × {:.2} environments per developer-week",
                                f64::from(t) / 10.0, roi::wait_text(a.baseline_wait_ms), roi::wait_text(m.waits.p50_ms.unwrap_or(0)), m.per_developer_week()),
                            None => "— (no measured waits or requesters in the window)".into(),
                        })
                    }}</dd>
                    <dt class="text-slate-600">"Benefit / week"</dt><dd data-testid="weekly-benefit">{move || r.get().weekly_benefit.to_string()}</dd>
                    <dt class="text-slate-600">"Benefit / month"</dt><dd data-testid="monthly-benefit">{move || r.get().monthly_benefit.to_string()}</dd>
                    <dt class="text-slate-600">"Infrastructure / month (measured)"</dt>
                    <dd data-testid="infra">{move || r.get().infra_monthly.to_string()}{demo_badge(Basis { n: m.created.n, demo: m.created.demo })}</dd>
                    <dt class="text-slate-600">"Tooling / month"</dt><dd>{move || r.get().tooling_monthly.to_string()}</dd>
                    <dt class="text-slate-600">"Maintenance / month"</dt><dd>{move || r.get().maintenance_monthly.to_string()}</dd>
                    <dt class="text-slate-600">"Cost / month"</dt><dd data-testid="monthly-cost">{move || r.get().monthly_cost.to_string()}</dd>
                    <dt class="font-medium">"Payback period"</dt>
                    <dd class="text-lg font-semibold" data-testid="payback">{move || r.get().payback_months_tenths
                        .map(|t| format!("{:.1} months", t as f64 / 10.0)).unwrap_or_else(|| "never (nothing saved)".into())}</dd>
                    <dt class="font-medium">"Annual ROI"</dt>
                    <dd class="text-lg font-semibold" data-testid="roi-pct">{move || r.get().annual_roi_pct
                        .map(|p| format!("{p} %")).unwrap_or_else(|| "— (nothing costs anything)".into())}</dd>
                </dl>
            </div>
        </section>

        <section class=format!("{CARD} mb-6") aria-labelledby="eff-h">
            <h2 id="eff-h" class="mb-1 text-lg font-medium">"Coding against waiting"</h2>
            <p class="mb-3 text-xs text-slate-500">"Efficiency = coding ÷ (coding + waiting) per change (seed §8: 5 min coding + 25 min waiting = 16.7 %). Waiting after is the measured median click-to-ready."</p>
            <div class="grid gap-6 md:grid-cols-2">
                <Slider label="Coding time per change" id="coding" min=1.0 max=120.0 step=1.0
                    value=Signal::derive(move || (a.get().coding_ms / MINUTE_MS) as f64)
                    set=Callback::new(move |v: f64| a.update(|a| a.coding_ms = v as i64 * MINUTE_MS))
                    shown=Signal::derive(move || format!("{} min", a.get().coding_ms / MINUTE_MS)) />
                <dl class="grid grid-cols-2 gap-x-4 gap-y-2 text-sm">
                    <dt class="text-slate-600">"Before"</dt>
                    <dd data-testid="efficiency-before">{move || { let a = a.get();
                        format!("{:.1} % ({} waiting)", roi::efficiency_tenths(a.coding_ms, a.baseline_wait_ms) as f64 / 10.0, roi::wait_text(a.baseline_wait_ms)) }}</dd>
                    <dt class="text-slate-600">"After (measured)"</dt>
                    <dd data-testid="efficiency-after">{move || { let a = a.get(); measured.with_value(|m| match m.waits.p50_ms {
                        Some(w) => format!("{:.1} % ({} waiting)", roi::efficiency_tenths(a.coding_ms, w) as f64 / 10.0, roi::wait_text(w)),
                        None => "— (no measured waits in the window)".into(),
                    }) }}{demo_badge(m.waits.basis)}</dd>
                </dl>
            </div>
        </section>

        <section class=format!("{CARD} mb-6") aria-labelledby="fc-h">
            <h2 id="fc-h" class="mb-1 text-lg font-medium">"Pull-request forecast"</h2>
            <p class="mb-3 text-xs text-slate-500">
                "At N pull requests a month, each with a preview of the tier mix: the monthly cost at the measured cost per destroyed environment, "
                "and the queue on the warm pools. A claimed member is rebuilt in the measured cold-start time; requests arrive over 176 working hours a month; "
                "a request finds its tier's pool empty when as many members are being rebuilt as the pool holds (Poisson), and then waits a cold start. "
                "One pool per tier is assumed (the configured sizes summed over apps)."
            </p>
            <div class="grid gap-6 md:grid-cols-2">
                <div class="space-y-3">
                    <Slider label="Pull requests a month" id="prs" min=0.0 max=5000.0 step=10.0
                        value=Signal::derive(move || f64::from(a.get().prs_per_month))
                        set=Callback::new(move |v: f64| a.update(|a| a.prs_per_month = v as u32))
                        shown=Signal::derive(move || a.get().prs_per_month.to_string()) />
                    {PREVIEW_TIERS.iter().enumerate().map(|(i, t)| view! {
                        <Slider label=t.label() id=t.as_str() min=0.0 max=100.0 step=1.0
                            value=Signal::derive(move || f64::from(a.get().mix_pct[i]))
                            set=Callback::new(move |v: f64| a.update(|a| a.mix_pct[i] = v as u32))
                            shown=Signal::derive(move || format!("{} %", a.get().mix_pct[i])) />
                    }).collect_view()}
                </div>
                <div class="text-sm">
                    <p><span class="text-slate-600">"Monthly cost: "</span><span class="font-semibold" data-testid="forecast-cost">{move || fc.get().monthly_cost.to_string()}</span></p>
                    <p><span class="text-slate-600">"Expected wait per preview: "</span><span data-testid="forecast-wait">{move || fc.get().expected_wait_ms
                        .map(roi::wait_text).unwrap_or_else(|| "— (no measured cold start)".into())}</span></p>
                    <p class="text-xs text-slate-500">{move || fc.get().provisioning_ms.map(|p| format!("Measured cold start (median): {}.", roi::wait_text(p)))}</p>
                </div>
            </div>
            <div class="mt-3 overflow-x-auto">
            <table class="w-full text-xs" data-testid="forecast">
                <thead><tr class="text-left text-slate-600"><th>"Tier"</th><th class="text-right">"Previews"</th><th class="text-right">"Cost each"</th>
                    <th class="text-right">"A month"</th><th class="text-right">"Pool"</th><th class="text-right">"Requests / h"</th>
                    <th class="text-right">"Rebuilding"</th><th class="text-right">"Finds pool empty"</th><th class="text-right">"Expected wait"</th><th class="text-right">"Pool for < 5 %"</th></tr></thead>
                <tbody>{move || fc.get().tiers.into_iter().map(|t| view! {
                    <tr class="border-t border-slate-100">
                        <td>{t.tier.label()}</td>
                        <td class="text-right">{format!("{:.0}", t.envs)}</td>
                        <td class="text-right">{t.cost_per_env.to_string()}{(!t.measured_for_tier).then_some(" (all tiers)")}</td>
                        <td class="text-right">{t.monthly_cost.to_string()}</td>
                        <td class="text-right">{t.pool_size}</td>
                        <td class="text-right">{format!("{:.2}", t.arrivals_per_hour)}</td>
                        <td class="text-right">{format!("{:.2}", t.in_refill)}</td>
                        <td class="text-right">{format!("{:.1} %", t.p_empty * 100.0)}</td>
                        <td class="text-right">{t.expected_wait_ms.map(roi::wait_text).unwrap_or_else(|| "—".into())}</td>
                        <td class="text-right">{t.suggested_pool}</td>
                    </tr>
                }).collect_view()}</tbody>
            </table>
            </div>
        </section>

        <section class=format!("{CARD} mb-6") aria-labelledby="series-h">
            <h2 id="series-h" class="mb-2 text-lg font-medium">"Twelve months, measured"</h2>
            <div class="grid gap-4 md:grid-cols-2">
                <SeriesChart title="Time to preview (median)" id="chart-wait" points=v.series.iter().map(|p| (p.month.clone(), p.wait_p50_ms.map(|w| w as f64), p.waits)).collect()
                    fmt=|w| roi::wait_text(w as i64) />
                <SeriesChart title="Environments created" id="chart-created" points=v.series.iter().map(|p| (p.month.clone(), Some(f64::from(p.created.n)), p.created)).collect()
                    fmt=|n| format!("{n:.0}") />
                <SeriesChart title="Cost per destroyed environment (mean)" id="chart-cost" points=v.series.iter().map(|p| (p.month.clone(), p.cost_per_env_mean.map(|c| c.0 as f64), p.destroyed)).collect()
                    fmt=|c| Micros(c as i64).to_string() />
                <SeriesChart title="Developer satisfaction (mean of 1–5)" id="chart-rating" points=v.series.iter().map(|p| (p.month.clone(), p.rating_mean_milli.map(|r| r as f64 / 1000.0), p.ratings)).collect()
                    fmt=|r| format!("{r:.1}") />
            </div>
            <p class="mt-2 text-xs text-slate-500">"Indigo: measured · amber: the month includes demo seed rows · no bar: nothing measured. Hover a bar for its figure and count."</p>
            <SeriesTable points=v.series.clone() />
        </section>

        {v.can_edit.then(|| view! { <BaselineForm baseline=v.settings.baseline.clone() assumptions=a save /> })}
    }
}

#[component]
fn Slider(
    label: &'static str,
    id: &'static str,
    min: f64,
    max: f64,
    step: f64,
    value: Signal<f64>,
    set: Callback<f64>,
    shown: Signal<String>,
) -> impl IntoView {
    view! {
        <label class="block text-sm">
            <span class="flex justify-between gap-2"><span class="font-medium">{label}</span>
                <output data-testid=format!("{id}-shown") class="tabular-nums">{move || shown.get()}</output></span>
            <input type="range" class="w-full" data-testid=format!("slider-{id}")
                min=min.to_string() max=max.to_string() step=step.to_string()
                prop:value=move || value.get().to_string()
                on:input=move |ev| {
                    if let Ok(v) = event_target_value(&ev).parse::<f64>() {
                        set.run(v.clamp(min, max))
                    }
                } />
        </label>
    }
}

#[component]
pub(crate) fn SeriesChart(
    title: &'static str,
    id: &'static str,
    points: Vec<(String, Option<f64>, Basis)>,
    fmt: fn(f64) -> String,
) -> impl IntoView {
    let (w, h, pad) = (360.0f64, 120.0f64, 16.0f64);
    let max = points.iter().filter_map(|(_, v, _)| *v).fold(0.0f64, f64::max).max(f64::MIN_POSITIVE);
    let slot = (w - 2.0 * pad) / points.len().max(1) as f64;
    let bars = points
        .iter()
        .enumerate()
        .map(|(i, (month, value, basis))| {
            let x = pad + i as f64 * slot + slot * 0.15;
            let bar = value.map(|v| {
                let top = h - pad - (v / max) * (h - 2.0 * pad);
                let class = if basis.demo > 0 { "fill-amber-400" } else { "fill-indigo-500" };
                view! { <rect x=format!("{x:.1}") y=format!("{top:.1}") width=format!("{:.1}", slot * 0.7)
                    height=format!("{:.1}", (h - pad - top).max(0.0)) class=class /> }
            });
            let label = match value {
                Some(v) => format!("{month}: {} (n = {}{})", fmt(*v), basis.n, if basis.demo > 0 { format!(", {} demo", basis.demo) } else { String::new() }),
                None => format!("{month}: nothing measured"),
            };
            view! {
                <g><title>{label}</title>{bar}
                    <text x=format!("{:.1}", x + slot * 0.35) y=format!("{:.1}", h - 3.0) text-anchor="middle" class="fill-slate-500 text-[8px]">{month.get(5..).unwrap_or("").to_string()}</text>
                </g>
            }
        })
        .collect_view();
    let latest = points.iter().rev().find_map(|(_, v, _)| *v).map(fmt);
    view! {
        <figure>
            <figcaption class="text-sm font-medium">{title}
                <span class="ml-2 text-xs font-normal text-slate-500">{latest.map(|l| format!("latest: {l}"))}</span></figcaption>
            <svg viewBox=format!("0 0 {w} {h}") role="img" aria-label=format!("{title}, per month for twelve months") class="h-32 w-full" data-testid=id>{bars}</svg>
        </figure>
    }
}

#[component]
fn SeriesTable(points: Vec<MonthPoint>) -> impl IntoView {
    let dash = || "—".to_string();
    view! {
        <details class="mt-2 text-sm"><summary class="cursor-pointer text-slate-600">"Figures"</summary>
            <table class="mt-1 w-full text-xs" data-testid="series-table">
                <thead><tr class="text-left"><th>"Month"</th><th class="text-right">"Waits (demo)"</th><th class="text-right">"Median"</th><th class="text-right">"p90"</th>
                    <th class="text-right">"Created (demo)"</th><th class="text-right">"Destroyed (demo)"</th><th class="text-right">"Cost / env"</th><th class="text-right">"Chargeback"</th>
                    <th class="text-right">"Ratings (demo)"</th><th class="text-right">"Mean"</th></tr></thead>
                <tbody>{points.into_iter().map(|p| view! {
                    <tr>
                        <td>{p.month.clone()}</td>
                        <td class="text-right">{format!("{} ({})", p.waits.n, p.waits.demo)}</td>
                        <td class="text-right">{p.wait_p50_ms.map(roi::wait_text).unwrap_or_else(dash)}</td>
                        <td class="text-right">{p.wait_p90_ms.map(roi::wait_text).unwrap_or_else(dash)}</td>
                        <td class="text-right">{format!("{} ({})", p.created.n, p.created.demo)}</td>
                        <td class="text-right">{format!("{} ({})", p.destroyed.n, p.destroyed.demo)}</td>
                        <td class="text-right">{p.cost_per_env_mean.map(|c| c.to_string()).unwrap_or_else(dash)}</td>
                        <td class="text-right">{p.total_cost.to_string()}</td>
                        <td class="text-right">{format!("{} ({})", p.ratings.n, p.ratings.demo)}</td>
                        <td class="text-right">{p.rating_mean_milli.map(|r| format!("{:.2}", r as f64 / 1000.0)).unwrap_or_else(dash)}</td>
                    </tr>
                }).collect_view()}</tbody>
            </table>
        </details>
    }
}

/// Parses the baseline form; `Err` names the field.
fn parse_baseline(fields: [String; 5]) -> Result<Baseline, String> {
    let [hours, envs, per_env, monthly, satisfaction] = fields;
    let hours: f64 = hours.trim().parse().map_err(|_| "Time to preview: give hours, e.g. 36 or 1.5".to_string())?;
    if !hours.is_finite() || hours <= 0.0 {
        return Err("Time to preview: give a positive number of hours".into());
    }
    let envs: u32 = envs.trim().parse().map_err(|_| "Environments a month: give a whole number".to_string())?;
    let cost_per_env = parse_dollars(&per_env).map_err(|e| format!("Cost per environment: {e}"))?;
    let monthly_cost = parse_dollars(&monthly).map_err(|e| format!("Total monthly cost: {e}"))?;
    let sat: f64 =
        satisfaction.trim().parse().map_err(|_| "Satisfaction: give a number from 1 to 5, e.g. 3.2".to_string())?;
    if !sat.is_finite() {
        return Err("Satisfaction: give a number from 1 to 5, e.g. 3.2".into());
    }
    Ok(Baseline {
        time_to_preview_ms: (hours * HOUR_MS as f64).round() as i64,
        envs_per_month: envs,
        cost_per_env,
        monthly_cost,
        satisfaction_milli: (sat * 1000.0).round() as i64,
    })
}

#[component]
fn BaselineForm(
    baseline: Baseline,
    assumptions: RwSignal<Assumptions>,
    save: ServerAction<SaveRoiSettings>,
) -> impl IntoView {
    let field = "mt-1 block w-full rounded-md border border-slate-300 px-2 py-1.5";
    let hours = RwSignal::new(format!("{}", baseline.time_to_preview_ms as f64 / HOUR_MS as f64));
    let envs = RwSignal::new(baseline.envs_per_month.to_string());
    let dollars = |m: Micros| format!("{:.2}", m.0 as f64 / 1e6);
    let per_env = RwSignal::new(dollars(baseline.cost_per_env));
    let monthly = RwSignal::new(dollars(baseline.monthly_cost));
    let sat = RwSignal::new(format!("{:.1}", baseline.satisfaction_milli as f64 / 1000.0));
    let local_error = RwSignal::new(None::<String>);
    let input = |label: &'static str, id: &'static str, sig: RwSignal<String>| {
        view! {
            <label class="block text-sm"><span class="font-medium">{label}</span>
                <input type="text" inputmode="decimal" data-testid=id class=field prop:value=move || sig.get()
                    on:input=move |ev| sig.set(event_target_value(&ev)) /></label>
        }
    };
    view! {
        <section class=format!("{CARD} mb-6") aria-labelledby="base-h">
            <h2 id="base-h" class="mb-1 text-lg font-medium">"Baseline (platform admins)"</h2>
            <p class="mb-3 text-xs text-slate-500">"“Before” as your organisation had it, and the sliders' current positions as everyone's starting assumptions. Saved with your name in the audit trail."</p>
            <form class="grid gap-3 md:grid-cols-5" aria-label="ROI baseline" on:submit=move |ev| {
                ev.prevent_default();
                match parse_baseline([hours.get(), envs.get(), per_env.get(), monthly.get(), sat.get()]) {
                    Ok(baseline) => {
                        local_error.set(None);
                        save.dispatch(SaveRoiSettings { settings: RoiSettings { baseline, assumptions: assumptions.get() } });
                    }
                    Err(e) => local_error.set(Some(e)),
                }
            }>
                {input("Time to preview (hours)", "base-hours", hours)}
                {input("Environments a month", "base-envs", envs)}
                {input("Cost per environment ($)", "base-per-env", per_env)}
                {input("Total monthly cost ($)", "base-monthly", monthly)}
                {input("Satisfaction (1–5)", "base-sat", sat)}
                <div class="md:col-span-5">
                    <button type="submit" data-testid="save-baseline" disabled=move || save.pending().get()
                        class="rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-indigo-700 disabled:opacity-50">"Save baseline and assumptions"</button>
                </div>
            </form>
            {move || local_error.get().map(|e| view! { <p role="alert" data-testid="baseline-outcome" class="mt-2 text-sm text-red-800">{e}</p> })}
            {move || save.value().get().map(|r| match r {
                Ok(()) => view! { <p role="status" data-testid="baseline-outcome" class="mt-2 text-sm text-emerald-800">"Saved."</p> }.into_any(),
                Err(e) => view! { <p role="alert" data-testid="baseline-outcome" class="mt-2 text-sm text-red-800">{e.to_string()}</p> }.into_any(),
            })}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(h: &str, e: &str, c: &str, m: &str, s: &str) -> [String; 5] {
        [h.into(), e.into(), c.into(), m.into(), s.into()]
    }

    #[test]
    fn the_baseline_form_reads_hours_dollars_and_a_rating() {
        let b = parse_baseline(fields("36", "15", "750", "7,500", "3.2")).unwrap();
        assert_eq!(b, Baseline::default());
        let b = parse_baseline(fields("1.5", "3", "0.50", "10", "4")).unwrap();
        assert_eq!(b.time_to_preview_ms, 90 * MINUTE_MS);
        assert_eq!(b.cost_per_env, Micros(500_000));
    }

    #[test]
    fn the_baseline_form_names_what_is_wrong() {
        assert!(parse_baseline(fields("soon", "15", "750", "7500", "3.2")).unwrap_err().starts_with("Time to preview"));
        assert!(parse_baseline(fields("-1", "15", "750", "7500", "3.2")).unwrap_err().starts_with("Time to preview"));
        assert!(parse_baseline(fields("36", "1.5", "750", "7500", "3.2")).unwrap_err().starts_with("Environments"));
        assert!(parse_baseline(fields("36", "15", "lots", "7500", "3.2"))
            .unwrap_err()
            .starts_with("Cost per environment"));
        assert!(parse_baseline(fields("36", "15", "750", "7500", "NaN")).unwrap_err().starts_with("Satisfaction"));
    }
}
