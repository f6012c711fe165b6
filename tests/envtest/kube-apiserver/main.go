// Command kube-apiserver is the upstream Kubernetes API server, built from the
// k8s.io/kubernetes module at the version pinned in go.mod. The homelab test
// suite runs it against a private etcd (no kubelet, no controllers).
package main

import (
	"os"

	_ "time/tzdata" // upstream embeds tzdata too, for CronJob time zones

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
