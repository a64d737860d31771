// Package webhook delivers the task service's change feed to the endpoints
// users register (task.Service.CreateWebhook): the River worker of the
// outbox jobs that the database enqueues with every change (task migration
// 00012), Standard Webhooks signing, and the guard that keeps deliveries
// away from private, link-local and loopback addresses (SSRF).
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/riverqueue/river"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/todo-platform/todo/services/task/internal/task"
	"github.com/todo-platform/todo/services/task/internal/taskapi"
)

// Queue is the River queue of the deliveries.
const Queue = "webhook"

// Defaults of Config.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultRetryBase    = 10 * time.Second
	DefaultRetryMax     = time.Hour
	DefaultDisableAfter = 72 * time.Hour
)

// EventType is the "type" of every delivery's body.
const EventType = "task.changed"

// Args are a delivery job's arguments, as the trigger task_change_webhooks
// writes them.
type Args struct {
	WebhookID int64 `json:"webhook_id"`
	ChangeID  int64 `json:"change_id"`
	UserID    int64 `json:"user_id"`
}

// Kind is River's job kind of a delivery.
func (Args) Kind() string { return "webhook_delivery" }

// Store is what the worker needs of the task store.
type Store interface {
	// Delivery returns the enabled webhook with its secret and the feed
	// row to deliver, or task.ErrWebhookNotFound.
	Delivery(ctx context.Context, user, webhookID, changeID int64) (task.Webhook, task.TaskChange, error)
	// RecordDelivery records a success (failure "") or a failure, and
	// reports whether the failure disabled the webhook.
	RecordDelivery(ctx context.Context, user, webhookID int64, failure string, disableAfter time.Duration) (bool, error)
}

// Config configures deliveries. Zero fields take the defaults.
type Config struct {
	// AllowPrivate lets deliveries reach private, link-local and loopback
	// addresses (WEBHOOK_ALLOW_PRIVATE: development and tests only).
	AllowPrivate bool
	// Timeout bounds one delivery attempt.
	Timeout time.Duration
	// RetryBase is the wait after the first failure; each further one
	// doubles it, up to RetryMax.
	RetryBase, RetryMax time.Duration
	// DisableAfter is how long a webhook may fail continuously before its
	// deliveries stop.
	DisableAfter time.Duration
}

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.RetryBase <= 0 {
		c.RetryBase = DefaultRetryBase
	}
	if c.RetryMax <= 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.DisableAfter <= 0 {
		c.DisableAfter = DefaultDisableAfter
	}
	return c
}

// Worker delivers one change to one webhook per job.
type Worker struct {
	river.WorkerDefaults[Args]
	store  Store
	cfg    Config
	client *http.Client
}

// NewWorker returns the delivery worker.
func NewWorker(store Store, cfg Config) *Worker {
	cfg = cfg.withDefaults()
	dialer := &net.Dialer{Timeout: cfg.Timeout, Control: dialControl(cfg.AllowPrivate)}
	transport := &http.Transport{
		DialContext:         dialer.DialContext,
		TLSHandshakeTimeout: cfg.Timeout,
		MaxIdleConns:        10,
		IdleConnTimeout:     time.Minute,
		// No proxy: the guard checks the address really dialled.
		Proxy: nil,
	}
	return &Worker{store: store, cfg: cfg, client: &http.Client{
		Transport: transport,
		Timeout:   cfg.Timeout,
		// A redirect is an answer, not a second destination to trust.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Register adds the worker to workers (jobs.Config.Register).
func (w *Worker) Register(workers *river.Workers) error {
	return river.AddWorkerSafely(workers, river.Worker[Args](w))
}

// Timeout bounds the whole job: the attempt and its bookkeeping.
func (w *Worker) Timeout(*river.Job[Args]) time.Duration { return w.cfg.Timeout + 10*time.Second }

// NextRetry waits RetryBase after the first failure and doubles the wait
// with each further one, up to RetryMax.
func (w *Worker) NextRetry(j *river.Job[Args]) time.Time {
	d := w.cfg.RetryBase
	for i := 1; i < j.Attempt && d < w.cfg.RetryMax; i++ {
		d *= 2
	}
	return time.Now().Add(min(d, w.cfg.RetryMax))
}

// MessageID is the stable webhook-id of the delivery of change to
// webhook: the same on every attempt, so receivers can drop repeats.
func MessageID(webhookID, changeID int64) string {
	return "msg_" + strconv.FormatInt(webhookID, 10) + "_" + strconv.FormatInt(changeID, 10)
}

// Work makes one attempt. A webhook deleted or disabled meanwhile, or a
// feed row swept, ends the job; a failure is retried until the webhook is
// disabled.
func (w *Worker) Work(ctx context.Context, j *river.Job[Args]) error {
	a := j.Args
	hook, ch, err := w.store.Delivery(ctx, a.UserID, a.WebhookID, a.ChangeID)
	if errors.Is(err, task.ErrWebhookNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	data, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(taskapi.ChangeToProto(ch))
	if err != nil {
		return river.JobCancel(fmt.Errorf("webhook payload: %w", err))
	}
	body, err := json.Marshal(struct {
		Type      string          `json:"type"`
		Timestamp time.Time       `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}{EventType, ch.Time, data})
	if err != nil {
		return river.JobCancel(fmt.Errorf("webhook payload: %w", err))
	}
	failure := w.post(ctx, hook, MessageID(a.WebhookID, a.ChangeID), body)
	disabled, err := w.store.RecordDelivery(context.WithoutCancel(ctx), a.UserID, a.WebhookID, failure, w.cfg.DisableAfter)
	if err != nil {
		return err
	}
	switch {
	case failure == "":
		return nil
	case disabled:
		return river.JobCancel(fmt.Errorf("webhook %d disabled: %s", a.WebhookID, failure))
	}
	return fmt.Errorf("webhook %d: %s", a.WebhookID, failure)
}

// post sends one signed delivery and returns why it failed ("" when the
// endpoint answered 2xx).
func (w *Worker) post(ctx context.Context, hook task.Webhook, id string, body []byte) string {
	signer, err := standardwebhooks.NewWebhook(hook.Secret)
	if err != nil {
		return "the webhook's secret cannot sign"
	}
	now := time.Now()
	sig, err := signer.Sign(id, now, body)
	if err != nil {
		return "the webhook's secret cannot sign"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(body))
	if err != nil {
		return "invalid url"
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "todo-task-service-webhooks")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := w.client.Do(req)
	if err != nil {
		var blocked *blockedError
		if errors.As(err, &blocked) {
			return blocked.Error()
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return "timed out"
		}
		return "could not connect"
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "answered " + resp.Status
	}
	return ""
}

// blockedError is a dial the guard refused.
type blockedError struct{ addr netip.Addr }

func (e *blockedError) Error() string {
	return "refused to connect to " + e.addr.String() + ": private, link-local or loopback address"
}

// dialControl refuses connections to addresses deliveries may not reach,
// checked on the address actually dialled (after DNS), so a name that
// resolves differently later cannot get around the check at registration.
func dialControl(allowPrivate bool) func(network, address string, _ syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("webhook dial %q: %w", address, err)
		}
		if !allowPrivate && blocked(ap.Addr()) {
			return &blockedError{ap.Addr()}
		}
		return nil
	}
}

// blocked reports whether a is an address deliveries never reach without
// WEBHOOK_ALLOW_PRIVATE.
func blocked(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() ||
		netip.MustParsePrefix("100.64.0.0/10").Contains(a) // carrier-grade NAT
}

// Guard returns the check of CreateWebhook's URLs: absolute, https:// (or
// http:// with a loopback host), no user info, and a host whose every
// address deliveries may reach (unless allowPrivate).
func Guard(allowPrivate bool) task.URLGuard {
	return func(ctx context.Context, raw string) error {
		u, err := url.Parse(raw)
		if err != nil || !u.IsAbs() || u.Host == "" || u.Hostname() == "" {
			return fmt.Errorf("%w: must be an absolute https:// URL", task.ErrInvalidWebhookURL)
		}
		if u.User != nil {
			return fmt.Errorf("%w: must not carry user information", task.ErrInvalidWebhookURL)
		}
		if u.Scheme != "https" && u.Scheme != "http" {
			return fmt.Errorf("%w: must be https:// (or http:// on loopback)", task.ErrInvalidWebhookURL)
		}
		host := u.Hostname()
		addrs, err := lookup(ctx, host)
		if err != nil {
			return fmt.Errorf("%w: host %q does not resolve", task.ErrInvalidWebhookURL, host)
		}
		loopback := len(addrs) > 0
		for _, a := range addrs {
			loopback = loopback && a.Unmap().IsLoopback()
		}
		if u.Scheme == "http" && !loopback {
			return fmt.Errorf("%w: http:// is allowed on loopback only; use https://", task.ErrInvalidWebhookURL)
		}
		if allowPrivate {
			return nil
		}
		for _, a := range addrs {
			if blocked(a) {
				return fmt.Errorf("%w: %s resolves to %s, a private, link-local or loopback address", task.ErrInvalidWebhookURL, host, a)
			}
		}
		return nil
	}
}

// lookup resolves host, which may be an IP literal.
func lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}
