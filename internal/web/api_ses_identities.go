package web

import (
	"net/http"
	"time"

	"sendops/internal/service"
)

type sesIdentitySummaryJSON struct {
	Identity           string `json:"identity"`
	Type               string `json:"type"`
	VerificationStatus string `json:"verification_status"`
	SendingEnabled     bool   `json:"sending_enabled"`
}

type sesIdentityJSON struct {
	sesIdentitySummaryJSON
	DKIMStatus       string          `json:"dkim_status,omitempty"`
	DKIMSigning      bool            `json:"dkim_signing"`
	MailFromDomain   string          `json:"mail_from_domain,omitempty"`
	MailFromStatus   string          `json:"mail_from_status,omitempty"`
	ConfigurationSet string          `json:"configuration_set,omitempty"`
	DNSRecords       []dnsRecordJSON `json:"dns_records"`
	DNSCheckedAt     *time.Time      `json:"dns_checked_at"`
}

// dnsRecordJSON is a record to publish and what a live lookup found.
type dnsRecordJSON struct {
	Purpose  string   `json:"purpose"`
	Type     string   `json:"type"`
	Name     string   `json:"name"`
	Value    string   `json:"value"`
	Required bool     `json:"required"`
	Status   string   `json:"status"`
	Found    []string `json:"found"`
	Error    string   `json:"error,omitempty"`
}

func toSESIdentitySummaryJSON(id *service.SESIdentitySummary) sesIdentitySummaryJSON {
	return sesIdentitySummaryJSON{Identity: id.Name, Type: id.Type, VerificationStatus: id.VerificationStatus, SendingEnabled: id.SendingEnabled}
}

func toSESIdentityJSON(id *service.SESIdentity) sesIdentityJSON {
	out := sesIdentityJSON{sesIdentitySummaryJSON: toSESIdentitySummaryJSON(&id.SESIdentitySummary),
		DKIMStatus: id.DKIMStatus, DKIMSigning: id.DKIMSigning, MailFromDomain: id.MailFromDomain, MailFromStatus: id.MailFromStatus,
		ConfigurationSet: id.ConfigurationSet, DNSRecords: []dnsRecordJSON{}}
	if !id.CheckedAt.IsZero() {
		t := id.CheckedAt
		out.DNSCheckedAt = &t
	}
	for _, r := range id.Records {
		rec := dnsRecordJSON{Purpose: r.Purpose, Type: r.Type, Name: r.Name, Value: r.Value, Required: r.Required, Status: r.Status, Found: r.Found, Error: r.Error}
		if rec.Found == nil {
			rec.Found = []string{}
		}
		out.DNSRecords = append(out.DNSRecords, rec)
	}
	return out
}

func (s *Server) apiSESIdentitiesList(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	p, err := pageFrom(r)
	if err != nil {
		return err
	}
	ids, next, err := s.Service.SESIdentities(r.Context(), c.actor, r.PathValue("id"), p)
	if err != nil {
		return err
	}
	out := list[sesIdentitySummaryJSON]{Data: make([]sesIdentitySummaryJSON, len(ids)), NextCursor: next}
	for i := range ids {
		out.Data[i] = toSESIdentitySummaryJSON(&ids[i])
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiSESIdentityCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	var in service.SESIdentityInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	id, err := s.Service.CreateSESIdentity(r.Context(), c.actor, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, toSESIdentityJSON(id))
}

func (s *Server) apiSESIdentityGet(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	id, err := s.Service.SESIdentity(r.Context(), c.actor, r.PathValue("id"), r.PathValue("identity"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toSESIdentityJSON(id))
}

func (s *Server) apiSESIdentityDelete(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := s.Service.DeleteSESIdentity(r.Context(), c.actor, r.PathValue("id"), r.PathValue("identity")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
