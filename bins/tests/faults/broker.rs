//! The broker restarted under everything.

use super::*;

/// Restarts the broker (`scripts/kafka.sh restart`: same ports, same log directory) while the
/// producer, two processors and the dashboard run; none of them is restarted, all carry on,
/// and the idempotent producer's retries put no entry on its topic twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_the_broker_restarts_under_the_running_pipeline() {
    scenario("broker-restart", |logs| async move {
        let mut run = Run::start(
            "broker-restart",
            logs,
            Plan {
                members: 2,
                speed: 300,
            },
        )
        .await;
        run.wait_counting(0, RECOVERY).await;
        run.wait_counting(1, RECOVERY).await;
        run.wait_board_moving().await;
        run.assert_producing("the broker restart");
        let counted = run.watch().sum();
        run.phase(&format!(
            "restarting the broker ({counted} of {} entries counted)",
            run.expected.entries
        ));
        let restarted = Instant::now();
        let printed = control_broker(package_root(), "restart", Duration::from_secs(240)).await;
        run.phase(&format!(
            "broker restarted in {:.1} s: {}",
            restarted.elapsed().as_secs_f64(),
            printed.trim()
        ));
        run.assert_running();
        // Everyone carries on: new counts are committed after the restart.
        let deadline = Instant::now() + RECOVERY;
        let after = run.watch().sum();
        while run.watch().sum() == after {
            run.assert_running();
            assert!(
                Instant::now() < deadline,
                "nothing was counted within {RECOVERY:?} of the broker restart"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        run.phase(&format!(
            "counting again after the restart ({} entries counted)",
            run.watch().sum()
        ));
        run.finish().await;
    })
    .await;
}
