//! The homelab repository in git: open or init, commit, and push with libgit2.
