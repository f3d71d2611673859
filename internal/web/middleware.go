package web

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"sendops/internal/domain"
	"sendops/internal/logging"
	"sendops/internal/secret"
	"sendops/internal/service"
)

// Cookie names.
const (
	sessionCookie = "sendops_session"
	preCSRFCookie = "sendops_csrf" // CSRF token before a session exists
)

// maxBody is the largest request body a form or the API accepts.
const maxBody = 1 << 20

// reqCtx is what a handler knows about its request.
type reqCtx struct {
	client      service.Client
	token       string // session cookie value
	sess        *domain.Session
	user        *domain.User
	actor       *domain.Actor
	org         *domain.Org
	memberships []domain.Membership
	csrf        string
	mfaSetup    bool // the organisation requires MFA the user has not turned on
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestID gives every request an id, in the response header and on every
// log line logged with the request's context.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 8)
		rand.Read(b)
		id := hex.EncodeToString(b)
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(logging.WithRequestID(r.Context(), id)))
	})
}

// recoverer turns a panic into a 500 and logs it with its stack.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Logger.ErrorContext(r.Context(), "panic", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				http.Error(w, "Internal error.", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets the headers every answer carries.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if s.Secure {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// clientIP is the address of the client: the connection's, or behind a
// trusted proxy the last address it added to X-Forwarded-For.
func (s *Server) clientIP(r *http.Request) string {
	if s.TrustProxy {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			parts := strings.Split(xff, ",")
			if ip := net.ParseIP(strings.TrimSpace(parts[len(parts)-1])); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

var crossOrigin = http.NewCrossOriginProtection()

// underConnection reports whether a route acts on one connection's
// resources (its path goes on past /connections/{id}/).
func underConnection(pattern string) bool {
	return strings.HasPrefix(pattern, "/connections/{id}/") || strings.HasPrefix(pattern, "/api/v1/connections/{id}/")
}

// underTemplateSource reports whether a route acts on one template
// source: /api/v1/template-sources/{id}… in the API, /templates/{id}… in
// the UI.
func underTemplateSource(pattern string) bool {
	return strings.HasPrefix(pattern, "/api/v1/template-sources/{id}") ||
		pattern == "/templates/{id}" || strings.HasPrefix(pattern, "/templates/{id}/")
}

// wrap applies a route's kind: authentication, CSRF, body limit, metrics,
// logging and error rendering.
func (s *Server) wrap(rt route) http.Handler {
	label := rt.Pattern
	if rt.Method != "" {
		label = rt.Method + " " + rt.Pattern
	} else {
		label = "unmatched"
	}
	return http.HandlerFunc(func(w0 http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w := &statusWriter{ResponseWriter: w0}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		c := &reqCtx{client: service.Client{IP: s.clientIP(r), UserAgent: r.UserAgent()}}
		err := s.authenticate(w, r, rt, c)
		if err == nil && underConnection(rt.Pattern) {
			// A connection of another organisation is not found, before
			// anything about the request itself is judged.
			err = s.Service.ConnectionInOrg(r.Context(), c.actor, r.PathValue("id"))
		}
		if err == nil && underTemplateSource(rt.Pattern) {
			// Likewise a template source.
			err = s.Service.TemplateSourceInOrg(r.Context(), c.actor, r.PathValue("id"))
		}
		if err == nil {
			err = rt.h(w, r, c)
		}
		if err != nil {
			s.fail(w, r, rt.Kind, c, err)
		}
		status := w.status
		if status == 0 {
			status = http.StatusOK
		}
		elapsed := time.Since(start)
		s.metrics.observe(rt.Method, label, status, elapsed)
		if (rt.Kind != ops && rt.Kind != ingestKind) || status >= 500 || (rt.Kind == ingestKind && s.Logger.Enabled(r.Context(), slog.LevelDebug)) {
			lvl := slog.LevelInfo
			if rt.Kind == ingestKind {
				lvl = slog.LevelDebug
			}
			if status >= 500 {
				lvl = slog.LevelError
			}
			s.Logger.Log(r.Context(), lvl, "request", "method", r.Method, "route", label, "status", status,
				"duration_ms", elapsed.Milliseconds(), "ip", c.client.IP)
		}
	})
}

// authenticate loads what the route's kind needs and refuses what it
// forbids. It also enforces CSRF protection on browser state changes.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, rt route, c *reqCtx) error {
	ctx := r.Context()
	switch rt.Kind {
	case ops, apiOpen, ingestKind:
		return nil
	case notFound:
		// Load the session (for the page's header), never refuse.
		if ck, err := r.Cookie(sessionCookie); err == nil && ck.Value != "" {
			if sess, u, err := s.Service.Authenticate(ctx, ck.Value); err == nil && !sess.MFAPending {
				c.sess, c.user, c.csrf = sess, u, sess.CSRFToken
			}
		}
		return nil
	case api:
		h := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || tok == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sendops"`)
			return domain.Errorf(domain.EUnauthorized, "Send an API key: Authorization: Bearer KEY.")
		}
		a, err := s.Service.AuthenticateAPIKey(ctx, strings.TrimSpace(tok), c.client.IP)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sendops", error="invalid_token"`)
			return err
		}
		c.actor = a
		return nil
	}
	// Browser routes.
	if ck, err := r.Cookie(sessionCookie); err == nil && ck.Value != "" {
		sess, u, err := s.Service.Authenticate(ctx, ck.Value)
		if err == nil {
			c.token, c.sess, c.user = ck.Value, sess, u
		} else if domain.ErrorCode(err) != domain.EUnauthorized {
			return err
		} else {
			s.clearSessionCookie(w)
		}
	}
	if c.sess != nil {
		c.csrf = c.sess.CSRFToken
	} else {
		c.csrf = s.preSessionCSRF(w, r)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if err := crossOrigin.Check(r); err != nil {
			return domain.Errorf(domain.EForbidden, "This form was sent from another site and was refused.")
		}
		var err error
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			err = r.ParseMultipartForm(maxBody)
		} else {
			err = r.ParseForm()
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return domain.Errorf(domain.ETooLarge, "The form is larger than %d bytes.", maxBody)
			}
			return domain.Errorf(domain.EInvalid, "The form could not be read.")
		}
		if c.csrf == "" || !secret.Equal(r.PostFormValue("csrf"), c.csrf) {
			return domain.Errorf(domain.EForbidden, "The form expired. Go back, reload the page and send it again.")
		}
	}
	switch rt.Kind {
	case public:
		if c.sess != nil && c.sess.MFAPending {
			c.sess, c.user = nil, nil // not signed in yet
		}
		return nil
	case pending:
		if c.sess == nil || !c.sess.MFAPending {
			return errSignIn
		}
		return nil
	}
	if c.sess == nil || c.sess.MFAPending {
		return errSignIn
	}
	var err error
	if c.memberships, err = s.Service.Memberships(ctx, c.user.ID); err != nil {
		return err
	}
	if c.sess.OrgID != "" {
		c.actor, c.org, err = s.Service.Actor(ctx, c.sess, c.user, c.client.IP)
		if domain.IsNotFound(err) && len(c.memberships) > 0 {
			// The user left or lost the organisation: move to another.
			if err = s.Service.SwitchOrg(ctx, c.sess, c.memberships[0].OrgID); err == nil {
				c.actor, c.org, err = s.Service.Actor(ctx, c.sess, c.user, c.client.IP)
			}
		}
		if err == service.ErrMFASetupRequired {
			c.mfaSetup, err = true, nil
			if rt.Kind == member {
				return errMFASetup
			}
		} else if domain.IsNotFound(err) {
			c.actor, c.org, err = nil, nil, nil
		}
		if err != nil {
			return err
		}
	} else if len(c.memberships) > 0 {
		if err := s.Service.SwitchOrg(ctx, c.sess, c.memberships[0].OrgID); err != nil {
			return err
		}
		return s.authenticate(w, r, rt, c)
	}
	if rt.Kind == member && c.actor == nil {
		if r.Method == http.MethodGet {
			return errNoOrgRedirect
		}
		return errNoOrg
	}
	return nil
}

// Redirect errors: the UI answers them with a redirect, the API never sees them.
var (
	errSignIn   = &domain.Error{Code: domain.EUnauthorized, Message: "Sign in first."}
	errMFASetup = &domain.Error{Code: domain.EForbidden, Message: "mfa setup"}
	errNoOrg    = &domain.Error{Code: domain.ENotFound, Message: "You do not belong to an organisation yet: create one under Settings → Organisation."}
	// errNoOrgRedirect sends a user without an organisation to make one.
	errNoOrgRedirect = &domain.Error{Code: domain.ENotFound, Message: "no organisation"}
)

// preSessionCSRF returns the CSRF token of a visitor without a session,
// setting its cookie on first sight.
func (s *Server) preSessionCSRF(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(preCSRFCookie); err == nil && len(ck.Value) >= 32 {
		return ck.Value
	}
	tok := secret.Token("")
	http.SetCookie(w, &http.Cookie{Name: preCSRFCookie, Value: tok, Path: "/", HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode})
	return tok
}

// setSessionCookie gives the browser a session cookie.
func (s *Server) setSessionCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode,
		MaxAge: int(s.Service.SessionAbsolute.Seconds())})
}

func (s *Server) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// httpStatus maps an error code to an HTTP status.
func httpStatus(code string) int {
	switch code {
	case domain.EInvalid:
		return http.StatusBadRequest
	case domain.EUnauthorized:
		return http.StatusUnauthorized
	case domain.EForbidden, domain.ERetentionExceeded:
		return http.StatusForbidden
	case domain.ENotFound:
		return http.StatusNotFound
	case domain.EConflict:
		return http.StatusConflict
	case domain.ETooLarge:
		return http.StatusRequestEntityTooLarge
	case domain.ETooMany:
		return http.StatusTooManyRequests
	case domain.EAWS:
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

// fail shows an error the way the route's kind shows errors. Internal errors
// are logged with their cause and shown without it.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, k kind, c *reqCtx, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = domain.Errorf(domain.ETooLarge, "The request body is larger than %d bytes.", maxBody)
	}
	code := domain.ErrorCode(err)
	if code == domain.EInternal {
		// The route pattern, not the path: paths carry one-time tokens.
		s.Logger.ErrorContext(r.Context(), "internal error", "method", r.Method, "route", r.Pattern, "err", err)
	}
	var de *domain.Error
	if errors.As(err, &de) && de.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(de.RetryAfter))
	}
	if k == api || k == apiOpen || k == ops || k == ingestKind {
		field := ""
		if de != nil {
			field = de.Field
		}
		writeJSONErrorField(w, httpStatus(code), code, domain.ErrorMessage(err), field)
		return
	}
	switch err {
	case errSignIn:
		if r.Method == http.MethodGet {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(safeNext(r.URL.RequestURI())), http.StatusSeeOther)
		} else {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
		}
		return
	case errMFASetup:
		http.Redirect(w, r, "/settings/security?required=1", http.StatusSeeOther)
		return
	case errNoOrgRedirect:
		s.flash(w, "You do not belong to an organisation yet: create one, or accept an invitation.")
		http.Redirect(w, r, "/settings/organisation#new", http.StatusSeeOther)
		return
	}
	s.render(w, r, c, httpStatus(code), "error", map[string]any{"Title": http.StatusText(httpStatus(code)), "Message": domain.ErrorMessage(err)})
}

// safeNext keeps only a local path for the after-sign-in redirect.
func safeNext(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "/overview"
	}
	return p
}
