package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"sendops/internal/domain"
	"sendops/internal/ingest"
	"sendops/internal/sesevent"
	"sendops/internal/snsverify"
)

// maxIngestBody is the largest event body accepted.
const maxIngestBody = 256 << 10

// Ingest results, the label of sendops_ingest_events_total.
const (
	resStored       = "stored"
	resDuplicate    = "duplicate"
	resInvalid      = "invalid"
	resUnauthorized = "unauthorized"
	resOverloaded   = "overloaded"
)

// readIngestBody reads a request body of at most maxIngestBody bytes.
func readIngestBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxIngestBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, domain.Errorf(domain.ETooLarge, "The body is larger than %d bytes.", maxIngestBody)
		}
		return nil, domain.Errorf(domain.EInvalid, "The body could not be read.")
	}
	return b, nil
}

// store hands a parsed event to the writer and answers: 200 once stored (or
// already stored), 503 with Retry-After when nothing could be stored.
func (s *Server) storeEvent(w http.ResponseWriter, r *http.Request, conn *domain.Connection, ev *sesevent.Event) error {
	ctx, cancel := context.WithTimeout(r.Context(), 4*time.Second) // EventBridge gives up after 5 s
	defer cancel()
	stored, err := s.Ingest.Write(ctx, conn, ev)
	if err != nil {
		if errors.Is(err, ingest.ErrOverloaded) || errors.Is(err, ingest.ErrShuttingDown) {
			err = nil // expected under load; counted, not logged
		}
		s.unavailable(w, r, "1", "The event was not stored; send it again.", err)
		return nil
	}
	result := resStored
	if !stored {
		result = resDuplicate
	}
	s.metrics.ingest.WithLabelValues(result).Inc()
	return writeJSON(w, http.StatusOK, map[string]string{"status": result, "message_id": ev.Mail.MessageID})
}

// ingestFail counts a refused event and returns the error to show.
func (s *Server) ingestFail(result string, err error) error {
	s.metrics.ingest.WithLabelValues(result).Inc()
	return err
}

// ingestAuthFail answers a credential that did not pass: 401 when it is
// wrong, 503 when it could not be checked (the database is down), so that
// the sender retries.
func (s *Server) ingestAuthFail(w http.ResponseWriter, r *http.Request, err error) error {
	if domain.ErrorCode(err) == domain.EUnauthorized {
		return s.ingestFail(resUnauthorized, err)
	}
	s.unavailable(w, r, "1", "The credentials could not be checked; send it again.", err)
	return nil
}

// unavailable answers 503 with Retry-After, counted as overloaded.
func (s *Server) unavailable(w http.ResponseWriter, r *http.Request, retry, msg string, err error) {
	s.metrics.ingest.WithLabelValues(resOverloaded).Inc()
	if err != nil {
		s.Logger.WarnContext(r.Context(), "ingest unavailable", "err", err)
	}
	w.Header().Set("Retry-After", retry)
	writeJSONError(w, http.StatusServiceUnavailable, "unavailable", msg)
}

// ingestEventBridge takes one SES event from an EventBridge API destination.
func (s *Server) ingestEventBridge(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	body, err := readIngestBody(w, r)
	if err != nil {
		return s.ingestFail(resInvalid, err)
	}
	conn, err := s.IngestAuth.BySecret(r.Context(), r.Header.Get(ingest.HeaderName))
	if err != nil {
		return s.ingestAuthFail(w, r, err)
	}
	env, ev, err := sesevent.ParseEventBridge(body)
	if err != nil {
		if errors.Is(err, sesevent.ErrInvalid) {
			return s.ingestFail(resInvalid, domain.Errorf(domain.EInvalid, "%s", err.Error()))
		}
		return err
	}
	if env.Account != conn.AWSAccountID || env.Region != conn.Region {
		return s.ingestFail(resUnauthorized, domain.Errorf(domain.EForbidden,
			"The event comes from account %s in %s; this connection is for account %s in %s.", env.Account, env.Region, conn.AWSAccountID, conn.Region))
	}
	return s.storeEvent(w, r, conn, ev)
}

// ingestSNS takes SNS HTTPS messages: subscription confirmations and
// notifications carrying SES events in either format.
func (s *Server) ingestSNS(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	body, err := readIngestBody(w, r)
	if err != nil {
		return s.ingestFail(resInvalid, err)
	}
	conn, err := s.IngestAuth.BySNSToken(r.Context(), r.PathValue("token"))
	if err != nil {
		return s.ingestAuthFail(w, r, err)
	}
	m, err := snsverify.Parse(body)
	if err != nil {
		return s.ingestFail(resInvalid, domain.Errorf(domain.EInvalid, "%s", err.Error()))
	}
	region, account, _, ok := snsverify.TopicParts(m.TopicArn)
	if !ok || account != conn.AWSAccountID || region != conn.Region {
		return s.ingestFail(resUnauthorized, domain.Errorf(domain.EForbidden, "The topic %s does not belong to this connection.", m.TopicArn))
	}
	if err := s.SNS.Verify(r.Context(), m); err != nil {
		if errors.Is(err, snsverify.ErrUnavailable) {
			// SNS counts every 4xx as delivered: a transient failure must be 5xx.
			s.unavailable(w, r, "5", "The signing certificate could not be fetched; send it again.", err)
			return nil
		}
		return s.ingestFail(resUnauthorized, domain.Errorf(domain.EForbidden, "The SNS message signature does not verify."))
	}
	switch m.Type {
	case "SubscriptionConfirmation":
		if err := s.SNS.Confirm(r.Context(), s.SNSClient, m); err != nil {
			switch {
			case errors.Is(err, snsverify.ErrForged):
				return s.ingestFail(resUnauthorized, domain.Errorf(domain.EForbidden, "The SubscribeURL is not an SNS address."))
			case errors.Is(err, snsverify.ErrUnavailable):
				s.unavailable(w, r, "5", "The subscription could not be confirmed yet; send it again.", err)
				return nil
			}
			// SNS refused the confirmation (an expired token): retrying cannot help.
			s.Logger.WarnContext(r.Context(), "SNS subscription not confirmed", "topic", m.TopicArn, "err", err)
			return s.ingestFail(resInvalid, domain.Errorf(domain.EInvalid, "SNS refused the confirmation; subscribe again."))
		}
		s.Logger.InfoContext(r.Context(), "SNS subscription confirmed", "topic", m.TopicArn, "connection", conn.ID)
		return writeJSON(w, http.StatusOK, map[string]string{"status": "confirmed"})
	case "UnsubscribeConfirmation":
		s.Logger.InfoContext(r.Context(), "SNS subscription ended", "topic", m.TopicArn, "connection", conn.ID)
		return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	case "Notification":
	default:
		return s.ingestFail(resInvalid, domain.Errorf(domain.EInvalid, "Unknown SNS message type %q.", m.Type))
	}
	ev, err := sesevent.Parse([]byte(m.Message))
	if err != nil {
		if strings.Contains(m.Message, "Successfully validated SNS topic") {
			// SES's test notification when a topic is set up: nothing to store.
			return writeJSON(w, http.StatusOK, map[string]string{"status": "ignored"})
		}
		return s.ingestFail(resInvalid, domain.Errorf(domain.EInvalid, "The SNS message does not hold an SES event: %s", err.Error()))
	}
	return s.storeEvent(w, r, conn, ev)
}
