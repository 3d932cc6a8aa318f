//! The price book (platform admins): every rate with the instant it took
//! effect, and a form to add a rate from now or a later instant. Past cost
//! is never rewritten.

use crate::api::costs::{price_book_rows, AddPrice, WithdrawPrice};
use crate::domain::tier::Tier;
use crate::domain::time::utc_datetime;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn PriceBookPage() -> impl IntoView {
    let add = ServerAction::<AddPrice>::new();
    let withdraw = ServerAction::<WithdrawPrice>::new();
    let rows = Resource::new(move || (add.version().get(), withdraw.version().get()), |_| price_book_rows());
    let field = "mt-1 block rounded-md border border-slate-300 px-2 py-1";
    view! {
        <Title text="Price book" />
        <h1 class="text-2xl font-semibold tracking-tight">"Price book"</h1>
        <p class="mb-4 text-sm text-slate-600">
            "Hourly rates per tier and resource kind. A new rate applies from its instant on — to running environments too — and never changes cost already incurred. "
            "A resource kind the book does not list (a blueprint's own) is priced at the rate its blueprint declares. "
            <code>"shared-database-server"</code>" prices the lightweight tier's shared database server, a shared cost."
        </p>
        <ActionForm action=add attr:class="mb-6 flex flex-wrap items-end gap-3 rounded-lg border border-slate-200 bg-white p-4 text-sm shadow-sm" attr:aria-label="Add a rate">
            <label class="block"><span class="font-medium">"Tier"</span>
                <select name="tier" class=field>
                    {Tier::ALL.iter().map(|t| view! { <option value=t.as_str()>{t.as_str()}</option> }).collect_view()}
                </select>
            </label>
            <label class="block"><span class="font-medium">"Resource kind"</span><input name="kind" required placeholder="compute" class=field /></label>
            <label class="block"><span class="font-medium">"Rate ($ per hour)"</span><input name="rate" required inputmode="decimal" placeholder="0.125" class=field /></label>
            <label class="block"><span class="font-medium">"Effective from (UTC)"</span><input name="effective_from" placeholder="now, or 2026-12-01T00:00" class=field /></label>
            <button type="submit" class="rounded-md bg-indigo-600 px-3 py-1.5 font-medium text-white hover:bg-indigo-700">"Add rate"</button>
            {move || add.value().get().map(|r| match r {
                Ok(()) => view! { <p role="status" class="w-full text-emerald-800">"Rate added."</p> }.into_any(),
                Err(e) => view! { <p role="alert" class="w-full text-red-800">{e.to_string()}</p> }.into_any(),
            })}
        </ActionForm>
        {move || withdraw.value().get().and_then(Result::err).map(|e| view! { <p role="alert" class="mb-3 text-sm text-red-800">{e.to_string()}</p> })}
        <Suspense fallback=|| view! { <p class="text-slate-500">"Loading the price book…"</p> }>
            {move || Suspend::new(async move {
                match rows.await {
                    Ok(list) => view! {
                        <table class="w-full rounded-lg border border-slate-200 bg-white text-sm shadow-sm" data-testid="price-book">
                            <thead><tr class="text-left text-slate-600">
                                <th class="px-3 py-2">"Tier"</th><th>"Kind"</th><th class="text-right">"Rate / hour"</th>
                                <th class="px-3">"Effective from (UTC)"</th><th>"Added by"</th><th>"In force"</th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|r| view! {
                                    <tr class="border-t border-slate-100">
                                        <td class="px-3 py-1">{r.tier.clone()}</td><td>{r.kind.clone()}</td>
                                        <td class="text-right tabular-nums" title=format!("exactly {} µ$ an hour", r.hourly_rate_micros.0)>
                                            {r.hourly_rate_micros.to_string()}
                                            <span class="ml-1 text-xs text-slate-500">{format!("({})", crate::domain::export::dollars6(r.hourly_rate_micros))}</span>
                                        </td>
                                        <td class="px-3">{if r.effective_from == 0 { "always (default)".to_string() } else { utc_datetime(r.effective_from) }}</td>
                                        <td>{r.added_by.clone().unwrap_or_else(|| "seed".into())}</td>
                                        <td>
                                            {if r.current { "now" } else if r.future { "from then" } else { "" }}
                                            {r.future.then(|| {
                                                let (tier, kind, from) = (r.tier.clone(), r.kind.clone(), r.effective_from);
                                                view! {
                                                    <button type="button" class="ml-2 rounded border border-slate-300 px-2 text-xs hover:bg-slate-50"
                                                        on:click=move |_| { withdraw.dispatch(WithdrawPrice { tier: tier.clone(), kind: kind.clone(), effective_from: from }); }>
                                                        "Withdraw"
                                                    </button>
                                                }
                                            })}
                                        </td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(err) => view! { <p role="alert" class="rounded-md border border-red-200 bg-red-50 p-3 text-red-800">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}
