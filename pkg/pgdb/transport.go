package pgdb

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// CheckTransport returns an error, saying why and how to fix it, unless
// every host the DSN of cfg may connect to is either on this machine (a Unix
// socket, localhost or a loopback address) or reached only over TLS. The
// sslmode values disable, allow and prefer (pgx's default when sslmode is
// unset) may send the password and every row in clear text, so they are
// refused for any other host; require encrypts without checking the
// server's certificate, and verify-ca or verify-full are what production
// should use. allowInsecure (DATABASE_ALLOW_INSECURE=true) turns the check
// off, for a private network whose operator accepts the risk.
func CheckTransport(cfg *pgconn.Config, allowInsecure bool) error {
	if allowInsecure {
		return nil
	}
	type target struct {
		host  string
		plain bool
	}
	targets := []target{{cfg.Host, cfg.TLSConfig == nil}}
	for _, f := range cfg.Fallbacks {
		targets = append(targets, target{f.Host, f.TLSConfig == nil})
	}
	var hosts []string
	for _, t := range targets {
		if t.plain && !isLocal(t.host) && !containsString(hosts, t.host) {
			hosts = append(hosts, t.host)
		}
	}
	if len(hosts) == 0 {
		return nil
	}
	return fmt.Errorf("the database host %s is not on this machine and the DSN allows a connection without TLS (sslmode unset, disable, allow or prefer): "+
		"passwords and data would cross the network in clear text; set sslmode=verify-full (with sslrootcert=<CA file> unless the system roots apply) "+
		"in the DSN, or DATABASE_ALLOW_INSECURE=true to accept the risk", strings.Join(hosts, ", "))
}

// isLocal reports whether host is a Unix socket directory, localhost or a
// loopback address.
func isLocal(host string) bool {
	if strings.HasPrefix(host, "/") || strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && addr.IsLoopback()
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
