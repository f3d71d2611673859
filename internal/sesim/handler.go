package sesim

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// protocol is the wire protocol of one of the emulated services.
type protocol int

const (
	protoSTS    protocol = iota // query protocol, XML answers
	protoSES                    // REST-JSON
	protoEvents                 // JSON 1.1
)

// actionPrefix is the IAM service prefix of the protocol's actions.
func (p protocol) actionPrefix() string {
	switch p {
	case protoSTS:
		return "sts"
	case protoSES:
		return "ses"
	default:
		return "events"
	}
}

// apiError is an AWS error as the wire protocols carry it.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// maxBody bounds request bodies (SES raw messages are at most 40 MB).
const maxBody = 48 << 20

// Handler serves STS, SES v2 and EventBridge on one address, routed by the
// service of the request's SigV4 credential scope.
func (s *Sim) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// call is one authenticated request.
type call struct {
	sim       *Sim
	w         http.ResponseWriter
	r         *http.Request
	body      []byte
	caller    principal
	region    string
	requestID string
	proto     protocol
	sourceIP  string
}

func (s *Sim) serveHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := newUUID()
	w.Header().Set("x-amzn-RequestId", requestID)
	proto := guessProtocol(r)
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		writeError(w, proto, requestID, errorf(400, "SerializationException", "could not read the request body"))
		return
	}
	sig, aerr := parseAuthorization(r.Header.Get("Authorization"))
	if aerr == nil {
		switch sig.service {
		case "sts":
			proto = protoSTS
		case "ses", "email":
			proto = protoSES
		case "events":
			proto = protoEvents
		default:
			aerr = errorf(400, "UnknownService", "sesim does not emulate service %q", sig.service)
		}
	}
	if aerr != nil {
		writeError(w, proto, requestID, adaptAuthError(proto, aerr))
		return
	}
	caller, aerr := s.authenticate(r, body, sig)
	if aerr != nil {
		writeError(w, proto, requestID, adaptAuthError(proto, aerr))
		return
	}
	c := &call{
		sim: s, w: w, r: r, body: body, caller: caller, region: sig.region,
		requestID: requestID, proto: proto, sourceIP: remoteIP(r),
	}
	switch proto {
	case protoSTS:
		s.serveSTS(c)
	case protoSES:
		s.serveSES(c)
	case protoEvents:
		s.serveEvents(c)
	}
}

// guessProtocol picks the error shape for requests too broken to carry a
// credential scope.
func guessProtocol(r *http.Request) protocol {
	switch {
	case r.Header.Get("X-Amz-Target") != "":
		return protoEvents
	case strings.HasPrefix(r.URL.Path, "/v2/"):
		return protoSES
	default:
		return protoSTS
	}
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// adaptAuthError renames authentication errors to each protocol's codes.
func adaptAuthError(p protocol, e *apiError) *apiError {
	out := *e
	switch e.code {
	case codeUnknownKey:
		out.code = map[protocol]string{protoSTS: "InvalidClientTokenId", protoSES: "UnrecognizedClientException", protoEvents: "UnrecognizedClientException"}[p]
	case codeBadSignature:
		out.code = map[protocol]string{protoSTS: "SignatureDoesNotMatch", protoSES: "SignatureDoesNotMatch", protoEvents: "InvalidSignatureException"}[p]
	case codeExpired:
		out.code = map[protocol]string{protoSTS: "ExpiredToken", protoSES: "ExpiredTokenException", protoEvents: "ExpiredTokenException"}[p]
	case codeMissingAuth:
		out.code = map[protocol]string{protoSTS: "MissingAuthenticationToken", protoSES: "MissingAuthenticationTokenException", protoEvents: "MissingAuthenticationTokenException"}[p]
	}
	return &out
}

// Internal codes of authentication failures, renamed per protocol.
const (
	codeUnknownKey   = "unknown-key"
	codeBadSignature = "bad-signature"
	codeExpired      = "expired"
	codeMissingAuth  = "missing-auth"
)

func writeError(w http.ResponseWriter, p protocol, requestID string, e *apiError) {
	switch p {
	case protoSTS:
		typ := "Sender"
		if e.status >= 500 {
			typ = "Receiver"
		}
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(e.status)
		var b strings.Builder
		b.WriteString(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">` + "\n  <Error>\n    <Type>" + typ + "</Type>\n    <Code>")
		xml.EscapeText(&b, []byte(e.code))
		b.WriteString("</Code>\n    <Message>")
		xml.EscapeText(&b, []byte(e.message))
		b.WriteString("</Message>\n  </Error>\n  <RequestId>" + requestID + "</RequestId>\n</ErrorResponse>\n")
		io.WriteString(w, b.String())
	case protoSES:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("x-amzn-ErrorType", e.code)
		w.WriteHeader(e.status)
		json.NewEncoder(w).Encode(map[string]string{"message": e.message})
	default:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(e.status)
		json.NewEncoder(w).Encode(map[string]string{"__type": e.code, "message": e.message})
	}
}

// deny is the AccessDenied error naming the caller, the action and the
// resource, in each protocol's code.
func (c *call) deny(action, resource string) *apiError {
	msg := fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action",
		c.caller.arn, action, resource, action)
	switch c.proto {
	case protoSTS:
		return &apiError{status: 403, code: "AccessDenied", message: msg}
	case protoSES:
		return &apiError{status: 403, code: "AccessDeniedException", message: msg}
	default:
		return &apiError{status: 400, code: "AccessDeniedException", message: msg}
	}
}

// authorize checks throttling and the caller's permission for the operation.
// It must be called with s.mu held.
func (c *call) authorizeLocked(op, resource string) *apiError {
	if c.sim.throttledLocked(op) {
		switch c.proto {
		case protoSTS:
			return errorf(400, "Throttling", "Rate exceeded")
		case protoSES:
			return errorf(429, "TooManyRequestsException", "Too many requests.")
		default:
			return errorf(400, "ThrottlingException", "Rate exceeded")
		}
	}
	action := c.proto.actionPrefix() + ":" + op
	if !c.sim.allowedLocked(c.caller, action) {
		return c.deny(action, resource)
	}
	return nil
}

func (c *call) writeJSON(v any) {
	ct := "application/json"
	if c.proto == protoEvents {
		ct = "application/x-amz-json-1.1"
	}
	c.w.Header().Set("Content-Type", ct)
	c.w.WriteHeader(http.StatusOK)
	json.NewEncoder(c.w).Encode(v)
}

func (c *call) fail(e *apiError) { writeError(c.w, c.proto, c.requestID, e) }
