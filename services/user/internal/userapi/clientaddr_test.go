package userapi

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

func TestClientAddr(t *testing.T) {
	t.Parallel()
	s := &Server{proxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}}
	for _, tc := range []struct {
		name string
		peer string
		xff  []string
		want string
	}{
		{"untrusted peer, no header", "192.0.2.1:5000", nil, "192.0.2.1"},
		{"untrusted peer's header is ignored", "192.0.2.1:5000", []string{"198.51.100.1"}, "192.0.2.1"},
		{"trusted peer without header", "127.0.0.1:5000", nil, "127.0.0.1"},
		{"trusted peer names the client", "127.0.0.1:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"rightmost untrusted entry wins", "127.0.0.1:5000", []string{"203.0.113.9, 198.51.100.1, 10.1.2.3"}, "198.51.100.1"},
		{"several header values", "127.0.0.1:5000", []string{"203.0.113.9", "198.51.100.1"}, "198.51.100.1"},
		{"malformed entry stops the walk", "127.0.0.1:5000", []string{"203.0.113.9, junk, 10.1.2.3"}, "10.1.2.3"},
		{"only proxies", "127.0.0.1:5000", []string{"10.0.0.1"}, "10.0.0.1"},
		{"IPv6 is reduced to its /64", "[2001:db8:1:2:3:4:5:6]:443", nil, "2001:db8:1:2::/64"},
		{"IPv4-mapped IPv6 is IPv4", "[::ffff:192.0.2.7]:1", nil, "192.0.2.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ap := netip.MustParseAddrPort(tc.peer)
			ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: net.TCPAddrFromAddrPort(ap)})
			if tc.xff != nil {
				md := metadata.MD{}
				for _, v := range tc.xff {
					md.Append("x-forwarded-for", v)
				}
				ctx = metadata.NewIncomingContext(ctx, md)
			}
			if got := s.ClientAddr(ctx); got != tc.want {
				t.Errorf("ClientAddr = %q, want %q", got, tc.want)
			}
		})
	}
	if got := s.ClientAddr(context.Background()); got != "" {
		t.Errorf("no peer: %q, want empty", got)
	}
}

func TestParseTrustedProxies_PrefixesAndBareAddresses(t *testing.T) {
	t.Parallel()
	got, err := ParseTrustedProxies([]string{" 127.0.0.0/8", "10.1.2.3/8", "", "::1", "192.0.2.7 "})
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("10.0.0.0/8"), // masked
		netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("192.0.2.7/32"),
	}
	if len(got) != len(want) {
		t.Fatalf("ParseTrustedProxies = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %v, want %v", i, got[i], want[i])
		}
	}
	if _, err := ParseTrustedProxies([]string{"127.0.0.1", "not-an-address"}); err == nil || !strings.Contains(err.Error(), `"not-an-address"`) {
		t.Errorf("bad entry: %v, want an error naming it", err)
	}
}
