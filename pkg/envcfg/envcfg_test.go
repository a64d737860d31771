package envcfg_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/todo-platform/todo/pkg/envcfg"
)

type shared struct {
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"8s"`
}

type testConfig struct {
	DatabaseURL string `env:"DATABASE_URL,required" log:"dsn"`
	Password    string `env:"TEST_PASSWORD" log:"secret"`
	Empty       string `env:"TEST_EMPTY_SECRET" log:"secret"`
	Addr        string `env:"TEST_ADDR" envDefault:":1234"`
	shared
	Shared shared
	Count  int `env:"TEST_COUNT" envDefault:"3"`
}

func (c *testConfig) Validate() error {
	var p envcfg.Problems
	p.Check(c.Count > 0, "TEST_COUNT must be positive")
	return p.Err()
}

func TestLoad_DefaultsAndValidation(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://app:s3cr3t@db/todo")
	cfg, err := envcfg.Load[testConfig]()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":1234" || cfg.Count != 3 || cfg.Shared.ShutdownTimeout != 8*time.Second {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	t.Setenv("TEST_COUNT", "0")
	_, err = envcfg.Load[testConfig]()
	if err == nil || err.Error() != "configuration: TEST_COUNT must be positive" {
		t.Errorf("Load = %v, want the problem named", err)
	}
	t.Setenv("DATABASE_URL", "")
	t.Setenv("TEST_COUNT", "x")
	if _, err := envcfg.Load[testConfig](); err == nil || !strings.HasPrefix(err.Error(), "configuration:") {
		t.Errorf("Load = %v, want a configuration error", err)
	}
}

func TestLogValue_MasksSecretsAndUsesVariableNames(t *testing.T) {
	cfg := testConfig{DatabaseURL: "postgres://app:s3cr3t@db/todo", Password: "hunter2", Addr: ":1", Count: 2}
	cfg.Shared.ShutdownTimeout = time.Second
	got := map[string]string{}
	for _, a := range envcfg.LogValue(cfg).Group() {
		got[a.Key] = a.Value.String()
	}
	want := map[string]string{
		"DATABASE_URL":      "postgres://app:xxxxx@db/todo",
		"TEST_PASSWORD":     envcfg.Masked,
		"TEST_EMPTY_SECRET": "",
		"TEST_ADDR":         ":1",
		"SHUTDOWN_TIMEOUT":  "1s",
		"TEST_COUNT":        "2",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, nil)).Info("config", slog.Any("config", envcfg.LogValue(&cfg)))
	if strings.Contains(b.String(), "s3cr3t") || strings.Contains(b.String(), "hunter2") {
		t.Errorf("a secret reached the log: %s", b.String())
	}
}

func TestMaskDSN_HidesPasswords(t *testing.T) {
	for _, dsn := range []string{
		"postgres://app:s3cr3t@db.example.com:5432/todo?sslmode=require",
		"postgresql://app@db/todo?password=s3cr3t",
		"host=db user=app password=s3cr3t dbname=todo",
	} {
		got := envcfg.MaskDSN(dsn)
		if strings.Contains(got, "s3cr3t") || !strings.Contains(got, "app") {
			t.Errorf("envcfg.MaskDSN(%q) = %q", dsn, got)
		}
	}
}

func TestProblems_JoinsEveryProblem(t *testing.T) {
	var p envcfg.Problems
	if p.Err() != nil {
		t.Error("no problems: Err != nil")
	}
	p.Check(false, "A is wrong")
	p.Check(true, "never")
	p.Add(nil)
	p.Add(errors.New("B is wrong"))
	if got, want := p.Err().Error(), "A is wrong; B is wrong"; got != want {
		t.Errorf("Err = %q, want %q", got, want)
	}
}

func TestMaskDSN_KeywordFormAsLibpqParsesIt(t *testing.T) {
	for dsn, want := range map[string]string{
		"host=db user=app password=s3cr3t dbname=todo": "host=db user=app password=xxxxx dbname=todo",
		"host=db password = s3cr3t dbname=todo":        "host=db password=xxxxx dbname=todo",
		"host=db password='se cr3t' user=app":          "host=db password=xxxxx user=app",
		`host=db password='it\'s s3cr3t' user=app`:     "host=db password=xxxxx user=app",
		`host=db password=s3\ cr3t user=app`:           "host=db password=xxxxx user=app",
		"application_name='a b' password=s3cr3t":       "application_name='a b' password=xxxxx",
		"host=db password='s3cr3t":                     "(unparsable DSN)",
		"host=db s3cr3t":                               "(unparsable DSN)",
		"  host=db\tpassword=s3cr3t  ":                 "host=db password=xxxxx",
	} {
		if got := envcfg.MaskDSN(dsn); got != want {
			t.Errorf("MaskDSN(%q) = %q, want %q", dsn, got, want)
		}
	}
}
