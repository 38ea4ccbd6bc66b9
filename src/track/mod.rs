//! Experiment trackers: where results go after they are on disk. Today Weights & Biases.

pub mod wandb;
