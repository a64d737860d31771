package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/todo-platform/todo/services/user/internal/user"
)

// newMetrics returns the service's business counters, for
// user.Service.SetMetrics, and every collector to register: those counters
// and the password-hashing slot gauges of hasher.
func newMetrics(hasher *user.Hasher) (user.Metrics, []prometheus.Collector) {
	failed := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "user_logins_failed_total",
		Help: "Sign-ins refused for wrong credentials (unknown account, wrong password, inactive account).",
	})
	throttle := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "user_login_throttle_decisions_total",
		Help: "Throttling decisions of sign-ins and password changes: allowed (checked) or throttled (refused).",
	}, []string{"decision"})
	reuse := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "user_refresh_token_reuse_total",
		Help: "Spent refresh tokens presented again; each revokes its token family.",
	})
	signUps := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "user_signups_throttled_total",
		Help: "Sign-ups refused by the per-address sign-up throttle.",
	})
	slots := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "user_password_hash_slots_in_use",
		Help: "Password hashes running now.",
	}, func() float64 { n, _, _ := hasher.Slots(); return float64(n) })
	waiting := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "user_password_hash_waiting",
		Help: "Password hashes waiting for a slot.",
	}, func() float64 { _, n, _ := hasher.Slots(); return float64(n) })
	capacity := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "user_password_hash_slots",
		Help: "Password hashes that may run at once (PASSWORD_HASH_CONCURRENCY).",
	}, func() float64 { _, _, n := hasher.Slots(); return float64(n) })
	m := user.Metrics{
		LoginsFailed:     failed,
		LoginsAllowed:    throttle.WithLabelValues("allowed"),
		LoginsThrottled:  throttle.WithLabelValues("throttled"),
		RefreshReuse:     reuse,
		SignUpsThrottled: signUps,
	}
	return m, []prometheus.Collector{failed, throttle, reuse, signUps, slots, waiting, capacity}
}
