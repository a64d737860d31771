package telemetry

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector exports a pgxpool's statistics, read at each scrape.
type poolCollector struct {
	pool *pgxpool.Pool

	total, idle, max                          *prometheus.Desc
	acquires, acquireSeconds, canceled, empty *prometheus.Desc
}

// NewPoolCollector returns a collector of pool's statistics:
// pgxpool_connections{state="idle|acquired|constructing"},
// pgxpool_total_connections, pgxpool_max_connections, and the counters
// pgxpool_acquires_total, pgxpool_acquire_wait_seconds_total (time spent
// acquiring), pgxpool_canceled_acquires_total and
// pgxpool_empty_acquires_total (acquires that had to wait for a
// connection).
func NewPoolCollector(pool *pgxpool.Pool) prometheus.Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("pgxpool_"+name, help, labels, nil)
	}
	return &poolCollector{
		pool:           pool,
		total:          d("total_connections", "Connections in the pool, of every state."),
		idle:           d("connections", "Connections in the pool by state.", "state"),
		max:            d("max_connections", "The most connections the pool opens."),
		acquires:       d("acquires_total", "Connections acquired from the pool."),
		acquireSeconds: d("acquire_wait_seconds_total", "Time spent acquiring connections, in seconds."),
		canceled:       d("canceled_acquires_total", "Acquires canceled by their context."),
		empty:          d("empty_acquires_total", "Acquires that waited because no idle connection was there."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.total, c.idle, c.max, c.acquires, c.acquireSeconds, c.canceled, c.empty} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.total, float64(s.TotalConns()))
	gauge(c.idle, float64(s.IdleConns()), "idle")
	gauge(c.idle, float64(s.AcquiredConns()), "acquired")
	gauge(c.idle, float64(s.ConstructingConns()), "constructing")
	gauge(c.max, float64(s.MaxConns()))
	counter(c.acquires, float64(s.AcquireCount()))
	counter(c.acquireSeconds, s.AcquireDuration().Seconds())
	counter(c.canceled, float64(s.CanceledAcquireCount()))
	counter(c.empty, float64(s.EmptyAcquireCount()))
}
