// Package mail sends the platform's mail through a transactional outbox on
// River: a change that causes a message enqueues it with Outbox.Enqueue in
// the change's own transaction (River's InsertTx), so the message exists
// exactly when the change committed; a River worker (Worker) delivers it
// with a Sender, retrying with backoff, at least once.
//
// The message travels sealed (an AEAD, the service's keyring): a River job
// row holds no mail body, so a token a mail carries is in the database only
// as its hash. Each delivery carries a Message-ID derived from the job's id,
// the same on every attempt, so that a duplicate after a crash between the
// SMTP server's acceptance and River's record of it can be recognised (see
// docs/security.md, Mail).
package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one mail to send: plain text to one recipient.
type Message struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
}

// Sender delivers a message. messageID is the Message-ID to give it
// (without angle brackets), the same on every attempt of one message.
type Sender interface {
	Send(ctx context.Context, m Message, messageID string) error
}

// SMTP is a Sender to an SMTP server.
type SMTP struct {
	from string
	host string
	opts []gomail.Option
}

// sendTimeout bounds one delivery.
const sendTimeout = 30 * time.Second

// NewSMTP returns a Sender to the server that rawURL names, mailing from
// from (MAIL_FROM). rawURL is
//
//	smtp://[user:password@]host[:port][?tls=starttls|opportunistic|none]
//	smtps://[user:password@]host[:port]
//
// smtp:// uses STARTTLS, required unless tls says otherwise (default port
// 587); smtps:// is TLS from the first byte (default port 465). With a
// user, it authenticates with PLAIN (over TLS only, unless tls=none).
func NewSMTP(rawURL, from string) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("SMTP_URL: %w", err)
	}
	if from == "" {
		return nil, errors.New("MAIL_FROM is required with SMTP_URL")
	}
	if err := gomail.NewMsg().From(from); err != nil {
		return nil, fmt.Errorf("MAIL_FROM %q: %w", from, err)
	}
	s := &SMTP{from: from, host: u.Hostname(), opts: []gomail.Option{gomail.WithTimeout(sendTimeout)}}
	if s.host == "" {
		return nil, fmt.Errorf("SMTP_URL %q: no host", redact(u))
	}
	port := 587
	switch u.Scheme {
	case "smtp":
		policy := gomail.TLSMandatory
		switch t := u.Query().Get("tls"); t {
		case "", "starttls":
		case "opportunistic":
			policy = gomail.TLSOpportunistic
		case "none":
			policy = gomail.NoTLS
		default:
			return nil, fmt.Errorf("SMTP_URL %q: tls=%q, want starttls, opportunistic or none", redact(u), t)
		}
		s.opts = append(s.opts, gomail.WithTLSPolicy(policy))
	case "smtps":
		port = 465
		s.opts = append(s.opts, gomail.WithSSL())
	default:
		return nil, fmt.Errorf("SMTP_URL %q: scheme %q, want smtp or smtps", redact(u), u.Scheme)
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("SMTP_URL %q: port: %w", redact(u), err)
		}
	}
	s.opts = append(s.opts, gomail.WithPort(port))
	if user := u.User.Username(); user != "" {
		pw, _ := u.User.Password()
		s.opts = append(s.opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(user), gomail.WithPassword(pw))
	}
	return s, nil
}

// redact returns u without its password, for messages.
func redact(u *url.URL) string { return u.Redacted() }

// Send delivers m over a new connection.
func (s *SMTP) Send(ctx context.Context, m Message, messageID string) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("mail: from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("mail: to: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageIDWithValue(messageID)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	c, err := gomail.NewClient(s.host, s.opts...)
	if err != nil {
		return fmt.Errorf("mail: client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mail: send via %s: %w", s.host, err)
	}
	return nil
}

// File is a Sender that appends each message to a file, for development
// (make run without SMTP_URL): nothing leaves the machine.
type File struct {
	path string
	mu   sync.Mutex
}

// NewFile returns a Sender appending to path, which it creates if needed.
func NewFile(path string) (*File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("MAIL_LOG_FILE: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("MAIL_LOG_FILE: %w", err)
	}
	return &File{path: path}, nil
}

// Send appends m to the file, with its headers.
func (f *File) Send(_ context.Context, m Message, messageID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	out, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("mail: log file: %w", err)
	}
	_, err = fmt.Fprintf(out, "Message-ID: <%s>\nDate: %s\nTo: %s\nSubject: %s\n\n%s\n\n", messageID,
		time.Now().UTC().Format(time.RFC1123Z), m.To, m.Subject, strings.TrimRight(m.Text, "\n"))
	return errors.Join(err, out.Close())
}

// Discard is a Sender that sends nothing and logs that it did not (no
// SMTP_URL and no MAIL_LOG_FILE): the recipient and subject, never the text.
type Discard struct{ Log *slog.Logger }

// Send logs m's recipient and subject.
func (d Discard) Send(ctx context.Context, m Message, messageID string) error {
	d.Log.WarnContext(ctx, "mail not sent: neither SMTP_URL nor MAIL_LOG_FILE is set",
		slog.String("to", m.To), slog.String("subject", m.Subject), slog.String("message_id", messageID))
	return nil
}

// messageID returns the Message-ID of the job id's message.
func messageID(jobID int64, domain string) string {
	return "todo-mail-" + strconv.FormatInt(jobID, 10) + "@" + domain
}

// domainOf returns the domain of the address from, or "localhost".
func domainOf(from string) string {
	if i := strings.LastIndexByte(from, '@'); i >= 0 {
		d := strings.TrimRight(from[i+1:], "> ")
		if _, _, err := net.SplitHostPort(d + ":0"); err == nil && d != "" {
			return d
		}
	}
	return "localhost"
}

// seal and open turn a Message into the bytes a job holds, and back.
func seal(c Cipher, m Message) ([]byte, error) {
	js, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return c.Encrypt(js, associatedData)
}

func open(c Cipher, sealed []byte) (Message, error) {
	js, err := c.Decrypt(sealed, associatedData)
	if err != nil {
		return Message{}, err
	}
	var m Message
	err = json.Unmarshal(js, &m)
	return m, err
}

// associatedData binds a sealed message to its use.
var associatedData = []byte("todo:mail:message")

// Cipher seals and opens messages (keyring.Keyring implements it).
type Cipher interface {
	Encrypt(plaintext, associatedData []byte) ([]byte, error)
	Decrypt(ciphertext, associatedData []byte) ([]byte, error)
}
