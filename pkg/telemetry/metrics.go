package telemetry

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/todo-platform/todo/pkg/auth"
)

// Register registers cs with the process's registry.
func (t *Telemetry) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := t.Registry.Register(c); err != nil {
			return fmt.Errorf("telemetry: register metrics: %w", err)
		}
	}
	return nil
}

// VerifierMetrics are the token-verification cache counters of v:
// auth_token_cache_hits_total and auth_token_cache_misses_total.
func VerifierMetrics(v *auth.Verifier) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "auth_token_cache_hits_total",
			Help: "Access tokens found in the verification cache (no signature check).",
		}, func() float64 { h, _ := v.CacheStats(); return float64(h) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "auth_token_cache_misses_total",
			Help: "Access tokens verified in full (not in the verification cache).",
		}, func() float64 { _, m := v.CacheStats(); return float64(m) }),
	}
}
