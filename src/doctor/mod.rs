//! `homelab doctor`'s checks: findings with a severity, a message and a hint.
