package failover

import "syscall"

// replicaProcAttr has the kernel kill a replica if the test binary dies without cleaning up (killed
// on timeout), so no replica outlives its test holding ports.
func replicaProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
