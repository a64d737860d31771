package mail

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// JobArgs are the River arguments of one mail: the sealed Message.
type JobArgs struct {
	Sealed []byte `json:"sealed"`
}

// Kind is the River job kind of mail.
func (JobArgs) Kind() string { return "mail" }

// MaxAttempts is how many times a message is tried before River gives up
// on it (about two days with RetryDelay's backoff).
const MaxAttempts = 25

// Outbox enqueues messages in a transaction of the caller. It holds an
// insert-only River client (no worker runs on it).
type Outbox struct {
	client *river.Client[pgx.Tx]
	cipher Cipher
}

// NewOutbox returns an Outbox writing jobs to River's tables in schema,
// sealing messages with cipher.
func NewOutbox(pool *pgxpool.Pool, schema string, cipher Cipher) (*Outbox, error) {
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Schema: schema, SkipUnknownJobCheck: true})
	if err != nil {
		return nil, fmt.Errorf("mail outbox: %w", err)
	}
	return &Outbox{client: c, cipher: cipher}, nil
}

// Enqueue adds m to the outbox within tx: it is sent once tx commits, and
// never if it rolls back.
func (o *Outbox) Enqueue(ctx context.Context, tx pgx.Tx, m Message) error {
	sealed, err := seal(o.cipher, m)
	if err != nil {
		return fmt.Errorf("mail outbox: seal: %w", err)
	}
	if _, err := o.client.InsertTx(ctx, tx, JobArgs{Sealed: sealed}, &river.InsertOpts{MaxAttempts: MaxAttempts}); err != nil {
		return fmt.Errorf("mail outbox: enqueue: %w", err)
	}
	return nil
}

// Worker delivers the outbox's messages with a Sender.
type Worker struct {
	river.WorkerDefaults[JobArgs]
	log    *slog.Logger
	sender Sender
	cipher Cipher
	domain string
}

// NewWorker returns the River worker of mail, sending with sender and
// opening messages with cipher; from (MAIL_FROM) gives the Message-ID's
// domain.
func NewWorker(log *slog.Logger, sender Sender, cipher Cipher, from string) *Worker {
	return &Worker{log: log, sender: sender, cipher: cipher, domain: domainOf(from)}
}

// Register adds w to workers.
func (w *Worker) Register(workers *river.Workers) error {
	return river.AddWorkerSafely(workers, river.Worker[JobArgs](w))
}

// Work sends the job's message; an error makes River try again later.
func (w *Worker) Work(ctx context.Context, j *river.Job[JobArgs]) error {
	m, err := open(w.cipher, j.Args.Sealed)
	if err != nil {
		// The key is gone: no later attempt can do better.
		return river.JobCancel(fmt.Errorf("mail job %d: open: %w", j.ID, err))
	}
	if err := w.sender.Send(ctx, m, messageID(j.ID, w.domain)); err != nil {
		w.log.WarnContext(ctx, "mail not delivered; River retries it", slog.Int64("job_id", j.ID),
			slog.Int("attempt", j.Attempt), slog.Any("error", err))
		return fmt.Errorf("mail job %d: %w", j.ID, err)
	}
	w.log.InfoContext(ctx, "mail delivered", slog.Int64("job_id", j.ID), slog.String("subject", m.Subject))
	return nil
}

// Timeout bounds one attempt.
func (w *Worker) Timeout(*river.Job[JobArgs]) time.Duration { return sendTimeout + 5*time.Second }

// NextRetry is RetryDelay after now.
func (w *Worker) NextRetry(j *river.Job[JobArgs]) time.Time {
	return time.Now().Add(RetryDelay(j.Attempt))
}

// RetryDelay is the wait before the next attempt after attempt failed:
// 1 s, 2 s, 4 s, … up to 10 minutes.
func RetryDelay(attempt int) time.Duration {
	d := time.Second << min(max(attempt-1, 0), 10)
	return min(d, 10*time.Minute)
}
