//! A strict check of a Prometheus text page: `prometheus_client`'s parser (the reference
//! Python client's, from the test venv, `TRANSIT_TEST_PYTHON`) and the declarations it lets
//! pass (`python/prometheus_check.py`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

/// One sample of a parsed page.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: serde_json::Map<String, serde_json::Value>,
    pub value: Option<f64>,
}

impl Sample {
    /// The value of label `name`, if the sample has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).and_then(serde_json::Value::as_str)
    }
}

/// The Python of the test venv.
pub fn python() -> PathBuf {
    const VAR: &str = "TRANSIT_TEST_PYTHON";
    let python = std::env::var_os(VAR).unwrap_or_else(|| {
        panic!(
            "{VAR} is not set: this test parses /metrics with prometheus_client from PyPI. Run \
             scripts/test.sh, or `source scripts/python.sh; need_python_venv` first"
        )
    });
    let python = PathBuf::from(python);
    assert!(python.is_file(), "{VAR}={} is not a file", python.display());
    python
}

/// Parses `page` strictly; panics with the parser's reason when it is not valid. Returns its
/// samples.
pub async fn parse(page: &str) -> Vec<Sample> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/prometheus_check.py");
    let mut child = tokio::process::Command::new(python())
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starting the Python of the test venv");
    let mut stdin = child.stdin.take().expect("the child's stdin");
    stdin.write_all(page.as_bytes()).await.unwrap();
    drop(stdin);
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the Prometheus check took over a minute")
        .unwrap();
    assert!(
        output.status.success(),
        "the page is not valid Prometheus text: {}\n--- page ---\n{page}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let sample: serde_json::Value = serde_json::from_str(line).unwrap();
            Sample {
                name: sample["name"].as_str().unwrap_or_default().to_string(),
                labels: sample["labels"].as_object().cloned().unwrap_or_default(),
                value: sample["value"].as_f64(),
            }
        })
        .collect()
}
