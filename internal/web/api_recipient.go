package web

import (
	"net/http"
	"time"

	"sendops/internal/service"
)

type recipientMessageJSON struct {
	MessageID      string    `json:"message_id"`
	ConnectionID   string    `json:"connection_id"`
	ConnectionName string    `json:"connection_name"`
	Sender         string    `json:"sender"`
	Subject        string    `json:"subject"`
	ConfigSet      string    `json:"configuration_set"`
	SentAt         time.Time `json:"sent_at"`
	Status         string    `json:"status"`
	StatusAt       time.Time `json:"status_at"`
	LastEventAt    time.Time `json:"last_event_at"`
}

type recipientSuppressionJSON struct {
	ConnectionID   string `json:"connection_id"`
	ConnectionName string `json:"connection_name"`
	AWSAccountID   string `json:"aws_account_id"`
	Region         string `json:"region"`
	// Managed is false for a connection that only receives events.
	Managed bool `json:"managed"`
	// Checked: SES answered; Suppressed says whether the address is on
	// the list.
	Checked    bool       `json:"checked"`
	Suppressed bool       `json:"suppressed"`
	Reason     string     `json:"reason,omitempty"`
	LastUpdate *time.Time `json:"last_update,omitempty"`
	Problem    string     `json:"problem,omitempty"`
}

type recipientJSON struct {
	Address    string                 `json:"address"`
	From       time.Time              `json:"from"`
	To         time.Time              `json:"to"`
	Data       []recipientMessageJSON `json:"data"`
	NextCursor string                 `json:"next_cursor"`
	// Suppression is on the first page only (without a cursor).
	Suppression []recipientSuppressionJSON `json:"suppression,omitempty"`
}

// apiRecipientGet is every message to one address in a range, newest
// first, and, on the first page, its state on each connection's
// suppression list.
func (s *Server) apiRecipientGet(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	p, err := pageFrom(r)
	if err != nil {
		return err
	}
	from, to, err := rangeFrom(r.URL.Query())
	if err != nil {
		return err
	}
	page, err := s.Service.RecipientMessages(r.Context(), c.actor, service.RecipientQuery{Address: r.PathValue("address"), From: from, To: to, Page: p})
	if err != nil {
		return err
	}
	out := recipientJSON{Address: page.Address, From: page.From, To: page.To, NextCursor: page.Next, Data: make([]recipientMessageJSON, len(page.Messages))}
	for i, m := range page.Messages {
		out.Data[i] = recipientMessageJSON{MessageID: m.MessageID, ConnectionID: m.ConnectionID, ConnectionName: m.ConnectionName, Sender: m.Sender,
			Subject: m.Subject, ConfigSet: m.ConfigSet, SentAt: m.SentAt, Status: m.Status, StatusAt: m.StatusAt, LastEventAt: m.LastEventAt}
	}
	if p.Cursor == "" {
		sup, err := s.Service.RecipientSuppressions(r.Context(), c.actor, page.Address)
		if err != nil {
			return err
		}
		out.Suppression = make([]recipientSuppressionJSON, len(sup))
		for i, rs := range sup {
			j := recipientSuppressionJSON{ConnectionID: rs.Connection.ID, ConnectionName: rs.Connection.Name, AWSAccountID: rs.Connection.AWSAccountID,
				Region: rs.Connection.Region, Managed: rs.Managed, Checked: rs.Checked, Problem: rs.Problem}
			if d := rs.Suppressed; d != nil {
				j.Suppressed, j.Reason = true, d.Reason
				t := d.LastUpdate.UTC()
				j.LastUpdate = &t
			}
			out.Suppression[i] = j
		}
	}
	return writeJSON(w, http.StatusOK, out)
}
