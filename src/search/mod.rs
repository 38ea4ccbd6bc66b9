//! Search recipes and their analyses: declarative recipes (`recipe`), compiled into the trials
//! of an experiment, and the post-run analyses they write (`analysis`).

pub mod analysis;
pub mod bayesian;
pub mod boundary;
pub mod history;
pub mod planner;
pub mod space;
pub mod verdict;
