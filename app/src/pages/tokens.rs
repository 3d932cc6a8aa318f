//! API tokens for CI and coding agents: create (shown once), list, revoke.

use crate::api::tokens::{list_my_tokens, CreateToken, RevokeToken, TokenRow};
use crate::domain::time::utc_datetime;
use crate::domain::token::Scope;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn TokensPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(move || (create.version().get(), revoke.version().get()), |_| list_my_tokens());
    view! {
        <Title text="API tokens" />
        <h1 class="text-2xl font-semibold tracking-tight">"API tokens"</h1>
        <p class="mb-6 text-sm text-slate-600">
            "Personal access tokens let CI and coding agents call the portal's JSON API as you: "
            <code class="rounded bg-slate-100 px-1">"Authorization: Bearer eod_…"</code>
            ". Each token has scopes and an expiry; revoke it when it is no longer needed."
        </p>
        <NewTokenForm create />
        <h2 class="mb-2 mt-8 text-lg font-medium">"Your tokens"</h2>
        <Suspense fallback=|| view! { <p class="text-slate-500">"Loading tokens…"</p> }>
            {move || Suspend::new(async move {
                match tokens.await {
                    Ok(list) if list.tokens.is_empty() => view! {
                        <p class="text-sm text-slate-600">"You have no tokens yet."</p>
                    }.into_any(),
                    Ok(list) => view! { <TokenTable rows=list.tokens now=list.now revoke /> }.into_any(),
                    Err(err) => view! { <p role="alert" class="text-red-800">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn NewTokenForm(create: ServerAction<CreateToken>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let days = RwSignal::new(30u32);
    let chosen: Vec<(Scope, RwSignal<bool>)> =
        Scope::ALL.into_iter().map(|s| (s, RwSignal::new(s == Scope::EnvironmentsRead))).collect();
    let chosen_for_submit = chosen.clone();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let scopes = chosen_for_submit
            .iter()
            .filter(|(_, on)| on.get_untracked())
            .map(|(s, _)| s.as_str().to_string())
            .collect();
        create.dispatch(CreateToken { name: name.get_untracked(), scopes, expires_in_days: days.get_untracked() });
    };
    view! {
        <form on:submit=on_submit class="max-w-xl space-y-4 rounded-lg border border-slate-200 bg-white p-4 shadow-sm" aria-labelledby="new-token-heading">
            <h2 id="new-token-heading" class="text-lg font-medium">"New token"</h2>
            <label class="block text-sm">
                <span class="font-medium">"Name"</span>
                <input type="text" required maxlength="64" placeholder="ci-pipeline" prop:value=move || name.get()
                    on:input=move |ev| name.set(event_target_value(&ev))
                    class="mt-1 block w-full rounded-md border border-slate-300 px-3 py-1.5" />
            </label>
            <fieldset class="text-sm">
                <legend class="font-medium">"Scopes"</legend>
                {chosen.into_iter().map(|(scope, on)| view! {
                    <label class="mt-1 flex items-center gap-2">
                        <input type="checkbox" prop:checked=move || on.get() on:change=move |ev| on.set(event_target_checked(&ev)) />
                        <code>{scope.as_str()}</code>
                        <span class="text-slate-600">{scope.describe()}</span>
                    </label>
                }).collect_view()}
            </fieldset>
            <label class="block text-sm">
                <span class="font-medium">"Expires after"</span>
                <select class="mt-1 block rounded-md border border-slate-300 px-2 py-1.5"
                    on:change=move |ev| days.set(event_target_value(&ev).parse().unwrap_or(30))>
                    <option value="7">"7 days"</option>
                    <option value="30" selected>"30 days"</option>
                    <option value="90">"90 days"</option>
                    <option value="365">"365 days"</option>
                </select>
            </label>
            <button type="submit" class="rounded-md bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-700 disabled:opacity-50"
                disabled=move || create.pending().get()>
                "Create token"
            </button>
            {move || create.value().get().map(|result| match result {
                Ok(minted) => view! {
                    <div role="status" class="rounded-md border border-emerald-300 bg-emerald-50 p-3 text-sm">
                        <p class="font-medium">"Copy your new token now — it will not be shown again."</p>
                        <code data-testid="new-token" class="mt-2 block break-all rounded bg-white p-2 font-mono">{minted.secret}</code>
                    </div>
                }.into_any(),
                Err(err) => view! { <p role="alert" class="text-sm text-red-800">{err.to_string()}</p> }.into_any(),
            })}
        </form>
    }
}

#[component]
fn TokenTable(rows: Vec<TokenRow>, now: i64, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    view! {
        <div class="overflow-x-auto rounded-lg border border-slate-200 bg-white shadow-sm">
            <table class="min-w-full divide-y divide-slate-200 text-sm">
                <thead class="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-600">
                    <tr>
                        <th scope="col" class="px-3 py-2">"Name"</th>
                        <th scope="col" class="px-3 py-2">"Token id"</th>
                        <th scope="col" class="px-3 py-2">"Scopes"</th>
                        <th scope="col" class="px-3 py-2">"Expires"</th>
                        <th scope="col" class="px-3 py-2">"Last used"</th>
                        <th scope="col" class="px-3 py-2">"Status"</th>
                        <th scope="col" class="px-3 py-2"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {rows.into_iter().map(|t| {
                        let status = if t.revoked_at.is_some() { "revoked" } else if t.expires_at.is_some_and(|e| e <= now) { "expired" } else { "active" };
                        let id = t.id.clone();
                        view! {
                            <tr data-testid="token-row" data-status=status>
                                <td class="px-3 py-2 font-medium">{t.name.clone()}</td>
                                <td class="px-3 py-2 font-mono text-xs">{format!("eod_{}_…", t.id)}</td>
                                <td class="px-3 py-2 text-xs">{t.scopes.clone()}</td>
                                <td class="px-3 py-2 whitespace-nowrap">{t.expires_at.map(utc_datetime).unwrap_or_else(|| "never".into())}</td>
                                <td class="px-3 py-2 whitespace-nowrap">{t.last_used_at.map(utc_datetime).unwrap_or_else(|| "never".into())}</td>
                                <td class="px-3 py-2">{status}</td>
                                <td class="px-3 py-2 text-right">
                                    {(status == "active").then(|| view! {
                                        <button type="button" class="rounded-md border border-red-300 px-2 py-1 text-red-800 hover:bg-red-50"
                                            aria-label=format!("Revoke {}", t.name)
                                            on:click=move |_| { revoke.dispatch(RevokeToken { id: id.clone() }); }>
                                            "Revoke"
                                        </button>
                                    })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
