//! EoD Portal: pure domain, UI and server functions. With feature `ssr` it
//! also holds the store and request context; with `hydrate` it runs in the
//! browser.

pub mod api;
pub mod components;
pub mod domain;
pub mod error;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

use components::app_shell::AppShell;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;
use leptos_router::SsrMode;
use pages::{
    app_detail::AppDetailPage, approvals::ApprovalsPage, apps::AppsPage, audit::AuditPage, channels::ChannelsPage,
    compliance::CompliancePage, costs::CostsPage, environment::EnvironmentPage, environments::EnvironmentsPage,
    extend_confirm::ExtendConfirmPage, maturity::MaturityPage, not_found::NotFound,
    notification_settings::NotificationSettingsPage, policies::PoliciesPage, price_book::PriceBookPage, roi::RoiPage,
    sign_in::SignInPage, teams::TeamsPage, tokens::TokensPage,
};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    ssr::security::set_page_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en" class="h-full bg-slate-50">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light" />
                <link rel="icon" href="data:," />
                <leptos_meta::HashedStylesheet options=options.clone() id="leptos" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body class="h-full text-slate-900 antialiased">
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    components::live::provide_live();
    view! {
        <Title formatter=|page: String| if page.is_empty() { "EoD Portal".to_string() } else { format!("{page} · EoD Portal") } />
        <Router>
            <Routes fallback=|| view! { <NotFound /> }>
                <Route path=path!("/login") view=SignInPage />
                <Route path=path!("/") view=|| view! { <AppShell><EnvironmentsPage /></AppShell> } />
                <Route path=path!("/environments/:id") view=|| view! { <AppShell><EnvironmentPage /></AppShell> } />
                <Route path=path!("/environments/:id/extend") view=|| view! { <AppShell><ExtendConfirmPage /></AppShell> } />
                <Route path=path!("/apps") view=|| view! { <AppShell><AppsPage /></AppShell> } />
                <Route path=path!("/apps/:team/:slug") view=|| view! { <AppShell><AppDetailPage /></AppShell> } />
                <Route path=path!("/settings/notifications") view=|| view! { <AppShell><NotificationSettingsPage /></AppShell> } />
                <Route path=path!("/settings/tokens") view=|| view! { <AppShell><TokensPage /></AppShell> } />
                <Route path=path!("/audit") view=|| view! { <AppShell><AuditPage /></AppShell> } />
                // Async: the status (403, 404) is known before the first byte is sent.
                <Route path=path!("/costs") view=|| view! { <AppShell><CostsPage /></AppShell> } ssr=SsrMode::Async />
                <Route path=path!("/admin/prices") view=|| view! { <AppShell><PriceBookPage /></AppShell> } ssr=SsrMode::Async />
                <Route path=path!("/roi") view=|| view! { <AppShell><RoiPage /></AppShell> } ssr=SsrMode::Async />
                <Route path=path!("/maturity") view=|| view! { <AppShell><MaturityPage /></AppShell> } ssr=SsrMode::Async />
                <Route path=path!("/notifications") view=|| view! { <AppShell><ChannelsPage /></AppShell> } />
                <Route path=path!("/approvals") view=|| view! { <AppShell><ApprovalsPage /></AppShell> } />
                <Route path=path!("/admin/policies") view=|| view! { <AppShell><PoliciesPage /></AppShell> } ssr=SsrMode::Async />
                <Route path=path!("/admin/compliance") view=|| view! { <AppShell><CompliancePage /></AppShell> } ssr=SsrMode::Async />
                <Route path=path!("/admin/teams") view=|| view! { <AppShell><TeamsPage /></AppShell> } />
            </Routes>
        </Router>
    }
}
