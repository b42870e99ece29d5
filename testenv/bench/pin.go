package bench

import (
	"fmt"
	"os"
)

// PinEnvoys gives the Envoys a CPU of their own: every thread of each Envoy goes on the first CPU
// this process may use, and every thread of this process (the load generator, the app, the
// issuer) and of cognito-authz's own processes on the others. Unpinned, the proxy shares its core
// with whatever runs there next, and its CPU per request moves with that by up to ±10% a run on a
// 2-CPU machine; pinned, by about ±4% (docs/performance.md). It describes the split, for the report.
func (s *Stack) PinEnvoys() (string, error) {
	allowed, err := allowedCPUs()
	if err != nil {
		return "", err
	}
	envoyCPUs, otherCPUs, err := splitCPUs(allowed)
	if err != nil {
		return "", err
	}
	for _, e := range s.envoys {
		if err := pinProcess(e.PID(), envoyCPUs); err != nil {
			return "", fmt.Errorf("pin envoy %d: %w", e.PID(), err)
		}
	}
	others := []int{os.Getpid()}
	for _, a := range s.authzServers() {
		if a == nil {
			continue
		}
		if p, ok := a.Process(); ok {
			others = append(others, p.PID)
		}
	}
	for _, pid := range others {
		if err := pinProcess(pid, otherCPUs); err != nil {
			return "", fmt.Errorf("pin process %d: %w", pid, err)
		}
	}
	return fmt.Sprintf("Envoys pinned to CPU %s, everything else to CPU %s", cpuList(envoyCPUs), cpuList(otherCPUs)), nil
}

// splitCPUs puts the Envoys on the first allowed CPU and the rest on the others.
func splitCPUs(allowed []int) (envoy, other []int, err error) {
	if len(allowed) < 2 {
		return nil, nil, fmt.Errorf("pinning the Envoys to a CPU of their own needs 2 CPUs or more; this process may use %d", len(allowed))
	}
	return allowed[:1], allowed[1:], nil
}

// cpuList writes CPUs as "0" or "1-3" (they are consecutive here) or "1,3".
func cpuList(cpus []int) string {
	consecutive := true
	for i := 1; i < len(cpus); i++ {
		consecutive = consecutive && cpus[i] == cpus[i-1]+1
	}
	switch {
	case len(cpus) == 1:
		return fmt.Sprint(cpus[0])
	case consecutive:
		return fmt.Sprintf("%d-%d", cpus[0], cpus[len(cpus)-1])
	}
	s := ""
	for i, c := range cpus {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprint(c)
	}
	return s
}
