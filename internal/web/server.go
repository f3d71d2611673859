// Package web serves SendOps over HTTP: the server-rendered UI, the JSON API
// under /api/v1, the health and metrics endpoints. Every route is declared
// once, in routes.go; handlers call the service layer and never decide
// permissions on their own.
package web

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sendops/internal/ingest"
	"sendops/internal/service"
	"sendops/internal/snsverify"
	"sendops/internal/store"
)

// Options configure a Server.
type Options struct {
	Service    *service.Service
	DB         *store.DB
	Logger     *slog.Logger
	BaseURL    string
	Secure     bool // the base URL is https: Secure cookies and HSTS
	TrustProxy bool // take the client address from X-Forwarded-For
	Version    string
	// Event ingest.
	Ingest     *ingest.Writer
	IngestAuth *ingest.Auth
	SNS        *snsverify.Verifier
	SNSClient  *http.Client // confirms SNS subscriptions; nil: a default
	// Registry receives the HTTP and database metrics; nil makes one.
	Registry *prometheus.Registry
}

// Server is the HTTP application.
type Server struct {
	Options
	mux     *http.ServeMux
	views   *views
	assets  *assets
	metrics *metrics
	routes  []route
	handler http.Handler
}

// New builds the server and its routes. Templates and assets are parsed once
// here; a broken template fails start-up, not a request.
func New(o Options) (*Server, error) {
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	s := &Server{Options: o, mux: http.NewServeMux()}
	var err error
	if s.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	if s.views, err = loadViews(s.assets); err != nil {
		return nil, err
	}
	s.metrics = newMetrics(o.Registry, o.DB)
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		s.mux.Handle(rt.Method+" "+rt.Pattern, s.wrap(rt))
	}
	s.mux.Handle("/", s.wrap(route{Method: "", Pattern: "/", Kind: notFound, h: s.notFoundPage}))
	s.handler = s.recoverer(s.requestID(s.securityHeaders(s.mux)))
	return s, nil
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// HTTPServer returns an http.Server for the handler with every timeout set.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn),
	}
}
