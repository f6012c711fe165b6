//! Everything that talks to the terminal: the printer (streams, colour, verbosity,
//! progress), styles and marks, prompts.

pub mod bootstrap;
pub mod checklist;
pub mod deploy_key;
pub mod doctor;
pub mod printer;
pub mod prompt;
pub mod publish;
pub mod render;
pub mod style;
pub mod sync;
pub mod wizard;
