// Package mailtest runs a real SMTP server (github.com/emersion/go-smtp)
// in-process for tests, on a loopback listener of its own, and keeps what
// arrives.
package mailtest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is one message as the server received it.
type Message struct {
	From      string
	To        []string
	MessageID string
	Subject   string
	Body      string
}

// Server is a running SMTP server.
type Server struct {
	srv *smtp.Server
	ln  net.Listener

	mu       sync.Mutex
	msgs     []Message
	tempFail bool
	arrived  chan struct{}
}

// New starts a server on 127.0.0.1:0, stopped when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{ln: ln, arrived: make(chan struct{}, 1)}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	s.srv.Domain = "mailtest.localhost"
	s.srv.ReadTimeout, s.srv.WriteTimeout = 10*time.Second, 10*time.Second
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s
}

// URL is the SMTP_URL of the server (plaintext, on loopback).
func (s *Server) URL() string { return "smtp://" + s.ln.Addr().String() + "?tls=none" }

// SetTempFail makes the server answer every message with a temporary
// failure (451) while on, as a server that is down for a while does.
func (s *Server) SetTempFail(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tempFail = on
}

// Messages returns the messages received so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// To returns the messages received so far for the address to.
func (s *Server) To(to string) []Message {
	var out []Message
	for _, m := range s.Messages() {
		for _, r := range m.To {
			if strings.EqualFold(r, to) {
				out = append(out, m)
			}
		}
	}
	return out
}

// WaitFor waits up to timeout for n messages to to, and returns them; it
// fails the test when they do not arrive.
func (s *Server) WaitFor(t testing.TB, to string, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if got := s.To(to); len(got) >= n {
			return got
		}
		select {
		case <-s.arrived:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("mailtest: %d message(s) to %s after %s, want %d; all: %+v", len(s.To(to)), to, timeout, n, s.Messages())
			return nil
		}
	}
}

var tokenLine = regexp.MustCompile(`(?m)^\s*token:\s*(\S+)\s*$`)

// Token returns the token a message carries on a "token: …" line; it
// fails the test when there is none.
func Token(t testing.TB, m Message) string {
	t.Helper()
	sub := tokenLine.FindStringSubmatch(m.Body)
	if sub == nil {
		t.Fatalf("mailtest: no token line in %q", m.Body)
	}
	return sub[1]
}

type session struct {
	s    *Server
	from string
	to   []string
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if x.s.tempFail {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "mailtest: try again later"}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("mailtest: parse: %w", err)
	}
	body, err := io.ReadAll(msg.Body)
	if err != nil {
		return err
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		subject = msg.Header.Get("Subject")
	}
	x.s.msgs = append(x.s.msgs, Message{
		From: x.from, To: x.to, MessageID: msg.Header.Get("Message-ID"), Subject: subject,
		Body: decodeBody(msg.Header.Get("Content-Transfer-Encoding"), body),
	})
	select {
	case x.s.arrived <- struct{}{}:
	default:
	}
	return nil
}

// decodeBody undoes a quoted-printable or base64 transfer encoding.
func decodeBody(enc string, body []byte) string {
	switch strings.ToLower(enc) {
	case "quoted-printable":
		if b, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body))); err == nil {
			return string(b)
		}
	case "base64":
		if b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(body)), "")); err == nil {
			return string(b)
		}
	}
	return string(body)
}
