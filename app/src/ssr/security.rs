//! The Content-Security-Policy of a rendered page. Leptos puts a fresh
//! nonce on every inline script it writes (hydration, streamed resources),
//! so the policy allows scripts from this origin and those inline scripts
//! only; anything injected without the nonce does not run.

/// Sets the page's policy on the response being rendered (called from the
/// shell, before the first byte is sent).
pub fn set_page_policy() {
    let Some(nonce) = leptos::nonce::use_nonce() else { return };
    let previews = crate::ssr::context::app_state().ok().map(|s| preview_hosts(&s.settings.preview_urls));
    if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(value) = http::HeaderValue::from_str(&page_policy(&nonce.to_string(), previews.as_deref())) {
            response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
}

/// The policy of an HTML page whose inline scripts carry `nonce`.
/// `'wasm-unsafe-eval'` lets the page compile its WebAssembly; inline style
/// attributes (bars, widths) need `'unsafe-inline'` for styles only. Forms
/// post to the portal, whose answer may redirect on to a preview host (a
/// sign-in that came from a protected preview): `previews` allows those.
pub fn page_policy(nonce: &str, previews: Option<&str>) -> String {
    let previews = previews.map(|p| format!(" {p}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'{previews}; frame-ancestors 'none'"
    )
}

/// Every preview host as a CSP source: `http://*.localhost:3000`.
pub fn preview_hosts(base: &crate::domain::preview_url::PreviewUrlBase) -> String {
    match base.port {
        Some(p) => format!("{}://*.{}:{p}", base.scheme, base.domain),
        None => format!("{}://*.{}", base.scheme, base.domain),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn pages_refuse_framing_and_foreign_scripts() {
        let policy = super::page_policy("abc", Some("http://*.localhost:3000"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(policy.contains("form-action 'self' http://*.localhost:3000;"));
        assert!(policy.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval';"));
        assert!(!policy.contains("script-src 'self' 'unsafe-inline'"));
    }
}
