//! `aiperf calibrate` measures the host's client capacity against the embedded zero-latency
//! mock, writes `calibration.json`, and a later run that asks for more is warned.

mod common;
use aiperf::artifacts::calibration::Calibration;
use common::*;

#[test]
fn calibrate_writes_its_file_and_a_run_asking_for_more_is_warned() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("cache/calibration.json");
    let out = aiperf()
        .env("AIPERF_CALIBRATION", &file)
        .args([
            "calibrate",
            "--concurrency",
            "1,4",
            "--seconds",
            "1",
            "--artifact-dir",
        ])
        .arg(tmp.path().join("runs"))
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("this host can drive about"), "{stdout}");
    let calibration: Calibration = round_trip(&file);
    assert_eq!(
        calibration
            .points
            .iter()
            .map(|p| p.concurrency)
            .collect::<Vec<_>>(),
        [1, 4]
    );
    assert!(calibration.max_request_rate > 0.0);
    assert!(calibration.added_ttft_p50_ms.is_some());
    assert!(calibration.half_load_rate >= 1.0);
    assert!(
        tmp.path()
            .join("runs/half_load/profile_export_aiperf.json")
            .is_file()
    );

    // A run asking for ten times the measured maximum is warned before it starts.
    let rate = (calibration.max_request_rate * 10.0).ceil();
    let run = MockProfile::new("ttft_ms=1&itl_ms=1")
        .rate(rate)
        .requests(5)
        .env("AIPERF_CALIBRATION", file.to_string_lossy())
        .run(&tmp.path().join("asks-more"));
    assert_exit(&run, 0);
    assert!(
        stderr(&run).contains("this host's client reached at most"),
        "{}",
        stderr(&run)
    );
    // Within the measured capacity: no warning.
    let run = MockProfile::new("ttft_ms=1&itl_ms=1")
        .rate(1.0)
        .requests(2)
        .env("AIPERF_CALIBRATION", file.to_string_lossy())
        .run(&tmp.path().join("within"));
    assert_exit(&run, 0);
    assert!(
        !stderr(&run).contains("aiperf calibrate"),
        "{}",
        stderr(&run)
    );
}

#[test]
fn calibrate_refuses_values_out_of_range() {
    for args in [
        ["--seconds", "0"],
        ["--concurrency", "0"],
        ["--concurrency", "5000"],
    ] {
        let out = aiperf().arg("calibrate").args(args).output().unwrap();
        assert_exit(&out, 2);
    }
}
