package revocation

import (
	"testing"
	"time"
)

// TestLimiterReserve: a full bucket serves its burst at once; past it a call books the next token
// when it comes before the caller's latest time, and is refused (booking nothing) otherwise;
// the bucket refills at its rate up to its burst.
func TestLimiterReserve(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	l := newLimiter(10) // 10 a second, burst 10: a token every 100 ms
	steps := []struct {
		name        string
		now, latest time.Time
		wantOK      bool
		wantAt      time.Time
	}{
		{"burst 1", ms(0), ms(0), true, ms(0)},
		{"burst 2", ms(0), ms(0), true, ms(0)},
		{"burst 3", ms(0), ms(0), true, ms(0)},
		{"burst 4", ms(0), ms(0), true, ms(0)},
		{"burst 5", ms(0), ms(0), true, ms(0)},
		{"burst 6", ms(0), ms(0), true, ms(0)},
		{"burst 7", ms(0), ms(0), true, ms(0)},
		{"burst 8", ms(0), ms(0), true, ms(0)},
		{"burst 9", ms(0), ms(0), true, ms(0)},
		{"burst 10", ms(0), ms(0), true, ms(0)},
		{"empty, caller cannot wait", ms(0), ms(50), false, time.Time{}},
		{"empty, booked ahead", ms(0), ms(100), true, ms(100)},
		{"next booking is later", ms(0), ms(500), true, ms(200)},
		{"refused bookings took nothing", ms(0), ms(300), true, ms(300)},
		{"refilled by time: 3.5 tokens repay 3 booked", ms(350), ms(1000), true, ms(400)},
		{"a long pause refills to the burst only", ms(60_000), ms(60_000), true, ms(60_000)},
	}
	for _, s := range steps {
		at, ok := l.reserve(s.now, s.latest)
		if ok != s.wantOK || !at.Equal(s.wantAt) {
			t.Fatalf("%s: reserve = %v, %v; want %v, %v", s.name, at.Sub(t0), ok, s.wantAt.Sub(t0), s.wantOK)
		}
	}
	for i := range 9 {
		if at, _ := l.reserve(ms(60_000), ms(60_000)); !at.Equal(ms(60_000)) {
			t.Fatalf("token %d of the refilled burst not at once", i+2)
		}
	}
	if _, ok := l.reserve(ms(60_000), ms(60_000)); ok {
		t.Fatalf("an eleventh token at once from a burst of 10")
	}
}

// TestLimiterSlowRate: below one call a second the bucket still holds one.
func TestLimiterSlowRate(t *testing.T) {
	t0 := time.Now()
	l := newLimiter(0.5)
	if _, ok := l.reserve(t0, t0); !ok {
		t.Fatal("no first call at 0.5 a second")
	}
	if at, ok := l.reserve(t0, t0.Add(time.Minute)); !ok || at.Sub(t0) != 2*time.Second {
		t.Fatalf("second call at %v, %v; want 2s later", at.Sub(t0), ok)
	}
}
