//! Where homelab keeps files outside the repository: `$HOME` and the XDG base directories
//! (config for the age keys, state for wizard drafts, cache for Flux manifests), read with one
//! rule at call time, so tests and sandboxes can point them elsewhere.

use std::path::PathBuf;

/// An XDG base directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// `$XDG_CONFIG_HOME`, else `~/.config`.
    Config,
    /// `$XDG_STATE_HOME`, else `~/.local/state`.
    State,
    /// `$XDG_CACHE_HOME`, else `~/.cache`.
    Cache,
}

impl Base {
    fn variable(self) -> &'static str {
        match self {
            Base::Config => "XDG_CONFIG_HOME",
            Base::State => "XDG_STATE_HOME",
            Base::Cache => "XDG_CACHE_HOME",
        }
    }

    fn under_home(self) -> &'static str {
        match self {
            Base::Config => ".config",
            Base::State => ".local/state",
            Base::Cache => ".cache",
        }
    }
}

/// `$HOME`, when set and not empty.
pub fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// homelab's folder in `base`: the XDG variable when it holds an absolute path (the
/// specification says to ignore relative ones), else its default under `$HOME`. `None` when
/// neither is set.
pub fn homelab(base: Base) -> Option<PathBuf> {
    std::env::var_os(base.variable())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| home().map(|h| h.join(base.under_home())))
        .map(|dir| dir.join("homelab"))
}

/// What to say when [`homelab`] finds no folder.
pub fn missing(base: Base) -> String {
    format!("neither {} nor HOME is set", base.variable())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_and_their_defaults() {
        assert_eq!(Base::Config.variable(), "XDG_CONFIG_HOME");
        assert_eq!(Base::State.under_home(), ".local/state");
        assert_eq!(Base::Cache.under_home(), ".cache");
        assert_eq!(
            missing(Base::Cache),
            "neither XDG_CACHE_HOME nor HOME is set"
        );
    }
}
