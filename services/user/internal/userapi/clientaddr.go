package userapi

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// ClientAddr returns the address sign-in failures are counted against: the
// connection's peer, unless the peer is a trusted proxy (such as the REST
// gateway on loopback), in which case the x-forwarded-for metadata is read
// from the right (the entry the proxy itself added) and the first address
// that is not a trusted proxy is used. Forwarded entries from an untrusted
// peer are ignored, so a client cannot choose its own address. IPv6
// addresses are reduced to their /64, which one client typically holds
// whole. It returns "" when no address is known.
func (s *Server) ClientAddr(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	addr, ok := parseAddr(p.Addr.String())
	if !ok {
		return ""
	}
	if s.trusted(addr) {
		md, _ := metadata.FromIncomingContext(ctx)
		var hops []string
		for _, v := range md.Get("x-forwarded-for") {
			hops = append(hops, strings.Split(v, ",")...)
		}
		for i := len(hops) - 1; i >= 0; i-- {
			a, ok := parseAddr(strings.TrimSpace(hops[i]))
			if !ok {
				break // a malformed entry: trust nothing to its left
			}
			addr = a
			if !s.trusted(a) {
				break
			}
		}
	}
	if addr.Is6() {
		return netip.PrefixFrom(addr, 64).Masked().String()
	}
	return addr.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseAddr parses "ip", "ip:port" or "[ip]:port", unmapping IPv4-in-IPv6.
func parseAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

// ParseTrustedProxies parses the trusted proxies for New: each entry is a
// CIDR prefix or an address (a one-address prefix), surrounded by any white
// space; empty entries are skipped. The error names the first entry that is
// neither.
func ParseTrustedProxies(entries []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(entries))
	for _, s := range entries {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR prefix nor an address", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
