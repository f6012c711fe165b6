//! The app catalog: profiles under `profiles/`, embedded in the binary.
