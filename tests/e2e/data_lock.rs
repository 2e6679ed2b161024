//! One node per data directory: a second `serve` on a directory a running
//! node holds exits with an error naming the directory and the holder's pid;
//! once the holder is gone (even SIGKILLed), a new node starts on it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{free_port, NodeProcess};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_node_on_the_same_data_directory_is_refused_until_the_first_is_gone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = NodeProcess::start(dir.path()).await;
    let holder = std::fs::read_to_string(dir.path().join("node.lock")).expect("lock file");
    let holder = holder.trim();

    let logs = tempfile::tempdir().expect("tempdir");
    let stderr_path = logs.path().join("second.err");
    let mut second = Command::new(env!("CARGO_BIN_EXE_connectors"))
        .arg("serve")
        .arg("--data")
        .arg(dir.path())
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", free_port()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("run the connectors binary");
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = second.try_wait().expect("wait for the second node") {
            break exit;
        }
        if Instant::now() > deadline {
            let _ = second.kill();
            let _ = second.wait();
            panic!("a second node started on a data directory another node holds");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let stderr = std::fs::read_to_string(&stderr_path).expect("stderr");
    assert_eq!(exit.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert_eq!(
        last,
        format!(
            "error: the data directory {} is in use by another node (pid {holder}); stop it, \
             or choose another directory with `--data <dir>`",
            dir.path().display()
        ),
        "{stderr}"
    );

    first.kill();
    let again = NodeProcess::start(dir.path()).await;
    let (status, _) = again.get("/connectors").await;
    assert_eq!(status, 200, "{}", again.log());
}
