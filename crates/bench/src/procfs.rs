//! What the bench reads about processes and the machine from `/proc`: a server's CPU time and memory, the
//! cores, CPU model and memory of the machine.

use anyhow::{Context, anyhow};

/// User + system CPU seconds process `pid` has used so far (threads that ended included).
pub fn cpu_secs(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).with_context(|| format!("process {pid}"))?;
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis are plain.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).ok_or_else(|| anyhow!("unreadable /proc/{pid}/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3, so utime (14) and stime (15) are at 11 and 12. Linux reports them in
    // USER_HZ, which is 100 on every architecture Linux exports to user space.
    let ticks = |i: usize| -> anyhow::Result<f64> {
        Ok(fields.get(i).ok_or_else(|| anyhow!("short /proc/{pid}/stat"))?.parse::<f64>()?)
    };
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

/// A `/proc/PID/status` field in KiB (`VmRSS`, `VmHWM`).
pub fn status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).with_context(|| format!("process {pid}"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .ok_or_else(|| anyhow!("no {field} for process {pid}"))?;
    Ok(line.split_whitespace().nth(1).unwrap_or("0").parse()?)
}

/// Resident memory of `pid` in KiB.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    status_kib(pid, "VmRSS")
}

/// The soft limit on open files of `pid`.
pub fn open_files_limit(pid: u32) -> anyhow::Result<u64> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits"))?;
    let line = limits.lines().find(|l| l.starts_with("Max open files")).ok_or_else(|| anyhow!("no fd limit"))?;
    let soft = line.split_whitespace().nth(3).unwrap_or("0");
    Ok(if soft == "unlimited" { u64::MAX } else { soft.parse()? })
}

/// The machine the figures were measured on.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Machine {
    /// Cores the process may use.
    pub cores: usize,
    /// CPU model name.
    pub cpu: String,
    /// Memory in GiB.
    pub memory_gib: f64,
    /// Kernel release.
    pub kernel: String,
    /// The open-files limit (soft/hard) of the bench process after raising it.
    pub open_files: String,
}

impl Machine {
    /// Reads this machine.
    pub fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim()))
            .unwrap_or("unknown")
            .to_string();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap_or((0, 0));
        Machine {
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            cpu,
            memory_gib: (kib / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string(),
            open_files: format!("{soft}/{hard}"),
        }
    }
}
