package user

// Counter counts one kind of event (a prometheus.Counter is one).
type Counter interface{ Inc() }

// Metrics are the business events the Service counts for its operators.
// A nil Counter counts nothing.
type Metrics struct {
	// LoginsFailed counts sign-ins refused for wrong credentials (unknown
	// account, wrong password, inactive account).
	LoginsFailed Counter
	// LoginsAllowed and LoginsThrottled count the throttling decisions of
	// sign-ins and password changes: let through to the password check, or
	// refused because too many failed.
	LoginsAllowed, LoginsThrottled Counter
	// RefreshReuse counts spent refresh tokens presented again (their
	// family is revoked).
	RefreshReuse Counter
	// SignUpsThrottled counts sign-ups refused by the per-address throttle.
	SignUpsThrottled Counter
}

// SetMetrics makes s count its events into m. Call it before s serves.
func (s *Service) SetMetrics(m Metrics) { s.metrics = m }

func inc(c Counter) {
	if c != nil {
		c.Inc()
	}
}
