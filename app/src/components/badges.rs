//! Small coloured labels for tiers and lifecycle states. Colours carry no
//! meaning on their own: the text is always there too.

use crate::domain::health::Health;
use crate::domain::lifecycle::EnvState;
use crate::domain::tier::Tier;
use leptos::prelude::*;

/// The lifecycle state, except that a running environment whose probes
/// fail reads `unhealthy` (never `active` while nothing serves); the
/// lifecycle state stays in the tooltip and `data-state`.
#[component]
pub fn StateBadge(state: EnvState, #[prop(optional)] health: Option<Health>) -> impl IntoView {
    let unhealthy = health == Some(Health::Unhealthy)
        && matches!(state, EnvState::Ready | EnvState::Active | EnvState::Idle | EnvState::Expiring);
    let colour = match state {
        _ if unhealthy => "bg-red-100 text-red-900",
        EnvState::Pending => "bg-amber-100 text-amber-900",
        EnvState::Ready => "bg-sky-100 text-sky-900",
        EnvState::Active => "bg-emerald-100 text-emerald-900",
        EnvState::Idle => "bg-slate-200 text-slate-800",
        EnvState::Expiring => "bg-orange-100 text-orange-900",
        EnvState::Destroyed => "bg-slate-100 text-slate-500",
        EnvState::Failed => "bg-red-100 text-red-900",
    };
    let (label, title) = if unhealthy {
        ("unhealthy", format!("{}: its health probe fails; the portal is restarting it", state.as_str()))
    } else {
        (state.as_str(), state.as_str().to_string())
    };
    view! {
        <span class=format!("inline-flex rounded-full px-2 py-0.5 text-xs font-medium {colour}")
            data-state=state.as_str() data-health=health.map(|h| h.as_str()) title=title>
            {label}
        </span>
    }
}

#[component]
pub fn TierBadge(tier: Tier) -> impl IntoView {
    let colour = match tier {
        Tier::PreviewLightweight => "border-sky-300 text-sky-800",
        Tier::PreviewFull => "border-indigo-300 text-indigo-800",
        Tier::PreviewCompliance => "border-fuchsia-300 text-fuchsia-800",
        Tier::Staging => "border-amber-300 text-amber-800",
        Tier::Production => "border-rose-300 text-rose-800",
    };
    view! {
        <span class=format!("inline-flex rounded border px-1.5 py-0.5 text-xs {colour}") title=tier.label()>
            {tier.as_str()}
        </span>
    }
}
