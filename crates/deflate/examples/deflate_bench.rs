//! DEFLATE sizes and times of `smidge_deflate::deflate` against Zopfli and flate2, raw
//! DEFLATE streams all (no gzip or zlib wrapper: add 18 bytes for a gzip file).
//!
//! `cargo run -p smidge-deflate --release --example deflate_bench [FILE...]`
//!
//! Without files: every `corpus/*.tar` (the 42 docker archives smidge makes, see
//! `corpus/README.md`), then a 64 KiB mix of pseudo-random bytes and text and 64 KiB of
//! zeros, which are not in the totals. `NO_ZOPFLI=1` skips Zopfli.
//!
//! Columns: our encoder; Zopfli with 100 iterations and up to 15 block splits (inputs up to
//! 16 KiB only); Zopfli's defaults (15 iterations, 15 splits); flate2 (zlib-rs) level 9.
//! Times: ours and flate2 are the best of several runs, Zopfli's one run.

use std::io::{Read, Write};
use std::num::NonZeroU64;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The best of a few runs: at least 3, and about 200 ms in all.
fn time<T>(mut f: impl FnMut() -> T) -> (T, Duration) {
    let start = Instant::now();
    let mut best = Duration::MAX;
    let mut runs = 0;
    loop {
        let t = Instant::now();
        let out = f();
        best = best.min(t.elapsed());
        runs += 1;
        if runs >= 3 && (start.elapsed() > Duration::from_millis(200) || runs >= 50) {
            return (out, best);
        }
    }
}

/// One run.
fn once<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed())
}

fn zopfli(data: &[u8], iterations: u64) -> Vec<u8> {
    let o = zopfli::Options {
        iteration_count: NonZeroU64::new(iterations).unwrap(),
        iterations_without_improvement: NonZeroU64::MAX,
        maximum_block_splits: 15,
    };
    let mut out = Vec::new();
    zopfli::compress(o, zopfli::Format::Deflate, data, &mut out).unwrap();
    out
}

fn flate2_9(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn inflate(z: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    flate2::read::DeflateDecoder::new(z)
        .read_to_end(&mut out)
        .unwrap();
    out
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

/// Sizes and times of one input, per encoder (`None`: not run).
#[derive(Default)]
struct Row {
    bytes: usize,
    ours: (usize, Duration),
    zop100: Option<(usize, Duration)>,
    zop15: Option<(usize, Duration)>,
    flate2: (usize, Duration),
}

impl Row {
    fn measure(name: &str, data: &[u8], zopfli_too: bool) -> Row {
        let (ours, t_ours) = time(|| smidge_deflate::deflate(data));
        assert_eq!(inflate(&ours), data, "{name}: ours does not round-trip");
        let zop100 = (zopfli_too && data.len() <= 16 << 10).then(|| {
            let (z, t) = once(|| zopfli(data, 100));
            (z.len(), t)
        });
        let zop15 = zopfli_too.then(|| {
            let (z, t) = once(|| zopfli(data, 15));
            (z.len(), t)
        });
        let (f9, t_f9) = time(|| flate2_9(data));
        Row {
            bytes: data.len(),
            ours: (ours.len(), t_ours),
            zop100,
            zop15,
            flate2: (f9.len(), t_f9),
        }
    }

    fn add(&mut self, r: &Row) {
        fn sum(a: &mut (usize, Duration), b: (usize, Duration)) {
            a.0 += b.0;
            a.1 += b.1;
        }
        fn sum_opt(a: &mut Option<(usize, Duration)>, b: Option<(usize, Duration)>, first: bool) {
            *a = match (first, *a, b) {
                (true, _, b) => b,
                (false, Some(mut x), Some(y)) => {
                    sum(&mut x, y);
                    Some(x)
                }
                _ => None,
            };
        }
        let first = self.bytes == 0;
        self.bytes += r.bytes;
        sum(&mut self.ours, r.ours);
        sum_opt(&mut self.zop100, r.zop100, first);
        sum_opt(&mut self.zop15, r.zop15, first);
        sum(&mut self.flate2, r.flate2);
    }

    fn print(&self, name: &str) {
        fn cell((size, t): (usize, Duration)) -> String {
            format!("{size:>7} {:>9}", format!("{t:.2?}"))
        }
        fn cell_opt(c: Option<(usize, Duration)>) -> String {
            c.map_or_else(|| format!("{:>7} {:>9}", "-", "-"), cell)
        }
        println!(
            "{name:<30} {:>7} | {} | {} | {} | {}",
            self.bytes,
            cell(self.ours),
            cell_opt(self.zop100),
            cell_opt(self.zop15),
            cell(self.flate2)
        );
    }
}

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(Into::into).collect();
    let synthetic = args.is_empty();
    let files = if synthetic {
        let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/corpus"));
        let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "tar"))
            .collect();
        v.sort();
        v
    } else {
        args
    };
    let zopfli_too = std::env::var_os("NO_ZOPFLI").is_none();

    println!(
        "{:<30} {:>7} | {:>17} | {:>17} | {:>17} | {:>17}",
        "input", "bytes", "smidge-deflate", "zopfli 100", "zopfli 15", "flate2 -9"
    );
    let mut total = Row::default();
    for f in &files {
        let name = f.file_stem().unwrap().to_string_lossy();
        let data = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let row = Row::measure(&name, &data, zopfli_too);
        row.print(&name);
        total.add(&row);
    }
    println!("{}", "-".repeat(30 + 8 + 4 * 20));
    total.print(&format!("total ({} files)", files.len()));
    if synthetic {
        println!();
        for (name, data) in [("mix-64k", mix_64k()), ("zero-64k", vec![0; 64 << 10])] {
            Row::measure(name, &data, zopfli_too).print(name);
        }
    }
}
