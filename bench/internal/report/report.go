// Package report renders the benchmark's results as the markdown of
// docs/benchmarks.md.
package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/todo-platform/todo/bench/internal/load"
)

// Via names a transport; PgBench is the row of PostgreSQL's own pgbench
// running the case's SQL.
const (
	GRPC    = "gRPC"
	REST    = "REST"
	PgBench = "pgbench SQL"
)

// The process names of the CPU table besides the services: PostgreSQL
// (the postmaster and all its backends) and the load driver.
const (
	Postgres = "postgres"
	Driver   = "driver"
)

// Measured is one row's result at one dataset size.
type Measured struct {
	load.Result
	// Err is set when the case could not be measured at all.
	Err string
	// CPU is the CPU time (user + system) each process spent in the
	// measured window, by process name (the services, Postgres, Driver).
	CPU map[string]time.Duration
}

// PerRequest returns process's CPU time per request in microseconds, and
// whether there is one.
func (m Measured) PerRequest(process string) (float64, bool) {
	d, ok := m.CPU[process]
	if !ok || m.Requests == 0 || m.Failed() {
		return 0, false
	}
	return float64(d) / float64(time.Microsecond) / float64(m.Requests), true
}

// Failed reports whether the row is marked failed: it could not run, or a
// request failed.
func (m Measured) Failed() bool { return m.Err != "" || m.Errors > 0 }

// Key names a row: a case and a transport.
type Key struct{ Case, Via string }

// Size is everything measured on one dataset.
type Size struct {
	// Tasks is the number of seeded tasks.
	Tasks int64
	// HeavyUsers is the number of heavy users the ListTasks cases ran as.
	HeavyUsers int64
	// Rows are the measured rows.
	Rows map[Key]Measured
	// PeakRSS is the peak resident set size in bytes by process name.
	PeakRSS map[string]int64
}

// Machine describes where the run happened.
type Machine struct {
	CPU             string
	Cores           int
	GoVersion       string
	PostgresVersion string
	PgbenchVersion  string
	Kernel          string
}

// Report is one benchmark run.
type Report struct {
	When    time.Time
	Machine Machine
	// Settings are "name: value" lines describing the run.
	Settings []string
	// Cases are the case names in table order; SQL names those with a
	// pgbench equivalent.
	Cases []string
	SQL   map[string]bool
	// Processes are the process names of the peak RSS table, in order.
	Processes []string
	// Server names the process that serves each case (the other cases are
	// served by DefaultServer); the CPU table divides its time by
	// PostgreSQL's and the gateway's by its.
	Server        map[string]string
	DefaultServer string
	// Sizes are the datasets, smallest first; ratios across sizes compare
	// the last with the first.
	Sizes []Size
	// ListFirst and ListDeep name the ListTasks cases the page ratio
	// compares.
	ListFirst, ListDeep string
	// Batch names the batch create case BatchTable compares with single
	// creates; zero: no such table.
	Batch Batch
}

// Batch is a case whose one request does what Size requests of case Single
// do (a batch of creates and the single create).
type Batch struct {
	Case, Single string
	Size         int
}

// Failures returns one line per failed row.
func (r Report) Failures() []string {
	var out []string
	for _, s := range r.Sizes {
		for _, c := range r.Cases {
			for _, via := range r.vias(c) {
				m, ok := s.Rows[Key{c, via}]
				switch {
				case !ok:
					out = append(out, fmt.Sprintf("%s tasks, %s over %s: not measured", Count(s.Tasks), c, via))
				case m.Err != "":
					out = append(out, fmt.Sprintf("%s tasks, %s over %s: %s", Count(s.Tasks), c, via, m.Err))
				case m.Errors > 0:
					out = append(out, fmt.Sprintf("%s tasks, %s over %s: %d errors, e.g. %s",
						Count(s.Tasks), c, via, m.Errors, strings.Join(m.ErrorSamples, " | ")))
				}
			}
		}
	}
	return out
}

func (r Report) vias(c string) []string {
	if r.SQL[c] {
		return []string{GRPC, REST, PgBench}
	}
	return []string{GRPC, REST}
}

// Table returns the results table in markdown.
func (r Report) Table() string {
	var b strings.Builder
	first, last := r.Sizes[0], r.Sizes[len(r.Sizes)-1]
	head := []string{"case", "via"}
	align := []string{"---", "---"}
	for _, s := range r.Sizes {
		n := Count(s.Tasks)
		head = append(head, n+": req/s", n+": p50 ms", n+": p99 ms", n+": errors")
		align = append(align, "--:", "--:", "--:", "--:")
	}
	ln := Count(last.Tasks)
	head = append(head,
		fmt.Sprintf("p99 %s / %s", ln, Count(first.Tasks)),
		fmt.Sprintf("REST / gRPC (%s)", ln),
		fmt.Sprintf("÷ pgbench (%s)", ln),
		fmt.Sprintf("page 1000 / page 1 (%s)", ln))
	align = append(align, "--:", "--:", "--:", "--:")
	row(&b, head)
	row(&b, align)

	for _, c := range r.Cases {
		for _, via := range r.vias(c) {
			cells := []string{c, via}
			for _, s := range r.Sizes {
				m, ok := s.Rows[Key{c, via}]
				switch {
				case !ok:
					cells = append(cells, "—", "—", "—", "not run")
				case m.Err != "":
					cells = append(cells, "—", "—", "—", "**FAILED**")
				default:
					errs := "0"
					if m.Errors > 0 {
						errs = fmt.Sprintf("**FAILED** (%d)", m.Errors)
					}
					cells = append(cells, Rate(m.Throughput()), Millis(m.P50), Millis(m.P99), errs)
				}
			}
			a, aok := first.Rows[Key{c, via}]
			z, zok := last.Rows[Key{c, via}]
			cells = append(cells, ratio(aok && zok && !a.Failed() && !z.Failed(), float64(z.P99), float64(a.P99)))

			restGRPC := ""
			if via == REST {
				g, ok := last.Rows[Key{c, GRPC}]
				restGRPC = ratio(ok && zok && !g.Failed() && !z.Failed(), z.Throughput(), g.Throughput())
			}
			vsPgbench := ""
			if r.SQL[c] && via != PgBench {
				p, ok := last.Rows[Key{c, PgBench}]
				vsPgbench = ratio(ok && zok && !p.Failed() && !z.Failed(), z.Throughput(), p.Throughput())
			}
			pages := ""
			if c == r.ListDeep {
				p1, ok := last.Rows[Key{r.ListFirst, via}]
				pages = ratio(ok && zok && !p1.Failed() && !z.Failed(), z.Throughput(), p1.Throughput())
			}
			cells = append(cells, restGRPC, vsPgbench, pages)
			row(&b, cells)
		}
	}
	return b.String()
}

// BatchTable returns, in markdown, the batch case's throughput in items
// (requests × Size) on each dataset and over each transport, against the
// single case's, and their ratio; "" when the report has no batch case.
func (r Report) BatchTable() string {
	if r.Batch.Case == "" || !slices.Contains(r.Cases, r.Batch.Case) {
		return ""
	}
	var b strings.Builder
	row(&b, []string{"dataset", "via", r.Batch.Case + ": req/s", "tasks/s", r.Batch.Single + ": tasks/s", "batch ÷ single"})
	row(&b, []string{"---", "---", "--:", "--:", "--:", "--:"})
	for _, s := range r.Sizes {
		for _, via := range []string{GRPC, REST} {
			bm, bok := s.Rows[Key{r.Batch.Case, via}]
			sm, sok := s.Rows[Key{r.Batch.Single, via}]
			cells := []string{Count(s.Tasks), via, "—", "—", "—", ""}
			if bok && !bm.Failed() {
				cells[2], cells[3] = Rate(bm.Throughput()), Rate(bm.Throughput()*float64(r.Batch.Size))
			}
			if sok && !sm.Failed() {
				cells[4] = Rate(sm.Throughput())
			}
			cells[5] = ratio(bok && sok && !bm.Failed() && !sm.Failed(), bm.Throughput()*float64(r.Batch.Size), sm.Throughput())
			row(&b, cells)
		}
	}
	return b.String()
}

// CPUTable returns the CPU-per-request table of one dataset in markdown:
// for each row, each process's CPU time in the measured window divided by
// the requests, in µs, then the serving process's over PostgreSQL's and the
// gateway's over the serving process's.
func (r Report) CPUTable(s Size) string {
	var b strings.Builder
	procs := append(slices.Clone(r.Processes), Postgres, Driver)
	head := []string{"case", "via"}
	align := []string{"---", "---"}
	for _, p := range procs {
		head = append(head, p+" µs/req")
		align = append(align, "--:")
	}
	head = append(head, "server ÷ postgres", "gateway ÷ server")
	align = append(align, "--:", "--:")
	row(&b, head)
	row(&b, align)
	for _, c := range r.Cases {
		server := r.DefaultServer
		if p, ok := r.Server[c]; ok {
			server = p
		}
		for _, via := range r.vias(c) {
			m, ok := s.Rows[Key{c, via}]
			if !ok {
				continue
			}
			cells := []string{c, via}
			for _, p := range procs {
				if v, ok := m.PerRequest(p); ok {
					cells = append(cells, Micros(v))
				} else {
					cells = append(cells, "")
				}
			}
			srv, sok := m.PerRequest(server)
			pg, pok := m.PerRequest(Postgres)
			gw, gok := m.PerRequest("gateway")
			cells = append(cells, ratio(sok && pok, srv, pg), ratio(via == REST && sok && gok, gw, srv))
			row(&b, cells)
		}
	}
	return b.String()
}

// Micros formats microseconds with three significant digits.
func Micros(us float64) string {
	switch {
	case us >= 100:
		return strconv.FormatFloat(us, 'f', 0, 64)
	case us >= 10:
		return strconv.FormatFloat(us, 'f', 1, 64)
	default:
		return strconv.FormatFloat(us, 'f', 2, 64)
	}
}

// RSSTable returns the peak RSS table in markdown.
func (r Report) RSSTable() string {
	var b strings.Builder
	head := []string{"process"}
	align := []string{"---"}
	for _, s := range r.Sizes {
		head = append(head, "peak RSS, "+Count(s.Tasks)+" tasks")
		align = append(align, "--:")
	}
	row(&b, head)
	row(&b, align)
	for _, p := range r.Processes {
		cells := []string{p}
		for _, s := range r.Sizes {
			if v, ok := s.PeakRSS[p]; ok {
				cells = append(cells, fmt.Sprintf("%.1f MiB", float64(v)/(1<<20)))
			} else {
				cells = append(cells, "—")
			}
		}
		row(&b, cells)
	}
	return b.String()
}

// Markdown returns the whole docs/benchmarks.md.
func (r Report) Markdown() string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "# Benchmarks\n\n")
	fmt.Fprintf(&b, "Written by `make bench` on %s. Every figure in this file comes from that one run;\n", r.When.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "run `make bench` again to replace it (see [Method](#method) for the knobs).\n\n")
	fmt.Fprintf(&b, "**Machine:** %s, %d cores, Linux %s; %s; PostgreSQL %s; pgbench %s.\n\n",
		m.CPU, m.Cores, m.Kernel, m.GoVersion, m.PostgresVersion, m.PgbenchVersion)
	fmt.Fprintf(&b, "**Run:** %s.\n\n", strings.Join(r.Settings, "; "))
	fmt.Fprintf(&b, "## Results\n\n")
	b.WriteString(r.Table())
	b.WriteString("\n")
	if t := r.BatchTable(); t != "" {
		fmt.Fprintf(&b, "Tasks created per second by batches of %d (%s, each with its request ids, one transaction) against single creates (%s, no request id), from the rows above:\n\n", r.Batch.Size, r.Batch.Case, r.Batch.Single)
		b.WriteString(t)
		b.WriteString("\n")
	}
	if f := r.Failures(); len(f) > 0 {
		fmt.Fprintf(&b, "**Failed rows** (a row with any error is marked failed):\n\n")
		for _, l := range f {
			fmt.Fprintf(&b, "- %s\n", l)
		}
		b.WriteString("\n")
	}
	for _, sz := range r.Sizes {
		fmt.Fprintf(&b, "CPU time per request, %s tasks (each process's user + system time in the measured window ÷ the requests; see [Method](#method)):\n\n", Count(sz.Tasks))
		b.WriteString(r.CPUTable(sz))
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Peak resident memory of each process (VmHWM, read after its dataset's cases; the services are restarted for each dataset):\n\n")
	b.WriteString(r.RSSTable())
	b.WriteString("\n")
	b.WriteString(method)
	return b.String()
}

const method = `## Method

- **Columns.** req/s counts the requests started in the measured window
  (failed ones included) divided by its length; p50 and p99 are latencies
  of those requests as the client saw them (nearest rank). *p99 large /
  small* divides the p99 latency on the large dataset by that on the small
  one; the other ratios are taken on the large dataset.
  *REST / gRPC* divides REST's throughput by gRPC's for the same call;
  *÷ pgbench* divides the row's throughput by that of pgbench running the
  call's SQL; *page 1000 / page 1* divides the 1000th page's throughput by
  the first page's. A ratio of throughputs below 1 means slower.
- **CPU per request.** For every row, the CPU time (utime + stime from
  /proc/<pid>/stat, 10 ms ticks) each process spent between the start and
  the end of the measured window, divided by the requests of the window:
  the three services, *postgres* (the postmaster with all its backends,
  live and exited) and the *driver* (the load generator itself; for the
  pgbench rows only PostgreSQL is counted). *server ÷ postgres* divides
  the CPU of the process serving the call (the task service; the user
  service for Login) by PostgreSQL's, *gateway ÷ server* the gateway's by
  that process's, for the REST rows. Unlike req/s these figures hardly
  change when the machine has other work: they are the ones to compare
  between runs.
- **Load.** A Go driver (bench/) runs each case for the warm-up and then
  the measured duration at a fixed number of workers, each making one
  request at a time: gRPC with the generated clients straight to the task
  or user service (one HTTP/2 connection per service), REST with net/http
  through the gateway (keep-alive, idle connections ≥ workers). The driver,
  pgbench, PostgreSQL and the three services share the same cores, so each
  figure includes the client's own cost.
- **Data.** Users and tasks are seeded with COPY, indexes built after the
  load, then VACUUM ANALYZE. Each regular user's share of tasks is skewed
  (user k has about 1/(2·sqrt(k·R)) of them), 45% pending, 20% in progress,
  35% completed; priority 25/45/22/8% low/medium/high/urgent; 65% have a
  due date; 20% are assigned to another user; 60% have a description.
  Every user has the same real argon2id hash (the user service's default
  parameters: 19 MiB, 2 passes), so Login pays the full hash.
- **Who calls.** GetTask and UpdateTask act on seeded tasks of signed-in
  regular users (sampled by task, so users with more tasks are likelier);
  GetTaskStats, Login, CreateTask and BatchCreateTasks on those users; the
  ListTasks cases run as the "heavy" users, who own enough tasks for page
  1000, with the same page size; the two page cases with the default order
  (created_at desc) and no filters, the search case with q two words of the
  seeded vocabulary, the second a prefix as typed ("review rep"), ordered
  by relevance (every match of the user is ranked). Page 1000's token was
  reached by following next_page_token from page 1 during setup.
  UpdateTask changes title and priority (no etag); CreateTask sends no
  request_id; BatchCreateTasks sends 100 of CreateTask's tasks, each with
  a request_id.
- **pgbench.** ` + "`pgbench -M prepared`" + ` at the same clients, two threads, runs
  scripts with the task store's statements, pipelined in one round trip and
  one implicit transaction as its pgx batch is: the per-transaction
  settings (statement_timeout, app.user_id, app.is_admin via set_config)
  then the PK SELECT, the INSERT … RETURNING, or the first page's UNION
  query, as the app role (row-level security on). The acting user is
  computed from the same seeded layout. pgbench rounds durations up to
  whole seconds and rows it throughput as pgbench reports it (excluding
  connection time), with percentiles from its per-transaction log.
- **Order.** Cases run reads first, writes last (the creates last, then
  the pgbench runs), so the rows the writes add do not change what the
  reads read.
- **Knobs.** BENCH_USERS, BENCH_TASKS (the large dataset; the small one
  has BENCH_SMALL_TASKS), BENCH_DURATION, BENCH_WARMUP, BENCH_CONCURRENCY,
  BENCH_PAGE_SIZE, BENCH_LOGIN_USERS, BENCH_SHARED_BUFFERS.
`

func row(b *strings.Builder, cells []string) {
	b.WriteString("| ")
	b.WriteString(strings.Join(cells, " | "))
	b.WriteString(" |\n")
}

func ratio(ok bool, num, den float64) string {
	if !ok || den <= 0 || math.IsNaN(num) {
		return ""
	}
	return fmt.Sprintf("%.2f", num/den)
}

// Count formats a task count briefly: 10k, 1M, 20k, 1.5M, 999.
func Count(n int64) string {
	switch {
	case n >= 1_000_000 && n%100_000 == 0:
		return trimZero(strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64)) + "M"
	case n >= 1_000 && n%100 == 0:
		return trimZero(strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64)) + "k"
	default:
		return strconv.FormatInt(n, 10)
	}
}

func trimZero(s string) string { return strings.TrimSuffix(s, ".0") }

// Rate formats requests per second with thousands separators.
func Rate(v float64) string {
	n := int64(math.Round(v))
	s := strconv.FormatInt(n, 10)
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	return string(out)
}

// Millis formats a latency in milliseconds with three significant digits.
func Millis(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms >= 100:
		return strconv.FormatFloat(ms, 'f', 0, 64)
	case ms >= 10:
		return strconv.FormatFloat(ms, 'f', 1, 64)
	case ms >= 1:
		return strconv.FormatFloat(ms, 'f', 2, 64)
	default:
		return strconv.FormatFloat(ms, 'f', 3, 64)
	}
}
