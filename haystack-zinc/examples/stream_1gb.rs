//! Streams a generated Zinc grid of at least 1 GB (by default) through [`GridReader`] and
//! reports throughput and peak memory (VmHWM from `/proc/self/status`).
//!
//! The grid is generated on the fly (a reader that writes Zinc rows as they are pulled), so
//! neither the text nor the grid is ever held in memory.
//!
//! ```text
//! cargo run --release -p haystack-zinc --example stream_1gb          # 1 GiB
//! cargo run --release -p haystack-zinc --example stream_1gb -- 256   # 256 MiB
//! cargo run --release -p haystack-zinc --example stream_1gb -- --write /tmp/big.zinc 1024
//! ```
//!
//! With `--write FILE`, the generated Zinc is written to FILE instead (for measuring the
//! `haystack` command line on it: `haystack convert --to json FILE | haystack convert --from
//! json --to zinc`).

use std::io::Read;
use std::time::Instant;

use haystack_core::Grid;
use haystack_zinc::GridReader;

/// Serves the Zinc text of a template grid's header, then its rows over and over (with fresh
/// ids) until `limit` bytes have been produced.
struct ZincSource {
    rows: Vec<String>,
    next: usize,
    pending: Vec<u8>,
    at: usize,
    produced: u64,
    limit: u64,
}

impl ZincSource {
    fn new(template: &Grid, limit: u64) -> Self {
        let text = haystack_zinc::to_string(template);
        let mut lines = text.lines();
        let header = format!(
            "{}\n{}\n",
            lines.next().unwrap_or_default(),
            lines.next().unwrap_or_default()
        );
        let rows = lines.map(|l| format!("{l}\n")).collect();
        ZincSource {
            rows,
            next: 0,
            pending: header.into_bytes(),
            at: 0,
            produced: 0,
            limit,
        }
    }
}

impl Read for ZincSource {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at >= self.pending.len() {
            if self.produced >= self.limit || self.rows.is_empty() {
                return Ok(0);
            }
            self.pending.clear();
            self.at = 0;
            while self.pending.len() < 64 * 1024 {
                let row = &self.rows[self.next % self.rows.len()];
                self.pending.extend_from_slice(row.as_bytes());
                self.next += 1;
            }
        }
        let n = buf.len().min(self.pending.len() - self.at);
        buf[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
        self.at += n;
        self.produced += n as u64;
        Ok(n)
    }
}

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU seconds (user + system) used by this process so far, from `/proc/self/stat` (ticks of
/// 1/100 s, the Linux default).
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn main() -> Result<(), haystack_zinc::Error> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let write_to = match args.iter().position(|a| a == "--write") {
        Some(i) if i + 1 < args.len() => {
            let path = args.remove(i + 1);
            args.remove(i);
            Some(path)
        }
        _ => None,
    };
    let mib: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(1024);
    let mut template = haystack_core::testing::realistic_grid(2000);
    template.meta_mut().remove("ver");
    if let Some(path) = write_to {
        let mut source = ZincSource::new(&template, mib << 20);
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let bytes = std::io::copy(&mut source, &mut file)?;
        std::io::Write::flush(&mut file)?;
        println!("wrote {bytes} bytes of Zinc to {path}");
        return Ok(());
    }
    let before = vm_hwm_kib();
    let source = ZincSource::new(&template, mib << 20);
    drop(template);

    let cpu_start = cpu_secs();
    let start = Instant::now();
    let mut reader = GridReader::new(source)?;
    let mut row = Vec::new();
    let mut cells = 0u64;
    while reader.read_row(&mut row)? {
        cells += row.iter().filter(|v| !v.is_null()).count() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    let bytes = (mib << 20) as f64;
    println!(
        "streamed {:.0} MiB of Zinc: {} rows, {} columns, {} non-null cells in {:.1} s = {:.0} MB/s",
        bytes / (1 << 20) as f64,
        reader.rows_read(),
        reader.cols().len(),
        cells,
        secs,
        bytes / 1e6 / secs
    );
    if let (Some(a), Some(b)) = (cpu_start, cpu_secs()) {
        println!(
            "CPU time {:.1} s = {:.0} MB/s per core busy",
            b - a,
            bytes / 1e6 / (b - a).max(0.01)
        );
    }
    match (before, vm_hwm_kib()) {
        (Some(b), Some(a)) => println!(
            "peak memory (VmHWM): {:.1} MiB (before reading: {:.1} MiB)",
            a as f64 / 1024.0,
            b as f64 / 1024.0
        ),
        _ => println!("peak memory: /proc/self/status not available"),
    }
    Ok(())
}
