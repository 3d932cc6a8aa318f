//! Settings that platform admins save from a page as one JSON document (the
//! admission policy, the ROI baseline): one row each, with who saved it and
//! when.

use super::Exec;

/// The tables that hold one saved document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Document {
    AdmissionPolicy,
    RoiBaseline,
}

impl Document {
    const fn table(self) -> &'static str {
        match self {
            Document::AdmissionPolicy => "admission_policy",
            Document::RoiBaseline => "roi_baseline",
        }
    }
}

/// The saved document, its saver's login and when: `None` if never saved.
pub async fn read<'c>(ex: impl Exec<'c>, which: Document) -> sqlx::Result<Option<(String, Option<String>, i64)>> {
    // The table name is one of ours, never input.
    let sql = format!(
        "SELECT d.doc, u.login, d.updated_at FROM {} d LEFT JOIN users u ON u.id = d.updated_by WHERE d.id = 1",
        which.table()
    );
    sqlx::query_as(&sql).fetch_optional(ex).await
}

/// Saves (or replaces) the document.
pub async fn save<'c>(ex: impl Exec<'c>, which: Document, doc: &str, by: &str, at: i64) -> sqlx::Result<()> {
    let sql = format!(
        "INSERT INTO {} (id, doc, updated_by, updated_at) VALUES (1, $1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, updated_by = excluded.updated_by, updated_at = excluded.updated_at",
        which.table()
    );
    sqlx::query(&sql).bind(doc).bind(by).bind(at).execute(ex).await?;
    Ok(())
}
