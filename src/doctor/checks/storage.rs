//! Storage: the StorageClass exists (and is the default), no other default class competes,
//! no PVC is stuck Pending, and the NFS server answers.

use std::time::Duration;

use kube::ResourceExt;

use super::unreadable;
use crate::config::Config;
use crate::doctor::causes::{Causes, Root};
use crate::doctor::snapshot::{Listing, Snapshot};
use crate::doctor::{Finding, Section};

const DEFAULT_CLASS_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";

/// The NFS port; `HOMELAB_NFS_PORT` overrides it (a debugging aid, e.g. for a server behind
/// a port forward; the tests use it too, since 2049 needs root and may be taken).
pub fn nfs_port() -> u16 {
    std::env::var("HOMELAB_NFS_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(2049)
}

/// Where the configured NFS provisioner runs.
fn provisioner_namespace(cfg: &Config) -> &'static str {
    cfg.storage.provisioner.component().namespace()
}

pub async fn storage(cfg: &Config, snap: &Snapshot, causes: &Causes) -> Section {
    let mut out = Vec::new();
    let want = &cfg.storage.storage_class;
    out.extend(unreadable(
        "storage.class",
        "StorageClasses",
        &snap.storage_classes,
    ));
    let classes = snap.storage_classes.items();
    let is_default = |sc: &k8s_openapi::api::storage::v1::StorageClass| {
        sc.annotations()
            .get(DEFAULT_CLASS_ANNOTATION)
            .map(String::as_str)
            == Some("true")
    };
    let provisioner_ns = provisioner_namespace(cfg);
    let mut class_root = None;
    match classes.iter().find(|c| c.name_any() == *want) {
        None if matches!(snap.storage_classes, Listing::Items(_)) => {
            let root = causes.for_delivered(provisioner_ns);
            class_root = Some(root.clone().unwrap_or(Root(format!("StorageClass {want}"))));
            out.push(Finding::failed_unless(
                "storage.class",
                format!("StorageClass {want} does not exist"),
                "it is applied with the NFS provisioner by the repository's infrastructure: `homelab status` shows whether those Kustomizations applied",
                root,
            ));
        }
        None => {}
        Some(sc) if cfg.storage.default_class && !is_default(sc) => {
            class_root = Some(Root(format!("StorageClass {want}")));
            out.push(Finding::failed_unless(
                "storage.class",
                format!("StorageClass {want} exists but is not the default class"),
                "PVCs without a class stay Pending: run `homelab render` and `homelab push --wait`, or set storage.default_class: false",
                causes.flux(),
            ));
        }
        Some(sc) => out.push(Finding::ok(
            "storage.class",
            format!(
                "StorageClass {want} ({}){}",
                sc.provisioner,
                if is_default(sc) { ", default" } else { "" }
            ),
        )),
    }
    if cfg.storage.default_class {
        let others: Vec<String> = classes
            .iter()
            .filter(|c| c.name_any() != *want && is_default(c))
            .map(|c| c.name_any())
            .collect();
        if !others.is_empty() {
            out.push(Finding::warning(
                "storage.default",
                format!("other default StorageClass(es): {} — which one a PVC gets is unpredictable", others.join(", ")),
                "remove the default annotation from them (k3s: `disable: [local-storage]` in /etc/rancher/k3s/config.yaml)",
            ));
        }
    }

    out.extend(unreadable(
        "storage.pvcs",
        "PersistentVolumeClaims",
        &snap.pvcs,
    ));
    out.extend(unreadable("storage.pvcs", "PVC events", &snap.pvc_events));
    for pvc in snap.pvcs.items() {
        let phase = pvc
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .unwrap_or("Pending");
        if phase != "Pending" {
            continue;
        }
        let (ns, name) = (pvc.namespace().unwrap_or_default(), pvc.name_any());
        let event = snap
            .pvc_events
            .items()
            .iter()
            .filter(|e| {
                e.involved_object.name.as_deref() == Some(name.as_str())
                    && e.involved_object.namespace.as_deref() == Some(ns.as_str())
            })
            .max_by_key(|e| {
                e.last_timestamp
                    .as_ref()
                    .map(|t| t.0)
                    .or_else(|| e.event_time.as_ref().map(|t| t.0))
                    .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
            });
        let why = event
            .map(|e| {
                format!(
                    ": {}: {}",
                    e.reason.clone().unwrap_or_default(),
                    crate::kube::status::one_line(&e.message.clone().unwrap_or_default())
                )
            })
            .unwrap_or_default();
        out.push(Finding::failed_unless(
            "storage.pvcs",
            format!("PVC {ns}/{name} is Pending{why}"),
            format!(
                "the provisioner's event above says why; check that {} exports {} to the nodes and that the provisioner runs (`homelab status`)",
                cfg.storage.nfs_server, cfg.storage.nfs_path
            ),
            class_root.clone().or_else(|| causes.for_namespace(provisioner_ns)),
        ));
    }

    out.push(nfs_reachable(cfg).await);
    Section::new("storage", "Storage", out)
}

/// TCP to the NFS server from this machine (the nodes mount it the same way).
pub(super) async fn nfs_reachable(cfg: &Config) -> Finding {
    let port = nfs_port();
    let server = cfg.storage.nfs_server.clone();
    let target = format!("{server}:{port}");
    let attempt = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect((server.as_str(), port)),
    )
    .await;
    let hint = format!(
        "is the NFS server up and exporting {}? Check its firewall allows TCP {port} from the nodes (`showmount -e {server}`)",
        cfg.storage.nfs_path
    );
    match attempt {
        Ok(Ok(_)) => Finding::ok("storage.nfs", format!("NFS server {target} reachable")),
        Ok(Err(err)) => Finding::failed(
            "storage.nfs",
            format!("NFS server {target} unreachable: {err}"),
            hint,
        ),
        Err(_) => Finding::failed(
            "storage.nfs",
            format!("NFS server {target} did not answer within 2s"),
            hint,
        ),
    }
}
