package service

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"sendops/internal/domain"
	"sendops/internal/insight"
	"sendops/internal/store"
)

// searchDefaultRange is how far back a search or an export looks when it
// names no start.
const searchDefaultRange = 30 * 24 * time.Hour

// exportPage is how many rows an export reads from the database at a time:
// an export holds one page in memory, whatever its length.
const exportPage = 1000

// Bounds of a search, so that one request cannot ask for unbounded work.
const (
	maxSubjectTerms = 10
	maxSearchTags   = 5
)

// SearchMessages returns a page of the organisation's messages that match
// q, one row per recipient of a message, newest first, and the cursor of
// the next page ("" on the last). The cursor stays valid while events keep
// arriving: rows are ordered by what never changes once stored (the
// message's send time, its id, the recipient).
//
// Who: members and keys with ActMessagesView. Filtering by recipient (an
// address, a prefix or a domain) needs ActRecipientsRead (the
// recipients:read scope); without it the rows' addresses are blank.
// Errors: EForbidden, EInvalid (a filter, the limit or the cursor, naming
// the field), ERetentionExceeded (a start before the retention window).
func (s *Service) SearchMessages(ctx context.Context, a *domain.Actor, q domain.MessageQuery) ([]domain.MessageHit, string, error) {
	f, err := s.messageSearch(ctx, a, q)
	if err != nil {
		return nil, "", err
	}
	limit := q.Limit
	if limit == 0 {
		limit = 50
	}
	if limit < 1 || limit > store.MaxLimit {
		return nil, "", domain.FieldError("limit", "limit must be between 1 and %d.", store.MaxLimit)
	}
	var after *store.SearchKey
	if q.Cursor != "" {
		if after, err = s.openSearchCursor(a.OrgID, q.Cursor); err != nil {
			return nil, "", err
		}
	}
	var rows []store.SearchRow
	err = s.DB.View(ctx, func(tx *store.Tx) (err error) {
		rows, err = store.SearchMessages(ctx, tx, a.OrgID, f, after, limit+1)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = s.sealSearchCursor(a.OrgID, rows[limit-1].Key)
	}
	redact := !a.Can(domain.ActRecipientsRead)
	out := make([]domain.MessageHit, len(rows))
	for i := range rows {
		out[i] = rows[i].MessageHit
		if redact {
			out[i].Recipient = ""
		}
	}
	return out, next, nil
}

// ExportMessages calls fn for every row of a search (q's page is ignored),
// in the search's order, reading a page at a time: memory stays constant
// whatever the number of rows. It stops at fn's first error and returns it.
//
// Who and errors: as SearchMessages; an error of the database after the
// first row is returned as it is.
func (s *Service) ExportMessages(ctx context.Context, a *domain.Actor, q domain.MessageQuery, fn func(*domain.MessageHit) error) error {
	f, err := s.messageSearch(ctx, a, q)
	if err != nil {
		return err
	}
	redact := !a.Can(domain.ActRecipientsRead)
	var after *store.SearchKey
	for {
		var rows []store.SearchRow
		err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
			rows, err = store.SearchMessages(ctx, tx, a.OrgID, f, after, exportPage)
			return err
		})
		if err != nil {
			return err
		}
		for i := range rows {
			h := rows[i].MessageHit
			if redact {
				h.Recipient = ""
			}
			if err := fn(&h); err != nil {
				return err
			}
		}
		if len(rows) < exportPage {
			return nil
		}
		after = &rows[len(rows)-1].Key
	}
}

// ExportFeedback calls fn for every event of a type ("Bounce" or
// "Complaint") of the organisation's messages sent in [from, to) (zero
// from: the last 30 days; zero to: open), oldest message first, reading a
// page at a time. Each event comes with its SMTP enhanced status code.
//
// Who: ActMessagesView. Without ActRecipientsRead the addresses and the
// diagnostic codes (which often quote the address) are blank. Errors:
// EForbidden, EInvalid (the type, the range), ERetentionExceeded.
func (s *Service) ExportFeedback(ctx context.Context, a *domain.Actor, eventType string, from, to time.Time, fn func(*domain.FeedbackEvent) error) error {
	if err := a.Require(domain.ActMessagesView); err != nil {
		return err
	}
	if eventType != "Bounce" && eventType != "Complaint" {
		return domain.Errorf(domain.EInvalid, "Export bounces or complaints.")
	}
	from, to, err := s.searchRange(ctx, a.OrgID, from, to)
	if err != nil {
		return err
	}
	redact := !a.Can(domain.ActRecipientsRead)
	var after *store.FeedbackKey
	for {
		var rows []store.FeedbackRow
		var more bool
		err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
			rows, more, err = store.FeedbackEvents(ctx, tx, a.OrgID, eventType, from, to, after, exportPage)
			return err
		})
		if err != nil {
			return err
		}
		for i := range rows {
			e := rows[i].FeedbackEvent
			e.StatusCode = insight.StatusCode(e.Diagnostic)
			if redact {
				e.Recipient, e.Diagnostic = "", ""
			}
			if err := fn(&e); err != nil {
				return err
			}
		}
		if !more || len(rows) == 0 {
			return nil
		}
		after = &rows[len(rows)-1].Key
	}
}

// messageSearch checks a search and makes it the store's.
func (s *Service) messageSearch(ctx context.Context, a *domain.Actor, q domain.MessageQuery) (*store.MessageSearch, error) {
	if err := a.Require(domain.ActMessagesView); err != nil {
		return nil, err
	}
	f := &store.MessageSearch{
		MessageID:    strings.TrimSpace(q.MessageID),
		ConnectionID: strings.TrimSpace(q.ConnectionID),
		ConfigSet:    strings.TrimSpace(q.ConfigSet),
		Template:     strings.TrimSpace(q.Template),
	}
	if err := parseRecipientFilter(q.Recipient, f); err != nil {
		return nil, err
	}
	if f.Recipient != "" || f.RecipientPrefix != "" || f.RecipientDomain != "" {
		if !a.Can(domain.ActRecipientsRead) {
			return nil, &domain.Error{Code: domain.EForbidden, Field: "recipient",
				Message: "Searching by recipient needs the recipients:read scope: use a key that has it."}
		}
	}
	if text := strings.TrimSpace(q.Subject); text != "" {
		f.Subject = store.ParseSubjectTerms(text)
		switch {
		case len(f.Subject) == 0:
			return nil, domain.FieldError("subject", "Search the subject by its words (letters and digits).")
		case len(f.Subject) > maxSubjectTerms:
			return nil, domain.FieldError("subject", "Search the subject by at most %d words.", maxSubjectTerms)
		}
		for _, t := range f.Subject {
			if t.Prefix && len([]rune(t.Word)) < 2 {
				return nil, domain.FieldError("subject", "A word ending in * needs at least 2 letters before the *.")
			}
		}
	}
	if v := strings.ToLower(strings.TrimSpace(q.Sender)); v != "" {
		switch {
		case strings.HasPrefix(v, "@") && len(v) > 1 && !strings.Contains(v[1:], "@"):
			f.SenderDomain = v[1:]
		case strings.Count(v, "@") == 1 && !strings.HasPrefix(v, "@") && !strings.HasSuffix(v, "@"):
			f.Sender = v
		default:
			return nil, domain.FieldError("sender", "Write the sender as an address (news@example.com) or a sending domain (@example.com).")
		}
	}
	if len(q.Tags) > maxSearchTags {
		return nil, domain.FieldError("tag", "Filter by at most %d tags.", maxSearchTags)
	}
	for _, t := range q.Tags {
		k, v, ok := strings.Cut(strings.TrimSpace(t), ":")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, domain.FieldError("tag", "Write a tag as key:value (campaign:spring).")
		}
		f.Tags = append(f.Tags, store.Tag{Key: strings.TrimSpace(k), Value: strings.TrimSpace(v)})
	}
	seen := map[string]bool{}
	for _, entry := range q.Statuses {
		for _, name := range strings.Split(entry, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			st, ok := domain.SearchStatusByName(name)
			if !ok {
				names := make([]string, len(domain.SearchStatuses))
				for i, s := range domain.SearchStatuses {
					names[i] = s.Name
				}
				return nil, domain.FieldError("status", "Unknown status %q: use %s.", name, strings.Join(names, ", "))
			}
			for _, stored := range st.Stored {
				if !seen[stored] {
					seen[stored] = true
					f.Statuses = append(f.Statuses, stored)
				}
			}
		}
	}
	var err error
	if f.From, f.To, err = s.searchRange(ctx, a.OrgID, q.From, q.To); err != nil {
		return nil, err
	}
	return f, nil
}

// parseRecipientFilter reads the recipient filter: an exact address, a
// prefix ending in "*", or a domain starting with "@".
func parseRecipientFilter(v string, f *store.MessageSearch) error {
	v = strings.ToLower(strings.TrimSpace(v))
	bad := domain.FieldError("recipient", "Write a whole address (bob@example.com), its start followed by * (bob*), or a domain (@example.com).")
	switch {
	case v == "":
	case strings.ContainsAny(v, " \t,;"):
		return bad
	case strings.HasPrefix(v, "@"):
		if len(v) == 1 || strings.ContainsAny(v[1:], "@*") {
			return bad
		}
		f.RecipientDomain = v[1:]
	case strings.HasSuffix(v, "*"):
		p := strings.TrimSuffix(v, "*")
		if p == "" || strings.Contains(p, "*") {
			return bad
		}
		f.RecipientPrefix = p
	case strings.Contains(v, "*") || strings.Count(v, "@") != 1 || strings.HasSuffix(v, "@"):
		return bad
	default:
		f.Recipient = v
	}
	return nil
}

// searchRange applies the default start (30 days ago, or the retention
// window's start when that is later) and refuses a start before the
// retention window: its data is gone. The window starts at midnight UTC of
// the day retention_days ago, so that a date typed in a form is the first
// day that may be searched.
func (s *Service) searchRange(ctx context.Context, orgID string, from, to time.Time) (time.Time, time.Time, error) {
	var org *domain.Org
	err := s.DB.View(ctx, func(tx *store.Tx) (err error) {
		org, err = store.OrgByID(ctx, tx, orgID)
		return err
	})
	if err != nil {
		return from, to, err
	}
	now := s.DB.Now().UTC()
	start := domain.RetentionStart(now, org.RetentionDays)
	if from.IsZero() {
		from = now.Add(-searchDefaultRange)
		if from.Before(start) {
			from = start
		}
	} else if from.Before(start) {
		return from, to, domain.Errorf(domain.ERetentionExceeded,
			"Your organisation keeps events for %d days: the earliest you may search from is %s.", org.RetentionDays, start.Format("2006-01-02"))
	}
	if !to.IsZero() && !to.After(from) {
		return from, to, domain.FieldError("to", "The end of the range must come after its start (%s).", from.Format(time.RFC3339))
	}
	return from.UTC(), to.UTC(), nil
}

// The search cursor names the last row of a page. It holds a recipient's
// address, which a key without recipients:read may not read: it is sealed
// for the organisation, and opens nowhere else.
func searchCursorContext(orgID string) string { return "message-search-cursor:" + orgID }

func (s *Service) sealSearchCursor(orgID string, k store.SearchKey) string {
	plain := fmt.Sprintf("%d|%d|%s", k.SentAt.UnixMilli(), k.Ref, k.Recipient)
	return store.EncodeCursor(s.Keyring.Seal(plain, searchCursorContext(orgID)))
}

func (s *Service) openSearchCursor(orgID, cursor string) (*store.SearchKey, error) {
	bad := domain.FieldError("cursor", "The cursor is not one this server gave out for this organisation.")
	sealed, err := store.DecodeCursor(cursor)
	if err != nil {
		return nil, bad
	}
	plain, err := s.Keyring.Open(sealed, searchCursorContext(orgID))
	if err != nil {
		return nil, bad
	}
	parts := strings.SplitN(plain, "|", 3)
	if len(parts) != 3 {
		return nil, bad
	}
	ms, err1 := strconv.ParseInt(parts[0], 10, 64)
	ref, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return nil, bad
	}
	return &store.SearchKey{SentAt: time.UnixMilli(ms).UTC(), Ref: ref, Recipient: parts[2]}, nil
}
