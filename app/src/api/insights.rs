//! The platform team's dashboards: ROI and maturity, computed from what the
//! portal measured. The views carry the measured summaries and the saved
//! baseline; the page runs `domain::roi` itself, so every what-if slider
//! recomputes in the browser. The same views are the JSON of
//! `GET /api/v1/insights/roi` and `/api/v1/insights/maturity`.

use crate::domain::maturity::Assessment;
use crate::domain::measure::{Measured, MonthPoint};
use crate::domain::roi::RoiSettings;
use crate::domain::tier::Tier;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The ROI dashboard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoiDashboard {
    /// The window, in days, and the ones offered.
    pub days: u32,
    pub windows: Vec<u32>,
    /// What the portal measured over the window.
    pub measured: Measured,
    /// The last twelve months, oldest first.
    pub series: Vec<MonthPoint>,
    /// The baseline ("before") and default assumptions in force.
    pub settings: RoiSettings,
    /// Who last saved them and when; `None`: the seed's defaults.
    pub saved_by: Option<String>,
    pub saved_at: Option<i64>,
    /// Configured warm-pool members per preview tier.
    pub pools: Vec<(Tier, u32)>,
    /// The viewer may save the baseline (platform admins).
    pub can_edit: bool,
    /// The portal runs with demo data (`EOD_DEMO=1`).
    pub demo_mode: bool,
}

/// One month of the maturity history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaturityMonth {
    /// `2026-11`.
    pub month: String,
    pub provisioning: u8,
    pub cost_control: u8,
    pub governance: u8,
    pub overall: u8,
}

/// The maturity dashboard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaturityDashboard {
    pub days: u32,
    pub windows: Vec<u32>,
    pub from: i64,
    pub to: i64,
    pub assessment: Assessment,
    /// The last twelve months, oldest first.
    pub history: Vec<MaturityMonth>,
    pub demo_mode: bool,
}

#[server(prefix = "/api/fn", endpoint = "roi_view")]
pub async fn roi_view(days: Option<u32>) -> Result<RoiDashboard, AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::context::*;
            let (state, meta) = (app_state()?, request_meta());
            build_roi(&state, &meta, days).await
        }
        .await,
    )
}

#[server(prefix = "/api/fn", endpoint = "maturity_view")]
pub async fn maturity_view(days: Option<u32>) -> Result<MaturityDashboard, AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::context::*;
            let (state, meta) = (app_state()?, request_meta());
            build_maturity(&state, &meta, days).await
        }
        .await,
    )
}

/// A platform admin saves the baseline and the default assumptions.
#[server(prefix = "/api/fn", endpoint = "save_roi_settings", input = server_fn::codec::Json)]
pub async fn save_roi_settings(settings: RoiSettings) -> Result<(), AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::context::*;
            let (state, meta) = (app_state()?, request_meta());
            crate::ssr::insights::save_roi_settings(&state, &meta, settings).await
        }
        .await,
    )
}

#[cfg(feature = "ssr")]
pub async fn build_roi(
    state: &crate::ssr::AppState,
    meta: &crate::ssr::RequestMeta,
    days: Option<u32>,
) -> Result<RoiDashboard, AppError> {
    use crate::domain::authz::{decide, Action, Decision};
    use crate::ssr::insights;
    let data = insights::roi(state, meta, days).await?;
    let can_edit = meta.viewer.as_ref().is_some_and(|v| decide(v, Action::ManagePolicies, None) == Decision::Allow);
    let (saved_by, saved_at) = match data.saved {
        Some((by, at)) => (by, Some(at)),
        None => (None, None),
    };
    Ok(RoiDashboard {
        days: data.days,
        windows: insights::WINDOWS.to_vec(),
        measured: data.measured,
        series: data.series,
        settings: data.settings,
        saved_by,
        saved_at,
        pools: data.pools,
        can_edit,
        demo_mode: state.settings.demo,
    })
}

#[cfg(feature = "ssr")]
pub async fn build_maturity(
    state: &crate::ssr::AppState,
    meta: &crate::ssr::RequestMeta,
    days: Option<u32>,
) -> Result<MaturityDashboard, AppError> {
    use crate::ssr::insights;
    let data = insights::maturity(state, meta, days).await?;
    Ok(MaturityDashboard {
        days: data.days,
        windows: insights::WINDOWS.to_vec(),
        from: data.from,
        to: data.to,
        assessment: data.assessment,
        history: data
            .history
            .into_iter()
            .map(|(month, [provisioning, cost_control, governance, overall])| MaturityMonth {
                month,
                provisioning,
                cost_control,
                governance,
                overall,
            })
            .collect(),
        demo_mode: state.settings.demo,
    })
}
