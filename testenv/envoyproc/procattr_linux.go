package envoyproc

import "syscall"

// procAttr has the kernel kill Envoy if the process that started it dies without calling Stop (a
// test binary killed on timeout), so no Envoy outlives its test holding ports.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
