package web

import (
	"net/http"

	"sendops/internal/service"
)

type sesAccountJSON struct {
	ConnectionID      string   `json:"connection_id"`
	Max24HourSend     float64  `json:"max_24_hour_send"`
	MaxSendRate       float64  `json:"max_send_rate"`
	SentLast24Hours   float64  `json:"sent_last_24_hours"`
	ProductionAccess  bool     `json:"production_access"`
	Sandbox           bool     `json:"sandbox"`
	EnforcementStatus string   `json:"enforcement_status"`
	SendingEnabled    bool     `json:"sending_enabled"`
	SuppressedReasons []string `json:"suppressed_reasons"`
}

func toSESAccountJSON(connID string, a *service.SESAccount) sesAccountJSON {
	out := sesAccountJSON{ConnectionID: connID, Max24HourSend: a.Max24HourSend, MaxSendRate: a.MaxSendRate, SentLast24Hours: a.SentLast24Hours,
		ProductionAccess: a.Production, Sandbox: !a.Production, EnforcementStatus: a.EnforcementStatus, SendingEnabled: a.SendingEnabled,
		SuppressedReasons: a.SuppressedReasons}
	if out.SuppressedReasons == nil {
		out.SuppressedReasons = []string{}
	}
	return out
}

func (s *Server) apiSESAccount(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	acc, err := s.Service.SESAccount(r.Context(), c.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toSESAccountJSON(r.PathValue("id"), acc))
}
