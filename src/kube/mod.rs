//! Talking to the cluster: kubeconfig, server-side apply, waiting for readiness.
