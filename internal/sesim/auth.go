package sesim

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// sigV4 is the parsed Authorization header of a SigV4-signed request.
type sigV4 struct {
	accessKey     string
	date          string // yyyymmdd of the credential scope
	region        string
	service       string
	signedHeaders []string
	signature     string
}

const sigV4Algorithm = "AWS4-HMAC-SHA256"

func parseAuthorization(h string) (sigV4, *apiError) {
	var sig sigV4
	if h == "" {
		return sig, errorf(403, codeMissingAuth, "Request is missing Authentication Token")
	}
	rest, ok := strings.CutPrefix(h, sigV4Algorithm+" ")
	if !ok {
		return sig, errorf(400, "IncompleteSignature", "Authorization header requires the %s algorithm", sigV4Algorithm)
	}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return sig, errorf(400, "IncompleteSignature", "Authorization header has a malformed Credential: %s", v)
			}
			sig.accessKey, sig.date, sig.region, sig.service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			sig.signedHeaders = strings.Split(v, ";")
		case "Signature":
			sig.signature = v
		}
	}
	if sig.accessKey == "" || len(sig.signedHeaders) == 0 || sig.signature == "" {
		return sig, errorf(400, "IncompleteSignature", "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters")
	}
	return sig, nil
}

// authenticate finds the access key of a signed request and recomputes its
// signature with the key's secret through the SDK's own signer.
func (s *Sim) authenticate(r *http.Request, body []byte, sig sigV4) (principal, *apiError) {
	s.mu.Lock()
	cred := s.keys[sig.accessKey]
	var c credential
	if cred != nil {
		c = *cred
	}
	now := s.now()
	s.mu.Unlock()

	invalid := errorf(403, codeUnknownKey, "The security token included in the request is invalid.")
	if cred == nil {
		return principal{}, invalid
	}
	token := r.Header.Get("X-Amz-Security-Token")
	if token != c.token || (c.token != "" && !signed(sig, "x-amz-security-token")) {
		return principal{}, invalid
	}
	if c.token != "" && !now.Before(c.expires) {
		return principal{}, errorf(403, codeExpired, "The security token included in the request is expired")
	}
	mismatch := errorf(403, codeBadSignature, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")

	amzDate := r.Header.Get("X-Amz-Date")
	signingTime, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || !signed(sig, "x-amz-date") || !strings.HasPrefix(amzDate, sig.date) {
		return principal{}, mismatch
	}

	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != "UNSIGNED-PAYLOAD" && h != payloadHash {
		return principal{}, mismatch
	}

	// Rebuild the request as the client signed it: only the signed headers,
	// the host and content length it saw, the escaped path and the query.
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u := &url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	req := &http.Request{Method: r.Method, URL: u, Host: r.Host, Header: make(http.Header)}
	for _, h := range sig.signedHeaders {
		switch h {
		case "host":
		case "content-length":
			req.ContentLength = r.ContentLength
		default:
			req.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	creds := aws.Credentials{AccessKeyID: c.id, SecretAccessKey: c.secret, SessionToken: c.token}
	signer := v4.NewSigner()
	if err := signer.SignHTTP(r.Context(), creds, req, payloadHash, sig.service, sig.region, signingTime); err != nil {
		return principal{}, mismatch
	}
	want, werr := parseAuthorization(req.Header.Get("Authorization"))
	if werr != nil || strings.Join(want.signedHeaders, ";") != strings.Join(sig.signedHeaders, ";") ||
		subtle.ConstantTimeCompare([]byte(want.signature), []byte(sig.signature)) != 1 {
		return principal{}, mismatch
	}
	return c.principal, nil
}

func signed(sig sigV4, header string) bool {
	for _, h := range sig.signedHeaders {
		if h == header {
			return true
		}
	}
	return false
}
