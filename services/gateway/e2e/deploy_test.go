package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	goparser "go/parser"
	"go/token"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// observabilityDir is deploy/observability, from this package's directory.
const observabilityDir = "../../../deploy/observability"

// query is one PromQL expression of the rules or the dashboard, and where
// it comes from.
type query struct{ where, expr string }

// promQL is the parser the rules and the dashboard are read with: the
// defaults of a Prometheus server without feature flags.
func promQL() parser.Parser { return parser.NewParser(parser.Options{}) }

// ruleQueries parses an alerting rules file with Prometheus's rule-file
// parser (which also parses every expression and annotation template) and
// returns its expressions.
func ruleQueries(content []byte) ([]query, error) {
	groups, errs := rulefmt.Parse(content, false, model.LegacyValidation, promQL(), slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		return nil, fmt.Errorf("alerts.yml: %w", errors.Join(errs...))
	}
	var out []query
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			out = append(out, query{where: "alerts.yml " + g.Name + "/" + r.Alert + r.Record, expr: r.Expr})
		}
	}
	return out, nil
}

// dashboardPanel is the part of a Grafana panel (or row, which nests
// panels) that holds queries.
type dashboardPanel struct {
	Title   string `json:"title"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"`
}

// dashboardQueries decodes a Grafana dashboard and returns the PromQL
// expressions of its panels' targets, rows' panels included.
func dashboardQueries(content []byte) ([]query, error) {
	var d struct {
		Panels []dashboardPanel `json:"panels"`
	}
	if err := json.Unmarshal(content, &d); err != nil {
		return nil, fmt.Errorf("dashboard.json: %w", err)
	}
	var out []query
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			for _, t := range p.Targets {
				if t.Expr != "" {
					out = append(out, query{where: "dashboard.json " + strconv.Quote(p.Title), expr: t.Expr})
				}
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out, nil
}

// selection is what the queries ask of one metric name: the label names
// their selectors match on, and which queries select it.
type selection struct {
	labels map[string]bool
	where  []string
}

// selections parses each query with the PromQL parser and returns, by
// metric name, what its vector and range selectors select.
func selections(qs []query) (map[string]*selection, error) {
	p := promQL()
	out := map[string]*selection{}
	for _, q := range qs {
		expr, err := p.ParseExpr(q.expr)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %w", q.where, q.expr, err)
		}
		var serr error
		parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
			var vs *parser.VectorSelector
			switch n := node.(type) {
			case *parser.VectorSelector:
				vs = n
			case *parser.MatrixSelector:
				vs, _ = n.VectorSelector.(*parser.VectorSelector)
			}
			if vs == nil {
				return nil
			}
			name := vs.Name
			for _, m := range vs.LabelMatchers {
				if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
					name = m.Value
				}
			}
			if name == "" {
				serr = fmt.Errorf("%s: %q: a selector without a metric name", q.where, q.expr)
				return serr
			}
			s := out[name]
			if s == nil {
				s = &selection{labels: map[string]bool{}}
				out[name] = s
			}
			for _, m := range vs.LabelMatchers {
				if m.Name != model.MetricNameLabel {
					s.labels[m.Name] = true
				}
			}
			if !slices.Contains(s.where, q.where) {
				s.where = append(s.where, q.where)
			}
			return nil
		})
		if serr != nil {
			return nil, serr
		}
	}
	return out, nil
}

// scrapeSeries are the series Prometheus itself writes for every target
// it scrapes, with the target labels job and instance.
var scrapeSeries = []string{"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling", "scrape_series_added"}

// series adds to into the series names PromQL sees for the metric families
// of a scrape, each with its label names: a counter or gauge under its own
// name, a histogram as _bucket (with le), _sum and _count, a summary under
// its name (with quantile), _sum and _count.
func series(into map[string]map[string]bool, fams map[string]*dto.MetricFamily) {
	add := func(name string, f *dto.MetricFamily, extra string) {
		ls := into[name]
		if ls == nil {
			ls = map[string]bool{}
			into[name] = ls
		}
		if extra != "" {
			ls[extra] = true
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				ls[l.GetName()] = true
			}
		}
	}
	for name, f := range fams {
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			add(name+"_bucket", f, "le")
			add(name+"_sum", f, "")
			add(name+"_count", f, "")
		case dto.MetricType_SUMMARY:
			add(name, f, "quantile")
			add(name+"_sum", f, "")
			add(name+"_count", f, "")
		default:
			add(name, f, "")
		}
	}
}

// unexported returns, sorted, what the selections ask for that the
// exported series (see series) do not have: "name" for a metric no
// process exports, "name{label}" for a label its series never carry. The
// target labels job and instance, which Prometheus adds, are always there.
func unexported(sel map[string]*selection, exported map[string]map[string]bool) []string {
	var out []string
	for name, s := range sel {
		ls, ok := exported[name]
		if !ok && slices.Contains(scrapeSeries, name) {
			ls, ok = map[string]bool{}, true
		}
		if !ok {
			out = append(out, name)
			continue
		}
		for l := range s.labels {
			if l != model.JobLabel && l != model.InstanceLabel && !ls[l] {
				out = append(out, name+"{"+l+"}")
			}
		}
	}
	slices.Sort(out)
	return out
}

// observabilityQueries returns the queries of deploy/observability's
// alerting rules and dashboard, failing the test if either does not parse
// or has none.
func observabilityQueries(t *testing.T, rules []byte) []query {
	t.Helper()
	rq, err := ruleQueries(rules)
	if err != nil {
		t.Fatal(err)
	}
	dash, err := os.ReadFile(filepath.Join(observabilityDir, "dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	dq, err := dashboardQueries(dash)
	if err != nil {
		t.Fatal(err)
	}
	if len(rq) == 0 || len(dq) == 0 {
		t.Fatalf("%d rules and %d dashboard queries; want some of each", len(rq), len(dq))
	}
	return append(rq, dq...)
}

// checkObservability checks, against the series the three processes
// export after the journey, that every metric and label the alerting rules
// and the dashboard select is exported, and that a copy of the rules with
// a misspelt metric is caught.
func checkObservability(t *testing.T, exported map[string]map[string]bool) {
	rules, err := os.ReadFile(filepath.Join(observabilityDir, "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	sel, err := selections(observabilityQueries(t, rules))
	if err != nil {
		t.Fatal(err)
	}
	missing := unexported(sel, exported)
	for _, miss := range missing {
		name, _, _ := strings.Cut(miss, "{")
		t.Errorf("%s: selected by %s, exported by no process", miss, strings.Join(sel[name].where, ", "))
	}

	const good, bad = "pgxpool_max_connections", "pgxpool_max_conections"
	misspelt := strings.Replace(string(rules), good, bad, 1)
	if misspelt == string(rules) {
		t.Fatalf("alerts.yml no longer names %s; misspell another metric here", good)
	}
	sel, err = selections(observabilityQueries(t, []byte(misspelt)))
	if err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(missing), bad)
	slices.Sort(want)
	if got := unexported(sel, exported); !slices.Equal(got, want) {
		t.Errorf("alerts.yml with %s misspelt: unexported = %q, want %q", good, got, want)
	}
}

// TestPrometheusConfig_ScrapesTheAdminPorts reads prometheus.yml: its rule
// files exist, and it scrapes each binary's admin port on the port the
// binary listens on by default (its config struct's ADMIN_ADDR envDefault).
func TestPrometheusConfig_ScrapesTheAdminPorts(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(observabilityDir, "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Global        map[string]any `yaml:"global"`
		RuleFiles     []string       `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	if !slices.Contains(cfg.RuleFiles, "alerts.yml") {
		t.Errorf("rule_files = %q, want alerts.yml among them", cfg.RuleFiles)
	}
	for _, f := range cfg.RuleFiles {
		if _, err := os.Stat(filepath.Join(observabilityDir, f)); err != nil {
			t.Errorf("rule_files: %v", err)
		}
	}
	want := map[string]string{
		"gateway":      adminDefault(t, ".."),
		"user-service": adminDefault(t, "../../user"),
		"task-service": adminDefault(t, "../../task"),
	}
	got := map[string]string{}
	for _, sc := range cfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				_, port, err := net.SplitHostPort(target)
				if err != nil {
					t.Errorf("job %s: target %q: %v", sc.JobName, target, err)
				}
				got[sc.JobName] = port
			}
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("prometheus.yml scrapes ports %v by job, want the binaries' default admin ports %v", got, want)
	}
}

// adminDefault returns the port of the envDefault of the ADMIN_ADDR field
// in the package main of dir.
func adminDefault(t *testing.T, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var found []string
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := goparser.ParseFile(fset, path, nil, goparser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			field, ok := n.(*ast.Field)
			if !ok || field.Tag == nil {
				return true
			}
			tag, err := strconv.Unquote(field.Tag.Value)
			if err != nil {
				t.Fatalf("%s: tag %s: %v", path, field.Tag.Value, err)
			}
			if st := reflect.StructTag(tag); st.Get("env") == "ADMIN_ADDR" {
				_, port, err := net.SplitHostPort(st.Get("envDefault"))
				if err != nil {
					t.Fatalf("%s: ADMIN_ADDR default: %v", path, err)
				}
				found = append(found, port)
			}
			return true
		})
	}
	if len(found) != 1 {
		t.Fatalf("%s: %d ADMIN_ADDR fields with a default (%v), want 1", dir, len(found), found)
	}
	return found[0]
}
