package gitsrc

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
)

// errNoAddress is a host name that resolves to no address.
var errNoAddress = errors.New("the host name has no address")

// dialChecked connects to address (host:port) for a fetch of kind k. It
// resolves the host with opts.Resolver, refuses the connection when any
// of its addresses is not allowed (checkDial), and only then connects,
// to an address it checked, never to the name (which could resolve
// elsewhere a moment later); the dialer checks the address once more just
// before connecting. No proxy is used.
func dialChecked(ctx context.Context, network, address string, k kind, opts Options) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	addrs, err := resolve(ctx, host, opts)
	if err != nil {
		return nil, err
	}
	for _, ip := range addrs {
		if err := checkIP(ip, k, opts); err != nil {
			return nil, err
		}
	}
	d := &net.Dialer{
		Timeout: dialTimeout,
		Control: func(_, address string, _ syscall.RawConn) error {
			return checkDial(address, k, opts)
		},
	}
	var first error
	for _, ip := range addrs {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// resolve looks up host's addresses (a literal address is its own).
func resolve(ctx context.Context, host string, opts Options) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip.WithZone("")}, nil
	}
	var r Resolver = net.DefaultResolver
	if opts.Resolver != nil {
		r = opts.Resolver
	}
	ias, err := r.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, ia := range ias {
		if ip, ok := netip.AddrFromSlice(ia.IP); ok {
			out = append(out, ip.Unmap())
		}
	}
	if len(out) == 0 {
		return nil, errNoAddress
	}
	return out, nil
}

// checkDial refuses connecting to address (an IP and port) when opts do
// not allow it (checkIP).
func checkDial(address string, k kind, opts Options) error {
	ip, ok := addrIP(address)
	if !ok {
		return errPrivateAddr
	}
	return checkIP(ip, k, opts)
}

// checkIP refuses private addresses without AllowPrivate, and plain HTTP
// to a public address.
func checkIP(ip netip.Addr, k kind, opts Options) error {
	private := privateAddr(ip)
	if private && !opts.AllowPrivate {
		return errPrivateAddr
	}
	if k == kindHTTP && !private {
		return errPlainHTTP
	}
	return nil
}
