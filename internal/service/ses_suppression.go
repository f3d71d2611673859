package service

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"sendops/internal/domain"
)

// Suppressed is an address on a connection's account-level suppression
// list: SES does not send to it.
type Suppressed struct {
	Email      string
	Reason     string // BOUNCE or COMPLAINT
	LastUpdate time.Time
	// MessageID and FeedbackID name the message and feedback that put the
	// address on the list, when SES did; only reading one address gives
	// them.
	MessageID  string
	FeedbackID string
}

func toSuppressed(d sestypes.SuppressedDestinationSummary) Suppressed {
	return Suppressed{Email: aws.ToString(d.EmailAddress), Reason: string(d.Reason), LastUpdate: aws.ToTime(d.LastUpdateTime)}
}

// parseReason checks a suppression reason (any case); "" is allowed when
// optional.
func parseReason(field, r string, optional bool) (string, error) {
	r = strings.ToUpper(strings.TrimSpace(r))
	switch {
	case r == "BOUNCE" || r == "COMPLAINT":
		return r, nil
	case r == "" && optional:
		return "", nil
	}
	return "", domain.FieldError(field, "The reason is BOUNCE or COMPLAINT.")
}

// SuppressionQuery asks for a page of the suppression list.
type SuppressionQuery struct {
	Reason string // "", BOUNCE or COMPLAINT
	// Q is a search: a whole address is looked up directly; anything else
	// is matched (case-insensitively) against addresses by reading the
	// list, which SES cannot search.
	Q string
	domain.Page
}

// Ways a suppression page was made.
const (
	SuppressionList   = "list"   // a page of the list as SES gives it
	SuppressionLookup = "lookup" // one address looked up
	SuppressionScan   = "scan"   // the list read and filtered by SendOps
)

// SuppressionScanMax bounds how many entries one search request reads
// from SES; the answer's cursor continues from there.
const SuppressionScanMax = 10000

// SuppressionPage is a page of the suppression list.
type SuppressionPage struct {
	Entries []Suppressed
	Next    string // cursor of the next page; "" at the end
	Mode    string
	// Scanned is how many entries a scan read to make this page; a scan
	// that stops at SuppressionScanMax has a Next even with few Entries.
	Scanned int
}

// suppressionCursor is where a suppression listing stands in SES's list:
// the NextToken of the SES page (with its page size, as SES's pages depend
// on it) and how many entries of that page were already given.
type suppressionCursor struct {
	Token string `json:"t,omitempty"`
	Size  int32  `json:"n"`
	Skip  int    `json:"s,omitempty"`
}

func (c suppressionCursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeSuppressionCursor(s string) (suppressionCursor, error) {
	var c suppressionCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.Size < 1 || c.Size > 1000 || c.Skip < 0 || c.Skip >= int(c.Size) {
		return c, domain.FieldError("cursor", "The cursor is not one this server gave out.")
	}
	return c, nil
}

// Suppressions reads a page of a connection's suppression list, filtered
// by reason, or searches it (see SuppressionQuery.Q). Members, or keys
// with recipients:read: the list holds addresses. Errors: EForbidden,
// ENotFound, EInvalid, ETooMany, EAWS.
func (s *Service) Suppressions(ctx context.Context, a *domain.Actor, connID string, q SuppressionQuery) (*SuppressionPage, error) {
	if err := a.Require(domain.ActSuppressionView); err != nil {
		return nil, err
	}
	limit, err := pageSize(q.Page)
	if err != nil {
		return nil, err
	}
	reason, err := parseReason("reason", q.Reason, true)
	if err != nil {
		return nil, err
	}
	search := strings.ToLower(strings.TrimSpace(q.Q))
	cur := suppressionCursor{Size: limit}
	if q.Cursor != "" {
		if cur, err = decodeSuppressionCursor(q.Cursor); err != nil {
			return nil, err
		}
	}
	_, client, err := s.sesClient(ctx, a, domain.ActSuppressionView, connID)
	if err != nil {
		return nil, err
	}
	if addr, err := normalEmail("q", search); err == nil {
		// A whole address: SES answers it directly.
		page := &SuppressionPage{Mode: SuppressionLookup, Entries: []Suppressed{}}
		d, err := getSuppressed(ctx, client, addr)
		switch {
		case domain.IsNotFound(err):
			return page, nil
		case err != nil:
			return nil, err
		}
		if reason == "" || d.Reason == reason {
			page.Entries = append(page.Entries, *d)
		}
		return page, nil
	}
	page := &SuppressionPage{Mode: SuppressionList, Entries: []Suppressed{}}
	if search != "" {
		page.Mode = SuppressionScan
		if q.Cursor == "" {
			cur.Size = 1000
		}
	}
	for {
		in := &sesv2.ListSuppressedDestinationsInput{PageSize: aws.Int32(cur.Size)}
		if cur.Token != "" {
			in.NextToken = aws.String(cur.Token)
		}
		if reason != "" {
			in.Reasons = []sestypes.SuppressionListReason{sestypes.SuppressionListReason(reason)}
		}
		actx, cancel := context.WithTimeout(ctx, awsTimeout)
		out, err := client.ListSuppressedDestinations(actx, in)
		cancel()
		if err != nil {
			return nil, sesCallError(err, "ses:ListSuppressedDestinations")
		}
		items := out.SuppressedDestinationSummaries
		if cur.Skip > len(items) {
			cur.Skip = len(items) // the list changed since the cursor was made
		}
		for i := cur.Skip; i < len(items); i++ {
			page.Scanned++
			d := toSuppressed(items[i])
			if search != "" && !strings.Contains(strings.ToLower(d.Email), search) {
				continue
			}
			page.Entries = append(page.Entries, d)
			if len(page.Entries) == int(limit) {
				switch {
				case i+1 < len(items):
					page.Next = suppressionCursor{Token: cur.Token, Size: cur.Size, Skip: i + 1}.encode()
				case aws.ToString(out.NextToken) != "":
					page.Next = suppressionCursor{Token: *out.NextToken, Size: cur.Size}.encode()
				}
				return page, nil
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return page, nil
		}
		cur = suppressionCursor{Token: *out.NextToken, Size: cur.Size}
		if page.Scanned >= SuppressionScanMax {
			page.Next = cur.encode()
			return page, nil
		}
	}
}

// Suppression reads one address of a connection's suppression list.
// Members, or keys with recipients:read. Errors: EForbidden, ENotFound (the
// connection, or the address is not on the list), EInvalid, ETooMany, EAWS.
func (s *Service) Suppression(ctx context.Context, a *domain.Actor, connID, email string) (*Suppressed, error) {
	_, client, err := s.sesClient(ctx, a, domain.ActSuppressionView, connID)
	if err != nil {
		return nil, err
	}
	email, err = suppressedAddress("email", email)
	if err != nil {
		return nil, err
	}
	return getSuppressed(ctx, client, email)
}

// suppressedAddress is an address of the suppression list as PutSuppression
// stores it (normalEmail's form), to read or remove. An address that SES
// put on the list and that normalEmail refuses (a quoted local part, say)
// is only lower-cased, so that it can still be removed.
func suppressedAddress(field, email string) (string, error) {
	addr, err := normalEmail(field, email)
	if err == nil {
		return addr, nil
	}
	email = strings.ToLower(strings.TrimSpace(email))
	if at := strings.LastIndexByte(email, '@'); at < 1 || at == len(email)-1 || len(email) > 254 {
		return "", err
	}
	return email, nil
}

func getSuppressed(ctx context.Context, client *sesv2.Client, email string) (*Suppressed, error) {
	ctx, cancel := context.WithTimeout(ctx, awsTimeout)
	defer cancel()
	out, err := client.GetSuppressedDestination(ctx, &sesv2.GetSuppressedDestinationInput{EmailAddress: aws.String(email)})
	if err != nil {
		return nil, awsErrorMissing(err, "ses:GetSuppressedDestination", email+" is not on the suppression list.")
	}
	d := out.SuppressedDestination
	if d == nil {
		return nil, domain.Errorf(domain.ENotFound, "%s is not on the suppression list.", email)
	}
	sd := &Suppressed{Email: aws.ToString(d.EmailAddress), Reason: string(d.Reason), LastUpdate: aws.ToTime(d.LastUpdateTime)}
	if at := d.Attributes; at != nil {
		sd.MessageID, sd.FeedbackID = aws.ToString(at.MessageId), aws.ToString(at.FeedbackId)
	}
	return sd, nil
}

// PutSuppression puts an address on a connection's suppression list (or
// changes its reason); once begun, the change and its audit entry finish
// even if the client goes away. Developers and up, or write keys. Errors:
// EForbidden, ENotFound, EInvalid (fields "email", "reason"), ETooMany,
// EAWS.
func (s *Service) PutSuppression(ctx context.Context, a *domain.Actor, connID, email, reason string) (*Suppressed, error) {
	if err := a.Require(domain.ActSuppressionWrite); err != nil {
		return nil, err
	}
	email, err := normalEmail("email", email)
	if err != nil {
		return nil, err
	}
	if reason, err = parseReason("reason", reason, false); err != nil {
		return nil, err
	}
	c, client, err := s.sesClient(ctx, a, domain.ActSuppressionWrite, connID)
	if err != nil {
		return nil, err
	}
	actx, cancel := detached(ctx, awsTimeout)
	defer cancel()
	if err := putSuppressed(actx, client, email, reason); err != nil {
		return nil, err
	}
	if err := s.sesAudit(ctx, a, c, "suppression.added", email, reason); err != nil {
		return nil, err
	}
	return &Suppressed{Email: email, Reason: reason, LastUpdate: time.Now().UTC()}, nil
}

func putSuppressed(ctx context.Context, client *sesv2.Client, email, reason string) error {
	_, err := client.PutSuppressedDestination(ctx, &sesv2.PutSuppressedDestinationInput{
		EmailAddress: aws.String(email), Reason: sestypes.SuppressionListReason(reason)})
	return awsError(err, "ses:PutSuppressedDestination")
}

// DeleteSuppression takes an address off a connection's suppression list:
// SES sends to it again. Once begun, the change and its audit entry finish
// even if the client goes away. Developers and up, or write keys. Errors:
// EForbidden, ENotFound, EInvalid, ETooMany, EAWS.
func (s *Service) DeleteSuppression(ctx context.Context, a *domain.Actor, connID, email string) error {
	c, client, err := s.sesClient(ctx, a, domain.ActSuppressionWrite, connID)
	if err != nil {
		return err
	}
	if email, err = suppressedAddress("email", email); err != nil {
		return err
	}
	actx, cancel := detached(ctx, awsTimeout)
	defer cancel()
	if _, err := client.DeleteSuppressedDestination(actx, &sesv2.DeleteSuppressedDestinationInput{EmailAddress: aws.String(email)}); err != nil {
		return awsErrorMissing(err, "ses:DeleteSuppressedDestination", email+" is not on the suppression list.")
	}
	return s.sesAudit(ctx, a, c, "suppression.removed", email)
}

// ExportSuppressions reads a connection's whole suppression list (of one
// reason, or all) from SES a page at a time and gives each page to emit,
// holding one page in memory. The export is audited once the first page is
// read, before emit sees any address (a failure to audit is an error then,
// when nothing was sent); how many addresses went out is logged at the end.
// An error before the first emit means nothing was read. Members, or keys
// with recipients:read. Errors: EForbidden, ENotFound, EInvalid, ETooMany,
// EAWS, or emit's error.
func (s *Service) ExportSuppressions(ctx context.Context, a *domain.Actor, connID, reason string, emit func([]Suppressed) error) error {
	reason, err := parseReason("reason", reason, true)
	if err != nil {
		return err
	}
	c, client, err := s.sesClient(ctx, a, domain.ActSuppressionView, connID)
	if err != nil {
		return err
	}
	in := &sesv2.ListSuppressedDestinationsInput{PageSize: aws.Int32(1000)}
	if reason != "" {
		in.Reasons = []sestypes.SuppressionListReason{sestypes.SuppressionListReason(reason)}
	}
	what := "all reasons"
	if reason != "" {
		what = "reason " + reason
	}
	n := 0
	page := make([]Suppressed, 0, 1000)
	for {
		actx, cancel := context.WithTimeout(ctx, awsTimeout)
		out, err := client.ListSuppressedDestinations(actx, in)
		cancel()
		if err != nil {
			err = awsError(err, "ses:ListSuppressedDestinations")
			if n > 0 {
				s.Logger.WarnContext(ctx, "suppression list export stopped", "org", a.OrgID, "connection", c.ID, "addresses", n, "err", err)
			}
			return err
		}
		if in.NextToken == nil {
			if err := s.sesAudit(ctx, a, c, "suppression.exported", "CSV file", what); err != nil {
				return err
			}
		}
		page = page[:0]
		for _, d := range out.SuppressedDestinationSummaries {
			page = append(page, toSuppressed(d))
		}
		if err := emit(page); err != nil {
			s.Logger.WarnContext(ctx, "suppression list export stopped", "org", a.OrgID, "connection", c.ID, "addresses", n, "err", err)
			return err
		}
		n += len(page)
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	s.Logger.InfoContext(ctx, "suppression list exported", "org", a.OrgID, "connection", c.ID, "addresses", n)
	return nil
}

// MaxImportRows bounds the rows of one suppression list import: SES takes
// one address a call.
const MaxImportRows = 2000

// SuppressionImport is the outcome of an import: every row was valid, and
// each was put on the list unless it failed or the import stopped.
type SuppressionImport struct {
	Rows    int // addresses in the file (repeats counted once)
	Applied int
	Failed  []ImportFailure
	// NotApplied counts rows not tried because the import stopped at an
	// error that would fail every row (access denied, throttling).
	NotApplied int
	Stopped    string // why it stopped; "" when it went through
}

// ImportFailure is a row SES refused.
type ImportFailure struct {
	Line    int
	Email   string
	Message string
}

type importRow struct {
	line          int
	email, reason string
}

// ImportSuppressions puts every address of a CSV file (a header naming the
// columns email and reason, then one address a line; other columns are
// ignored) on a connection's suppression list. Every row is checked
// before any is applied: one bad row, and nothing is, with the error
// naming each bad line. Putting an address again only updates its reason,
// so a partly applied import can be sent again. An import stops when the
// client goes away (the call in flight finishes); what was applied is
// audited all the same. Developers and up, or write keys. Errors:
// EForbidden, ENotFound, EInvalid (field "file"), ETooMany and EAWS when
// nothing was applied.
func (s *Service) ImportSuppressions(ctx context.Context, a *domain.Actor, connID string, file io.Reader) (*SuppressionImport, error) {
	if err := a.Require(domain.ActSuppressionWrite); err != nil {
		return nil, err
	}
	rows, err := parseSuppressionCSV(file)
	if err != nil {
		return nil, err
	}
	c, client, err := s.sesClient(ctx, a, domain.ActSuppressionWrite, connID)
	if err != nil {
		return nil, err
	}
	res := &SuppressionImport{Rows: len(rows), Failed: []ImportFailure{}}
	for i, row := range rows {
		if err := ctx.Err(); err != nil {
			if res.Applied == 0 && len(res.Failed) == 0 {
				return nil, err
			}
			res.NotApplied = len(rows) - i
			res.Stopped = fmt.Sprintf("Stopped at line %d: the request ended before the import did.", row.line)
			break
		}
		// Each call finishes once made, so that what is counted is what
		// AWS holds.
		actx, cancel := detached(ctx, awsTimeout)
		err := putSuppressed(actx, client, row.email, row.reason)
		cancel()
		if err == nil {
			res.Applied++
			continue
		}
		if domain.ErrorCode(err) == domain.EInvalid {
			res.Failed = append(res.Failed, ImportFailure{Line: row.line, Email: row.email, Message: domain.ErrorMessage(err)})
			continue
		}
		// Denied, throttled, unreachable: every other row would fail too.
		if res.Applied == 0 && len(res.Failed) == 0 {
			return nil, err
		}
		res.NotApplied = len(rows) - i
		res.Stopped = fmt.Sprintf("Stopped at line %d: %s", row.line, domain.ErrorMessage(err))
		break
	}
	details := fmt.Sprintf("%d of %d addresses applied", res.Applied, res.Rows)
	if res.Stopped != "" {
		details += "; " + strings.ToLower(res.Stopped[:1]) + res.Stopped[1:]
	}
	if err := s.sesAudit(ctx, a, c, "suppression.imported", "CSV file", details); err != nil {
		return nil, err
	}
	return res, nil
}

// parseSuppressionCSV reads and checks an import file whole.
func parseSuppressionCSV(file io.Reader) ([]importRow, error) {
	data, err := io.ReadAll(file)
	if err != nil {
		var de *domain.Error
		if errors.As(err, &de) {
			return nil, err
		}
		return nil, domain.FieldError("file", "The file could not be read.")
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a spreadsheet's BOM
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err == io.EOF {
		return nil, domain.FieldError("file", "The file is empty: its first line must be the header email,reason.")
	} else if err != nil {
		return nil, domain.FieldError("file", "Line 1 is not CSV: %v.", csvProblem(err))
	}
	emailCol, reasonCol := -1, -1
	for i, h := range header {
		switch strings.ToLower(strings.TrimSpace(h)) {
		case "email":
			emailCol = i
		case "reason":
			reasonCol = i
		}
	}
	if emailCol < 0 || reasonCol < 0 {
		return nil, domain.FieldError("file", "The first line must be the header email,reason (found %q).", strings.Join(header, ","))
	}
	var rows []importRow
	var problems []string
	seen := map[string]importRow{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			problems = append(problems, fmt.Sprintf("line %d is not CSV (%v)", line, csvProblem(err)))
			break // the reader cannot resync after a quoting error
		}
		line, _ := r.FieldPos(0)
		get := func(i int) string {
			if i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		rawEmail, rawReason := unneutralise(get(emailCol)), get(reasonCol)
		email, err := normalEmail("email", rawEmail)
		if err != nil {
			problems = append(problems, fmt.Sprintf("line %d: %q is not an email address", line, rawEmail))
			continue
		}
		reason, err := parseReason("reason", rawReason, false)
		if err != nil {
			problems = append(problems, fmt.Sprintf("line %d: the reason %q is not BOUNCE or COMPLAINT", line, rawReason))
			continue
		}
		if prev, ok := seen[email]; ok {
			if prev.reason != reason {
				problems = append(problems, fmt.Sprintf("line %d: %s is on line %d already, with the reason %s", line, email, prev.line, prev.reason))
			}
			continue
		}
		row := importRow{line: line, email: email, reason: reason}
		seen[email] = row
		rows = append(rows, row)
	}
	if n := len(problems); n > 0 {
		const shown = 20
		more, what := "", "lines are"
		if n > shown {
			more = fmt.Sprintf("; and %d more", n-shown)
			problems = problems[:shown]
		}
		if n == 1 {
			what = "line is"
		}
		return nil, domain.FieldError("file", "Nothing was imported: %d %s wrong: %s%s. Correct the file and send it again.",
			n, what, strings.Join(problems, "; "), more)
	}
	if len(rows) == 0 {
		return nil, domain.FieldError("file", "The file has a header but no addresses.")
	}
	if len(rows) > MaxImportRows {
		return nil, domain.FieldError("file", "The file has %d addresses; import at most %d at a time (split the file).", len(rows), MaxImportRows)
	}
	return rows, nil
}

// csvProblem is a CSV reader's error without its position (said already).
func csvProblem(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// unneutralise undoes the quote an export puts before a cell that a
// spreadsheet would run as a formula, so that an export imports again.
func unneutralise(v string) string {
	if len(v) > 1 && v[0] == '\'' && strings.ContainsRune("=+-@\t\r", rune(v[1])) {
		return v[1:]
	}
	return v
}
