//! Tar throughput of a cart against GNU `tar cf` on the same files, in the same run.
//!
//! `cargo bench -p cart-core` generates a cart (a few large files and many small ones) in a
//! temporary directory, then:
//! 1. times `TarPlan::write` into a file, the async `TarPlan::into_stream` (what a download
//!    sends) into a file, and `tar cf` of the same files, alternating, best of three, and
//!    prints MB/s for all three and the ratios to GNU tar;
//! 2. prints the process's peak resident memory (`VmHWM`) after writing a 1/16 slice of the cart
//!    and after writing the whole cart, to show it does not grow with cart size;
//! 3. runs criterion on a slice of at least 128 MiB (one large file, then small files) for a
//!    statistically summarised number (the group is named `tar_128MiB_slice`).
//!
//! The cart is 1024 MiB by default; set `CART_BENCH_MB` to change it.

use cart_core::{BundlePath, DownloadName, TarMember, TarOptions, TarPlan};
use criterion::{Criterion, Throughput};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;

struct Cart {
    dir: tempfile::TempDir,
    members: Vec<TarMember>,
    bytes: u64,
}

/// A deterministic pseudo-random filler (xorshift), so files are not all zeros.
fn fill(buf: &mut [u8], seed: &mut u64) {
    for chunk in buf.chunks_mut(8) {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        let b = seed.to_le_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
}

fn generate(total: u64) -> Cart {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("cart");
    let mut members = Vec::new();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut buf = vec![0u8; MIB as usize];
    let mut write = |rel: String, size: u64, members: &mut Vec<TarMember>| {
        let path = root.join(&rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        let mut left = size;
        while left > 0 {
            let n = left.min(MIB) as usize;
            fill(&mut buf[..n], &mut seed);
            f.write_all(&buf[..n]).expect("write");
            left -= n as u64;
        }
        f.flush().expect("flush");
        members.push(TarMember::new(
            BundlePath::new(&rel).expect("path"),
            path,
            size,
        ));
    };
    // 70% in four large files, 30% in small files of 1 to 64 KiB over nested directories.
    let large = total * 7 / 10 / 4;
    for i in 0..4 {
        write(format!("large/file{i}.bin"), large, &mut members);
    }
    let mut small_left = total - large * 4;
    let mut i = 0u64;
    while small_left > 0 {
        let size = (1024 + (i * 7919 % 64) * 1024).min(small_left);
        write(
            format!("small/d{:03}/e{:02}/f{i:06}.dat", i % 100, i % 17),
            size,
            &mut members,
        );
        small_left -= size;
        i += 1;
    }
    Cart {
        dir,
        members,
        bytes: total,
    }
}

fn plan(members: &[TarMember]) -> TarPlan {
    TarPlan::new(
        &DownloadName::new("cart.tar").expect("name"),
        members.to_vec(),
        TarOptions::deterministic(0),
    )
}

fn ours(members: &[TarMember], out: &Path) -> Duration {
    let plan = plan(members);
    let start = Instant::now();
    let file = std::fs::File::create(out).expect("create");
    plan.write(file, &|| false).expect("tar");
    let t = start.elapsed();
    std::fs::remove_file(out).expect("rm");
    t
}

/// The async stream a download sends (`TarPlan::into_stream`), its chunks written to a file.
fn ours_stream(rt: &tokio::runtime::Runtime, members: &[TarMember], out: &Path) -> Duration {
    use futures::StreamExt;
    let plan = plan(members);
    let start = Instant::now();
    let mut file = std::fs::File::create(out).expect("create");
    rt.block_on(async {
        let mut stream = std::pin::pin!(plan.into_stream());
        while let Some(chunk) = stream.next().await {
            file.write_all(&chunk.expect("chunk")).expect("write");
        }
    });
    drop(file);
    let t = start.elapsed();
    std::fs::remove_file(out).expect("rm");
    t
}

fn gnu(root: &Path, out: &Path) -> Duration {
    let start = Instant::now();
    let status = Command::new("tar")
        .arg("cf")
        .arg(out)
        .arg("-C")
        .arg(root)
        .arg(".")
        .status()
        .expect("GNU tar runs");
    assert!(status.success());
    let t = start.elapsed();
    std::fs::remove_file(out).expect("rm");
    t
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn mbps(bytes: u64, t: Duration) -> f64 {
    bytes as f64 / MIB as f64 / t.as_secs_f64()
}

fn prefix(members: &[TarMember], bytes: u64) -> (Vec<TarMember>, u64) {
    // A slice with some large and some small files, about `bytes` in all.
    let mut out = Vec::new();
    let mut total = 0;
    let large: Vec<_> = members.iter().filter(|m| m.size > 64 * 1024).collect();
    let small: Vec<_> = members.iter().filter(|m| m.size <= 64 * 1024).collect();
    for m in large.into_iter().take(1).chain(small) {
        if total >= bytes {
            break;
        }
        total += m.size;
        out.push(m.clone());
    }
    (out, total)
}

fn main() {
    let mb: u64 = std::env::var("CART_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    eprintln!("generating a {mb} MiB cart...");
    let cart = generate(mb * MIB);
    let root = cart.dir.path().join("cart");
    let out = cart.dir.path().join("out.tar");
    let tar_len = plan(&cart.members).len();
    println!(
        "cart: {} files, {} MiB of data, tar {} bytes",
        cart.members.len(),
        cart.bytes / MIB,
        tar_len
    );

    let hwm_before = vm_hwm_kib();
    let (slice, slice_bytes) = prefix(&cart.members, cart.bytes / 16);
    ours(&slice, &out);
    let hwm_slice = vm_hwm_kib();

    // Warm the page cache once for both, then alternate, best of three.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    gnu(&root, &out);
    let mut best_ours = Duration::MAX;
    let mut best_stream = Duration::MAX;
    let mut best_gnu = Duration::MAX;
    for _ in 0..3 {
        best_ours = best_ours.min(ours(&cart.members, &out));
        best_stream = best_stream.min(ours_stream(&rt, &cart.members, &out));
        best_gnu = best_gnu.min(gnu(&root, &out));
    }
    let hwm_full = vm_hwm_kib();
    let (a, s, b) = (
        mbps(tar_len, best_ours),
        mbps(tar_len, best_stream),
        mbps(tar_len, best_gnu),
    );
    println!("cart-core TarPlan::write       : {a:8.1} MiB/s ({best_ours:?} for {mb} MiB)");
    println!("cart-core TarPlan::into_stream : {s:8.1} MiB/s ({best_stream:?}, the download path)");
    println!("GNU tar cf                     : {b:8.1} MiB/s ({best_gnu:?})");
    println!("ratio cart-core write / GNU tar : {:.2}x", a / b);
    println!("ratio cart-core stream / GNU tar: {:.2}x", s / b);
    println!(
        "peak RSS (VmHWM): {hwm_before} KiB before writing, {hwm_slice} KiB after a {} MiB slice, \
         {hwm_full} KiB after the full {mb} MiB cart",
        slice_bytes / MIB
    );

    let (crit_slice, crit_bytes) = prefix(&cart.members, 128 * MIB);
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    let mut group = c.benchmark_group("tar_128MiB_slice");
    group.throughput(Throughput::Bytes(crit_bytes));
    let crit_root: PathBuf = cart.dir.path().join("slice");
    for m in &crit_slice {
        let dest = crit_root.join(m.path.as_str());
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
        std::fs::hard_link(&m.source, &dest).expect("link");
    }
    group.bench_function("cart-core", |bench| bench.iter(|| ours(&crit_slice, &out)));
    group.bench_function("cart-core-stream", |bench| {
        bench.iter(|| ours_stream(&rt, &crit_slice, &out))
    });
    group.bench_function("gnu-tar", |bench| bench.iter(|| gnu(&crit_root, &out)));
    group.finish();
    c.final_summary();
}
