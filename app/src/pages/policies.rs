//! Policies (platform admins): the admission policy — live environments
//! per team and per user on each tier, the tiers and apps each team may use
//! — edited as TOML and checked on save (or read-only when the
//! configuration file sets it); and every tier's lifecycle policy as
//! configured.

use crate::api::policies::{policies_page, SaveAdmissionPolicy};
use crate::domain::time::utc_datetime;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;

const EXAMPLE: &str = "[tier.preview-full]\nmax_live_per_team = 5\nmax_live_per_user = 2\n\n[team.payments]\ntiers = [\"preview-lightweight\", \"preview-full\"]\napps = [\"checkout-web\"]";

#[component]
pub fn PoliciesPage() -> impl IntoView {
    let save = ServerAction::<SaveAdmissionPolicy>::new();
    let data = Resource::new(move || save.version().get(), |_| policies_page());
    view! {
        <Title text="Policies" />
        <h1 class="text-2xl font-semibold tracking-tight">"Policies"</h1>
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(v) => {
                        let editable = v.source != "config";
                        view! {
                            <section aria-labelledby="admission-h" class="mt-4 rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
                                <h2 id="admission-h" class="font-medium">"Admission"</h2>
                                <p class="mt-1 text-sm text-slate-600">
                                    "Checked in the one write path before every create and pool claim (browser, API and webhooks alike): "
                                    <code>"max_live_per_team"</code>" and "<code>"max_live_per_user"</code>" per tier (live: not yet destroyed), and per team the "
                                    <code>"tiers"</code>" and "<code>"apps"</code>" it may use. A refusal is a 409 naming the policy, the limit and the current value, and is audited. "
                                    "TTL and maximum lifetime are the tier policies below."
                                </p>
                                <p class="mt-1 text-xs text-slate-500" data-testid="policy-source">
                                    {match (v.source.as_str(), v.saved_by.clone(), v.saved_at) {
                                        ("config", _, _) => "Set in the configuration file ([admission]): change it there.".to_string(),
                                        ("saved", by, Some(at)) => format!("Saved by {} at {}.", by.unwrap_or_else(|| "someone".into()), utc_datetime(at)),
                                        _ => "No admission policy yet: nothing is limited.".to_string(),
                                    }}
                                </p>
                                <ActionForm action=save attr:class="mt-3 space-y-2" attr:aria-label="Admission policy">
                                    <label class="block text-sm">
                                        <span class="font-medium">"Admission policy (TOML)"</span>
                                        <textarea name="text" rows="12" readonly=!editable data-testid="admission-toml" spellcheck="false"
                                            placeholder=EXAMPLE
                                            class="mt-1 block w-full rounded-md border border-slate-300 p-2 font-mono text-xs">{v.admission_toml.clone()}</textarea>
                                    </label>
                                    {editable.then(|| view! {
                                        <button type="submit" data-testid="save-policy" class="rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-indigo-700">"Save"</button>
                                    })}
                                </ActionForm>
                                {move || save.value().get().map(|r| match r {
                                    Ok(()) => view! { <p role="status" data-testid="policy-outcome" class="mt-2 text-sm text-emerald-800">"Saved; the change is in the audit trail with before and after."</p> }.into_any(),
                                    Err(e) => view! { <p role="alert" data-testid="policy-outcome" class="mt-2 text-sm text-red-800">{e.to_string()}</p> }.into_any(),
                                })}
                            </section>
                            <section aria-labelledby="tiers-h" class="mt-4">
                                <h2 id="tiers-h" class="mb-2 font-medium">"Tier policies (configuration: " <code>"[tier.<id>]"</code> ")"</h2>
                                <table class="w-full rounded-lg border border-slate-200 bg-white text-sm shadow-sm" data-testid="tier-policies">
                                    <thead><tr class="text-left text-slate-600">
                                        <th class="px-3 py-2">"Tier"</th><th>"TTL"</th><th>"Max lifetime"</th><th>"At TTL"</th><th>"Extension"</th>
                                        <th>"Destroy by"</th><th>"Approval SLA"</th><th>"On SLA"</th><th>"Budget gate"</th>
                                    </tr></thead>
                                    <tbody>
                                        {v.tiers.into_iter().map(|t| view! {
                                            <tr class="border-t border-slate-100">
                                                <td class="px-3 py-1 font-medium">{t.tier}</td><td>{t.ttl}</td><td>{t.max_lifetime}</td><td>{t.at_ttl}</td>
                                                <td>{t.extension}</td><td>{t.destroy}</td><td>{t.approval_sla}</td><td>{t.on_sla}</td><td>{t.budget_gate}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </section>
                        }.into_any()
                    }
                    Err(err) => view! { <p role="alert" class="rounded-md border border-red-200 bg-red-50 p-3 text-red-800">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}
