//! Per-image decode and signal time of the fused image kernel (fast mode) over a folder of
//! encoded images: `cargo run --release --example per_image -- <dir> [repeats]`.
use _native::image::decode::decode;
use _native::image::signals::{signals_one, SignalParams};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: per_image <dir> [repeats]");
    let reps: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let p = SignalParams::default();
    let (mut sum_d, mut sum_t) = (0.0, 0.0);
    for f in files {
        let b = std::fs::read(&f).unwrap();
        let (mut td, mut ts) = (f64::MAX, f64::MAX);
        for _ in 0..reps {
            let t = std::time::Instant::now();
            let d = decode(&b, p.guard);
            td = td.min(t.elapsed().as_secs_f64());
            let Ok(d) = d else { break };
            std::hint::black_box(d);
            let t = std::time::Instant::now();
            std::hint::black_box(signals_one(&b, &p));
            ts = ts.min(t.elapsed().as_secs_f64());
        }
        if ts == f64::MAX {
            println!("{:?}: not decodable", f.file_name().unwrap());
            continue;
        }
        (sum_d, sum_t) = (sum_d + td, sum_t + ts);
        println!("{:?} decode {:.2} ms, all signals {:.2} ms", f.file_name().unwrap(), td * 1e3, ts * 1e3);
    }
    println!("total: decode {:.1} ms, all signals {:.1} ms", sum_d * 1e3, sum_t * 1e3);
}
