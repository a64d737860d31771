package task

// Counter counts one kind of event (a prometheus.Counter is one).
type Counter interface{ Inc() }

// Metrics are the business events the Service counts for its operators.
// A nil Counter counts nothing.
type Metrics struct {
	// TasksCreated counts successful creates (a repeat with the same
	// request_id included).
	TasksCreated Counter
}

// SetMetrics makes s count its events into m. Call it before s serves.
func (s *Service) SetMetrics(m Metrics) { s.metrics = m }

func inc(c Counter) {
	if c != nil {
		c.Inc()
	}
}
