package bench

import (
	"fmt"
	"runtime"
	"testing"
)

func TestDescribeAuthz(t *testing.T) {
	tests := []struct {
		opts StackOptions
		want string
	}{
		{StackOptions{}, "inside the bench process"},
		{StackOptions{AuthzBinary: "bin/cognito-authz", AuthzProcs: 1}, "own process (bin/cognito-authz), GOMAXPROCS=1"},
		{StackOptions{AuthzBinary: "bin/cognito-authz"}, fmt.Sprintf("own process (bin/cognito-authz), GOMAXPROCS=%d (Go's default)", runtime.NumCPU())},
	}
	for _, tt := range tests {
		if got := tt.opts.DescribeAuthz(); got != tt.want {
			t.Errorf("%+v.DescribeAuthz() = %q, want %q", tt.opts, got, tt.want)
		}
	}
}
