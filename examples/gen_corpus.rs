//! Writes a synthetic corpus of Claude Code and Codex sessions under a fake home.
//!
//! `cargo run --release --example gen_corpus -- <home dir> <messages> [seed]`
//! then `HOME=<home dir> cass index`.

#[path = "../benches/corpus.rs"]
mod corpus;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: gen_corpus <home dir> <messages> [seed]");
        std::process::exit(2);
    }
    let home = std::path::PathBuf::from(&args[1]);
    let messages: usize = args[2].parse().expect("messages must be a number");
    let seed: u64 = args.get(3).map_or(42, |s| s.parse().expect("seed must be a number"));
    let started = std::time::Instant::now();
    let stats = corpus::generate(&home, messages, seed).expect("write corpus");
    println!(
        "wrote {} files, {} messages, {:.1} MiB in {:.1}s",
        stats.files,
        stats.messages,
        stats.bytes as f64 / 1048576.0,
        started.elapsed().as_secs_f64()
    );
}
