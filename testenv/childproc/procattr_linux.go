package childproc

import "syscall"

// ProcAttr has the kernel kill the child if the process that started it dies without stopping it
// (a test binary killed on timeout), so no helper outlives its test holding ports.
func ProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
