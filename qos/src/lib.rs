//! The paper's QoS experiment (West and Gloudon, "'QoS Safe' Kernel
//! Extensions for Real-Time Resource Management"): real-time tasks on one
//! CPU, a CPU hog that comes and goes, and a CPU service manager that
//! adapts the tasks' timeslices — run as kernel extensions or by a
//! user-level process.
//!
//! - [`sched`]: a deterministic discrete-event simulation of a uniprocessor
//!   scheduler with Linux's SCHED_FIFO and SCHED_RR.
//! - [`mmpp`]: the disturbance, a Markov-modulated CPU hog.
//! - [`costs`]: what management costs the CPU, the paper's or measured.
//! - [`experiment`]: one run: a setup's processes, the disturbance, and
//!   the real PID extension and guard as kernel- or user-level management.
//! - [`plot`]: its figures (SVG, PNG) and `index.html`.
//! - [`report`]: every run of an experiment, its table and CSV files.
//! - [`random`]: the seeded randomness both draw from, integers only, so a
//!   seed reproduces a run bit for bit.

pub mod bench;
pub mod costs;
pub mod experiment;
pub mod mmpp;
pub mod plot;
pub mod random;
pub mod real;
pub mod report;
pub mod sched;
