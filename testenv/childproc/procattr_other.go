//go:build !linux

package childproc

import "syscall"

// ProcAttr: only Linux can tie a child's life to its parent's; elsewhere Stop alone ends it.
func ProcAttr() *syscall.SysProcAttr { return nil }
