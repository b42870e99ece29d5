package bench

import (
	"slices"
	"testing"
)

func TestSplitCPUs(t *testing.T) {
	for _, tc := range []struct {
		allowed, envoy, other []int
		wantErr               bool
	}{
		{allowed: []int{0, 1}, envoy: []int{0}, other: []int{1}},
		{allowed: []int{0, 1, 2, 3}, envoy: []int{0}, other: []int{1, 2, 3}},
		{allowed: []int{2, 5}, envoy: []int{2}, other: []int{5}},
		{allowed: []int{0}, wantErr: true},
		{allowed: nil, wantErr: true},
	} {
		envoy, other, err := splitCPUs(tc.allowed)
		if (err != nil) != tc.wantErr || !slices.Equal(envoy, tc.envoy) || !slices.Equal(other, tc.other) {
			t.Errorf("splitCPUs(%v) = %v, %v, %v; want %v, %v, error %v", tc.allowed, envoy, other, err, tc.envoy, tc.other, tc.wantErr)
		}
	}
}

func TestCPUList(t *testing.T) {
	for _, tc := range []struct {
		cpus []int
		want string
	}{
		{[]int{0}, "0"},
		{[]int{1, 2, 3}, "1-3"},
		{[]int{1, 3}, "1,3"},
	} {
		if got := cpuList(tc.cpus); got != tc.want {
			t.Errorf("cpuList(%v) = %q, want %q", tc.cpus, got, tc.want)
		}
	}
}
