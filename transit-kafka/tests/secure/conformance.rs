//! The bus conformance suite (`transit_core::testing`) over the secured cluster's listeners.

use std::sync::Arc;

use transit_core::EventBus;
use transit_testkit::kafka::{config_from, connect_with, MTLS_VAR, SASL_SSL_VAR};

/// A bus on the SASL_SSL listener, SCRAM-SHA-512, as its properties file says.
async fn sasl_ssl_bus() -> Arc<dyn EventBus> {
    let config = config_from(SASL_SSL_VAR);
    assert_eq!(config.get("sasl.mechanisms"), Some("SCRAM-SHA-512"));
    Arc::new(connect_with(config).await)
}

/// A bus on the mTLS listener (a client certificate with an encrypted key).
async fn mtls_bus() -> Arc<dyn EventBus> {
    let config = config_from(MTLS_VAR);
    assert_eq!(config.get("security.protocol"), Some("SSL"));
    Arc::new(connect_with(config).await)
}

/// Each named case of the suite on `$make`'s bus, ignored outside the secured-cluster step.
macro_rules! secured_cases {
    ($module:ident, $make:path; $($name:ident),+ $(,)?) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs the secured cluster: scripts/kafka.sh --brokers 3 --security secure"]
                async fn $name() {
                    transit_core::testing::$name($make().await).await;
                }
            )+
        }
    };
}

secured_cases!(sasl_ssl, super::sasl_ssl_bus;
    publish_subscribe,
    per_key_order,
    explicit_partition,
    groups_share_partitions,
    commit_resume,
    start_latest_and_earliest,
    pattern_picks_up_new_topics,
    compaction_keeps_last_value,
    create_topic_is_idempotent,
    positions_track_lag,
    transactions_publish_and_commit_together,
    a_replaced_member_is_fenced,
);

secured_cases!(mtls, super::mtls_bus;
    publish_subscribe,
    groups_share_partitions,
    commit_resume,
    transactions_publish_and_commit_together,
);
