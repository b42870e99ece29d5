package bench

import (
	"os"
	"runtime"
	"strings"
	"testing"
)

const statLine = "4242 (envoy) S 1 4242 4242 0 -1 4194560 5160 0 0 0 1234 567 0 0 20 0 9 0 2772 1 2 3"

const ioText = `rchar: 1000
wchar: 2000
syscr: 311
syscw: 42
read_bytes: 0
write_bytes: 0
cancelled_write_bytes: 0
`

func TestParseProc(t *testing.T) {
	tests := []struct {
		name       string
		stat, io   string
		want       procSample
		wantErrSub string
	}{
		{name: "envoy", stat: statLine, io: ioText, want: procSample{cpuTicks: 1234 + 567, readCalls: 311, writeCalls: 42}},
		{name: "command name with spaces and parentheses",
			stat: strings.Replace(statLine, "(envoy)", "(a) b (c))", 1), io: ioText,
			want: procSample{cpuTicks: 1801, readCalls: 311, writeCalls: 42}},
		{name: "no command name", stat: "4242 envoy S 1", io: ioText, wantErrSub: "no command name"},
		{name: "truncated stat", stat: "4242 (envoy) S 1 4242", io: ioText, wantErrSub: "fields"},
		{name: "utime not a number", stat: strings.Replace(statLine, " 1234 ", " x ", 1), io: ioText, wantErrSub: "utime"},
		{name: "io without syscw", stat: statLine, io: "syscr: 311\n", wantErrSub: "no syscr and syscw"},
		{name: "io with a bad count", stat: statLine, io: "syscr: many\nsyscw: 1\n", wantErrSub: "syscr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProc([]byte(tt.stat), []byte(tt.io))
			if tt.wantErrSub != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrSub) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErrSub)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseProc = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestReadProcOfThisProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux's")
	}
	before, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile("/proc/self/stat"); err != nil { // one more read system call at least
		t.Fatal(err)
	}
	after, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after.readCalls <= before.readCalls {
		t.Errorf("read system calls %d then %d, want more", before.readCalls, after.readCalls)
	}
	if _, err := readProc(-1); err == nil {
		t.Error("readProc(-1) succeeded")
	}
}

func TestProcessCostPerRequest(t *testing.T) {
	tests := []struct {
		name     string
		tally    procTally
		requests uint64
		want     ProcessCost
		ok       bool
	}{
		{name: "per request", tally: procTally{name: "envoy", cpuTicks: 25, reads: 4000, writes: 1050}, requests: 1000,
			want: ProcessCost{Name: "envoy", CPUMicros: 250, ReadCalls: 4, WriteCalls: 1.05}, ok: true},
		{name: "no requests", tally: procTally{name: "envoy", cpuTicks: 25}, requests: 0},
		{name: "a reading failed", tally: procTally{name: "envoy", cpuTicks: 25, failed: true}, requests: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.tally.cost(tt.requests)
			if ok != tt.ok || got != tt.want {
				t.Errorf("cost = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestMeasureGoneProcessGivesNoFigures(t *testing.T) {
	var p procTally
	done := p.measure(-1)
	done()
	if _, ok := p.cost(100); ok {
		t.Error("a process that could not be read has a cost")
	}
}
