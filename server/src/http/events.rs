//! `GET /events`: live environment changes as server-sent events, for the
//! signed-in viewer's teams only (platform admins see all).

use app::ssr::{AppState, RequestMeta};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use std::convert::Infallible;
use tokio::sync::broadcast::error::RecvError;

/// How often an open stream checks that its viewer is still enabled.
const STILL_ENABLED_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

pub fn router() -> Router<AppState> {
    Router::new().route("/events", get(events))
}

async fn events(State(state): State<AppState>, Extension(meta): Extension<RequestMeta>) -> Response {
    let Some(viewer) = meta.viewer else {
        return (StatusCode::UNAUTHORIZED, "please sign in").into_response();
    };
    let rx = state.changes.subscribe();
    let stream = futures_util::stream::unfold((rx, viewer, state), |(mut rx, viewer, state)| async move {
        let mut check = tokio::time::interval(STILL_ENABLED_EVERY);
        loop {
            let received = tokio::select! {
                r = rx.recv() => r,
                _ = check.tick() => {
                    // A disabled user's stream closes (within seconds, on every replica).
                    match app::ssr::store::users::is_disabled(state.db.pool(), &viewer.user_id).await {
                        Ok(false) => continue,
                        _ => return None,
                    }
                }
            };
            match received {
                Ok(mut change) if viewer.can_see_team(&change.team_id) => {
                    let reachable =
                        change.state.parse::<app::domain::lifecycle::EnvState>().is_ok_and(|s| s.is_reachable());
                    change.url = reachable.then(|| state.settings.preview_urls.url_for(&change.name));
                    let event = Event::default().event("change").json_data(&change).unwrap_or_default();
                    return Some((Ok::<_, Infallible>(event), (rx, viewer, state)));
                }
                Ok(_) => continue,
                // Too slow to keep up: tell the page to reload its data.
                Err(RecvError::Lagged(_)) => {
                    return Some((Ok(Event::default().event("resync").data("{}")), (rx, viewer, state)));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}
