//! Generic helpers with no knowledge of aiperf's types: YAML with positions, JSON pointers and
//! dotted paths, "did you mean" suggestions. The bottom layer: it imports nothing from the crate.

pub mod body_template;
pub mod csv_text;
pub mod numbers;
pub mod pointer;
pub mod problem;
pub mod suggest;
pub mod yaml;
