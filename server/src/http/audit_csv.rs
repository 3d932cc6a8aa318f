//! `GET /audit.csv`: the audit events the page's filters select, as CSV,
//! under the same authorization as the page.

use app::api::audit::AuditQuery;
use app::ssr::{audit_view, AppState, RequestMeta};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};

/// Most rows one export holds.
const EXPORT_LIMIT: i64 = 100_000;

pub fn router() -> Router<AppState> {
    Router::new().route("/audit.csv", get(export))
}

async fn export(
    State(state): State<AppState>,
    Extension(meta): Extension<RequestMeta>,
    Query(query): Query<AuditQuery>,
) -> Response {
    let query = AuditQuery { before: String::new(), ..query };
    let page = match audit_view::page(&state, &meta, &query, EXPORT_LIMIT).await {
        Ok(page) => page,
        Err(err) => {
            let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, err.to_string()).into_response();
        }
    };
    let header_row = ["id", "at_utc", "actor", "action", "target", "team_id", "ip", "outcome", "detail"];
    let write = || -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        let mut out = csv::Writer::from_writer(Vec::new());
        out.write_record(header_row)?;
        for r in &page.rows {
            out.write_record([
                r.id.as_str(),
                &app::domain::time::utc_datetime(r.at),
                &r.actor,
                &r.action,
                &r.target,
                r.team_id.as_deref().unwrap_or(""),
                r.ip.as_deref().unwrap_or(""),
                &r.outcome,
                &r.detail,
            ])?;
        }
        Ok(out.into_inner()?)
    };
    match write() {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"eod-audit.csv\""),
            ],
            body,
        )
            .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "writing the audit CSV");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
