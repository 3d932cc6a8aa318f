//! Which events reach the signed-in user, per kind and per channel: the
//! inbox (the header's bell) and e-mail (when the portal sends e-mail and
//! the user has an address), with the latest e-mails and how they went.
//! Team channels (Slack, webhooks) get every event regardless: they are
//! the team's, not one person's.

use crate::api::notifications::{my_notification_prefs, EmailRow, SetNotificationPref};
use crate::domain::time::utc_datetime;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotificationSettingsPage() -> impl IntoView {
    let set = ServerAction::<SetNotificationPref>::new();
    let settings = Resource::new(move || set.version().get(), |_| my_notification_prefs());
    view! {
        <Title text="Notification settings" />
        <h1 class="text-2xl font-semibold tracking-tight">"What the portal tells you"</h1>
        <p class="mb-4 text-sm text-slate-600">"Choose, per event, whether it reaches your inbox (the bell) and your e-mail. Your team's Slack and webhook channels get every event regardless."</p>
        {move || set.value().get().and_then(Result::err).map(|e| view! { <p role="alert" class="mb-3 text-sm text-red-800">{e.to_string()}</p> })}
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match settings.await {
                    Ok(s) => {
                        let email_usable = s.email_on && s.address.is_some();
                        let email_note = match (s.email_on, &s.address) {
                            (false, _) => "This portal does not send e-mail (no SMTP server is configured), so only the inbox applies.".to_string(),
                            (true, None) => "Your account has no e-mail address (your identity provider gave none), so only the inbox applies.".to_string(),
                            (true, Some(a)) => format!("E-mail goes to {a}."),
                        };
                        view! {
                            <p class="mb-3 text-sm text-slate-700" data-testid="email-note">{email_note}</p>
                            <table class="text-sm" data-testid="prefs">
                                <thead class="text-left text-xs uppercase text-slate-500">
                                    <tr><th class="py-1 pr-6">"Event"</th><th class="px-3">"Inbox"</th><th class="px-3">"E-mail"</th></tr>
                                </thead>
                                <tbody>
                                    {s.prefs.into_iter().map(|p| {
                                        let (inbox_kind, email_kind) = (p.kind.clone(), p.kind.clone());
                                        view! {
                                            <tr class="border-t border-slate-100">
                                                <td class="py-1 pr-6">{p.label.clone()}</td>
                                                <td class="px-3 text-center">
                                                    <input type="checkbox" prop:checked=!p.muted data-testid=format!("pref-{}", p.kind)
                                                        aria-label=format!("Inbox: {}", p.label)
                                                        on:change=move |ev| { set.dispatch(SetNotificationPref { kind: inbox_kind.clone(), on: event_target_checked(&ev), channel: "inbox".into() }); } />
                                                </td>
                                                <td class="px-3 text-center">
                                                    <input type="checkbox" prop:checked=!p.email_muted disabled=!email_usable data-testid=format!("email-pref-{}", p.kind)
                                                        aria-label=format!("E-mail: {}", p.label)
                                                        on:change=move |ev| { set.dispatch(SetNotificationPref { kind: email_kind.clone(), on: event_target_checked(&ev), channel: "email".into() }); } />
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <EmailLog emails=s.emails />
                        }.into_any()
                    }
                    Err(err) => view! { <p role="alert" class="rounded-md border border-red-200 bg-red-50 p-3 text-red-800">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The latest e-mails to the user: what, when, and how the sending went.
#[component]
fn EmailLog(emails: Vec<EmailRow>) -> impl IntoView {
    view! {
        <h2 class="mt-6 text-lg font-semibold">"Your latest e-mails"</h2>
        {if emails.is_empty() {
            view! { <p class="text-sm text-slate-500" data-testid="emails-empty">"None yet."</p> }.into_any()
        } else {
            view! {
                <table class="mt-2 text-sm">
                    <thead class="text-left text-xs uppercase text-slate-500">
                        <tr><th class="py-1 pr-4">"Queued (UTC)"</th><th class="pr-4">"About"</th><th class="pr-4">"State"</th><th class="pr-4">"Attempts"</th><th>"Last error"</th></tr>
                    </thead>
                    <tbody>
                        {emails.into_iter().map(|e| view! {
                            <tr class="border-t border-slate-100" data-testid="email">
                                <td class="py-1 pr-4 whitespace-nowrap">{utc_datetime(e.created_at)}</td>
                                <td class="pr-4">{e.message}</td>
                                <td class="pr-4" data-testid="email-state">{match (e.state.as_str(), e.sent_at) {
                                    ("sent", Some(at)) => format!("sent {}", utc_datetime(at)),
                                    (s, _) => s.to_string(),
                                }}</td>
                                <td class="pr-4">{e.attempts}</td>
                                <td class="text-slate-600">{e.last_error.unwrap_or_default()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
    }
}
