//! The one place the server reads the wall clock (UTC epoch ms). Domain code
//! takes `now` as a parameter instead.

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A new time-ordered id (UUIDv7) as TEXT.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A time-ordered id for something that happened at `epoch_ms` (used when
/// recording history, so ids still sort by time).
pub fn id_at(epoch_ms: i64) -> String {
    let ms = epoch_ms.max(0) as u64;
    let ts = uuid::Timestamp::from_unix(uuid::NoContext, ms / 1000, ((ms % 1000) * 1_000_000) as u32);
    uuid::Uuid::new_v7(ts).to_string()
}
