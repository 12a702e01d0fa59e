//! The dashboard killed and restarted.

use super::*;

/// Kills the dashboard with `kill -9` two thirds into the run and starts it again on the same
/// address: it rebuilds the very same board from the topics while the producer goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the fault suite: run by scripts/test.sh on the secured cluster (see its doc)"]
async fn faults_kill_9_the_dashboard_and_it_rebuilds_the_same_board() {
    scenario("dashboard", |logs| async move {
        let mut run = Run::start(
            "dashboard",
            logs,
            Plan {
                members: 2,
                speed: 720,
            },
        )
        .await;
        // Late in the run, so that the new dashboard has hours of history to read back.
        let before = run.wait_board_hours(2).await;
        run.assert_producing("the dashboard kill");
        run.dashboard.kill9().await;
        run.phase(&format!(
            "kill -9 {} while it showed {} entries at {:?}",
            run.dashboard.label(),
            before.totals.entries,
            before.simulated_time
        ));
        run.dashboard = run.launcher.restart(&run.dashboard);
        run.wait_dashboard().await;
        run.phase(&format!("{} serving again", run.dashboard.label()));
        run.finish().await;
    })
    .await;
}
