//! Loading and validating `homelab.yaml`: every rule, every error at once, with key paths.
