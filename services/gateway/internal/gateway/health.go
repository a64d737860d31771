package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// readiness returns the /readyz handler: it asks every upstream's
// grpc.health.v1 service about its API service, concurrently and each under
// timeout. All SERVING → 200; otherwise 503. The body names each upstream's
// state: SERVING, NOT_SERVING, SERVICE_UNKNOWN or UNREACHABLE. A 503
// carries Retry-After, as every 503 of the gateway does.
func readiness(log *slog.Logger, timeout time.Duration, ups ...Upstream) runtime.HandlerFunc {
	type check struct {
		Status string `json:"status"`
	}
	return func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		results := make([]string, len(ups))
		var wg sync.WaitGroup
		for i, u := range ups {
			wg.Go(func() {
				resp, err := healthpb.NewHealthClient(u.Conn).Check(ctx, &healthpb.HealthCheckRequest{Service: u.Service})
				if err != nil {
					log.WarnContext(ctx, "readiness check failed", "upstream", u.Name, "error", err)
					results[i] = "UNREACHABLE"
					return
				}
				results[i] = resp.GetStatus().String()
			})
		}
		wg.Wait()

		body := struct {
			Status   string           `json:"status"`
			Services map[string]check `json:"services"`
		}{Status: "ready", Services: make(map[string]check, len(ups))}
		code := http.StatusOK
		for i, u := range ups {
			body.Services[u.Name] = check{Status: results[i]}
			if results[i] != healthpb.HealthCheckResponse_SERVING.String() {
				code, body.Status = http.StatusServiceUnavailable, "not ready"
			}
		}
		if code == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(nil)))
		}
		writeJSON(w, code, body)
	}
}
