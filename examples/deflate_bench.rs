//! Sizes and times of gzip encoders on smidge's archives:
//! `cargo run --release --example deflate_bench [files...]` (default: /tmp/deflate-samples/*.tar
//! plus a 64 KiB mix of pseudo-random bytes and text).

use std::io::Write;
use std::num::NonZeroU64;
use std::time::{Duration, Instant};

fn time<T>(mut f: impl FnMut() -> T) -> (T, Duration) {
    // The best of a few runs, at least 3 and about 200 ms in all.
    let start = Instant::now();
    let mut best = Duration::MAX;
    let mut out;
    let mut runs = 0;
    loop {
        let t = Instant::now();
        out = f();
        best = best.min(t.elapsed());
        runs += 1;
        if runs >= 3 && (start.elapsed() > Duration::from_millis(200) || runs >= 50) {
            return (out, best);
        }
    }
}

fn zopfli(data: &[u8], iterations: u64, splits: u16) -> Vec<u8> {
    let o = zopfli::Options {
        iteration_count: NonZeroU64::new(iterations).unwrap(),
        iterations_without_improvement: NonZeroU64::MAX,
        maximum_block_splits: splits,
    };
    let mut out = Vec::new();
    zopfli::compress(o, zopfli::Format::Gzip, data, &mut out).unwrap();
    out
}

fn flate2_9(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// 64 KiB: chunks of pseudo-random bytes between chunks of text (the GPL-3 text when the
/// system has it, else generated words).
fn mix_64k() -> Vec<u8> {
    let text = std::fs::read("/usr/share/common-licenses/GPL-3").unwrap_or_else(|_| {
        let words = [
            "container ",
            "image ",
            "layer ",
            "smidge ",
            "the ",
            "of ",
            "tar ",
            "gzip ",
        ];
        (0..40000)
            .flat_map(|i| words[(i * 7 + i / 3) % 8].bytes())
            .collect()
    });
    let mut x = 0x1234_5678u32;
    let mut out = Vec::new();
    let mut t = 0;
    while out.len() < 64 << 10 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.extend((0..200 + x % 800).map(|i| (x.rotate_left(i % 32) ^ i) as u8));
        let k = (1000 + x % 3000) as usize;
        out.extend(text.iter().cycle().skip(t).take(k));
        t = (t + k) % text.len();
    }
    out.truncate(64 << 10);
    out
}

fn main() {
    let mut inputs: Vec<(String, Vec<u8>)> = vec![];
    let args: Vec<String> = std::env::args().skip(1).collect();
    let files: Vec<std::path::PathBuf> = if args.is_empty() {
        let mut v: Vec<_> = std::fs::read_dir("/tmp/deflate-samples")
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    } else {
        args.iter().map(Into::into).collect()
    };
    for f in files {
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        inputs.push((name, std::fs::read(&f).unwrap()));
    }
    if args.is_empty() {
        inputs.push(("mix-64k".into(), mix_64k()));
        inputs.push(("zero-64k".into(), vec![0; 64 << 10]));
    }
    let slow = std::env::var_os("NO_ZOPFLI").is_none();
    println!(
        "{:<24} {:>6} | {:>6} {:>9} | {:>6} {:>9} | {:>6} {:>9} | {:>6} {:>9}",
        "input", "bytes", "smidge", "time", "zop100", "time", "zop1", "time", "fl2-9", "time"
    );
    for (name, data) in &inputs {
        let (ours, t_ours) = time(|| smidge::archive::compress::gzip_small(data));
        let mut back = vec![];
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&ours[..]), &mut back)
            .unwrap();
        assert_eq!(&back, data, "{name} does not round-trip");
        let (z100, t100) = if slow && data.len() <= 16 << 10 {
            let t = Instant::now();
            let z = zopfli(data, 100, 15);
            (z.len().to_string(), format!("{:.2?}", t.elapsed()))
        } else {
            ("-".into(), "-".into())
        };
        let (z1, t1) = if slow {
            let t = Instant::now();
            let z = zopfli(data, 1, 0);
            (z.len().to_string(), format!("{:.2?}", t.elapsed()))
        } else {
            ("-".into(), "-".into())
        };
        let (f9, tf9) = time(|| flate2_9(data));
        println!(
            "{:<24} {:>6} | {:>6} {:>9} | {:>6} {:>9} | {:>6} {:>9} | {:>6} {:>9}",
            name,
            data.len(),
            ours.len(),
            format!("{t_ours:.2?}"),
            z100,
            t100,
            z1,
            t1,
            f9.len(),
            format!("{tf9:.2?}")
        );
    }
}
