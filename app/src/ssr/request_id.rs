//! The id of the request being served, for the jobs it enqueues: a job
//! carries it in its payload, and the worker logs under it, so one id
//! follows a click from the HTTP request to the environment it started.

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Runs `fut` as the request `id`.
pub async fn scope<F: std::future::Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}

/// The current request's id, if serving one.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(|id| id.clone()).ok()
}
