package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Process is a process that serves a setup (its Envoy, cognito-authz), whose CPU time and system
// calls the bench reads from /proc around each of the setup's turns. It answers where a setup's
// cost goes, which req/s alone cannot: on a shared machine every process competes for the same
// CPUs, and CPU per request is much steadier than throughput.
type Process struct {
	Name string // e.g. "envoy"
	PID  int
}

// ProcessCost is one process's share of a setup's requests in one phase.
type ProcessCost struct {
	Name string `json:"name"`
	// CPUMicros is user plus system CPU time per request, in microseconds.
	CPUMicros float64 `json:"cpu_us_per_request"`
	// ReadCalls and WriteCalls are read-like and write-like system calls per request (recv,
	// readv and friends count as reads), from /proc/PID/io.
	ReadCalls  float64 `json:"read_syscalls_per_request"`
	WriteCalls float64 `json:"write_syscalls_per_request"`
}

// procSample is one reading of a process's counters.
type procSample struct {
	cpuTicks              uint64 // utime + stime, in clock ticks
	readCalls, writeCalls uint64
}

// clockTicksPerSecond is Linux's USER_HZ, which /proc reports times in. It is 100 on every
// architecture Go supports on Linux; sysconf is not reachable without cgo.
const clockTicksPerSecond = 100

// readProc reads pid's CPU time and system call counts from /proc. It fails where there is no
// /proc (not Linux) or the process is gone.
func readProc(pid int) (procSample, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procSample{}, err
	}
	io, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return procSample{}, err
	}
	s, err := parseProc(stat, io)
	if err != nil {
		return s, fmt.Errorf("/proc/%d: %w", pid, err)
	}
	return s, nil
}

// parseProc reads the contents of /proc/PID/stat and /proc/PID/io (see proc(5)).
func parseProc(stat, io []byte) (procSample, error) {
	var s procSample
	// The command name (field 2) is in parentheses and may hold spaces and parentheses: fields
	// count from the last ')'. utime and stime are fields 14 and 15 of the line.
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return s, fmt.Errorf("stat: no command name")
	}
	fields := strings.Fields(string(stat[end+1:]))
	const utimeIndex = 14 - 3 // field 3 (state) is fields[0]
	if len(fields) <= utimeIndex+1 {
		return s, fmt.Errorf("stat: %d fields, want at least 15", len(fields)+2)
	}
	utime, err1 := strconv.ParseUint(fields[utimeIndex], 10, 64)
	stime, err2 := strconv.ParseUint(fields[utimeIndex+1], 10, 64)
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("stat: utime %q, stime %q", fields[utimeIndex], fields[utimeIndex+1])
	}
	s.cpuTicks = utime + stime

	var seen int
	for _, line := range strings.Split(string(io), "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok || (key != "syscr" && key != "syscw") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return s, fmt.Errorf("io: %s %q", key, strings.TrimSpace(value))
		}
		if key == "syscr" {
			s.readCalls = n
		} else {
			s.writeCalls = n
		}
		seen++
	}
	if seen != 2 {
		return s, fmt.Errorf("io: no syscr and syscw")
	}
	return s, nil
}

// procTally accumulates one process's counters over a setup's turns in one phase.
type procTally struct {
	name                    string
	cpuTicks, reads, writes uint64
	failed                  bool // a reading failed once: the figures would be partial, so none are given
}

// measure returns a function that, called when the turn ends, adds the turn's counters to t.
func (t *procTally) measure(pid int) (done func()) {
	before, err := readProc(pid)
	if err != nil {
		t.failed = true
		return func() {}
	}
	return func() {
		after, err := readProc(pid)
		if err != nil || after.cpuTicks < before.cpuTicks || after.readCalls < before.readCalls ||
			after.writeCalls < before.writeCalls {
			t.failed = true
			return
		}
		t.cpuTicks += after.cpuTicks - before.cpuTicks
		t.reads += after.readCalls - before.readCalls
		t.writes += after.writeCalls - before.writeCalls
	}
}

// add adds another tally of the same process to t.
func (t *procTally) add(o procTally) {
	t.cpuTicks += o.cpuTicks
	t.reads += o.reads
	t.writes += o.writes
	t.failed = t.failed || o.failed
}

func (t *procTally) cost(requests uint64) (ProcessCost, bool) {
	if t.failed || requests == 0 {
		return ProcessCost{}, false
	}
	per := func(n uint64) float64 { return round(float64(n)/float64(requests), 2) }
	return ProcessCost{
		Name:       t.name,
		CPUMicros:  round(float64(t.cpuTicks)*1e6/clockTicksPerSecond/float64(requests), 1),
		ReadCalls:  per(t.reads),
		WriteCalls: per(t.writes),
	}, true
}
