//! The Policies page (admission policies, editable; tier policies, as
//! configured) and the Compliance page (automated checks), for platform
//! admins.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A tier's lifecycle policy as configured (`[tier.<id>]`), in words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierRow {
    pub tier: String,
    pub ttl: String,
    pub max_lifetime: String,
    pub at_ttl: String,
    pub extension: String,
    pub destroy: String,
    pub approval_sla: String,
    pub on_sla: String,
    pub budget_gate: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoliciesView {
    /// The admission policy in force, as TOML.
    pub admission_toml: String,
    /// `config` (read-only here), `saved` or `default` (no limits).
    pub source: String,
    pub saved_by: Option<String>,
    pub saved_at: Option<i64>,
    pub tiers: Vec<TierRow>,
}

#[server(prefix = "/api/fn", endpoint = "policies_page")]
pub async fn policies_page() -> Result<PoliciesView, AppError> {
    crate::ssr::with_status(
        async {
            use crate::domain::authz::Action;
            use crate::domain::tier::Tier;
            use crate::domain::time::short_duration;
            use crate::ssr::admission::{policy, PolicySource};
            use crate::ssr::{authz, context::*};
            let (state, meta) = (app_state()?, request_meta());
            authz::require(&state, &meta, Action::ManagePolicies, None).await?;
            let (p, source) = policy(state.db.pool(), &state.settings).await?;
            let admission_toml = toml::to_string(&p).map_err(|e| {
                tracing::error!(error = %e, "printing the admission policy");
                AppError::Internal
            })?;
            let (source, saved_by, saved_at) = match source {
                PolicySource::Config => ("config", None, None),
                PolicySource::Saved { by, at } => ("saved", by, Some(at)),
                PolicySource::Default => ("default", None, None),
            };
            let tiers = Tier::ALL
                .iter()
                .map(|&t| {
                    let p = state.settings.tiers.get(t);
                    let dur = |ms: Option<i64>| ms.map(short_duration).unwrap_or_else(|| "—".into());
                    TierRow {
                        tier: t.as_str().into(),
                        ttl: dur(p.ttl_ms),
                        max_lifetime: if p.ttl_ms.is_some() {
                            dur(Some(p.extension.max_lifetime_ms))
                        } else {
                            "—".into()
                        },
                        at_ttl: p.at_ttl.describe().into(),
                        extension: if p.ttl_ms.is_none() {
                            "—".into()
                        } else {
                            format!(
                                "up to {} at a time{}",
                                short_duration(p.extension.step_ms),
                                if p.extension.needs_approval { ", approved" } else { "" }
                            )
                        },
                        destroy: p.destroy.as_str().into(),
                        approval_sla: short_duration(p.approval_sla_ms()),
                        on_sla: format!(
                            "extend: {}, destroy: {}",
                            p.approval.on_sla_extend.as_str(),
                            p.approval.on_sla_destroy.as_str()
                        ),
                        budget_gate: format!("{:?}", p.budget_gate).to_lowercase(),
                    }
                })
                .collect();
            Ok(PoliciesView { admission_toml, source: source.into(), saved_by, saved_at, tiers })
        }
        .await,
    )
}

#[server(prefix = "/api/fn", endpoint = "save_admission_policy")]
pub async fn save_admission_policy(text: String) -> Result<(), AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::{admission, context::*};
            admission::save(&app_state()?, &request_meta(), &text).await.map(|_| ())
        }
        .await,
    )
}

/// One check's latest result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceRow {
    pub id: String,
    pub title: String,
    pub passed: bool,
    pub evidence: Vec<String>,
    pub checked_at: i64,
}

#[server(prefix = "/api/fn", endpoint = "compliance_results")]
pub async fn compliance_results() -> Result<Vec<ComplianceRow>, AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::{compliance, context::*};
            let rows = compliance::latest(&app_state()?, &request_meta()).await?;
            Ok(rows
                .into_iter()
                .map(|s| ComplianceRow {
                    id: s.result.id,
                    title: s.result.title,
                    passed: s.result.passed,
                    evidence: s.result.evidence,
                    checked_at: s.checked_at,
                })
                .collect())
        }
        .await,
    )
}

#[server(prefix = "/api/fn", endpoint = "run_compliance_checks")]
pub async fn run_compliance_checks() -> Result<(), AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::{compliance, context::*};
            compliance::run_now(&app_state()?, &request_meta()).await
        }
        .await,
    )
}
