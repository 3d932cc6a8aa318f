#![recursion_limit = "256"]
//! The browser entry point: loads the part of the code the page needs (each
//! route is its own chunk), hydrates the server-rendered page, then marks
//! `<html data-hydrated>` so tests (and people debugging) know clicks now work,
//! and only then opens the live-update stream.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Hydration waits for the route's chunk to load, so it runs as a task.
    wasm_bindgen_futures::spawn_local(async {
        let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
        let Some(body) = document.body() else { return };
        let owner = leptos::mount::hydrate_from_async(body, app::App).await;
        owner.forget();
        app::components::live::hydration_done();
        if let Some(root) = document.document_element() {
            let _ = root.set_attribute("data-hydrated", "true");
        }
    });
}
