//! Everything that talks to the terminal: styles, progress, prompts.

pub mod checklist;
pub mod deploy_key;
pub mod progress;
pub mod prompt;
pub mod style;
pub mod wizard;
