package web

import (
	"net/http"

	"sendops/internal/service"
)

type sesConfigSetJSON struct {
	Name              string                     `json:"name"`
	SendingEnabled    *bool                      `json:"sending_enabled,omitempty"`
	ReputationMetrics *bool                      `json:"reputation_metrics_enabled,omitempty"`
	SuppressedReasons []string                   `json:"suppressed_reasons,omitempty"`
	EventDestinations *[]sesEventDestinationJSON `json:"event_destinations,omitempty"`
}

type sesEventDestinationJSON struct {
	Name       string   `json:"name"`
	Enabled    bool     `json:"enabled"`
	EventTypes []string `json:"event_types"`
	Type       string   `json:"type"`
	Target     string   `json:"target,omitempty"`
}

// toSESConfigSetJSON writes a set; whole adds its settings and event
// destinations (a listing has only names).
func toSESConfigSetJSON(cs *service.SESConfigSet, whole bool) sesConfigSetJSON {
	out := sesConfigSetJSON{Name: cs.Name}
	if !whole {
		return out
	}
	out.SendingEnabled, out.ReputationMetrics = &cs.SendingEnabled, &cs.ReputationMetrics
	out.SuppressedReasons = cs.SuppressedReasons
	dests := []sesEventDestinationJSON{}
	for _, d := range cs.Destinations {
		e := sesEventDestinationJSON{Name: d.Name, Enabled: d.Enabled, EventTypes: d.EventTypes, Type: d.Kind, Target: d.Target}
		if e.EventTypes == nil {
			e.EventTypes = []string{}
		}
		dests = append(dests, e)
	}
	out.EventDestinations = &dests
	return out
}

func (s *Server) apiSESConfigSetsList(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	p, err := pageFrom(r)
	if err != nil {
		return err
	}
	sets, next, err := s.Service.SESConfigSets(r.Context(), c.actor, r.PathValue("id"), p, false)
	if err != nil {
		return err
	}
	out := list[sesConfigSetJSON]{Data: make([]sesConfigSetJSON, len(sets)), NextCursor: next}
	for i := range sets {
		out.Data[i] = toSESConfigSetJSON(&sets[i], false)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiSESConfigSetCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	cs, err := s.Service.CreateSESConfigSet(r.Context(), c.actor, r.PathValue("id"), in.Name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, toSESConfigSetJSON(cs, true))
}

func (s *Server) apiSESConfigSetGet(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	cs, err := s.Service.SESConfigSet(r.Context(), c.actor, r.PathValue("id"), r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toSESConfigSetJSON(cs, true))
}

func (s *Server) apiSESConfigSetDelete(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := s.Service.DeleteSESConfigSet(r.Context(), c.actor, r.PathValue("id"), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
