//go:build !linux

package envoyproc

import "syscall"

func procAttr() *syscall.SysProcAttr { return nil }
