//go:build !linux

package bench

import "errors"

var errPinLinuxOnly = errors.New("pinning the Envoys to a CPU works on Linux only")

func allowedCPUs() ([]int, error) { return nil, errPinLinuxOnly }

func pinProcess(int, []int) error { return errPinLinuxOnly }
