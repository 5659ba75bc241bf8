package outbound

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
)

// Deliveries go only to the public internet. An endpoint that names, or
// resolves to, a private, loopback or link-local address would make
// Dunlin a way into the network it runs in (the delivery log shows what
// such a host answered), so the check is made on the address actually
// dialled, after DNS, where a name that resolves differently later
// cannot slip past it.

// cgnat is the shared address space of carrier-grade NAT (RFC 6598),
// which netip does not count as private.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// public reports whether ip is an address on the public internet.
func public(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsGlobalUnicast() && !ip.IsPrivate() && !cgnat.Contains(ip)
}

// dialControl refuses connections to addresses that are not public;
// loopback ones too unless allowLoopback (the local stack's receivers).
func dialControl(allowLoopback bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return fmt.Errorf("dial %s: not an IP address", address)
		}
		if public(ip) || allowLoopback && ip.Unmap().IsLoopback() {
			return nil
		}
		return fmt.Errorf("%s is not a public address: events go only to the internet", ip)
	}
}

func newClient(allowLoopback bool) *http.Client {
	dialer := &net.Dialer{Timeout: RequestTimeout, Control: dialControl(allowLoopback)}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = dialer.DialContext
	transport.Proxy = nil // a proxy would dial for us, past the check
	return &http.Client{
		Timeout:   RequestTimeout,
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

var (
	publicClient   = newClient(false)
	loopbackClient = newClient(true)
)

// refusedHost says why an endpoint's host, when it is an IP address, is
// not one events may go to; "" when it may (a name is checked when dialled).
func refusedHost(host string, allowLoopback bool) string {
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return ""
	}
	if public(ip) || allowLoopback && ip.Unmap().IsLoopback() {
		return ""
	}
	return fmt.Sprintf("%s is not a public address: events go only to the internet", ip)
}
