package load

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile_NearestRank(t *testing.T) {
	v := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tc := range []struct {
		q    float64
		want int
	}{{0.5, 5}, {0.99, 10}, {0.1, 1}, {0.11, 2}, {1, 10}, {0.0001, 1}} {
		if got := Percentile(v, tc.q); got != tc.want {
			t.Errorf("Percentile(1..10, %v) = %d, want %d", tc.q, got, tc.want)
		}
	}
	if got := Percentile([]int(nil), 0.5); got != 0 {
		t.Errorf("Percentile(nil) = %d, want 0", got)
	}
}

func TestRun_CountsOnlyMeasuredRequestsAndErrors(t *testing.T) {
	var calls atomic.Int64
	boom := errors.New("boom")
	res := Run(context.Background(), Options{Concurrency: 3, Warmup: 50 * time.Millisecond, Duration: 100 * time.Millisecond}, 1,
		func(ctx context.Context, r *rand.Rand) error {
			n := calls.Add(1)
			time.Sleep(time.Millisecond)
			if n%2 == 0 {
				return boom
			}
			return nil
		})
	if res.Requests == 0 || res.Requests >= calls.Load() {
		t.Errorf("Requests = %d of %d calls; want some, but not the warm-up ones", res.Requests, calls.Load())
	}
	if res.Errors == 0 || res.Errors >= res.Requests {
		t.Errorf("Errors = %d of %d requests; want about half", res.Errors, res.Requests)
	}
	if len(res.ErrorSamples) != 1 || res.ErrorSamples[0] != "boom" {
		t.Errorf("ErrorSamples = %q, want [boom]", res.ErrorSamples)
	}
	if res.P50 < time.Millisecond || res.P99 < res.P50 {
		t.Errorf("P50 = %v, P99 = %v; want ≥ 1ms and P99 ≥ P50", res.P50, res.P99)
	}
	if res.Duration != 100*time.Millisecond {
		t.Errorf("Duration = %v, want 100ms", res.Duration)
	}
}

func TestRun_MarksTheWindow(t *testing.T) {
	var started, stopped atomic.Int64
	var inWindow atomic.Int64
	res := Run(context.Background(), Options{
		Concurrency: 2, Warmup: 30 * time.Millisecond, Duration: 60 * time.Millisecond,
		Started: func() { started.Add(1) },
		Stopped: func() {
			if started.Load() != 1 {
				t.Error("Stopped before Started")
			}
			stopped.Add(1)
		},
	}, 1, func(ctx context.Context, r *rand.Rand) error {
		if started.Load() == 1 && stopped.Load() == 0 {
			inWindow.Add(1)
		}
		time.Sleep(time.Millisecond)
		return nil
	})
	if started.Load() != 1 || stopped.Load() != 1 {
		t.Fatalf("Started called %d times, Stopped %d times by the time Run returned; want once each", started.Load(), stopped.Load())
	}
	if inWindow.Load() == 0 || res.Requests == 0 {
		t.Errorf("%d calls between the marks, %d requests measured; want some of each", inWindow.Load(), res.Requests)
	}
}
