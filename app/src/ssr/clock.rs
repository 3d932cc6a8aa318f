//! The one place the server reads the wall clock (UTC epoch ms). Domain code
//! takes `now` as a parameter instead.

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A new time-ordered id (UUIDv7) as TEXT.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
