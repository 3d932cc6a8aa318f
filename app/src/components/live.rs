//! Live updates: one `EventSource` on `/events` per browser tab, shared by
//! every page through a context, and the toasts that tell a user their
//! environment is ready, failed or about to expire.

use crate::api::live::EnvChange;
use leptos::prelude::*;
use std::collections::HashSet;

/// What pages read to refresh themselves when environments change.
#[derive(Clone, Copy)]
pub struct Live {
    /// Bumped on every change the viewer may see.
    pub version: RwSignal<u64>,
    /// The latest change.
    pub last: RwSignal<Option<EnvChange>>,
    /// The event stream is open.
    pub connected: RwSignal<bool>,
    /// Bumped each time the stream opens again after a drop: changes made
    /// while it was closed were not pushed, so pages read themselves again.
    /// (Not on the first open, right after hydration: a refresh then would
    /// race the user's first click or keystroke; pages that wait on a
    /// change poll while they do.)
    pub reopened: RwSignal<u32>,
    /// The page has hydrated. Until then nothing may change what the server
    /// rendered: a refresh hydrated against the server's HTML of an older
    /// state (an environment that became ready meanwhile) panics.
    pub hydrated: RwSignal<bool>,
}

#[cfg(feature = "hydrate")]
thread_local! {
    /// The tab's `Live`, kept until [`hydration_done`] opens its stream.
    static UNOPENED: std::cell::Cell<Option<Live>> = const { std::cell::Cell::new(None) };
}

/// Creates the context; the browser opens the stream once the page has
/// hydrated ([`hydration_done`]).
pub fn provide_live() {
    let live = Live {
        version: RwSignal::new(0),
        last: RwSignal::new(None),
        connected: RwSignal::new(false),
        reopened: RwSignal::new(0),
        hydrated: RwSignal::new(false),
    };
    provide_context(live);
    #[cfg(feature = "hydrate")]
    UNOPENED.with(|u| u.set(Some(live)));
}

/// Called by the browser entry point once hydration has finished: marks the
/// page hydrated and opens the stream (once per tab).
#[cfg(feature = "hydrate")]
pub fn hydration_done() {
    if let Some(live) = UNOPENED.with(|u| u.take()) {
        live.hydrated.set(true);
        connect(live);
    }
}

pub fn use_live() -> Live {
    use_context::<Live>().expect("provide_live() in App")
}

#[cfg(feature = "hydrate")]
fn connect(live: Live) {
    use wasm_bindgen::{closure::Closure, JsCast};
    let Ok(source) = web_sys::EventSource::new("/events") else { return };
    // Bursts of changes (a pool refill, a mass expiry) become one refresh of
    // the list, at most every 300 ms, not one per change.
    let refresh_due = std::rc::Rc::new(std::cell::Cell::new(false));
    let on_change = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
        if let Some(change) = ev.data().as_string().and_then(|t| serde_json::from_str::<EnvChange>(&t).ok()) {
            live.last.set(Some(change));
        }
        if !refresh_due.replace(true) {
            let due = refresh_due.clone();
            set_timeout(
                move || {
                    due.set(false);
                    live.version.update(|v| *v += 1);
                },
                std::time::Duration::from_millis(300),
            );
        }
    });
    let listener = on_change.as_ref().unchecked_ref();
    let _ = source.add_event_listener_with_callback("change", listener);
    let _ = source.add_event_listener_with_callback("resync", listener);
    on_change.forget();
    let opens = std::cell::Cell::new(0_u32);
    let on_open = Closure::<dyn FnMut()>::new(move || {
        live.connected.set(true);
        opens.set(opens.get() + 1);
        if opens.get() > 1 {
            live.reopened.update(|n| *n += 1);
            live.version.update(|v| *v += 1);
        }
    });
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    on_open.forget();
    // The browser reconnects by itself; show the stream as down meanwhile.
    let on_error = Closure::<dyn FnMut()>::new(move || live.connected.set(false));
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Toast {
    key: String,
    env_id: String,
    text: String,
    url: Option<String>,
    urgent: bool,
}

/// The toast a change earns its owner, if any.
fn toast_for(change: &EnvChange) -> Option<Toast> {
    let (kind, text, urgent) = match change.action.as_str() {
        "environment.healthy" => ("ready", format!("{} is ready", change.name), false),
        "environment.failed" => ("failed", format!("{} failed to start", change.name), true),
        "environment.timer" if change.warned && change.state != "expiring" => {
            ("warned", format!("{} expires soon", change.name), true)
        }
        _ => return None,
    };
    Some(Toast {
        key: format!("{}/{kind}", change.env_id),
        env_id: change.env_id.clone(),
        text,
        url: change.url.clone().filter(|_| kind == "ready"),
        urgent,
    })
}

fn toast_class(urgent: bool) -> &'static str {
    if urgent {
        "pointer-events-auto rounded-lg border border-orange-300 bg-orange-50 p-3 text-sm shadow-lg"
    } else {
        "pointer-events-auto rounded-lg border border-emerald-300 bg-emerald-50 p-3 text-sm shadow-lg"
    }
}

/// Toasts for the signed-in user's own environments.
#[component]
pub fn Toasts(user_id: String) -> impl IntoView {
    let live = use_live();
    let toasts = RwSignal::new(Vec::<Toast>::new());
    let shown = StoredValue::new(HashSet::<String>::new());
    Effect::new(move |_| {
        let Some(change) = live.last.get() else { return };
        if change.owner_id.as_deref() != Some(user_id.as_str()) {
            return;
        }
        if let Some(toast) = toast_for(&change) {
            if shown.try_update_value(|s| s.insert(toast.key.clone())).unwrap_or(false) {
                toasts.update(|t| t.push(toast));
            }
        }
    });
    view! {
        <div aria-live="polite" class="pointer-events-none fixed bottom-4 right-4 z-50 flex w-80 max-w-[calc(100vw-2rem)] flex-col gap-2">
            <For each=move || toasts.get() key=|t| t.key.clone() let:toast>
                <div role="status" data-testid="toast"
                    class=toast_class(toast.urgent)>
                    <p class="font-medium text-slate-900">{toast.text.clone()}</p>
                    <p class="mt-1 flex gap-3">
                        {toast.url.clone().map(|url| view! { <a href=url target="_blank" rel="noopener" class="font-medium text-indigo-700 underline">"Open"</a> })}
                        <a href=format!("/environments/{}", toast.env_id) class="font-medium text-indigo-700 underline">"Details"</a>
                        <button type="button" class="ml-auto text-slate-600 hover:text-slate-900"
                            on:click={
                                let key = toast.key.clone();
                                move |_| toasts.update(|t| t.retain(|x| x.key != key))
                            }>
                            "Dismiss"
                        </button>
                    </p>
                </div>
            </For>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(action: &str, state: &str, warned: bool) -> EnvChange {
        EnvChange {
            env_id: "e1".into(),
            name: "web-main-ab12".into(),
            team_id: "t".into(),
            owner_id: Some("u".into()),
            action: action.into(),
            state: state.into(),
            warned,
            at: 0,
            url: Some("http://web-main-ab12.localhost:3000/".into()),
        }
    }

    #[test]
    fn ready_failed_and_warned_changes_make_toasts_and_others_do_not() {
        let ready = toast_for(&change("environment.healthy", "active", false)).unwrap();
        assert_eq!((ready.text.as_str(), ready.url.is_some()), ("web-main-ab12 is ready", true));
        assert!(toast_for(&change("environment.failed", "failed", false)).unwrap().urgent);
        assert!(toast_for(&change("environment.timer", "active", true)).is_some());
        assert!(toast_for(&change("environment.timer", "idle", false)).is_none());
        assert!(toast_for(&change("environment.extend", "active", false)).is_none());
    }
}
