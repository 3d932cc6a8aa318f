#![recursion_limit = "256"]
//! The browser entry point: hydrates the server-rendered page, then marks
//! `<html data-hydrated>` so tests (and people debugging) know clicks now work.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    if let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
        let _ = root.set_attribute("data-hydrated", "true");
    }
}
