package task

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Webhook is an endpoint that gets a user's change feed as HTTP POSTs.
type Webhook struct {
	ID     int64
	UserID int64
	URL    string
	// Secret is the signing secret ("whsec_" and base64); only the
	// delivery reads it.
	Secret    string
	CreatedAt time.Time
	// FailingSince is the first failure since the last success; nil while
	// deliveries succeed.
	FailingSince *time.Time
	LastError    string
	// DisabledAt is when deliveries stopped; nil while enabled.
	DisabledAt     *time.Time
	DisabledReason string
}

// Errors of the webhook methods.
var (
	// ErrInvalidWebhookURL: not an absolute https:// URL (or http:// on
	// loopback), or one that reaches an address deliveries may not go to.
	ErrInvalidWebhookURL = errors.New("invalid webhook url")
	// ErrInvalidWebhookSecret: not "whsec_" and the base64 of 24 to 64
	// bytes.
	ErrInvalidWebhookSecret = errors.New(`webhook secret must be "whsec_" and the base64 of 24 to 64 bytes`)
	// ErrWebhookNotFound: no webhook of the caller has this id.
	ErrWebhookNotFound = errors.New("webhook not found")
)

// URLGuard checks a webhook URL's destination: nil when deliveries may go
// there, an error wrapping ErrInvalidWebhookURL saying why not otherwise.
type URLGuard func(ctx context.Context, rawURL string) error

// SetWebhookGuard sets the check of CreateWebhook's URLs. Call it before s
// serves; without one, every URL is refused.
func (s *Service) SetWebhookGuard(g URLGuard) { s.webhookGuard = g }

// CreateWebhook registers rawURL with secret for c.
func (s *Service) CreateWebhook(ctx context.Context, c Caller, rawURL, secret string) (Webhook, error) {
	if s.webhookGuard == nil {
		return Webhook{}, fmt.Errorf("%w: webhooks are not configured", ErrInvalidWebhookURL)
	}
	if err := s.webhookGuard(ctx, rawURL); err != nil {
		return Webhook{}, err
	}
	if err := checkSecret(secret); err != nil {
		return Webhook{}, err
	}
	w, err := s.store.CreateWebhook(ctx, c, rawURL, secret)
	if err != nil {
		return Webhook{}, fmt.Errorf("create webhook: %w", err)
	}
	return w, nil
}

// checkSecret refuses a secret that is not "whsec_" and the standard
// base64 of 24 to 64 bytes.
func checkSecret(secret string) error {
	b64, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return ErrInvalidWebhookSecret
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) < 24 || len(raw) > 64 {
		return ErrInvalidWebhookSecret
	}
	return nil
}

// ListWebhooks returns c's webhooks, oldest first.
func (s *Service) ListWebhooks(ctx context.Context, c Caller) ([]Webhook, error) {
	ws, err := s.store.ListWebhooks(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return ws, nil
}

// DeleteWebhook deletes c's webhook id (ErrWebhookNotFound when c has none
// with that id).
func (s *Service) DeleteWebhook(ctx context.Context, c Caller, id int64) error {
	if err := s.store.DeleteWebhook(ctx, c, id); err != nil {
		return fmt.Errorf("delete webhook %d: %w", id, err)
	}
	return nil
}
