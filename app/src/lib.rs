#![recursion_limit = "256"]
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
use leptos_router::{lazy_route, Lazy, LazyRoute, SsrMode};
use pages::{
    app_detail::AppDetailPage, approvals::ApprovalsPage, apps::AppsPage, audit::AuditPage, channels::ChannelsPage,
    compliance::CompliancePage, costs::CostsPage, deliveries::DeliveriesPage, environment::EnvironmentPage,
    environments::EnvironmentsPage, extend_confirm::ExtendConfirmPage, maturity::MaturityPage, not_found::NotFound,
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
                <Route path=path!("/login") view={Lazy::<SignInRoute>::new()} />
                <Route path=path!("/") view={Lazy::<EnvironmentsRoute>::new()} />
                <Route path=path!("/environments/:id") view={Lazy::<EnvironmentRoute>::new()} />
                <Route path=path!("/environments/:id/extend") view={Lazy::<ExtendConfirmRoute>::new()} />
                <Route path=path!("/apps") view={Lazy::<AppsRoute>::new()} />
                <Route path=path!("/apps/:team/:slug") view={Lazy::<AppDetailRoute>::new()} />
                <Route path=path!("/settings/notifications") view={Lazy::<NotificationSettingsRoute>::new()} />
                <Route path=path!("/settings/tokens") view={Lazy::<TokensRoute>::new()} />
                <Route path=path!("/audit") view={Lazy::<AuditRoute>::new()} />
                <Route path=path!("/deliveries") view={Lazy::<DeliveriesRoute>::new()} />
                // Async: the status (403, 404) is known before the first byte is sent.
                <Route path=path!("/costs") view={Lazy::<CostsRoute>::new()} ssr=SsrMode::Async />
                <Route path=path!("/admin/prices") view={Lazy::<PriceBookRoute>::new()} ssr=SsrMode::Async />
                <Route path=path!("/roi") view={Lazy::<RoiRoute>::new()} ssr=SsrMode::Async />
                <Route path=path!("/maturity") view={Lazy::<MaturityRoute>::new()} ssr=SsrMode::Async />
                <Route path=path!("/notifications") view={Lazy::<ChannelsRoute>::new()} />
                <Route path=path!("/approvals") view={Lazy::<ApprovalsRoute>::new()} />
                <Route path=path!("/admin/policies") view={Lazy::<PoliciesRoute>::new()} ssr=SsrMode::Async />
                <Route path=path!("/admin/compliance") view={Lazy::<ComplianceRoute>::new()} ssr=SsrMode::Async />
                <Route path=path!("/admin/teams") view={Lazy::<TeamsRoute>::new()} />
            </Routes>
        </Router>
    }
}

/// Each page is its own part of the browser code (`cargo leptos build
/// --split`): a visit loads the shell, the router and the page it opens; the
/// rest loads when the user goes there. The server renders them as before.
macro_rules! lazy_pages {
    ($($route:ident => $view:expr),* $(,)?) => {$(
        #[derive(Clone)]
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(this: Self) -> AnyView {
                let _ = this;
                $view.into_any()
            }
        }
    )*};
}

lazy_pages!(
    // Sign-in has no shell around it.
    SignInRoute => view! { <SignInPage /> },
    EnvironmentsRoute => view! { <AppShell><EnvironmentsPage /></AppShell> },
    EnvironmentRoute => view! { <AppShell><EnvironmentPage /></AppShell> },
    ExtendConfirmRoute => view! { <AppShell><ExtendConfirmPage /></AppShell> },
    AppsRoute => view! { <AppShell><AppsPage /></AppShell> },
    AppDetailRoute => view! { <AppShell><AppDetailPage /></AppShell> },
    NotificationSettingsRoute => view! { <AppShell><NotificationSettingsPage /></AppShell> },
    TokensRoute => view! { <AppShell><TokensPage /></AppShell> },
    AuditRoute => view! { <AppShell><AuditPage /></AppShell> },
    DeliveriesRoute => view! { <AppShell><DeliveriesPage /></AppShell> },
    CostsRoute => view! { <AppShell><CostsPage /></AppShell> },
    PriceBookRoute => view! { <AppShell><PriceBookPage /></AppShell> },
    RoiRoute => view! { <AppShell><RoiPage /></AppShell> },
    MaturityRoute => view! { <AppShell><MaturityPage /></AppShell> },
    ChannelsRoute => view! { <AppShell><ChannelsPage /></AppShell> },
    ApprovalsRoute => view! { <AppShell><ApprovalsPage /></AppShell> },
    PoliciesRoute => view! { <AppShell><PoliciesPage /></AppShell> },
    ComplianceRoute => view! { <AppShell><CompliancePage /></AppShell> },
    TeamsRoute => view! { <AppShell><TeamsPage /></AppShell> },
);
