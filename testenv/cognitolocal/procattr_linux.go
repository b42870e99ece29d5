package cognitolocal

import "syscall"

// procAttr has the kernel kill the emulator if the process that started it dies without calling
// Stop (a test binary killed on timeout), so none outlives it holding a port.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
