package bench

import (
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"
)

// pinProcess moves every thread of a running process, as sched_getaffinity reads back.
func TestPinProcess(t *testing.T) {
	allowed, err := allowedCPUs()
	if err != nil || len(allowed) == 0 {
		t.Fatalf("allowedCPUs() = %v, %v", allowed, err)
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	want := allowed[len(allowed)-1]
	if err := pinProcess(cmd.Process.Pid, []int{want}); err != nil {
		t.Fatal(err)
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(cmd.Process.Pid, &set); err != nil {
		t.Fatal(err)
	}
	if set.Count() != 1 || !set.IsSet(want) {
		t.Fatalf("after pinning to CPU %d the process may run on %d CPUs (CPU %d: %v)", want, set.Count(), want, set.IsSet(want))
	}
}
