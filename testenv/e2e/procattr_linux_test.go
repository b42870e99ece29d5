package e2e_test

import "syscall"

// childProcAttr has the kernel kill a helper process if the test binary dies without cleaning up
// (killed on timeout), so none outlives its test holding a port.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
