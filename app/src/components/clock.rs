//! The browser's clock for countdowns (TTL left, SLA left).

use leptos::prelude::*;

/// The browser's clock (UTC ms), ticking every second once hydrated; the
/// server's `now` before.
pub fn client_now(server_now: i64) -> RwSignal<i64> {
    let now = RwSignal::new(server_now);
    #[cfg(feature = "hydrate")]
    {
        now.set(js_sys::Date::now() as i64);
        if let Ok(handle) =
            set_interval_with_handle(move || now.set(js_sys::Date::now() as i64), std::time::Duration::from_secs(1))
        {
            on_cleanup(move || handle.clear());
        }
    }
    now
}
