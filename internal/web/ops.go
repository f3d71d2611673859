package web

import (
	"context"
	"net/http"
	"time"
)

// healthz answers 200 while the process is up.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
	return nil
}

// readyz answers 200 when the database answers and its schema is the one
// this binary knows, 503 otherwise.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	err := s.DB.Ping(ctx)
	if err == nil {
		err = s.DB.CheckSchema(ctx)
	}
	if err != nil {
		s.Logger.WarnContext(r.Context(), "not ready", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("not ready: database unreachable or schema not current\n"))
		return nil
	}
	w.Write([]byte("ready\n"))
	return nil
}

// metricsPage serves Prometheus metrics.
func (s *Server) metricsPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	s.metrics.handler.ServeHTTP(w, r)
	return nil
}
