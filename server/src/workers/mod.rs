//! Background loops, each readable top to bottom: the reconciler (jobs →
//! drivers), the scheduler (lifecycle timers) and the orphan sweep.

pub mod reconciler;
pub mod scheduler;
