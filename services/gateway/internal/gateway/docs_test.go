package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/todo-platform/todo/api/openapi"
)

func TestDocs_ServedWithAStrictCSP(t *testing.T) {
	b := setup(t, defaultConfig())
	page := do(t, http.MethodGet, b.url+"/docs", nil, nil)
	if page.status != http.StatusOK || !strings.HasPrefix(page.header.Get("Content-Type"), "text/html") {
		t.Fatalf("/docs = %d %q", page.status, page.header.Get("Content-Type"))
	}
	csp := page.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	// The page names only its own files: nothing from another origin.
	if strings.Contains(string(page.body), "//") {
		t.Errorf("/docs refers to another origin:\n%s", page.body)
	}
	for file, ctype := range map[string]string{"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css", "init.js": "text/javascript"} {
		r := do(t, http.MethodGet, b.url+"/docs/"+file, nil, nil)
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), ctype) || len(r.body) == 0 {
			t.Errorf("/docs/%s = %d %q, %d bytes", file, r.status, r.header.Get("Content-Type"), len(r.body))
		}
	}
	if r := do(t, http.MethodGet, b.url+"/docs/secrets.txt", nil, nil); r.status != http.StatusNotFound {
		t.Errorf("/docs/secrets.txt = %d, want 404", r.status)
	}
}

// TestDocs_RendersEveryOperationInHeadlessChromium loads /docs in headless
// Chromium (make test installs it: deploy/ensure-chromium.sh) with every
// host but the gateway's unresolvable, so the page renders from the
// gateway alone, and finds every operation of the document in the DOM.
func TestDocs_RendersEveryOperationInHeadlessChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not found (run `make chromium`): %v", err)
	}
	b := setup(t, defaultConfig())

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
		"--user-data-dir="+t.TempDir(),
		"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
		"--virtual-time-budget=15000", "--dump-dom", b.url+"/docs")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}

	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(openapi.JSON, &doc); err != nil {
		t.Fatal(err)
	}
	n := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			n++
			if !strings.Contains(string(dom), op.OperationID) {
				t.Errorf("the rendered /docs does not list %s %s (%s)", strings.ToUpper(method), path, op.OperationID)
			}
		}
	}
	if n < 19 {
		t.Errorf("the document has %d operations", n)
	}
	if t.Failed() {
		t.Logf("DOM (%d bytes):\n%.4000s", len(dom), dom)
	}
}
