package snsverify

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Fetcher gets a certificate (PEM) by URL. Verify calls it only with a URL
// that passed the SigningCertURL rule. Any error it returns is treated as
// transient (ErrUnavailable).
type Fetcher interface {
	Fetch(ctx context.Context, url string) ([]byte, error)
}

// cacheSize bounds the certificates a Verifier keeps. SNS signs with one
// certificate per region at a time, so a handful is the working set.
const cacheSize = 100

// maxCertSize bounds a fetched PEM; SNS's are about 2 KiB.
const maxCertSize = 64 << 10

// Verifier verifies SNS message signatures. Its zero value is ready to use:
// it fetches certificates over HTTPS, trusts the system roots and reads the
// clock. A Verifier is safe for concurrent use; do not copy it after first
// use.
type Verifier struct {
	Fetcher Fetcher          // nil: HTTPS GET, 5 s timeout, no redirects
	Roots   *x509.CertPool   // nil: the system roots
	Now     func() time.Time // nil: time.Now

	mu    sync.Mutex
	certs map[string]*certEntry // by SigningCertURL
	order []string              // keys of certs, oldest first
}

// certEntry is a certificate PEM that has already been parsed and found to
// chain to the roots once. It is checked again on every use, at the time of
// use, since it may have expired in between.
type certEntry struct {
	leaf          *x509.Certificate
	intermediates *x509.CertPool
}

// Verify checks m's signature. It returns nil when m is exactly what SNS
// signed, with a certificate fetched from an SNS host that chains to v.Roots
// at v.Now; otherwise an error wrapping ErrInvalid (m is malformed),
// ErrForged (bad or unknown-version signature, altered content, a
// certificate URL off SNS, a certificate that does not chain, has expired,
// names another host or has no RSA key) or ErrUnavailable (the certificate
// could not be fetched; the caller answers 5xx so SNS retries). No
// certificate is fetched for a message refused on its face.
func (v *Verifier) Verify(ctx context.Context, m *Message) error {
	if m == nil {
		return fmt.Errorf("%w: nil message", ErrInvalid)
	}
	if err := m.validate(); err != nil {
		return err
	}
	var hash crypto.Hash
	switch m.SignatureVersion {
	case "1":
		hash = crypto.SHA1
	case "2":
		hash = crypto.SHA256
	default:
		return fmt.Errorf("%w: unknown SignatureVersion %q", ErrForged, m.SignatureVersion)
	}
	data, err := m.stringToSign()
	if err != nil {
		return err
	}
	host, err := checkCertURL(m.SigningCertURL)
	if err != nil {
		return err
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil {
		return fmt.Errorf("%w: signature is not base64", ErrForged)
	}
	key, err := v.publicKey(ctx, m.SigningCertURL, host)
	if err != nil {
		return err
	}
	var digest []byte
	if hash == crypto.SHA1 {
		d := sha1.Sum(data)
		digest = d[:]
	} else {
		d := sha256.Sum256(data)
		digest = d[:]
	}
	if err := rsa.VerifyPKCS1v15(key, hash, digest, sig); err != nil {
		return fmt.Errorf("%w: message %s", ErrForged, m.MessageID)
	}
	return nil
}

// publicKey returns the RSA key of the certificate at certURL (on host),
// from the cache or fetched, after checking the certificate now.
func (v *Verifier) publicKey(ctx context.Context, certURL, host string) (*rsa.PublicKey, error) {
	e, cached := v.cached(certURL)
	if !cached {
		b, err := v.fetcher().Fetch(ctx, certURL)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrUnavailable, certURL, err)
		}
		if e, err = parseCertPEM(b); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrForged, certURL, err)
		}
	}
	key, err := v.check(e, host)
	if err != nil {
		if cached {
			v.forget(certURL)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrForged, certURL, err)
	}
	if !cached {
		v.remember(certURL, e)
	}
	return key, nil
}

// parseCertPEM reads a PEM bundle: the first certificate is the signing
// certificate, any others are intermediates.
func parseCertPEM(b []byte) (*certEntry, error) {
	e := &certEntry{intermediates: x509.NewCertPool()}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %v", err)
		}
		if e.leaf == nil {
			e.leaf = c
		} else {
			e.intermediates.AddCert(c)
		}
	}
	if e.leaf == nil {
		return nil, errors.New("no certificate in PEM")
	}
	return e, nil
}

// check verifies e's chain to the roots at the current time, that it is
// valid for host, and returns its RSA key.
//
// The name rule accepts the URL's host or the partition-wide SNS name
// (sns.amazonaws.com, sns.amazonaws.com.cn): real SNS signing certificates
// are issued to sns.amazonaws.com and served from every regional host.
func (v *Verifier) check(e *certEntry, host string) (*rsa.PublicKey, error) {
	if _, err := e.leaf.Verify(x509.VerifyOptions{
		Roots:         v.Roots,
		Intermediates: e.intermediates,
		CurrentTime:   v.now(),
	}); err != nil {
		return nil, err
	}
	global := "sns.amazonaws.com"
	if strings.HasSuffix(host, ".cn") {
		global += ".cn"
	}
	if e.leaf.VerifyHostname(host) != nil && e.leaf.VerifyHostname(global) != nil {
		return nil, fmt.Errorf("certificate is not valid for %s", host)
	}
	key, ok := e.leaf.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("certificate key is %T, not RSA", e.leaf.PublicKey)
	}
	return key, nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) fetcher() Fetcher {
	if v.Fetcher != nil {
		return v.Fetcher
	}
	return newHTTPFetcher(nil)
}

func (v *Verifier) cached(url string) (*certEntry, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.certs[url]
	return e, ok
}

// remember caches e under url, evicting the oldest entry when full.
func (v *Verifier) remember(url string, e *certEntry) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.certs == nil {
		v.certs = make(map[string]*certEntry)
	}
	if _, ok := v.certs[url]; ok {
		v.certs[url] = e // a concurrent fetch got there first
		return
	}
	for len(v.order) >= cacheSize {
		delete(v.certs, v.order[0])
		v.order = v.order[1:]
	}
	v.certs[url] = e
	v.order = append(v.order, url)
}

func (v *Verifier) forget(url string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.certs[url]; !ok {
		return
	}
	delete(v.certs, url)
	for i, u := range v.order {
		if u == url {
			v.order = append(v.order[:i:i], v.order[i+1:]...)
			break
		}
	}
}

// httpFetcher is the default Fetcher: a GET with a short timeout that
// refuses redirects, so that the URL checked is the URL read.
type httpFetcher struct{ client *http.Client }

// newHTTPFetcher returns the default fetcher over rt (nil: the default
// transport).
func newHTTPFetcher(rt http.RoundTripper) *httpFetcher {
	return &httpFetcher{client: &http.Client{
		Transport:     rt,
		Timeout:       5 * time.Second,
		CheckRedirect: refuseRedirect,
	}}
}

func (f *httpFetcher) Fetch(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxCertSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxCertSize {
		return nil, fmt.Errorf("certificate larger than %d bytes", maxCertSize)
	}
	return b, nil
}

// refuseRedirect makes an http.Client return a redirect response as is,
// instead of following it.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
