//! Questions put to the user outside the wizard: confirmations a command cannot decide on
//! its own. Each has a flag for non-interactive runs; callers ask only on a terminal.

use std::path::Path;

/// Show an SSH host key seen for the first time and ask whether to trust it. Defaults to
/// no: trusting a key nobody compared is what an interception relies on.
pub fn confirm_host_key(
    name: &str,
    key_type: &str,
    fingerprint: &str,
    known: &str,
    record_to: &Path,
) -> std::io::Result<bool> {
    crate::note!("The SSH host key of {name} is not known{known}.");
    crate::note!("  key type:    {key_type}");
    crate::note!("  fingerprint: {fingerprint}");
    crate::note!(
        "Compare the fingerprint with the one the server's administrator (or the forge's \
         documentation) publishes."
    );
    dialoguer::Confirm::new()
        .with_prompt(format!(
            "Trust this host key and record it in {}?",
            record_to.display()
        ))
        .default(false)
        .interact()
        .map_err(|e| match e {
            dialoguer::Error::IO(io) => io,
        })
}
