package bench

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// DefaultScheduleLength is how many requests a schedule holds before it repeats: long enough that
// a user's token recurs at irregular intervals, short enough to cost a few hundred KiB.
const DefaultScheduleLength = 1 << 16

// Mix is the traffic every setup receives: the same requests in the same order.
type Mix struct {
	// Path is requested on every setup, e.g. /api/activities/home. It must be a route where auth
	// is optional: a valid token and no token both get 2xx, so any other answer is an error.
	Path string
	// Tokens holds one token per user. Each authenticated request carries one of them, picked at
	// random, so a user's token recurs the way a real client resends its token until it expires.
	Tokens []string
	// AnonymousShare of requests, from 0 to 1, carry no token at all.
	AnonymousShare float64
	// ScheduleLength is the number of requests before the sequence repeats; default
	// DefaultScheduleLength.
	ScheduleLength int
	// Seed makes the sequence reproducible; the same seed gives the same sequence.
	Seed uint64
}

func (m Mix) validate() error {
	var errs []error
	if !strings.HasPrefix(m.Path, "/") {
		errs = append(errs, fmt.Errorf("mix: path %q must start with /", m.Path))
	}
	if m.AnonymousShare < 0 || m.AnonymousShare > 1 || m.AnonymousShare != m.AnonymousShare {
		errs = append(errs, fmt.Errorf("mix: anonymous share %v is not between 0 and 1", m.AnonymousShare))
	}
	if len(m.Tokens) == 0 && m.AnonymousShare < 1 {
		errs = append(errs, errors.New("mix: no tokens, yet not every request is anonymous"))
	}
	for i, t := range m.Tokens {
		// The token goes into a header verbatim; say which user is broken, never echo the token.
		if t == "" || strings.ContainsAny(t, " \t\r\n") {
			errs = append(errs, fmt.Errorf("mix: token %d is empty or contains whitespace", i))
			break
		}
	}
	if m.ScheduleLength < 0 {
		errs = append(errs, fmt.Errorf("mix: schedule length %d is negative", m.ScheduleLength))
	}
	return errors.Join(errs...)
}

// anonymous marks a schedule slot that sends no token.
const anonymous = -1

// schedule is the order in which users call: slot i is a user index, or anonymous.
type schedule struct {
	slots   []int32
	headers []http.Header // one per user, shared read-only (vegeta copies them into each request)
}

func newSchedule(m Mix) *schedule {
	n := m.ScheduleLength
	if n == 0 {
		n = DefaultScheduleLength
	}
	rng := rand.New(rand.NewPCG(m.Seed, m.Seed^0x9e3779b97f4a7c15))
	s := &schedule{slots: make([]int32, n), headers: make([]http.Header, len(m.Tokens))}
	for i, t := range m.Tokens {
		s.headers[i] = http.Header{"Authorization": {"Bearer " + t}}
	}
	for i := range s.slots {
		if len(m.Tokens) == 0 || rng.Float64() < m.AnonymousShare {
			s.slots[i] = anonymous
			continue
		}
		s.slots[i] = int32(rng.IntN(len(m.Tokens)))
	}
	return s
}

// targeter walks the schedule against one base URL. Each setup gets its own, so every setup sees
// the schedule from its start, and one walk continues across the phases and rounds of a run.
func (s *schedule) targeter(baseURL, path string) vegeta.Targeter {
	url := strings.TrimSuffix(baseURL, "/") + path
	var next atomic.Uint64
	return func(t *vegeta.Target) error {
		if t == nil {
			return vegeta.ErrNilTarget
		}
		slot := s.slots[(next.Add(1)-1)%uint64(len(s.slots))]
		*t = vegeta.Target{Method: http.MethodGet, URL: url}
		if slot != anonymous {
			t.Header = s.headers[slot]
		}
		return nil
	}
}

// MixStats describe a schedule, for the report.
type MixStats struct {
	Users          int     `json:"users"`
	AnonymousShare float64 `json:"anonymous_share"` // measured over the schedule
	// ReuseShare of authenticated requests carry a token an earlier request of the schedule
	// already carried: how much a verified-token cache can help.
	ReuseShare float64 `json:"reuse_share"`
}

func (s *schedule) stats() MixStats {
	seen := make([]bool, len(s.headers))
	var anon, reused, authed int
	for _, slot := range s.slots {
		if slot == anonymous {
			anon++
			continue
		}
		authed++
		if seen[slot] {
			reused++
		}
		seen[slot] = true
	}
	st := MixStats{Users: len(s.headers), AnonymousShare: round(float64(anon)/float64(len(s.slots)), 4)}
	if authed > 0 {
		st.ReuseShare = round(float64(reused)/float64(authed), 4)
	}
	return st
}
