package gateway

import (
	"embed"
	"net/http"
	"path"
)

// docsFiles is the API reference page: index.html and init.js, written
// here, and Swagger UI from swagger-ui-dist (swagger-ui/, vendored by
// `make generate` from the version pinned in tools/npm).
//
//go:embed docs/index.html docs/init.js docs/swagger-ui
var docsFiles embed.FS

// docsCSP lets the page load only what the gateway serves: its own scripts
// and styles (Swagger UI also sets inline styles), the data: images of its
// stylesheet, and /openapi.json plus the API for "Try it out".
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// docsAsset maps the names under /docs/ to the embedded files.
func docsAsset(name string) (file, contentType string, ok bool) {
	switch name {
	case "init.js":
		return "docs/init.js", "text/javascript; charset=utf-8", true
	case "swagger-ui-bundle.js":
		return "docs/swagger-ui/swagger-ui-bundle.js", "text/javascript; charset=utf-8", true
	case "swagger-ui.css":
		return "docs/swagger-ui/swagger-ui.css", "text/css; charset=utf-8", true
	}
	return "", "", false
}

// serveDocs answers GET /docs with the page and GET /docs/{file} with its
// scripts and stylesheet.
func serveDocs(w http.ResponseWriter, r *http.Request, params map[string]string) {
	file, contentType := "docs/index.html", "text/html; charset=utf-8"
	if name, ok := params["file"]; ok {
		var known bool
		if file, contentType, known = docsAsset(path.Base(name)); !known {
			writeJSON(w, http.StatusNotFound, map[string]any{"code": 5, "message": "not found", "details": []any{}})
			return
		}
	}
	body, err := docsFiles.ReadFile(file)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Security-Policy", docsCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
