package user

import (
	"errors"
	"testing"
	"time"
)

func TestPageToken_RoundTripsAndIsBoundToTheFilter(t *testing.T) {
	active, inactive := true, false
	c := Cursor{CreatedAt: time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC), ID: 42}
	tok := encodePageToken(c, &active)
	got, err := decodePageToken(tok, &active)
	if err != nil || !got.CreatedAt.Equal(c.CreatedAt) || got.ID != c.ID {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, c)
	}
	for _, f := range []*bool{nil, &inactive} {
		var inv *InvalidArgumentError
		if _, err := decodePageToken(tok, f); !errors.As(err, &inv) || inv.Field != "page_token" {
			t.Errorf("token for another filter: %v", err)
		}
	}
	if _, err := decodePageToken("e30", nil); err == nil { // "{}"
		t.Error("empty token object accepted")
	}
}

func TestThrottled_UsesTheLongestWaitOfCountersAtTheirLimitRoundedUp(t *testing.T) {
	s := &Service{cfg: Config{MaxFailuresPerAccount: 3, MaxFailuresPerAddress: 10}.withDefaults()}
	st := LoginState{Counters: []ThrottleCount{
		{Key: ThrottleKey{Scope: ScopeUser, Subject: "1"}, Failures: 3, RetryAfter: 1500 * time.Millisecond},
		{Key: ThrottleKey{Scope: ScopeAddr, Subject: "192.0.2.1"}, Failures: 9, RetryAfter: time.Hour},
	}}
	var te *ThrottledError
	if err := s.throttled(st); !errors.As(err, &te) || te.RetryAfter != 2*time.Second || !errors.Is(err, ErrThrottled) {
		t.Errorf("throttled = %v, want retry after 2s (the address is under its limit)", err)
	}
	st.Counters[0].Failures = 2
	if err := s.throttled(st); err != nil {
		t.Errorf("under both limits: %v", err)
	}
}
