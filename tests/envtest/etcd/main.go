// Command etcd is the upstream etcd server, built from go.etcd.io/etcd/server/v3
// at the version pinned in go.mod. It is the storage behind the test
// kube-apiserver. A separate module keeps etcd's dependency graph independent
// of the one k8s.io/kubernetes selects.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
