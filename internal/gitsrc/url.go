package gitsrc

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
)

// kind is how a repository URL is reached.
type kind int

const (
	kindHTTPS kind = iota
	kindHTTP
	kindSSH
	kindFile
)

// target is a checked repository URL.
type target struct {
	kind kind
	// endpoint is what go-git's transport.NewEndpoint parses: the URL as
	// given, or an absolute file:// URL for a local path.
	endpoint string
	host     string // without port; "" for files
	user     string // SSH user from the URL
	path     string // local directory for files
	bare     string // the local path as given, for a path without file://
}

// validateURL checks raw against the rules of ValidateURL.
func validateURL(raw string, opts Options) error {
	_, err := parseTarget(raw, opts)
	return err
}

func urlErr(format string, args ...any) error {
	return &userError{kind: ErrURL, msg: fmt.Sprintf(format, args...)}
}

// kindNames are the names Kind returns.
var kindNames = map[kind]string{kindHTTPS: "https", kindHTTP: "http", kindSSH: "ssh", kindFile: "file"}

// parseTarget classifies raw and refuses what opts does not allow. It does
// not resolve host names: Fetch checks the addresses before it connects.
func parseTarget(raw string, opts Options) (*target, error) {
	t, err := parseURL(raw)
	if err != nil {
		return nil, err
	}
	if err := t.allowed(opts); err != nil {
		return nil, err
	}
	return t, nil
}

// parseURL classifies raw by its form alone, whatever the options: what
// no options allow (credentials in the URL, an unknown scheme, a missing
// host or path) is refused here.
func parseURL(raw string) (*target, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, urlErr("Enter the repository URL.")
	}
	if strings.ContainsAny(raw, "\x00\r\n\t ") {
		return nil, urlErr("The repository URL must not contain spaces or control characters.")
	}
	if i := strings.Index(raw, "://"); i > 0 {
		return parseSchemeURL(raw)
	}
	if t, ok := parseSCPLike(raw); ok {
		return t, nil
	}
	// A local path.
	abs, err := filepath.Abs(raw)
	if err != nil {
		return nil, urlErr("The local path %q cannot be used: %v.", raw, err)
	}
	return &target{kind: kindFile, endpoint: (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String(), path: abs, bare: raw}, nil
}

func parseSchemeURL(raw string) (*target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, urlErr("The repository URL is not valid: %v.", redactURLError(err))
	}
	scheme := strings.ToLower(u.Scheme)
	if u.User != nil && scheme != "ssh" {
		return nil, urlErr("Do not put credentials in the repository URL; enter the token in the token field.")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, urlErr("The repository URL must not have a query or fragment.")
	}
	t := &target{endpoint: raw, host: u.Hostname()}
	switch scheme {
	case "https":
		t.kind = kindHTTPS
	case "http":
		t.kind = kindHTTP
	case "ssh":
		if u.User != nil {
			if _, ok := u.User.Password(); ok {
				return nil, urlErr("Do not put a password in the repository URL; SSH repositories use a deploy key.")
			}
			t.user = u.User.Username()
		}
		t.kind = kindSSH
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, urlErr("A file:// URL must name a local directory (file:///path).")
		}
		t.kind, t.host, t.path = kindFile, "", filepath.FromSlash(u.Path)
		if !filepath.IsAbs(t.path) {
			return nil, urlErr("A file:// URL must name an absolute path.")
		}
		t.endpoint = (&url.URL{Scheme: "file", Path: u.Path}).String()
		return t, nil
	default:
		return nil, urlErr("%s:// is not supported: use https://, ssh:// or git@host:path.", scheme)
	}
	if t.host == "" {
		return nil, urlErr("The repository URL has no host.")
	}
	if strings.Trim(u.Path, "/") == "" {
		return nil, urlErr("The repository URL has no repository path.")
	}
	return t, nil
}

// allowed refuses what opts do not allow: files without AllowFile, plain
// HTTP without AllowPrivate or to a literal public address, and hosts that
// are obviously private or local without AllowPrivate.
func (t *target) allowed(opts Options) error {
	switch t.kind {
	case kindFile:
		if opts.AllowFile {
			return nil
		}
		if t.bare != "" {
			return urlErr("%q is not a repository URL: use https://, ssh:// or git@host:path.", t.bare)
		}
		return urlErr("file:// URLs are not allowed: use https://, ssh:// or git@host:path.")
	case kindHTTP:
		if !opts.AllowPrivate {
			return urlErr("http:// is not allowed: use https:// (plain HTTP would expose the token).")
		}
		// Plain HTTP only to a private network: refuse a literal public
		// address now; names are checked before connecting.
		if ip, err := netip.ParseAddr(strings.Trim(t.host, "[]")); err == nil && !privateAddr(ip) {
			return urlErr("http:// is only allowed for a server on a private network; use https://.")
		}
	}
	return checkHost(t.host, opts)
}

// parseSCPLike recognises [user@]host:path, the form git uses for SSH.
func parseSCPLike(raw string) (*target, bool) {
	colon := strings.IndexByte(raw, ':')
	if colon <= 0 || colon == len(raw)-1 {
		return nil, false
	}
	userHost, p := raw[:colon], raw[colon+1:]
	if strings.ContainsAny(userHost, "/\\") {
		return nil, false
	}
	user, host := "", userHost
	if at := strings.LastIndexByte(userHost, '@'); at >= 0 {
		user, host = userHost[:at], userHost[at+1:]
	}
	if host == "" || strings.ContainsAny(host, "[]") {
		return nil, false
	}
	if len(host) == 1 && user == "" {
		return nil, false // a Windows drive letter, not a host
	}
	return &target{kind: kindSSH, endpoint: raw, host: host, user: user, path: p}, true
}

// checkHost refuses hosts that are obviously local or private unless
// opts.AllowPrivate; names that resolve to such addresses are refused
// before Fetch connects.
func checkHost(host string, opts Options) error {
	if opts.AllowPrivate {
		return nil
	}
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") || h == "localhost.localdomain" {
		return urlErr("%s is a local address; only repositories on the internet are allowed.", host)
	}
	if ip, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil && privateAddr(ip) {
		return urlErr("%s is a private or local address; only repositories on the internet are allowed.", host)
	}
	return nil
}

var (
	cgnat       = netip.MustParsePrefix("100.64.0.0/10")
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
	ietfV4      = netip.MustParsePrefix("192.0.0.0/24")
	nat64       = netip.MustParsePrefix("64:ff9b::/96")
)

// privateAddr reports whether ip is not a public internet address:
// loopback, private, link-local, unspecified, multicast or shared.
func privateAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.Is6() && nat64.Contains(ip) {
		// The IPv4 address embedded in a NAT64 address.
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() ||
		ip.IsMulticast() || ip.IsUnspecified() ||
		cgnat.Contains(ip) || thisNetwork.Contains(ip) || ietfV4.Contains(ip)
}

// addrIP extracts the IP of a "host:port" dial address.
func addrIP(address string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = address
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return ip, true
}

// redactURLError drops the URL (which may hold credentials) from a
// url.Parse error.
func redactURLError(err error) string {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err.Error()
	}
	return "it cannot be parsed"
}
