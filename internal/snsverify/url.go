package snsverify

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// snsHostRE matches the host of an SNS endpoint: sns.<region>.amazonaws.com,
// or sns.<region>.amazonaws.com.cn in the China partition. Nothing before
// "sns." and nothing after the domain: no other subdomain, no trailing dot.
var snsHostRE = regexp.MustCompile(`^sns\.(` + regionPattern + `)\.amazonaws\.com(\.cn)?$`)

// CheckURL reports whether raw may be fetched as an SNS endpoint: an https
// URL on port 443 (or none), with no userinfo, whose host is
// sns.<region>.amazonaws.com, or sns.<region>.amazonaws.com.cn for a China
// region. It applies to a SubscribeURL or an UnsubscribeURL; the error wraps
// ErrForged.
func CheckURL(raw string) error {
	_, _, err := checkSNSURL(raw)
	return err
}

// checkCertURL applies CheckURL's rule to a SigningCertURL and also requires
// a path ending in ".pem" with no query or fragment. It returns the host, for
// the certificate's name check.
func checkCertURL(raw string) (host string, err error) {
	u, host, err := checkSNSURL(raw)
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(u.Path, ".pem") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("%w: signing certificate URL %q is not a .pem file", ErrForged, raw)
	}
	return host, nil
}

func checkSNSURL(raw string) (*url.URL, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", fmt.Errorf("%w: bad SNS URL: %v", ErrForged, err)
	}
	if u.Scheme != "https" || u.Opaque != "" || u.User != nil {
		return nil, "", fmt.Errorf("%w: SNS URL %q is not a plain https URL", ErrForged, raw)
	}
	if p := u.Port(); p != "" && p != "443" {
		return nil, "", fmt.Errorf("%w: SNS URL %q uses port %s", ErrForged, raw, p)
	}
	host := u.Hostname()
	sub := snsHostRE.FindStringSubmatch(host)
	if sub == nil {
		return nil, "", fmt.Errorf("%w: SNS URL %q is not on an SNS host", ErrForged, raw)
	}
	// The .cn domain belongs to the China regions and only to them.
	if china := sub[2] != ""; china != strings.HasPrefix(sub[1], "cn-") {
		return nil, "", fmt.Errorf("%w: SNS URL %q mixes region and partition", ErrForged, raw)
	}
	return u, host, nil
}
