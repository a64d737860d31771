package user

import (
	"errors"
	"strings"
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
		if _, err := decodePageToken(tok, f); !errors.Is(err, ErrInvalidPageToken) {
			t.Errorf("token for another filter: %v, want ErrInvalidPageToken", err)
		}
	}
	if _, err := decodePageToken("e30", nil); !errors.Is(err, ErrInvalidPageToken) { // "{}"
		t.Errorf("a token that is not one: %v, want ErrInvalidPageToken", err)
	}
}

func TestThrottled_UsesTheLongestWaitOfCountersAtTheirLimitRoundedUp(t *testing.T) {
	s := &Service{cfg: Config{RefreshTTL: time.Hour, ThrottleWindow: time.Hour, MaxFailuresPerAccount: 3, MaxFailuresPerAddress: 10}}
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

func TestChange_ChecksNamesThenValues(t *testing.T) {
	long := strings.Repeat("x", MaxFullNameLen+1)
	for _, tc := range []struct {
		name string
		ch   Change
		want error
	}{
		{"unknown field first", Change{Fields: []string{FieldUsername, "is_admin"}, Username: "x"}, &UnknownFieldError{Name: "is_admin"}},
		{"bad username", Change{Fields: []string{FieldUsername}, Username: "X"}, ErrInvalidUsername},
		{"empty username", Change{Fields: []string{FieldUsername}}, ErrInvalidUsername},
		{"bad email", Change{Fields: []string{FieldEmail}, Email: "no-at-sign"}, ErrInvalidEmail},
		{"long full name", Change{Fields: []string{FieldFullName}, FullName: long}, ErrFullNameTooLong},
		{"unnamed fields are not checked", Change{Fields: []string{FieldFullName}, Username: "X", Email: "bad"}, nil},
	} {
		_, err := tc.ch.update()
		var unknown *UnknownFieldError
		switch want := tc.want.(type) {
		case *UnknownFieldError:
			if !errors.As(err, &unknown) || unknown.Name != want.Name {
				t.Errorf("%s: %v, want unknown field %q", tc.name, err, want.Name)
			}
		default:
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			}
		}
	}
	u, err := Change{Fields: []string{FieldEmail, FieldFullName}, Email: " Alice@Example.COM ", FullName: ""}.update()
	if err != nil || u.Email == nil || *u.Email != "alice@example.com" || u.FullName == nil || *u.FullName != "" || u.Username != nil {
		t.Errorf("update = %+v, %v; want the email normalised, the full name cleared, the username untouched", u, err)
	}
}

func TestNewService_RefusesAConfigWithoutLimits(t *testing.T) {
	good := Config{RefreshTTL: time.Hour, ThrottleWindow: time.Hour, MaxFailuresPerAccount: 1, MaxFailuresPerAddress: 1, MaxSignUpsPerAddress: 1}
	for _, tc := range []struct {
		field string
		cfg   func(*Config)
	}{
		{"RefreshTTL", func(c *Config) { c.RefreshTTL = 0 }},
		{"ThrottleWindow", func(c *Config) { c.ThrottleWindow = -time.Second }},
		{"MaxFailuresPerAccount", func(c *Config) { c.MaxFailuresPerAccount = 0 }},
		{"MaxFailuresPerAddress", func(c *Config) { c.MaxFailuresPerAddress = 0 }},
		{"MaxSignUpsPerAddress", func(c *Config) { c.MaxSignUpsPerAddress = -1 }},
	} {
		c := good
		tc.cfg(&c)
		if _, err := NewService(t.Context(), nil, nil, NewHasher(cheap(), 1), nil, c); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s not positive: %v, want an error naming it", tc.field, err)
		}
	}
	if _, err := NewService(t.Context(), nil, nil, NewHasher(cheap(), 1), nil, good); err != nil {
		t.Errorf("valid config: %v", err)
	}
}
