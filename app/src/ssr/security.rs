//! The Content-Security-Policy of a rendered page. Leptos puts a fresh
//! nonce on every inline script it writes (hydration, streamed resources),
//! so the policy allows scripts from this origin and those inline scripts
//! only; anything injected without the nonce does not run.

/// Sets the page's policy on the response being rendered (called from the
/// shell, before the first byte is sent).
pub fn set_page_policy() {
    let Some(nonce) = leptos::nonce::use_nonce() else { return };
    if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(value) = http::HeaderValue::from_str(&page_policy(&nonce.to_string())) {
            response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
}

/// The policy of an HTML page whose inline scripts carry `nonce`.
/// `'wasm-unsafe-eval'` lets the page compile its WebAssembly; inline style
/// attributes (bars, widths) need `'unsafe-inline'` for styles only.
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn pages_refuse_framing_and_foreign_scripts() {
        let policy = super::page_policy("abc");
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(policy.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval';"));
        assert!(!policy.contains("script-src 'self' 'unsafe-inline'"));
    }
}
