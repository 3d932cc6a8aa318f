//! Queries, one module per aggregate. Every function takes an executor so a
//! service can compose several of them in one transaction (with the audit
//! append and the job enqueue).

pub mod approvals;
pub mod apps;
pub mod audit;
pub mod deployments;
pub mod documents;
pub mod environments;
pub mod idempotency_keys;
pub mod jobs;
pub mod measurements;
pub mod meta;
pub mod preview_access;
pub mod resources;
pub mod teams;
pub mod tokens;
pub mod users;
pub mod webhooks;

/// The executor bound every store function accepts: a pool, a connection or
/// `&mut *transaction`.
pub trait Exec<'c>: sqlx::Executor<'c, Database = sqlx::Any> {}
impl<'c, T: sqlx::Executor<'c, Database = sqlx::Any>> Exec<'c> for T {}

/// A 0/1 BIGINT flag column read as `bool` (`#[sqlx(try_from = "Flag")]`)
/// and written with [`flag`]. See the schema's note on flags.
pub struct Flag(i64);

impl sqlx::Type<sqlx::Any> for Flag {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <i64 as sqlx::Type<sqlx::Any>>::type_info()
    }
    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <i64 as sqlx::Type<sqlx::Any>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Any> for Flag {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(Flag(<i64 as sqlx::Decode<sqlx::Any>>::decode(value)?))
    }
}

impl From<Flag> for bool {
    fn from(f: Flag) -> bool {
        f.0 != 0
    }
}

/// The value to bind for a flag column.
pub fn flag(b: bool) -> i64 {
    i64::from(b)
}
