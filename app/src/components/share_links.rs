//! The environment page's Share section: create a link with an expiry (and
//! a note saying who it is for), see the links, revoke one. Shown only to
//! those who may share (team members and platform admins).

use crate::api::share_links::{share_links, CreateShareLink, RevokeShareLink};
use crate::domain::time::utc_datetime;
use leptos::prelude::*;

#[component]
pub fn ShareLinks(id: Memo<String>) -> impl IntoView {
    let create = ServerAction::<CreateShareLink>::new();
    let revoke = ServerAction::<RevokeShareLink>::new();
    let hours = RwSignal::new(24i64);
    let note = RwSignal::new(String::new());
    let links =
        Resource::new(move || (id.get(), create.version().get(), revoke.version().get()), |(id, ..)| share_links(id));
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(CreateShareLink {
            env_id: id.get_untracked(),
            hours: hours.get_untracked(),
            note: note.get_untracked(),
        });
    };
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let Ok(items) = links.await else { return ().into_any() };
                view! {
                    <section aria-labelledby="share-h" class="mt-4 rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
                        <h2 id="share-h" class="text-sm font-semibold uppercase tracking-wide text-slate-600">"Share links"</h2>
                        <p class="mt-1 text-sm text-slate-600">
                            "A share link lets someone without an account open this preview until the link expires or you revoke it."
                        </p>
                        <form class="mt-3 flex flex-wrap items-end gap-3" on:submit=on_submit>
                            <label class="text-sm">"Expires after"
                                <select class="ml-2 rounded border border-slate-300 px-2 py-1" name="hours"
                                    on:change=move |ev| hours.set(event_target_value(&ev).parse().unwrap_or(24))>
                                    <option value="1">"1 hour"</option>
                                    <option value="24" selected>"1 day"</option>
                                    <option value="72">"3 days"</option>
                                    <option value="168">"7 days"</option>
                                </select>
                            </label>
                            <label class="text-sm">"For"
                                <input class="ml-2 rounded border border-slate-300 px-2 py-1" name="note" maxlength="200"
                                    placeholder="e.g. design review" prop:value=move || note.get()
                                    on:input=move |ev| note.set(event_target_value(&ev)) />
                            </label>
                            <button type="submit" class="rounded bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-indigo-700 disabled:opacity-50"
                                disabled=move || create.pending().get()>"Create share link"</button>
                        </form>
                        {move || create.value().get().map(|r| match r {
                            Ok(url) => view! {
                                <p class="mt-3 text-sm">"Copy it now; it is not shown again: "
                                    <input readonly class="mt-1 w-full rounded border border-emerald-300 bg-emerald-50 px-2 py-1 font-mono text-xs"
                                        data-testid="share-url" prop:value=url />
                                </p>
                            }.into_any(),
                            Err(e) => view! { <p role="alert" class="mt-3 text-sm text-red-700">{e.to_string()}</p> }.into_any(),
                        })}
                        {(!items.is_empty()).then(|| view! {
                            <table class="mt-3 w-full text-left text-sm">
                                <caption class="sr-only">"Share links, newest first"</caption>
                                <thead><tr class="text-slate-500"><th class="py-1">"For"</th><th>"By"</th><th>"Expires (UTC)"</th><th>"State"</th><th></th></tr></thead>
                                <tbody>
                                    {items.into_iter().map(|l| {
                                        let link_id = l.id.clone();
                                        let active = l.state == "active";
                                        view! {
                                            <tr class="border-t border-slate-100" data-testid="share-link">
                                                <td class="py-1">{if l.note.is_empty() { "—".to_string() } else { l.note.clone() }}</td>
                                                <td>{l.created_by.clone()}</td>
                                                <td>{utc_datetime(l.expires_at)}</td>
                                                <td data-testid="share-state">{l.state.clone()}</td>
                                                <td>{active.then(|| view! {
                                                    <button type="button" class="text-sm text-red-700 hover:underline"
                                                        on:click=move |_| { revoke.dispatch(RevokeShareLink { env_id: id.get_untracked(), link_id: link_id.clone() }); }>
                                                        "Revoke"
                                                    </button>
                                                })}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        })}
                    </section>
                }.into_any()
            })}
        </Transition>
    }
}
