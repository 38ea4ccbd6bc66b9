//! The client-bound verdict: every run measures its own headroom (CPU, event loop delay,
//! processor queue) and says when the client, not the server, set its numbers. Both cases run
//! in one test, one after the other, so neither is measured while the other loads the machine.

mod common;
use aiperf::artifacts::run_metadata::RunMetadata;
use aiperf::artifacts::summary::RunSummaryFile;
use common::*;

fn metadata(dir: &std::path::Path) -> RunMetadata {
    aiperf::artifacts::io::read(&dir.join("run_metadata.json")).unwrap()
}

#[test]
fn a_saturated_client_is_flagged_and_a_light_run_is_not() {
    let tmp = tempfile::tempdir().unwrap();

    // Light: one stream at a time against a mock with real latencies; the client idles.
    let light = tmp.path().join("light");
    let out = MockProfile::new("ttft_ms=20&itl_ms=5")
        .streaming()
        // 40 requests (about 2.4 s): long enough that one ordinary scheduling hiccup of a busy
        // test machine stays below the host-stall share that flags a run.
        .requests(40)
        .concurrency(1)
        .tokens(16, 8)
        .run(&light);
    assert_exit(&out, 0);
    let meta = metadata(&light);
    let h = &meta.load_verdict.client_headroom;
    assert!(h.event_loop_samples > 0, "{h:?}");
    assert!(h.cores >= 1);
    assert!(h.cpu_utilization.unwrap() < 0.5, "{h:?}");
    // 2 MiB per record processor.
    assert!(
        h.processor_queue_capacity_bytes > 0 && h.processor_queue_capacity_bytes % (2 << 20) == 0,
        "{h:?}"
    );
    assert!(h.processor_queue_max_bytes < h.processor_queue_capacity_bytes / 2);
    assert_eq!(h.processor_queue_waits, 0, "{h:?}");
    let host = h
        .host_cpu_utilization
        .expect("the host's CPU is read (Linux)");
    assert!((0.0..=1.0).contains(&host), "{h:?}");
    assert!(h.host_cores >= h.cores, "{h:?}");
    assert!(
        h.host_stall_max_ms.is_some(),
        "the sampler measured its own wake-ups: {h:?}"
    );
    assert!(!meta.load_verdict.client_bound, "{:?}", meta.load_verdict);
    let summary: RunSummaryFile =
        aiperf::artifacts::io::read(&light.join("profile_export_aiperf.json")).unwrap();
    assert_eq!(summary.client_bound, Some(false));

    // Saturated: pinned to one core, 64 streams against the embedded mock at zero latency, so
    // the process (client and mock) has no idle time at all.
    let busy = tmp.path().join("busy");
    let mut cmd = std::process::Command::new("taskset");
    let profile = MockProfile::new("ttft_ms=0&itl_ms=0")
        .streaming()
        .concurrency(64)
        .duration(3.0)
        .tokens(16, 8)
        .arg("--threshold", "request_throughput > 100000000");
    let inner = profile.command(&busy);
    cmd.arg("-c")
        .arg("0")
        .arg(inner.get_program())
        .args(inner.get_args());
    let out = cmd.output().unwrap();
    // The threshold fails, and says the failure may be the client's.
    assert_exit(&out, 9);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("the failure may be the client's"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let meta = metadata(&busy);
    let h = &meta.load_verdict.client_headroom;
    assert_eq!(h.cores, 1, "taskset -c 0 leaves one usable core");
    assert!(meta.load_verdict.client_bound, "{:?}", meta.load_verdict);
    assert!(
        meta.load_verdict
            .explanation
            .starts_with("the client, not the server, limited this run"),
        "{}",
        meta.load_verdict.explanation
    );
    assert!(
        stderr(&out).contains("the client, not the server, limited this run"),
        "the console says so: {}",
        stderr(&out)
    );
    let summary: RunSummaryFile =
        aiperf::artifacts::io::read(&busy.join("profile_export_aiperf.json")).unwrap();
    assert_eq!(summary.client_bound, Some(true));

    // A comparison with it warns that the candidate's numbers are the client's.
    let out = aiperf()
        .args([
            "compare",
            "--allow-different",
            "--metric",
            "request_error_rate",
        ])
        .arg(tmp.path().join("light"))
        .arg(&busy)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let compared =
        aiperf::artifacts::compare_file::CompareFile::read(&busy.join("compare.json")).unwrap();
    assert_eq!(compared.client_bound, ["candidate run: 1 of 1 run(s)"]);
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("the client, not the server, limited candidate run")
    );
}

/// A host that runs none of aiperf for a while (here: the process stopped with SIGSTOP for
/// 400 ms, as a descheduled vCPU or a busy hypervisor would) makes every latency of that moment
/// the host's. The run says so instead of reporting a slow server.
#[test]
fn a_host_that_stops_the_client_is_named_as_the_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("stopped");
    let child = MockProfile::new("ttft_ms=5&itl_ms=2")
        .streaming()
        .concurrency(4)
        .duration(4.0)
        .tokens(16, 8)
        .command(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let pid = child.id() as i32;
    // SAFETY: `pid` is our own child, still running (its phase lasts 4 s).
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    std::thread::sleep(std::time::Duration::from_millis(400));
    unsafe { libc::kill(pid, libc::SIGCONT) };
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 0);
    let meta = metadata(&dir);
    let h = &meta.load_verdict.client_headroom;
    assert!(h.host_stalls >= 1, "{h:?}");
    assert!(h.host_stall_max_ms.unwrap() >= 350.0, "{h:?}");
    assert!(h.host_stalled_fraction.unwrap() >= 0.05, "{h:?}");
    assert!(meta.load_verdict.client_bound, "{:?}", meta.load_verdict);
    assert!(
        meta.load_verdict
            .explanation
            .contains("the host stalled it"),
        "{}",
        meta.load_verdict.explanation
    );
    assert!(
        stderr(&out).contains("the host stalled it"),
        "{}",
        stderr(&out)
    );
}
