package web

import (
	"encoding/json"
	"net/http"
	"time"

	"sendops/internal/domain"
	"sendops/internal/insight"
	"sendops/internal/service"
)

type connectionJSON struct {
	ID           string      `json:"id"`
	Name         string      `json:"name"`
	AWSAccountID string      `json:"aws_account_id"`
	Region       string      `json:"region"`
	RoleARN      string      `json:"role_arn,omitempty"`
	ExternalID   string      `json:"external_id,omitempty"`
	AccessKeyID  string      `json:"access_key_id,omitempty"`
	Endpoint     string      `json:"endpoint,omitempty"`
	CreatedAt    time.Time   `json:"created_at"`
	Ingest       *ingestJSON `json:"ingest,omitempty"`
}

// ingestJSON carries a connection's ingest credentials; the secret only in
// the answer that made them.
type ingestJSON struct {
	EventBridgeURL string `json:"eventbridge_url"`
	SNSURL         string `json:"sns_url"`
	HeaderName     string `json:"header_name"`
	Secret         string `json:"secret"`
}

func toConnectionJSON(c *domain.Connection, cr *domain.IngestCredentials) connectionJSON {
	out := connectionJSON{ID: c.ID, Name: c.Name, AWSAccountID: c.AWSAccountID, Region: c.Region, CreatedAt: c.CreatedAt,
		RoleARN: c.RoleARN, AccessKeyID: c.AccessKeyID, Endpoint: c.Endpoint}
	if cr != nil {
		out.Ingest = &ingestJSON{EventBridgeURL: cr.EventBridgeURL, SNSURL: cr.SNSURL, HeaderName: cr.HeaderName, Secret: cr.Secret}
	}
	return out
}

func (s *Server) apiConnectionsList(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	p, err := pageFrom(r)
	if err != nil {
		return err
	}
	conns, err := s.Service.Connections(r.Context(), c.actor)
	if err != nil {
		return err
	}
	out := make([]connectionJSON, len(conns))
	for i := range conns {
		out[i] = toConnectionJSON(&conns[i], nil)
	}
	res, err := paginate(out, p, false, func(c connectionJSON) string { return c.Name + "\x00" + c.ID })
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

func (s *Server) apiConnectionCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	var in service.ConnectionInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	conn, cr, err := s.Service.CreateConnection(r.Context(), c.actor, in)
	if err != nil {
		return err
	}
	out := toConnectionJSON(conn, cr)
	if conn.RoleARN != "" {
		if out.ExternalID, err = s.Service.ExternalID(r.Context(), c.actor); err != nil {
			return err
		}
	}
	return writeJSON(w, http.StatusCreated, out)
}

func (s *Server) apiConnectionGet(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	conn, err := s.Service.Connection(r.Context(), c.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toConnectionJSON(conn, nil))
}

func (s *Server) apiConnectionRotate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	conn, cr, err := s.Service.RotateIngestCredentials(r.Context(), c.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	s.IngestAuth.Forget()
	return writeJSON(w, http.StatusOK, toConnectionJSON(conn, cr))
}

type messageJSON struct {
	MessageID     string             `json:"message_id"`
	ConnectionID  string             `json:"connection_id"`
	Sender        string             `json:"sender"`
	SendingDomain string             `json:"sending_domain"`
	Subject       string             `json:"subject"`
	ConfigSet     string             `json:"configuration_set"`
	Template      string             `json:"template"`
	Tags          json.RawMessage    `json:"tags"`
	SentAt        *time.Time         `json:"sent_at"`
	FirstEventAt  time.Time          `json:"first_event_at"`
	LastEventAt   time.Time          `json:"last_event_at"`
	Redacted      bool               `json:"recipients_redacted"`
	Recipients    []messageRcptJSON  `json:"recipients"`
	Events        []messageEventJSON `json:"events"`
}

type messageRcptJSON struct {
	Address     string    `json:"address,omitempty"`
	Domain      string    `json:"domain"`
	Status      string    `json:"status"`
	StatusAt    time.Time `json:"status_at"`
	LastEventAt time.Time `json:"last_event_at"`
}

// messageEventJSON is one distinct SES event, with the recipients it
// names and a plain summary.
type messageEventJSON struct {
	Type          string          `json:"type"`
	Time          time.Time       `json:"time"`
	Recipients    []string        `json:"recipients,omitempty"`
	Summary       string          `json:"summary"`
	Reason        string          `json:"reason,omitempty"`
	BounceType    string          `json:"bounce_type,omitempty"`
	BounceSubtype string          `json:"bounce_subtype,omitempty"`
	Diagnostic    string          `json:"diagnostic_code,omitempty"`
	StatusCode    string          `json:"status_code,omitempty"`
	Explanation   *adviceJSON     `json:"explanation,omitempty"`
	ReportingMTA  string          `json:"reporting_mta,omitempty"`
	ComplaintType string          `json:"complaint_feedback_type,omitempty"`
	DelayType     string          `json:"delay_type,omitempty"`
	Expiration    *time.Time      `json:"expiration_time,omitempty"`
	Template      string          `json:"template,omitempty"`
	Link          string          `json:"link,omitempty"`
	UserAgent     string          `json:"user_agent,omitempty"`
	IP            string          `json:"ip_address,omitempty"`
	PerRecipient  []eventRcptJSON `json:"per_recipient,omitempty"`
	Raw           json.RawMessage `json:"raw,omitempty"`
}

// adviceJSON explains a bounce (insight.Advice).
type adviceJSON struct {
	StatusCode  string `json:"status_code,omitempty"`
	Key         string `json:"key"`
	Title       string `json:"title"`
	Explanation string `json:"explanation"`
	Action      string `json:"action"`
}

// eventRcptJSON is what a bounce or delay says of each of its recipients.
type eventRcptJSON struct {
	Address     string      `json:"address,omitempty"`
	Diagnostic  string      `json:"diagnostic_code,omitempty"`
	StatusCode  string      `json:"status_code,omitempty"`
	Explanation *adviceJSON `json:"explanation,omitempty"`
}

func toAdviceJSON(a *insight.Advice) *adviceJSON {
	if a == nil {
		return nil
	}
	return &adviceJSON{StatusCode: a.Code, Key: a.Key, Title: a.Title, Explanation: a.Explanation, Action: a.Action}
}

func (s *Server) apiMessageGet(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	m, err := s.Service.MessageDetail(r.Context(), c.actor, r.PathValue("message_id"))
	if err != nil {
		return err
	}
	out := messageJSON{MessageID: m.MessageID, ConnectionID: m.ConnectionID, Sender: m.Sender, SendingDomain: m.SendingDomain,
		Subject: m.Subject, ConfigSet: m.ConfigSet, Template: m.Template, Tags: json.RawMessage("{}"), SentAt: m.SentAt,
		FirstEventAt: m.FirstEventAt, LastEventAt: m.LastEventAt, Redacted: m.Redacted,
		Recipients: []messageRcptJSON{}, Events: []messageEventJSON{}}
	if m.Tags != "" {
		out.Tags = json.RawMessage(m.Tags)
	}
	for _, rc := range m.Recipients {
		out.Recipients = append(out.Recipients, messageRcptJSON{Address: rc.Address, Domain: rc.Domain, Status: rc.Status, StatusAt: rc.StatusAt, LastEventAt: rc.LastEventAt})
	}
	for _, e := range m.Events {
		ev := messageEventJSON{Type: e.Type, Time: e.At, Summary: e.Summary, Reason: e.Reason, BounceType: e.BounceType, BounceSubtype: e.BounceSubtype,
			Diagnostic: e.Diagnostic, Explanation: toAdviceJSON(e.Advice), ReportingMTA: e.ReportingMTA, ComplaintType: e.ComplaintType,
			DelayType: e.DelayType, Expiration: e.Expiration, Template: e.Template, Link: e.Link, UserAgent: e.UserAgent, IP: e.IP, Raw: e.Raw}
		if e.Advice != nil {
			ev.StatusCode = e.Advice.Code
		}
		for _, er := range e.Recipients {
			if er.Address != "" {
				ev.Recipients = append(ev.Recipients, er.Address)
			}
			if len(e.Recipients) > 1 && (e.Type == "Bounce" || e.Type == "DeliveryDelay") {
				ev.PerRecipient = append(ev.PerRecipient, eventRcptJSON{Address: er.Address, Diagnostic: er.Diagnostic, StatusCode: er.StatusCode,
					Explanation: toAdviceJSON(er.Advice)})
			}
		}
		if e.Type == "DeliveryDelay" && len(e.Recipients) > 0 {
			ev.StatusCode = e.Recipients[0].StatusCode
		}
		out.Events = append(out.Events, ev)
	}
	return writeJSON(w, http.StatusOK, out)
}
