// Package load runs a request function at a fixed concurrency for a fixed
// time after a warm-up, and measures throughput and latency percentiles.
package load

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Func makes one request and returns an error when it failed. r is the
// calling worker's own random source.
type Func func(ctx context.Context, r *rand.Rand) error

// Options say how hard and how long Run drives a Func.
type Options struct {
	// Concurrency is the number of workers, each making one request at a time.
	Concurrency int
	// Warmup is how long the workers run before measuring starts.
	Warmup time.Duration
	// Duration is how long the measurement lasts.
	Duration time.Duration
	// Timeout bounds each request.
	Timeout time.Duration
	// Started and Stopped, when set, are called as the measured window
	// starts and ends (before Run returns), e.g. to sample CPU time.
	Started, Stopped func()
}

// maxErrorSamples is how many distinct error messages a Result keeps.
const maxErrorSamples = 5

// Result is what Run measured. Only requests started within the measured
// window count.
type Result struct {
	// Requests is the number of requests made (failed ones included).
	Requests int64
	// Errors is the number of requests that failed.
	Errors int64
	// ErrorSamples are up to five distinct error messages.
	ErrorSamples []string
	// Duration is the length of the measured window.
	Duration time.Duration
	// P50 and P99 are latency percentiles over all measured requests.
	P50, P99 time.Duration
}

// Throughput returns requests per second.
func (r Result) Throughput() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Duration.Seconds()
}

// worker is one worker's tally.
type worker struct {
	latencies []time.Duration
	errors    int64
	samples   []string
}

// Run calls f from o.Concurrency workers until o.Warmup plus o.Duration
// have passed, or ctx ends, and reports the requests started after the
// warm-up.
func Run(ctx context.Context, o Options, seed uint64, f Func) Result {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	begin := time.Now()
	measureFrom := begin.Add(o.Warmup)
	stopAt := measureFrom.Add(o.Duration)
	workers := make([]worker, o.Concurrency)
	var wg sync.WaitGroup
	if o.Started != nil || o.Stopped != nil {
		wg.Go(func() {
			for _, edge := range []struct {
				at time.Time
				f  func()
			}{{measureFrom, o.Started}, {stopAt, o.Stopped}} {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(edge.at)):
				}
				if edge.f != nil {
					edge.f()
				}
			}
		})
	}
	for i := range workers {
		w := &workers[i]
		w.latencies = make([]time.Duration, 0, 1<<14)
		r := rand.New(rand.NewPCG(seed, uint64(i)))
		wg.Go(func() {
			for ctx.Err() == nil {
				start := time.Now()
				if !start.Before(stopAt) {
					return
				}
				rctx, cancel := context.WithTimeout(ctx, o.Timeout)
				err := f(rctx, r)
				cancel()
				if start.Before(measureFrom) {
					continue
				}
				w.latencies = append(w.latencies, time.Since(start))
				if err != nil {
					w.errors++
					if msg := err.Error(); len(w.samples) < maxErrorSamples && !slices.Contains(w.samples, msg) {
						w.samples = append(w.samples, msg)
					}
				}
			}
		})
	}
	wg.Wait()

	var res Result
	res.Duration = o.Duration
	if end := time.Now(); end.Before(stopAt) { // ctx ended early
		res.Duration = max(0, end.Sub(measureFrom))
	}
	var all []time.Duration
	for _, w := range workers {
		all = append(all, w.latencies...)
		res.Errors += w.errors
		for _, s := range w.samples {
			if len(res.ErrorSamples) < maxErrorSamples && !slices.Contains(res.ErrorSamples, s) {
				res.ErrorSamples = append(res.ErrorSamples, s)
			}
		}
	}
	res.Requests = int64(len(all))
	slices.Sort(all)
	res.P50 = Percentile(all, 0.50)
	res.P99 = Percentile(all, 0.99)
	return res
}

// Percentile returns the q-quantile (0 < q ≤ 1) of sorted by the
// nearest-rank method: the smallest value with at least q of the values at
// or below it. It returns 0 for no values.
func Percentile[T any](sorted []T, q float64) T {
	var zero T
	if len(sorted) == 0 {
		return zero
	}
	rank := int(math.Ceil(q * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}
