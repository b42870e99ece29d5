//go:build !linux

package cognitolocal

import "syscall"

func procAttr() *syscall.SysProcAttr { return nil }
