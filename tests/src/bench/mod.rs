//! The budget benchmark behind `cargo bench-budgets` (SPEC §6): every speed and size budget
//! measured in one run, each figure beside its reference on the same machine, then a table of
//! case | measured | reference | budget | verdict and a machine note.
//!
//! Like ripgrep's benchsuite, each case ([`cases`]) is named and documented, does warm-up runs,
//! takes repeated samples (medians, with min and p90), and the raw samples are kept in
//! `bench/runs/<date>-<host>.txt` with the table and the machine note.
//!
//! Everything runs in a private temp directory with its own `PANECHAT_HOME`, against the fake
//! provider ([`panechat_e2e::fake`]), with release builds of `panechat` and of the trivial
//! `hello` binary (`fn main() {}`) that the benchmark builds itself.

pub mod agent;
pub mod baseline;
pub mod cases;
pub mod hooks;
pub mod proc;
pub mod report;
pub mod stats;
pub mod tmux;
pub mod world;
pub mod zellij;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use report::Row;
use world::World;

const USAGE: &str = "\
usage: panechat-bench [--check] [--no-save] [--keep] [--only TEXT] [--baseline PANECHAT]

Measures the speed and size budgets of SPEC section 6 and prints each figure beside its
reference, its budget and a verdict. Run it as `cargo bench-budgets` (a release build).

  --check    exit 1 when any budget fails or a case cannot be measured (default: exit 0)
  --no-save  do not write bench/runs/<date>-<host>.txt
  --keep     keep the generated stores (the temp directory is printed) for inspection
  --only T   run only the cases whose name contains T (e.g. --only tmux)
  --baseline PANECHAT
             a panechat binary built from an earlier commit: the query-path case runs it
             side by side with this one (without it, that case says how to build one)

A baseline from commit C:
  git worktree add /tmp/panechat-base C
  cargo build --release --locked -p panechat --manifest-path /tmp/panechat-base/Cargo.toml \
    --target-dir /tmp/panechat-base/target
  cargo bench-budgets --only baseline --baseline /tmp/panechat-base/target/release/panechat
";

struct Options {
    only: Option<String>,
    check: bool,
    save: bool,
    keep: bool,
    baseline: Option<PathBuf>,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        only: None,
        check: false,
        save: true,
        keep: false,
        baseline: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--only" => {
                o.only = Some(
                    args.next()
                        .ok_or("panechat-bench: --only needs a case name")?,
                )
            }
            "--baseline" => {
                let p = PathBuf::from(
                    args.next()
                        .ok_or("panechat-bench: --baseline needs the path of a panechat binary")?,
                );
                if !p.is_file() {
                    return Err(format!(
                        "panechat-bench: --baseline {}: no such file (build one: see `cargo bench-budgets -- --help`)",
                        p.display()
                    ));
                }
                o.baseline = Some(p);
            }
            "--check" => o.check = true,
            "--no-save" => o.save = false,
            "--keep" => o.keep = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("panechat-bench: unknown argument `{other}`")),
        }
    }
    Ok(o)
}

/// Runs the benchmark; returns the exit code.
pub fn main() -> i32 {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(msg) => {
            if msg.is_empty() {
                print!("{USAGE}");
                return 0;
            }
            eprint!("{msg}\n{USAGE}");
            return 2;
        }
    };
    let release = panechat_e2e::env::profile_dir()
        .file_name()
        .is_some_and(|n| n == "release");
    if !release {
        eprintln!(
            "panechat-bench: warning: this is not a release build, so neither is the panechat it measures; the figures mean little against the budgets (run `cargo bench-budgets`)"
        );
    }
    let started = Instant::now();
    eprint!("panechat-bench: building panechat and hello… ");
    let t = Instant::now();
    let panechat = panechat_e2e::env::panechat_bin();
    let hello = panechat_e2e::env::build_bin("panechat-e2e", "hello");
    eprintln!("{:.1} s", t.elapsed().as_secs_f64());
    eprint!("panechat-bench: generating the stores… ");
    let t = Instant::now();
    let mut world = match World::new(&panechat, &hello) {
        Ok(w) => {
            eprintln!("{:.1} s", t.elapsed().as_secs_f64());
            w
        }
        Err(e) => {
            eprintln!("panechat-bench: cannot set up: {e}");
            return 1;
        }
    };
    if let Some(b) = &opts.baseline {
        if let Err(e) = world.set_baseline(b) {
            eprintln!("panechat-bench: cannot set up: {e}");
            return 1;
        }
    }
    let mut rows: Vec<Row> = Vec::new();
    let cpu = CpuClock::now();
    for (name, case) in cases::ALL {
        if opts
            .only
            .as_ref()
            .is_some_and(|o| !name.contains(o.as_str()))
        {
            continue;
        }
        eprint!("panechat-bench: {name}… ");
        let t = Instant::now();
        let result = case(&world);
        let took = t.elapsed().as_secs_f64();
        eprintln!("{took:.1} s");
        match result {
            Ok(mut r) => {
                for row in &mut r {
                    row.notes.push(format!("case took {took:.1} s"));
                }
                rows.extend(r);
            }
            Err(e) => {
                eprintln!("panechat-bench: {name}: {e}");
                rows.push(Row::error(name, &e));
            }
        }
    }
    let others = cpu.others_since();
    let setup_notes = world.notes.clone();
    if opts.keep {
        world.keep = true;
        eprintln!("panechat-bench: kept {}", world.root.display());
    }
    drop(world);

    let table = report::table(&rows);
    let legend = "times: median [min..p90] of the samples; MB = 10^6 bytes; ratios are of medians";
    let mut machine = machine_note(others, started.elapsed().as_secs_f64());
    if others.is_some_and(|o| o > 0.25) {
        machine.push_str(
            "\nwarning: other processes were using the CPUs while the cases ran, so times include waiting for a CPU (and fsyncs for the disk); compare the min figures, or run again on a quiet machine",
        );
    }
    print!("{table}");
    println!("{legend}");
    println!("{machine}");
    let failures: Vec<&Row> = rows.iter().filter(|r| r.verdict.is_failure()).collect();
    for r in &failures {
        println!(
            "{}: {} — measured {}, budget {}",
            r.verdict.as_str(),
            r.case,
            r.measured,
            r.budget
        );
    }

    if opts.save {
        let mut text = format!(
            "panechat-bench run\ncommand: cargo bench-budgets{}\ncommit: {}\n{machine}\n\n{table}{legend}\n",
            std::env::args()
                .skip(1)
                .map(|a| format!(" {a}"))
                .collect::<String>(),
            commit()
        );
        for n in &setup_notes {
            text.push_str(&format!("{n}\n"));
        }
        text.push_str("\n# Raw samples\n\n");
        text.push_str(&report::raw(&rows));
        match save(&text) {
            Ok(p) => println!("raw samples: {}", p.display()),
            Err(e) => eprintln!("panechat-bench: cannot write the run file: {e}"),
        }
    }
    if opts.check && !failures.is_empty() {
        1
    } else {
        0
    }
}

/// The workspace root (the checkout this benchmark was built from).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// Writes `bench/runs/<date>-<host>.txt` (`-2`, `-3`, … when it exists).
fn save(text: &str) -> Result<PathBuf, String> {
    let dir = workspace().join("bench").join("runs");
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let date = &world::rfc3339(SystemTime::now())[..10];
    let stem = format!("{date}-{}", hostname());
    let mut path = dir.join(format!("{stem}.txt"));
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("{stem}-{n}.txt"));
        n += 1;
    }
    fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

fn hostname() -> String {
    let h = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let h: String = h
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if h.is_empty() {
        "unknown-host".into()
    } else {
        h
    }
}

/// `machine: host, nproc 2 (model), Linux 6.1, /tmp on ext4, other load …, date, run took 95 s`.
fn machine_note(others: Option<f64>, secs: f64) -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let tmp = std::env::temp_dir();
    let others = match others {
        Some(o) => format!("other processes busy {o:.2} CPUs during the cases"),
        None => "other load unknown".into(),
    };
    format!(
        "machine: {}, nproc {cpus} ({model}), Linux {}, {} on {}, {others}, {}, run took {secs:.0} s",
        hostname(),
        kernel.trim(),
        tmp.display(),
        fs_type(&tmp),
        world::rfc3339(SystemTime::now()),
    )
}

/// CPU time so far: the whole machine's busy time and this process tree's, in seconds.
struct CpuClock {
    machine_busy: Option<f64>,
    ours: f64,
    at: Instant,
}

impl CpuClock {
    fn now() -> CpuClock {
        CpuClock {
            machine_busy: machine_busy_secs(),
            ours: own_cpu_secs(),
            at: Instant::now(),
        }
    }

    /// How many CPUs other processes kept busy on average since `self` (the machine's busy time
    /// less this process's and its reaped children's).
    fn others_since(&self) -> Option<f64> {
        let now = CpuClock::now();
        let busy = now.machine_busy? - self.machine_busy?;
        let wall = now.at.duration_since(self.at).as_secs_f64();
        (wall > 0.0).then(|| ((busy - (now.ours - self.ours)) / wall).max(0.0))
    }
}

/// Busy CPU seconds of the whole machine since boot, from `/proc/stat`.
fn machine_busy_secs() -> Option<f64> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let busy: u64 = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|i| ticks.get(*i))
        .sum();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| busy as f64 / hz as f64)
}

/// CPU seconds used by this process and its reaped children.
fn own_cpu_secs() -> f64 {
    let secs = |who: libc::c_int| {
        // SAFETY: all-zero is a valid rusage, and getrusage only writes into it.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        unsafe { libc::getrusage(who, &mut u) };
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        tv(u.ru_utime) + tv(u.ru_stime)
    };
    secs(libc::RUSAGE_SELF) + secs(libc::RUSAGE_CHILDREN)
}

/// The filesystem type `path` lives on, from `/proc/mounts` (longest mount point prefix).
fn fs_type(path: &Path) -> String {
    let path = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 2 && path.starts_with(f[1])).then(|| (f[1].len(), f[2].to_string()))
        })
        .max_by_key(|(len, _)| *len)
        .map_or_else(|| "unknown fs".into(), |(_, t)| t)
}

/// The checkout's commit, marked `+changes` when the tree differs from it.
fn commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(workspace())
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(sha) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{sha} +changes")
            } else {
                sha
            }
        }
        None => "unknown".into(),
    }
}
