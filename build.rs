//! Writes the built-in tokenizer's table (OpenAI's `o200k_base`, from the `tiktoken-rs` crate)
//! into `OUT_DIR/o200k_base.bin` in the compact form `dataset::bpe` reads in place: the number of
//! tokens `n` (u32 LE), `n + 1` byte offsets (u32 LE), then every token's bytes in rank order.
//! Built once at compile time, so the binary needs neither the crate's 3.6 MB text table nor
//! its ~36 MB of hash maps at run time.

use std::io::Write;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let bpe = tiktoken_rs::o200k_base().expect("tiktoken-rs ships o200k_base");
    let mut offsets: Vec<u32> = vec![0];
    let mut bytes: Vec<u8> = Vec::new();
    // Ordinary tokens have ranks 0..n without gaps; the first rank that does not decode is n
    // (special tokens start above it).
    for rank in 0u32.. {
        match bpe.decode_bytes(&[rank]) {
            Ok(token) => {
                bytes.extend_from_slice(&token);
                offsets.push(u32::try_from(bytes.len()).expect("table under 4 GiB"));
            }
            _ => break,
        }
    }
    let count = u32::try_from(offsets.len() - 1).expect("fewer than 2^32 tokens");
    assert_eq!(count, 199_998, "o200k_base has 199,998 ordinary tokens");
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("o200k_base.bin");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&out).expect("create table"));
    file.write_all(&count.to_le_bytes()).expect("write table");
    for offset in &offsets {
        file.write_all(&offset.to_le_bytes()).expect("write table");
    }
    file.write_all(&bytes).expect("write table");
    file.flush().expect("write table");
}
