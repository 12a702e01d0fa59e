//! Processes of the `transit` binary run by a test, and what a fault test does to them: each
//! process with its own log files, signals (`kill -9`, `SIGSTOP` and `SIGCONT`, Ctrl+C),
//! waits on what its log says, and the test broker restarted by `scripts/kafka.sh`.
//!
//! Every process is killed when its handle drops (also a stopped one: SIGKILL ends it), so a
//! failing test leaves nothing running. Each start of a process writes new files
//! (`<name>.<n>.stderr`, `<name>.<n>.stdout`), so a restarted process's log does not hide the
//! one before it; [`LogDir::tails`] shows the last lines of all of them for a failure message.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::time::Instant;

/// Characters of a log line a failure message shows: partition lists make some lines
/// kilobytes long, and their start says enough.
const LINE_CHARS: usize = 400;

/// How often log files and exits are looked at while waiting.
const POLL: Duration = Duration::from_millis(100);

/// Where the processes' log directories go, and stay after a test that passed:
/// `scripts/test.sh` sets it to search every log of the run for secrets.
pub const LOG_DIR_VAR: &str = "TRANSIT_TEST_LOG_DIR";

/// A directory for the logs of a test's processes.
#[derive(Debug, Clone)]
pub struct LogDir {
    dir: PathBuf,
}

impl LogDir {
    /// A new directory named after `name`, under [`LOG_DIR_VAR`]'s directory when it is set,
    /// else under the system's temporary directory.
    pub fn create(name: &str) -> Self {
        let base = std::env::var_os(LOG_DIR_VAR)
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let dir = base.join(transit_core::testing::unique_name(name));
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("creating the log directory {}: {e}", dir.display()));
        Self { dir }
    }

    /// Where the logs are.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The last `lines` lines of every stderr file, oldest file first, for a failure message.
    pub fn tails(&self, lines: usize) -> String {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .filter_map(|entry| entry.ok().map(|e| e.path()))
                    .filter(|path| path.extension().is_some_and(|e| e == "stderr"))
                    .map(|path| {
                        let created = std::fs::metadata(&path)
                            .and_then(|m| m.created().or_else(|_| m.modified()))
                            .unwrap_or(std::time::UNIX_EPOCH);
                        (created, path)
                    })
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        let mut out = format!("the processes' logs are in {}", self.dir.display());
        for (_, path) in files {
            let text = read_lossy(&path);
            let all: Vec<&str> = text.lines().collect();
            let from = all.len().saturating_sub(lines);
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let _ = write!(out, "\n---- last lines of {name} ----");
            for line in &all[from..] {
                let _ = write!(out, "\n{}", shorten(line));
            }
        }
        out
    }

    /// Removes the directory (after a test that passed), unless [`LOG_DIR_VAR`] asks for the
    /// logs to stay.
    pub fn remove(&self) {
        if std::env::var_os(LOG_DIR_VAR).is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// Fails if a file in the directory shows one of `secrets` (passwords), naming the file
    /// and the secret's `what`, never the secret.
    pub fn assert_no_secret(&self, secrets: &[(String, String)]) {
        let files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        for path in files {
            let text = read_lossy(&path);
            for (what, secret) in secrets {
                assert!(
                    secret.is_empty() || !text.contains(secret.as_str()),
                    "{} shows {what}",
                    path.display()
                );
            }
        }
    }
}

/// `line` cut to 400 characters, with a mark when it was cut.
pub fn shorten(line: &str) -> String {
    match line.char_indices().nth(LINE_CHARS) {
        Some((at, _)) => format!("{} …", &line[..at]),
        None => line.to_string(),
    }
}

fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

/// Starts processes of one binary with their logs in one [`LogDir`], numbering the starts of
/// each name.
#[derive(Debug)]
pub struct Launcher {
    binary: PathBuf,
    logs: LogDir,
    env: Vec<(String, String)>,
    starts: std::collections::HashMap<String, u32>,
}

impl Launcher {
    /// A launcher of `binary`, writing logs into `logs`. Every process gets `NO_COLOR=1`.
    pub fn new(binary: PathBuf, logs: LogDir) -> Self {
        Self {
            binary,
            logs,
            env: vec![("NO_COLOR".into(), "1".into())],
            starts: std::collections::HashMap::new(),
        }
    }

    /// Sets `key=value` in the environment of every process started from now on.
    pub fn env(&mut self, key: &str, value: &str) {
        self.env.push((key.to_string(), value.to_string()));
    }

    /// The log directory.
    pub fn logs(&self) -> &LogDir {
        &self.logs
    }

    /// Starts the binary with `args` as the process `name` (a name the test chooses, such as
    /// `process-a`); a second start of the same name is its restart, with logs of its own.
    pub fn start(&mut self, name: &str, args: &[String]) -> Proc {
        let start = self.starts.entry(name.to_string()).or_insert(0);
        *start += 1;
        let label = format!("{name}#{start}");
        let base = format!("{}.{start}", name.replace([' ', '/'], "-"));
        let stderr = self.logs.path().join(format!("{base}.stderr"));
        let stdout = self.logs.path().join(format!("{base}.stdout"));
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("a stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("a stderr file"))
            .kill_on_drop(true);
        for (key, value) in &self.env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {label} ({}): {e}", self.binary.display()));
        let pid = child.id().expect("a process just started has an id");
        Proc {
            label,
            name: name.to_string(),
            args: args.to_vec(),
            child,
            pid,
            stderr,
            stdout,
            exit: None,
        }
    }

    /// Starts `proc`'s command again under the same name (its restart).
    pub fn restart(&mut self, proc: &Proc) -> Proc {
        let args = proc.args.clone();
        self.start(&proc.name, &args)
    }
}

/// One running (or ended) process started by a [`Launcher`].
#[derive(Debug)]
pub struct Proc {
    label: String,
    name: String,
    args: Vec<String>,
    child: Child,
    pid: u32,
    stderr: PathBuf,
    stdout: PathBuf,
    exit: Option<ExitStatus>,
}

impl Proc {
    /// Its name and start number, e.g. `process-a#2`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The name it was started under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Writes the stack of each of its threads beside its log (`<name>.<start>.stacks`), with
    /// gdb where it is installed, for a failure that looks like a stall: the log says what the
    /// process did, not where it waits. Returns the file, or why there is none.
    pub async fn dump_stacks(&self) -> Result<PathBuf, String> {
        let path = self.stderr.with_extension("stacks");
        let file = std::fs::File::create(&path)
            .map_err(|e| format!("creating {}: {e}", path.display()))?;
        let errors = file
            .try_clone()
            .map_err(|e| format!("opening {}: {e}", path.display()))?;
        let mut gdb = Command::new("gdb")
            .args([
                "-p",
                &self.pid.to_string(),
                "-batch",
                "-ex",
                "thread apply all bt 40",
            ])
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(errors)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("gdb could not start ({e}): no stacks for {}", self.label))?;
        match tokio::time::timeout(Duration::from_secs(60), gdb.wait()).await {
            Ok(Ok(_)) => Ok(path),
            Ok(Err(e)) => Err(format!("gdb failed on {}: {e}", self.label)),
            Err(_) => Err(format!("gdb took over 60 s on {}", self.label)),
        }
    }

    /// What it wrote to stderr so far (its log).
    pub fn log(&self) -> String {
        read_lossy(&self.stderr)
    }

    /// What it wrote to stdout so far.
    pub fn stdout(&self) -> String {
        read_lossy(&self.stdout)
    }

    /// Its exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit = Some(status);
            }
        }
        self.exit
    }

    /// Fails unless it is still running.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.exited() {
            panic!(
                "{} exited ({status}) while it should run; its last lines:\n{}",
                self.label,
                self.last_lines(15)
            );
        }
    }

    /// The last `count` lines of its log.
    pub fn last_lines(&self, count: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(count)..]
            .iter()
            .map(|line| shorten(line))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Sends `signal` (a name `kill -s` takes: `STOP`, `CONT`, `INT`, `KILL`...).
    pub fn signal(&mut self, signal: &str) {
        self.assert_running();
        let status = std::process::Command::new("kill")
            .args(["-s", signal, &self.pid.to_string()])
            .status()
            .expect("running kill");
        assert!(
            status.success(),
            "kill -s {signal} {} ({}) failed",
            self.pid,
            self.label
        );
    }

    /// `kill -9`: the process dies at once, in whatever it was doing; waits until it is gone.
    pub async fn kill9(&mut self) {
        self.assert_running();
        self.child
            .kill()
            .await
            .unwrap_or_else(|e| panic!("kill -9 {} ({}): {e}", self.pid, self.label));
        self.exit = self.child.try_wait().ok().flatten();
    }

    /// `SIGSTOP`: the process is frozen (every thread), as by a long GC pause or a stalled VM.
    pub fn pause(&mut self) {
        self.signal("STOP");
    }

    /// `SIGCONT`: a paused process carries on.
    pub fn resume(&mut self) {
        self.signal("CONT");
    }

    /// Waits up to `limit` for the process to exit by itself; returns its status.
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        if let Some(status) = self.exit {
            return status;
        }
        let status = tokio::time::timeout(limit, self.child.wait())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{} did not exit within {limit:?}; its last lines:\n{}",
                    self.label,
                    self.last_lines(10)
                )
            })
            .unwrap_or_else(|e| panic!("waiting for {}: {e}", self.label));
        self.exit = Some(status);
        status
    }

    /// Ctrl+C (SIGINT), then waits up to `limit` for it to exit, which must be with status 0.
    pub async fn interrupt(&mut self, limit: Duration) {
        self.signal("INT");
        let status = self.wait_exit(limit).await;
        assert!(
            status.success(),
            "{} exited with {status} after Ctrl+C, not 0; its last lines:\n{}",
            self.label,
            self.last_lines(15)
        );
    }

    /// Ctrl+C (SIGINT), then waits up to `limit` for it to exit: with 0 when it finished what
    /// it held within its grace, or with 130 when that took longer and it abandoned it, saying
    /// so on its last line (a transaction left open is aborted by the broker and its input
    /// processed again: the stop a loaded machine may give). Returns whether it finished.
    pub async fn interrupt_or_abandon(&mut self, limit: Duration) -> bool {
        self.signal("INT");
        let status = self.wait_exit(limit).await;
        if status.success() {
            return true;
        }
        let said = self.last_lines(3);
        assert!(
            status.code() == Some(130) && said.contains("stopped by Ctrl+C while"),
            "{} exited with {status} after Ctrl+C, neither 0 nor 130 saying what it abandoned; \
             its last lines:\n{}",
            self.label,
            self.last_lines(15)
        );
        false
    }

    /// Waits up to `limit` until its log has a line with every one of `needles`, failing if
    /// the process exits first; returns the line.
    pub async fn wait_for_line(&mut self, needles: &[&str], limit: Duration) -> String {
        self.wait_for_lines(needles, 1, limit).await
    }

    /// Waits up to `limit` until its log has `count` lines with every one of `needles`,
    /// failing if the process exits first; returns the last of them.
    pub async fn wait_for_lines(
        &mut self,
        needles: &[&str],
        count: usize,
        limit: Duration,
    ) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let log = self.log();
            let found: Vec<&str> = log
                .lines()
                .filter(|line| needles.iter().all(|n| line.contains(n)))
                .collect();
            if found.len() >= count {
                return found[count - 1].to_string();
            }
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "{} logged {} of {count} lines with {needles:?} within {limit:?}; its last \
                 lines:\n{}",
                self.label,
                found.len(),
                self.last_lines(15)
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// The lines of its log with every one of `needles`.
    pub fn lines_with(&self, needles: &[&str]) -> Vec<String> {
        self.log()
            .lines()
            .filter(|line| needles.iter().all(|n| line.contains(n)))
            .map(str::to_string)
            .collect()
    }
}

/// The value of `key=` in a text log line (`tracing`'s `key=value` fields), up to the next
/// space, without quotes.
pub fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let pattern = format!(" {key}=");
    let start = line.find(&pattern)? + pattern.len();
    let rest = &line[start..];
    let end = rest.find(' ').unwrap_or(rest.len());
    Some(rest[..end].trim_matches('"'))
}

/// Runs `scripts/kafka.sh <command>` (`restart`, `stop`, `start`, `kill`; on a cluster with
/// the node after it, `kill 2`) from `root` (the package root) on the broker `scripts/kafka.sh`
/// started for the tests, named by `TRANSIT_TEST_KAFKA_CONTROL`; fails after `limit` or if the
/// script fails. Returns what it printed.
pub async fn control_broker(root: &Path, command: &str, limit: Duration) -> String {
    let control = std::env::var("TRANSIT_TEST_KAFKA_CONTROL").unwrap_or_else(|_| {
        panic!(
            "TRANSIT_TEST_KAFKA_CONTROL is not set: a test that restarts the broker needs the \
             broker scripts/kafka.sh started (run it as `scripts/kafka.sh cargo test ...`)"
        )
    });
    let script = root.join("scripts/kafka.sh");
    let run = Command::new("bash")
        .arg(&script)
        .args(command.split_whitespace())
        .current_dir(root)
        .env("TRANSIT_TEST_KAFKA_CONTROL", &control)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(limit, run)
        .await
        .unwrap_or_else(|_| panic!("scripts/kafka.sh {command} did not finish within {limit:?}"))
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "scripts/kafka.sh {command} failed ({}): {printed}",
        output.status
    );
    printed
}

/// A small deterministic random source for choosing when to strike (xorshift64*): the test
/// prints its seed, so a failing run's choices can be replayed.
#[derive(Debug, Clone)]
pub struct Dice {
    state: u64,
}

impl Dice {
    /// Seeded from `seed`, or from the clock when `None`; see [`Dice::seed`].
    pub fn new(seed: Option<u64>) -> Self {
        let seed = seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
        Self { state: seed.max(1) }
    }

    /// The seed now (pass it back to [`Dice::new`] to replay from here).
    pub fn seed(&self) -> u64 {
        self.state
    }

    /// A number in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D) % bound.max(1)
    }

    /// A duration in `from..to`.
    pub fn between(&mut self, from: Duration, to: Duration) -> Duration {
        let span = to.saturating_sub(from).as_millis() as u64;
        from + Duration::from_millis(self.below(span.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_a_text_log_line() {
        let line = "2026-12-01T16:17:04Z  INFO producer stopped; everything published is \
                    flushed published=76862 ticks=90";
        assert_eq!(field(line, "published"), Some("76862"));
        assert_eq!(field(line, "ticks"), Some("90"));
        assert_eq!(field(line, "missing"), None);
        let quoted = "INFO x processor=\"a-b\" millis=3";
        assert_eq!(field(quoted, "processor"), Some("a-b"));
    }

    #[test]
    fn dice_replay_from_their_seed() {
        let mut first = Dice::new(Some(42));
        let seed = first.seed();
        let a: Vec<u64> = (0..5).map(|_| first.below(1000)).collect();
        let mut again = Dice::new(Some(seed));
        let b: Vec<u64> = (0..5).map(|_| again.below(1000)).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|&n| n < 1000));
    }
}
