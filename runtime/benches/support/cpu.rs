//! CPU time a process has used (user + system), from `/proc/<pid>/stat`:
//! on a shared machine, work per event is steadier than a rate.

use std::process::Command;
use std::sync::OnceLock;

/// CPU seconds `pid` has used so far (0 where `/proc` cannot tell).
pub fn cpu_seconds_of(pid: u32) -> f64 {
    cpu_seconds_in(&format!("/proc/{pid}/stat"))
}

/// CPU seconds this process has used so far (0 where `/proc` cannot tell).
pub fn own_cpu_seconds() -> f64 {
    cpu_seconds_in("/proc/self/stat")
}

fn cpu_seconds_in(path: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(path) else {
        return 0.0;
    };
    // The fields after the command name (which may hold spaces) in `(...)`:
    // utime and stime are the 14th and 15th of the line, the 12th and 13th
    // after the name.
    let ticks: u64 = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|field| field.parse::<u64>().ok())
        .sum();
    ticks as f64 / ticks_per_second()
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 on Linux almost always).
fn ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
            .unwrap_or(100.0)
    })
}
