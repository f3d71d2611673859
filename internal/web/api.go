package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"
	"time"

	"sendops/internal/domain"
	"sendops/internal/service"
	"sendops/internal/store"
)

// writeJSON writes v as JSON with a status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	return enc.Encode(v)
}

// writeJSONError writes the API's one error shape.
func writeJSONError(w http.ResponseWriter, status int, code, message string) {
	writeJSONErrorField(w, status, code, message, "")
}

// writeJSONErrorField is writeJSONError naming the request field at fault.
func writeJSONErrorField(w http.ResponseWriter, status int, code, message, field string) {
	type body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	}
	writeJSON(w, status, map[string]body{"error": {Code: code, Message: message, Field: field}})
}

// decodeJSON reads a request body into v, refusing unknown fields, trailing
// data and bodies over the limit.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return domain.Errorf(domain.ETooLarge, "The request body is larger than %d bytes.", maxBody)
		case errors.Is(err, io.EOF):
			return domain.Errorf(domain.EInvalid, "The request body is empty; send a JSON object.")
		case errors.As(err, &syn):
			return domain.Errorf(domain.EInvalid, "The body is not valid JSON (at byte %d).", syn.Offset)
		case errors.As(err, &typ):
			return domain.Errorf(domain.EInvalid, "Field %q must be of type %s.", typ.Field, typ.Type)
		default:
			// Unknown fields: "json: unknown field \"x\"".
			return domain.Errorf(domain.EInvalid, "%s.", err.Error()[len("json: "):])
		}
	}
	if dec.More() {
		return domain.Errorf(domain.EInvalid, "Send one JSON object, nothing after it.")
	}
	return nil
}

// pageFrom reads limit and cursor from the query.
func pageFrom(r *http.Request) (domain.Page, error) {
	p := domain.Page{Cursor: r.URL.Query().Get("cursor")}
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			return p, domain.FieldError("limit", "limit must be a whole number from 1 to 200.")
		}
		p.Limit = n
	}
	return p, nil
}

// list is the shape of every list answer.
type list[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor"`
}

// paginate pages a list kept in memory (small lists: members,
// invitations) by the string key its items are sorted on, ascending or
// descending.
func paginate[T any](items []T, p domain.Page, desc bool, key func(T) string) (list[T], error) {
	// Order by the key's bytes here, whatever collation the database used,
	// so that the cursor comparison below agrees with the order.
	sort.SliceStable(items, func(i, j int) bool {
		if desc {
			return key(items[i]) > key(items[j])
		}
		return key(items[i]) < key(items[j])
	})
	limit := p.Limit
	if limit == 0 {
		limit = 50
	}
	start := 0
	if p.Cursor != "" {
		after, err := store.DecodeCursor(p.Cursor)
		if err != nil {
			return list[T]{}, err
		}
		start = len(items)
		for i, it := range items {
			if k := key(it); (desc && k < after) || (!desc && k > after) {
				start = i
				break
			}
		}
	}
	out := list[T]{Data: items[start:]}
	if len(out.Data) > limit {
		out.Data = out.Data[:limit]
		out.NextCursor = store.EncodeCursor(key(out.Data[limit-1]))
	}
	if out.Data == nil {
		out.Data = []T{}
	}
	return out, nil
}

type orgJSON struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	RequireMFA    bool      `json:"require_mfa"`
	RetentionDays int       `json:"retention_days"`
	CreatedAt     time.Time `json:"created_at"`
	// For the trust policy of the AWS roles of the organisation's connections.
	ExternalID   string `json:"external_id,omitempty"`
	AWSPrincipal string `json:"aws_principal,omitempty"`
}

func toOrgJSON(o *domain.Org) orgJSON {
	return orgJSON{ID: o.ID, Name: o.Name, RequireMFA: o.RequireMFA, RetentionDays: o.RetentionDays, CreatedAt: o.CreatedAt}
}

func (s *Server) apiOrgGet(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	org, err := s.Service.Org(r.Context(), c.actor)
	if err != nil {
		return err
	}
	out := toOrgJSON(org)
	if out.ExternalID, err = s.Service.ExternalID(r.Context(), c.actor); err != nil {
		return err
	}
	out.AWSPrincipal = s.Service.AWSPrincipal
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiOrgUpdate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	var in service.OrgSettings
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	org, err := s.Service.UpdateOrg(r.Context(), c.actor, in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toOrgJSON(org))
}

type memberJSON struct {
	UserID     string      `json:"user_id"`
	Name       string      `json:"name"`
	Email      string      `json:"email"`
	Role       domain.Role `json:"role"`
	MFAEnabled bool        `json:"mfa_enabled"`
	JoinedAt   time.Time   `json:"joined_at"`
}

func (s *Server) apiMembersList(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	p, err := pageFrom(r)
	if err != nil {
		return err
	}
	ms, err := s.Service.Members(r.Context(), c.actor)
	if err != nil {
		return err
	}
	out := make([]memberJSON, len(ms))
	for i, m := range ms {
		out[i] = memberJSON{UserID: m.UserID, Name: m.UserName, Email: m.UserEmail, Role: m.Role, MFAEnabled: m.UserMFA, JoinedAt: m.CreatedAt}
	}
	// Members are listed by email; the cursor is the last email seen.
	res, err := paginate(out, p, false, func(m memberJSON) string { return m.Email })
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

func (s *Server) apiMemberUpdate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	var in struct {
		Role domain.Role `json:"role"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	m, err := s.Service.SetRole(r.Context(), c.actor, r.PathValue("id"), in.Role)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, memberJSON{UserID: m.UserID, Name: m.UserName, Email: m.UserEmail, Role: m.Role, MFAEnabled: m.UserMFA, JoinedAt: m.CreatedAt})
}

func (s *Server) apiMemberDelete(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := s.Service.RemoveMember(r.Context(), c.actor, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type invitationJSON struct {
	ID        string      `json:"id"`
	Email     string      `json:"email"`
	Role      domain.Role `json:"role"`
	InvitedBy string      `json:"invited_by"`
	CreatedAt time.Time   `json:"created_at"`
	ExpiresAt time.Time   `json:"expires_at"`
}

func toInvitationJSON(i *domain.Invitation) invitationJSON {
	return invitationJSON{ID: i.ID, Email: i.Email, Role: i.Role, InvitedBy: i.InvitedBy, CreatedAt: i.CreatedAt, ExpiresAt: i.ExpiresAt}
}

func (s *Server) apiInvitationsList(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	p, err := pageFrom(r)
	if err != nil {
		return err
	}
	invs, err := s.Service.Invitations(r.Context(), c.actor)
	if err != nil {
		return err
	}
	out := make([]invitationJSON, len(invs))
	for i := range invs {
		out[i] = toInvitationJSON(&invs[i])
	}
	res, err := paginate(out, p, true, func(i invitationJSON) string { return i.ID })
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

func (s *Server) apiInvitationCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	var in struct {
		Email string      `json:"email"`
		Role  domain.Role `json:"role"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	inv, err := s.Service.Invite(r.Context(), c.actor, in.Email, in.Role)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, toInvitationJSON(inv))
}

func (s *Server) apiInvitationDelete(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := s.Service.RevokeInvitation(r.Context(), c.actor, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type apiKeyJSON struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Prefix     string         `json:"prefix"`
	Scopes     []domain.Scope `json:"scopes"`
	CreatedAt  time.Time      `json:"created_at"`
	LastUsedAt *time.Time     `json:"last_used_at"`
	RevokedAt  *time.Time     `json:"revoked_at"`
	// Key is the secret, present only in the answer that created it.
	Key string `json:"key,omitempty"`
}

func toAPIKeyJSON(k *domain.APIKey) apiKeyJSON {
	return apiKeyJSON{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Scopes: k.Scopes, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt}
}

func (s *Server) apiKeysList(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	p, err := pageFrom(r)
	if err != nil {
		return err
	}
	keys, next, err := s.Service.APIKeys(r.Context(), c.actor, p)
	if err != nil {
		return err
	}
	out := list[apiKeyJSON]{Data: make([]apiKeyJSON, len(keys)), NextCursor: next}
	for i := range keys {
		out.Data[i] = toAPIKeyJSON(&keys[i])
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiKeyCreateJSON(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	var in struct {
		Name   string   `json:"name"`
		Scopes []string `json:"scopes"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	scopes, err := domain.ParseScopeList(in.Scopes)
	if err != nil {
		return err
	}
	k, token, err := s.Service.CreateAPIKey(r.Context(), c.actor, in.Name, scopes)
	if err != nil {
		return err
	}
	out := toAPIKeyJSON(k)
	out.Key = token
	return writeJSON(w, http.StatusCreated, out)
}

func (s *Server) apiKeyDelete(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := s.Service.RevokeAPIKey(r.Context(), c.actor, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type auditJSON struct {
	ID      string    `json:"id"`
	At      time.Time `json:"at"`
	ActorID string    `json:"actor_id"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Target  string    `json:"target"`
	Details string    `json:"details"`
	IP      string    `json:"ip"`
}

func (s *Server) apiAuditList(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	p, err := pageFrom(r)
	if err != nil {
		return err
	}
	f, err := auditFilter(r.URL.Query())
	if err != nil {
		return err
	}
	f.Page = p
	out := list[auditJSON]{Data: []auditJSON{}}
	out.NextCursor, err = s.Service.Audit(r.Context(), c.actor, f, func(e *domain.AuditEntry) error {
		out.Data = append(out.Data, auditJSON{ID: e.ID, At: e.At, ActorID: e.ActorID, Actor: e.ActorName, Action: e.Action, Target: e.Target, Details: e.Details, IP: e.IP})
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiAuditCSV(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.writeAuditCSV(w, r, c.actor)
}
