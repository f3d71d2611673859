package sesim

import (
	"slices"
	"sort"
	"strings"
	"time"
)

type suppressedDest struct {
	address    string
	reason     string // BOUNCE or COMPLAINT
	updated    time.Time
	messageID  string
	feedbackID string
}

// AddSuppressedDestination puts an address on an account's suppression list
// in the default region at a chosen time, for tests of date filters.
func (s *Sim) AddSuppressedDestination(accountID, address, reason string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.regionLocked(accountID, s.opts.Region)
	rs.suppressed[strings.ToLower(address)] = &suppressedDest{address: address, reason: reason, updated: at.UTC()}
}

func validReason(r string) bool { return r == "BOUNCE" || r == "COMPLAINT" }

func sesPutSuppressedDestination(c *call, rs *regionState) (any, *apiError) {
	var in struct {
		EmailAddress string
		Reason       string
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if identityKind(in.EmailAddress) != "EMAIL_ADDRESS" {
		return nil, badRequest("Invalid email address: %s", in.EmailAddress)
	}
	if !validReason(in.Reason) {
		return nil, badRequest("Invalid suppression reason: %s. Valid reasons are BOUNCE and COMPLAINT.", in.Reason)
	}
	rs.suppressed[strings.ToLower(in.EmailAddress)] = &suppressedDest{address: in.EmailAddress, reason: in.Reason, updated: c.sim.now()}
	return nil, nil
}

func (c *call) suppressed(rs *regionState) (*suppressedDest, *apiError) {
	addr := c.r.PathValue("EmailAddress")
	d := rs.suppressed[strings.ToLower(addr)]
	if d == nil {
		return nil, notFound("Email address %s does not exist on your suppression list.", addr)
	}
	return d, nil
}

func sesGetSuppressedDestination(c *call, rs *regionState) (any, *apiError) {
	d, aerr := c.suppressed(rs)
	if aerr != nil {
		return nil, aerr
	}
	type attributes struct {
		MessageID  string `json:"MessageId,omitempty"`
		FeedbackID string `json:"FeedbackId,omitempty"`
	}
	type dest struct {
		EmailAddress   string
		Reason         string
		LastUpdateTime float64
		Attributes     *attributes `json:",omitempty"`
	}
	out := dest{EmailAddress: d.address, Reason: d.reason, LastUpdateTime: epoch(d.updated)}
	if d.messageID != "" || d.feedbackID != "" {
		out.Attributes = &attributes{d.messageID, d.feedbackID}
	}
	return struct{ SuppressedDestination dest }{out}, nil
}

func sesDeleteSuppressedDestination(c *call, rs *regionState) (any, *apiError) {
	d, aerr := c.suppressed(rs)
	if aerr != nil {
		return nil, aerr
	}
	delete(rs.suppressed, strings.ToLower(d.address))
	return nil, nil
}

// sesListSuppressedDestinations lists the suppression list newest first,
// filtered by Reason (repeatable), StartDate and EndDate (inclusive).
func sesListSuppressedDestinations(c *call, rs *regionState) (any, *apiError) {
	q := c.r.URL.Query()
	reasons := q["Reason"]
	for _, r := range reasons {
		if !validReason(r) {
			return nil, badRequest("Invalid suppression reason: %s", r)
		}
	}
	var start, end time.Time
	var err error
	if v := q.Get("StartDate"); v != "" {
		if start, err = parseTimestamp(v); err != nil {
			return nil, badRequest("Invalid StartDate: %s", v)
		}
	}
	if v := q.Get("EndDate"); v != "" {
		if end, err = parseTimestamp(v); err != nil {
			return nil, badRequest("Invalid EndDate: %s", v)
		}
	}
	var token string
	var size int
	if aerr := queryPaging(c, &token, &size); aerr != nil {
		return nil, aerr
	}
	type summary struct {
		EmailAddress   string
		Reason         string
		LastUpdateTime float64
		updated        time.Time
	}
	all := []summary{}
	for _, d := range rs.suppressed {
		if len(reasons) > 0 && !slices.Contains(reasons, d.reason) {
			continue
		}
		if !start.IsZero() && d.updated.Before(start) {
			continue
		}
		if !end.IsZero() && d.updated.After(end) {
			continue
		}
		all = append(all, summary{d.address, d.reason, epoch(d.updated), d.updated})
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].updated.Equal(all[j].updated) {
			return all[i].updated.After(all[j].updated)
		}
		return all[i].EmailAddress < all[j].EmailAddress
	})
	items, next, err := page(all, token, size, 1000, 1000)
	if err == errBadToken {
		return nil, errorf(400, "InvalidNextTokenException", "The specified NextToken is not valid.")
	}
	if err != nil {
		return nil, badRequest("%v", err)
	}
	return struct {
		SuppressedDestinationSummaries []summary
		NextToken                      string `json:",omitempty"`
	}{items, next}, nil
}
