//! The source's queries: incrementing reads, and the re-scan's reads.

use tokio_postgres::Client;

use crate::table::{TableRow, COLUMNS};

/// Up to `limit` rows with `stop_id` above `after`, in `stop_id` order: Kafka Connect's
/// incrementing-mode query.
pub(super) async fn rows_after(
    client: &Client,
    after: i64,
    limit: i64,
) -> Result<Vec<TableRow>, tokio_postgres::Error> {
    // `$1::bigint` so that "before the first row" (i64::MIN) is expressible; the integer
    // column compares with a bigint through the same btree index.
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM stations WHERE stop_id > $1::bigint ORDER BY stop_id LIMIT $2"
            ),
            &[&after, &limit],
        )
        .await?;
    rows.iter().map(TableRow::read).collect()
}

/// Every `stop_id` up to `up_to`, for the re-scan.
pub(super) async fn stop_ids_up_to(
    client: &Client,
    up_to: i64,
) -> Result<Vec<i32>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT stop_id FROM stations WHERE stop_id <= $1::bigint ORDER BY stop_id",
            &[&up_to],
        )
        .await?;
    rows.iter().map(|row| row.try_get(0)).collect()
}

/// The rows with these `stop_id`s, in `stop_id` order.
pub(super) async fn rows_with_ids(
    client: &Client,
    ids: &[i32],
) -> Result<Vec<TableRow>, tokio_postgres::Error> {
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM stations WHERE stop_id = ANY($1) ORDER BY stop_id"),
            &[&ids],
        )
        .await?;
    rows.iter().map(TableRow::read).collect()
}
