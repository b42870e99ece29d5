//go:build !linux

package failover

import "syscall"

// replicaProcAttr: only Linux can tie a child's life to its parent's; elsewhere t.Cleanup alone
// stops the replicas.
func replicaProcAttr() *syscall.SysProcAttr { return nil }
