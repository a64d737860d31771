package compose_test

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/todo-platform/todo/deploy/internal/envscan"
)

// root is the repository, where Dockerfile and docker-compose.yml are.
const root = "../.."

// binaries are the platform's binaries: their source folder and the gRPC
// service each serves ("" for the gateway).
var binaries = map[string]struct{ dir, service string }{
	"user-service": {"services/user", "todo.user.v1.UserService"},
	"task-service": {"services/task", "todo.task.v1.TaskService"},
	"gateway":      {"services/gateway", ""},
}

// nonroot is distroless' nonroot user and group.
const nonroot = "65532:65532"

// parseDockerfile parses the Dockerfile with BuildKit's own parser.
func parseDockerfile(t *testing.T) map[string]*instructions.Stage {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	for _, w := range res.Warnings {
		t.Errorf("Dockerfile: %s", w.Short)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	goVersion := ""
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Key == "GO_VERSION" && kv.Value != nil {
				goVersion = *kv.Value
			}
		}
	}
	work, err := os.ReadFile(filepath.Join(root, "go.work"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(work)
	if m == nil || goVersion != string(m[1]) {
		t.Errorf("Dockerfile ARG GO_VERSION=%q, go.work says go %s", goVersion, m[1])
	}
	out := map[string]*instructions.Stage{}
	for i := range stages {
		out[stages[i].Name] = &stages[i]
	}
	return out
}

// TestDockerfile_ImagesMatchTheBinaries checks the build stage and each
// binary's target: a static build of the binary's package, a
// distroless/static base, the nonroot user, the binary as entrypoint, the
// ports its listen addresses default to, and a health check on them.
func TestDockerfile_ImagesMatchTheBinaries(t *testing.T) {
	stages := parseDockerfile(t)
	build, ok := stages["build"]
	if !ok {
		t.Fatal("no build stage")
	}
	if !strings.HasPrefix(build.BaseName, "golang:") {
		t.Errorf("build stage FROM %s, want golang", build.BaseName)
	}
	var runs, envs []string
	for _, c := range build.Commands {
		switch c := c.(type) {
		case *instructions.RunCommand:
			runs = append(runs, strings.Join(c.CmdLine, " "))
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				envs = append(envs, kv.Key+"="+kv.Value)
			}
		}
	}
	if !slices.Contains(envs, "CGO_ENABLED=0") {
		t.Errorf("build stage does not set CGO_ENABLED=0 (static binaries): %v", envs)
	}
	for name, bin := range binaries {
		t.Run(name, func(t *testing.T) {
			if !strings.Contains(strings.Join(runs, "\n"), "-o /out/"+name+" ./"+bin.dir) {
				t.Errorf("the build stage does not build ./%s into /out/%s: %v", bin.dir, name, runs)
			}
			s, ok := stages[name]
			if !ok {
				t.Fatalf("no target %s", name)
			}
			if !strings.HasPrefix(s.BaseName, "gcr.io/distroless/static") {
				t.Errorf("FROM %s, want gcr.io/distroless/static…", s.BaseName)
			}
			vars := readVars(t, bin.dir)
			wantPorts := []string{port(t, vars, listenVar(name)), port(t, vars, "ADMIN_ADDR")}
			var user, entry, ports, health []string
			copied := false
			for _, c := range s.Commands {
				switch c := c.(type) {
				case *instructions.CopyCommand:
					if c.From == "build" && slices.Equal(c.SourcePaths, []string{"/out/" + name}) && c.DestPath == "/"+name {
						copied = true
					}
				case *instructions.UserCommand:
					user = append(user, c.User)
				case *instructions.EntrypointCommand:
					if c.PrependShell {
						t.Errorf("ENTRYPOINT in shell form; the image has no shell")
					}
					entry = c.CmdLine
				case *instructions.ExposeCommand:
					ports = append(ports, c.Ports...)
				case *instructions.HealthCheckCommand:
					health = c.Health.Test
				}
			}
			if !copied {
				t.Errorf("no COPY --from=build /out/%s /%s", name, name)
			}
			if !slices.Equal(user, []string{nonroot}) {
				t.Errorf("USER %v, want %s (nonroot)", user, nonroot)
			}
			if !slices.Equal(entry, []string{"/" + name}) {
				t.Errorf("ENTRYPOINT %v, want [/%s]", entry, name)
			}
			if !slices.Equal(ports, wantPorts) {
				t.Errorf("EXPOSE %v, want %v (%s and ADMIN_ADDR's defaults)", ports, wantPorts, listenVar(name))
			}
			checkProbe(t, "HEALTHCHECK", health, name, bin.service, wantPorts)
		})
	}
}

// checkProbe checks a health check command: /probe on the gRPC port for
// the service's name, or on the gateway's admin port's /healthz.
func checkProbe(t *testing.T, what string, test []string, name, service string, ports []string) {
	t.Helper()
	if len(test) > 0 && (test[0] == "CMD" || test[0] == "CMD-SHELL") {
		if test[0] == "CMD-SHELL" {
			t.Errorf("%s in shell form; the image has no shell", what)
		}
		test = test[1:]
	}
	want := []string{"/probe", "grpc", "127.0.0.1:" + ports[0], service}
	if service == "" {
		want = []string{"/probe", "http", "http://127.0.0.1:" + ports[1] + "/healthz"}
	}
	if !slices.Equal(test, want) {
		t.Errorf("%s of %s is %v, want %v", what, name, test, want)
	}
}

func listenVar(name string) string {
	if name == "gateway" {
		return "HTTP_ADDR"
	}
	return "GRPC_ADDR"
}

// port returns the port of the default of the listen address variable.
func port(t *testing.T, vars map[string]string, name string) string {
	t.Helper()
	def, ok := vars[name]
	if !ok || !strings.HasPrefix(def, ":") {
		t.Fatalf("%s: default %q is not :port", name, def)
	}
	return def[1:]
}

func readVars(t *testing.T, dir string) map[string]string {
	t.Helper()
	vars, err := envscan.Vars(filepath.Join(root, dir), filepath.Join(root, "pkg/envcfg"))
	if err != nil {
		t.Fatal(err)
	}
	return vars
}

// TestCompose_ServicesMatchTheCode loads docker-compose.yml with the
// compose specification's own loader (schema-validated: an unknown key
// fails) and checks the services against the code and the Dockerfile.
func TestCompose_ServicesMatchTheCode(t *testing.T) {
	stages := parseDockerfile(t)
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "docker-compose.yml")}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName("todo", true) })
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, want := range []string{"postgres", "pgbouncer", "migrate", "user-service", "task-service", "gateway", "prometheus"} {
		if _, ok := p.Services[want]; !ok {
			t.Errorf("no service %s", want)
		}
	}
	for name, svc := range p.Services {
		if svc.Build != nil {
			if _, ok := stages[svc.Build.Target]; !ok {
				t.Errorf("%s builds target %q, which the Dockerfile does not have", name, svc.Build.Target)
			}
		}
		if name != "postgres" && (!svc.ReadOnly || !slices.Contains(svc.CapDrop, "ALL")) {
			t.Errorf("%s: not read_only with cap_drop ALL", name)
		}
	}

	migrate := p.Services["migrate"]
	if migrate.Restart != "no" {
		t.Errorf("migrate restarts (%q); it is one-shot", migrate.Restart)
	}
	if u := dsn(t, migrate.Environment, "MIGRATE_DATABASE_URL"); u.Hostname() != "postgres" {
		t.Errorf("migrate: MIGRATE_DATABASE_URL goes to %s, want the direct postgres", u.Host)
	}

	prom, err := os.ReadFile("prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	for name, bin := range binaries {
		t.Run(name, func(t *testing.T) {
			svc, ok := p.Services[name]
			if !ok {
				t.Fatalf("no service %s", name)
			}
			if svc.Build == nil || svc.Build.Target != name {
				t.Errorf("build target %v, want %s", svc.Build, name)
			}
			vars := readVars(t, bin.dir)
			for k := range svc.Environment {
				if _, ok := vars[k]; !ok {
					t.Errorf("sets %s, which %s does not read", k, bin.dir)
				}
			}
			ports := []string{envPort(t, svc.Environment, listenVar(name)), envPort(t, svc.Environment, "ADMIN_ADDR")}
			if svc.HealthCheck == nil {
				t.Fatal("no healthcheck")
			}
			checkProbe(t, "healthcheck", svc.HealthCheck.Test, name, bin.service, ports)
			if !bytes.Contains(prom, []byte(`"`+name+":"+ports[1]+`"`)) {
				t.Errorf("deploy/compose/prometheus.yml does not scrape %s:%s (ADMIN_ADDR)", name, ports[1])
			}
			if bin.service == "" {
				return
			}
			if dep, ok := svc.DependsOn["migrate"]; !ok || dep.Condition != types.ServiceConditionCompletedSuccessfully {
				t.Errorf("does not wait for migrate to complete: %v", svc.DependsOn)
			}
			pooled := dsn(t, svc.Environment, "DATABASE_URL")
			if pooled.Hostname() != "pgbouncer" || pooled.Query().Get("default_query_exec_mode") != "exec" {
				t.Errorf("DATABASE_URL %s: want pgbouncer with default_query_exec_mode=exec", pooled.Redacted())
			}
			if direct := dsn(t, svc.Environment, "DATABASE_LISTEN_URL"); direct.Hostname() != "postgres" {
				t.Errorf("DATABASE_LISTEN_URL goes to %s, want the direct postgres", direct.Host)
			}
		})
	}

	ini, err := os.ReadFile("pgbouncer.ini")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^pool_mode = transaction$`).Match(ini) {
		t.Error("deploy/compose/pgbouncer.ini is not in transaction mode")
	}
}

func envPort(t *testing.T, env types.MappingWithEquals, name string) string {
	t.Helper()
	v := env[name]
	if v == nil || !strings.HasPrefix(*v, ":") {
		t.Fatalf("%s is not set to :port", name)
	}
	return (*v)[1:]
}

func dsn(t *testing.T, env types.MappingWithEquals, name string) *url.URL {
	t.Helper()
	v := env[name]
	if v == nil {
		t.Fatalf("%s is not set", name)
	}
	u, err := url.Parse(*v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return u
}
