package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"sendops/internal/domain"
)

// TemplateSource is a Git repository an organisation reads its email
// templates from, as stored: secrets sealed.
type TemplateSource struct {
	OrgID  string
	ID     string
	Name   string
	URL    string
	Branch string
	// AuthKind is "none", "token" or "ssh_key"; AuthSecret the token or
	// the deploy key, sealed.
	AuthKind      string
	AuthUsername  string
	AuthSecret    string
	SSHKnownHosts string
	// Mapping is the user's mapping rules as JSON; "" for the
	// repository's own (its manifest and front matter).
	Mapping string
	// MappingChangedBy is who changed the mapping since the last good
	// sync; "" when nobody did.
	MappingChangedBy    string
	SyncIntervalMinutes int
	WebhookSecret       string // sealed
	SyncedCommit        string // the last good state; "" before the first
	SyncedAt            *time.Time
	LastError           string // the last failed sync's sentence; "" after a good one
	LastErrorAt         *time.Time
	SyncRequestedAt     *time.Time // a webhook (or the API) asked for a sync
	SyncTrigger         string     // what asked
	NextSyncAt          *time.Time // the schedule's next run; nil: none
	LeaseOwner          string
	LeaseUntil          *time.Time
	CreatedAt           time.Time
	CreatedBy           string
}

const templateSourceCols = `org_id, id, name, url, branch, auth_kind, auth_username, auth_secret, ssh_known_hosts, mapping, mapping_changed_by,
	sync_interval_minutes, webhook_secret, synced_commit, synced_at, last_error, last_error_at, sync_requested_at, sync_trigger,
	next_sync_at, lease_owner, lease_until, created_at, created_by`

func scanTemplateSource(row scanner) (*TemplateSource, error) {
	var s TemplateSource
	err := row.Scan(&s.OrgID, &s.ID, &s.Name, &s.URL, &s.Branch, &s.AuthKind, &s.AuthUsername, &s.AuthSecret, &s.SSHKnownHosts, &s.Mapping, &s.MappingChangedBy,
		&s.SyncIntervalMinutes, &s.WebhookSecret, &s.SyncedCommit, nullTime{&s.SyncedAt}, &s.LastError, nullTime{&s.LastErrorAt},
		nullTime{&s.SyncRequestedAt}, &s.SyncTrigger, nullTime{&s.NextSyncAt}, &s.LeaseOwner, nullTime{&s.LeaseUntil},
		utcTime{&s.CreatedAt}, &s.CreatedBy)
	return &s, err
}

// CreateTemplateSource stores a new source; its ID and CreatedAt are set
// when empty.
func CreateTemplateSource(ctx context.Context, tx *Tx, s *TemplateSource) error {
	if s.ID == "" {
		s.ID = domain.NewID()
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = tx.Now()
	}
	_, err := tx.Exec(ctx, `INSERT INTO template_sources (`+templateSourceCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.OrgID, s.ID, s.Name, s.URL, s.Branch, s.AuthKind, s.AuthUsername, s.AuthSecret, s.SSHKnownHosts, s.Mapping, s.MappingChangedBy,
		s.SyncIntervalMinutes, s.WebhookSecret, s.SyncedCommit, s.SyncedAt, s.LastError, s.LastErrorAt, s.SyncRequestedAt, s.SyncTrigger,
		s.NextSyncAt, s.LeaseOwner, s.LeaseUntil, s.CreatedAt, s.CreatedBy)
	return err
}

// TemplateSourcesOf lists an organisation's sources by name.
func TemplateSourcesOf(ctx context.Context, tx *Tx, orgID string) ([]TemplateSource, error) {
	rows, err := tx.Query(ctx, `SELECT `+templateSourceCols+` FROM template_sources WHERE org_id = ? ORDER BY name, id`, orgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []TemplateSource
	for rows.Next() {
		s, err := scanTemplateSource(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *s)
	}
	return out, rows.Err()
}

// TemplateSourceByID returns one source of an organisation, or ENotFound.
func TemplateSourceByID(ctx context.Context, tx *Tx, orgID, id string) (*TemplateSource, error) {
	s, err := scanTemplateSource(tx.QueryRow(ctx, `SELECT `+templateSourceCols+` FROM template_sources WHERE org_id = ? AND id = ?`, orgID, id))
	if err != nil {
		return nil, notFound(err, "Template source")
	}
	return s, nil
}

// TemplateSourceForHook returns the source a webhook URL names, whatever
// its organisation (the caller proves it knows the source's webhook
// secret before it acts), or ENotFound.
func TemplateSourceForHook(ctx context.Context, tx *Tx, id string) (*TemplateSource, error) {
	s, err := scanTemplateSource(tx.QueryRow(ctx, `SELECT `+templateSourceCols+` FROM template_sources WHERE id = ?`, id))
	if err != nil {
		return nil, notFound(err, "Template source")
	}
	return s, nil
}

// UpdateTemplateSource stores what a user may change of a source: its
// name, branch, credentials, mapping (with who changed it) and schedule
// (with its next run).
func UpdateTemplateSource(ctx context.Context, tx *Tx, s *TemplateSource) error {
	res, err := tx.Exec(ctx, `UPDATE template_sources SET name = ?, branch = ?, auth_kind = ?, auth_username = ?, auth_secret = ?,
		ssh_known_hosts = ?, mapping = ?, mapping_changed_by = ?, sync_interval_minutes = ?, next_sync_at = ? WHERE org_id = ? AND id = ?`,
		s.Name, s.Branch, s.AuthKind, s.AuthUsername, s.AuthSecret, s.SSHKnownHosts, s.Mapping, s.MappingChangedBy, s.SyncIntervalMinutes, s.NextSyncAt,
		s.OrgID, s.ID)
	return oneRow(res, err, "Template source")
}

// SetTemplateSourceWebhookSecret replaces a source's sealed webhook secret.
func SetTemplateSourceWebhookSecret(ctx context.Context, tx *Tx, orgID, id, sealed string) error {
	res, err := tx.Exec(ctx, `UPDATE template_sources SET webhook_secret = ? WHERE org_id = ? AND id = ?`, sealed, orgID, id)
	return oneRow(res, err, "Template source")
}

// DeleteTemplateSource removes a source with its history, or returns
// ENotFound.
func DeleteTemplateSource(ctx context.Context, tx *Tx, orgID, id string) error {
	res, err := tx.Exec(ctx, `DELETE FROM template_sources WHERE org_id = ? AND id = ?`, orgID, id)
	return oneRow(res, err, "Template source")
}

// oneRow turns a statement that changed no row into ENotFound.
func oneRow(res sql.Result, err error, what string) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return domain.Errorf(domain.ENotFound, "%s not found.", what)
	}
	return nil
}

// RequestTemplateSync asks for a sync of a source by trigger. A request
// already pending keeps its time, so that a burst of requests is one sync
// a debounce after the first (see DueTemplateSources); but while a sync
// runs (a live lease), a request takes the time it is made, so that it
// outlives that sync (see FinishTemplateSync), which may have fetched
// before it.
func RequestTemplateSync(ctx context.Context, tx *Tx, orgID, id, trigger string) error {
	now := tx.Now()
	res, err := tx.Exec(ctx, `UPDATE template_sources SET sync_requested_at = CASE
			WHEN sync_requested_at IS NULL OR (lease_until IS NOT NULL AND lease_until >= ?) THEN ? ELSE sync_requested_at END,
		sync_trigger = ? WHERE org_id = ? AND id = ?`, now, now, trigger, orgID, id)
	return oneRow(res, err, "Template source")
}

// Due names a row a worker may take now: a source to sync, a job to run.
type Due struct {
	OrgID, ID string
}

// queryDue runs a query of org_id, id pairs.
func queryDue(ctx context.Context, tx *Tx, query string, args ...any) ([]Due, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Due
	for rows.Next() {
		var d Due
		if err := rows.Scan(&d.OrgID, &d.ID); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// dueWhere is when a source is due: its schedule's time has come, or a
// sync was requested at least a debounce ago; and no live lease holds it.
const dueWhere = `((next_sync_at IS NOT NULL AND next_sync_at <= ?) OR (sync_requested_at IS NOT NULL AND sync_requested_at <= ?))
	AND (lease_until IS NULL OR lease_until < ?)`

// DueTemplateSources lists up to limit sources due for a sync, those that
// have waited longest first. Nothing is held: ClaimTemplateSource takes
// one.
func DueTemplateSources(ctx context.Context, tx *Tx, debounce time.Duration, limit int) ([]Due, error) {
	now := tx.Now()
	return queryDue(ctx, tx, `SELECT org_id, id FROM template_sources WHERE `+dueWhere+`
		ORDER BY coalesce(sync_requested_at, next_sync_at), id LIMIT ?`, now, now.Add(-debounce), now, limit)
}

// ClaimTemplateSource leases a source to owner until leaseUntil, if no
// live lease holds it and (with due) it is still due. A pending request
// stays until the sync ends (FinishTemplateSync clears it), so that a
// worker that dies with the lease leaves it for the next. The UPDATE
// checks and takes the lease at once, so of several workers racing (on
// any replica) one wins. It returns the source as claimed and what
// started the sync ("manual" when not due, else the pending request's
// trigger or "schedule"), or nil when it was not claimed.
func ClaimTemplateSource(ctx context.Context, tx *Tx, orgID, id, owner string, leaseUntil time.Time, due bool, debounce time.Duration) (*TemplateSource, string, error) {
	now := tx.Now()
	before, err := TemplateSourceByID(ctx, tx, orgID, id)
	if err != nil {
		return nil, "", err
	}
	q := `UPDATE template_sources SET lease_owner = ?, lease_until = ? WHERE org_id = ? AND id = ? AND `
	args := []any{owner, leaseUntil, orgID, id}
	if due {
		q += dueWhere
		args = append(args, now, now.Add(-debounce), now)
	} else {
		q += `(lease_until IS NULL OR lease_until < ?)`
		args = append(args, now)
	}
	res, err := tx.Exec(ctx, q, args...)
	if err != nil {
		return nil, "", err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return nil, "", err
	}
	trigger := "manual"
	if due {
		trigger = "schedule"
		if before.SyncRequestedAt != nil && before.SyncTrigger != "" {
			trigger = before.SyncTrigger
		}
	}
	src, err := TemplateSourceByID(ctx, tx, orgID, id)
	return src, trigger, err
}

// ReleaseTemplateSource ends owner's lease on a source without a sync
// (the sync could not even start).
func ReleaseTemplateSource(ctx context.Context, tx *Tx, orgID, id, owner string) error {
	_, err := tx.Exec(ctx, `UPDATE template_sources SET lease_owner = '', lease_until = NULL WHERE org_id = ? AND id = ? AND lease_owner = ?`,
		orgID, id, owner)
	return err
}

// ErrLeaseLost is returned when a worker's lease on a source expired and
// another took it: what the worker did is not stored.
var ErrLeaseLost = errors.New("the lease on the template source was lost")

// TemplateSync is one sync of a source.
type TemplateSync struct {
	OrgID, SourceID, ID string
	Trigger             string // manual, schedule, webhook or create
	StartedAt           time.Time
	FinishedAt          time.Time
	Commit              string // the head it synced (or failed at); "" when not fetched
	Status              string // ok or failed
	Error               string
	Templates           int    // templates at the commit
	Versions            int    // versions recorded
	Problems            string // JSON: the mapping's problems as a whole (a failed sync's errors)
	// Mapping is the mapping the sync applied, as stored (not recorded):
	// a good sync clears the source's MappingChangedBy when it is still
	// the source's.
	Mapping string
}

// Sync statuses.
const (
	SyncOK     = "ok"
	SyncFailed = "failed"
)

// maxSyncsKept is how many syncs of a source are kept.
const maxSyncsKept = 200

// FinishTemplateSync records a sync and ends owner's lease on its source:
// a good sync moves the source to its commit and clears its error, a
// failed one records its error and leaves the last good state. Either
// answers the requests made before it started (a request made since stays
// pending). next is the schedule's next run (nil: none). It fails with
// ErrLeaseLost when owner no longer holds the lease.
func FinishTemplateSync(ctx context.Context, tx *Tx, s *TemplateSync, owner string, next *time.Time) error {
	const answered = `sync_requested_at = CASE WHEN sync_requested_at <= ? THEN NULL ELSE sync_requested_at END,
		sync_trigger = CASE WHEN sync_requested_at <= ? THEN '' ELSE sync_trigger END,
		lease_owner = '', lease_until = NULL, next_sync_at = ?`
	var res sql.Result
	var err error
	if s.Status == SyncOK {
		res, err = tx.Exec(ctx, `UPDATE template_sources SET synced_commit = ?, synced_at = ?, last_error = '', last_error_at = NULL,
			mapping_changed_by = CASE WHEN mapping = ? THEN '' ELSE mapping_changed_by END, `+answered+`
			WHERE org_id = ? AND id = ? AND lease_owner = ?`,
			s.Commit, s.FinishedAt, s.Mapping, s.StartedAt, s.StartedAt, next, s.OrgID, s.SourceID, owner)
	} else {
		res, err = tx.Exec(ctx, `UPDATE template_sources SET last_error = ?, last_error_at = ?, `+answered+`
			WHERE org_id = ? AND id = ? AND lease_owner = ?`,
			s.Error, s.FinishedAt, s.StartedAt, s.StartedAt, next, s.OrgID, s.SourceID, owner)
	}
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return ErrLeaseLost
	}
	if s.ID == "" {
		s.ID = domain.NewID()
	}
	if _, err := tx.Exec(ctx, `INSERT INTO template_syncs (org_id, source_id, id, trigger_kind, started_at, finished_at, commit_hash, status, error, templates, versions, problems)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.OrgID, s.SourceID, s.ID, s.Trigger, s.StartedAt, s.FinishedAt, s.Commit, s.Status, s.Error, s.Templates, s.Versions, s.Problems); err != nil {
		return err
	}
	// Keep the newest syncs (ids sort by time).
	_, err = tx.Exec(ctx, `DELETE FROM template_syncs WHERE org_id = ? AND source_id = ? AND id < (
		SELECT min(id) FROM (SELECT id FROM template_syncs WHERE org_id = ? AND source_id = ? ORDER BY id DESC LIMIT ?) newest)`,
		s.OrgID, s.SourceID, s.OrgID, s.SourceID, maxSyncsKept)
	return err
}

// TemplateSyncs lists a source's syncs, newest first, at most limit.
func TemplateSyncs(ctx context.Context, tx *Tx, orgID, sourceID string, limit int) ([]TemplateSync, error) {
	rows, err := tx.Query(ctx, `SELECT org_id, source_id, id, trigger_kind, started_at, finished_at, commit_hash, status, error, templates, versions, problems
		FROM template_syncs WHERE org_id = ? AND source_id = ? ORDER BY id DESC LIMIT ?`, orgID, sourceID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []TemplateSync
	for rows.Next() {
		var s TemplateSync
		if err := rows.Scan(&s.OrgID, &s.SourceID, &s.ID, &s.Trigger, utcTime{&s.StartedAt}, utcTime{&s.FinishedAt}, &s.Commit, &s.Status,
			&s.Error, &s.Templates, &s.Versions, &s.Problems); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// TemplateBlob is a template's content, named by its hash.
type TemplateBlob struct {
	Hash                      string
	Subject, HTML, Text, Data string
}

// PutTemplateBlob stores a content unless the source has it already.
func PutTemplateBlob(ctx context.Context, tx *Tx, orgID, sourceID string, b *TemplateBlob) error {
	_, err := tx.Exec(ctx, `INSERT INTO template_blobs (org_id, source_id, hash, subject, html, text, data) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (org_id, source_id, hash) DO NOTHING`, orgID, sourceID, b.Hash, b.Subject, b.HTML, b.Text, b.Data)
	return err
}

// TemplateBlobByHash returns a content of the source, or ENotFound.
func TemplateBlobByHash(ctx context.Context, tx *Tx, orgID, sourceID, hash string) (*TemplateBlob, error) {
	b := TemplateBlob{Hash: hash}
	err := tx.QueryRow(ctx, `SELECT subject, html, text, data FROM template_blobs WHERE org_id = ? AND source_id = ? AND hash = ?`,
		orgID, sourceID, hash).Scan(&b.Subject, &b.HTML, &b.Text, &b.Data)
	if err != nil {
		return nil, notFound(err, "Template content")
	}
	return &b, nil
}

// TemplateVersion is a commit that changed a template.
type TemplateVersion struct {
	OrgID, SourceID string
	Seq             int64 // order within the source, oldest first
	Name            string
	Commit          string
	CommittedAt     time.Time
	Author          string
	AuthorEmail     string
	Message         string
	BlobHash        string // "" when the commit removed the template
	// Cause is CauseCommit, or CauseMapping for a change no commit made.
	Cause string
}

// Causes of a version.
const (
	CauseCommit  = "commit"  // a commit changed the template
	CauseMapping = "mapping" // the mapping did, at the commit it was applied to
)

const versionCols = `org_id, source_id, seq, name, commit_hash, committed_at, author, author_email, message, coalesce(blob_hash, ''), cause`

func scanVersion(row scanner) (*TemplateVersion, error) {
	var v TemplateVersion
	err := row.Scan(&v.OrgID, &v.SourceID, &v.Seq, &v.Name, &v.Commit, utcTime{&v.CommittedAt}, &v.Author, &v.AuthorEmail, &v.Message, &v.BlobHash, &v.Cause)
	return &v, err
}

// AddTemplateVersion records a commit that changed a template.
func AddTemplateVersion(ctx context.Context, tx *Tx, v *TemplateVersion) error {
	var blob any
	if v.BlobHash != "" {
		blob = v.BlobHash
	}
	if v.Cause == "" {
		v.Cause = CauseCommit
	}
	_, err := tx.Exec(ctx, `INSERT INTO template_versions (org_id, source_id, seq, name, commit_hash, committed_at, author, author_email, message, blob_hash, cause)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.OrgID, v.SourceID, v.Seq, v.Name, v.Commit, v.CommittedAt, v.Author, v.AuthorEmail, v.Message, blob, v.Cause)
	return err
}

// LatestTemplateVersions returns each template's newest version in the
// source (removals included), and the highest seq used (0 when none).
func LatestTemplateVersions(ctx context.Context, tx *Tx, orgID, sourceID string) (map[string]TemplateVersion, int64, error) {
	rows, err := tx.Query(ctx, `SELECT `+versionCols+` FROM template_versions v WHERE org_id = ? AND source_id = ?
		AND seq = (SELECT max(seq) FROM template_versions w WHERE w.org_id = v.org_id AND w.source_id = v.source_id AND w.name = v.name)`,
		orgID, sourceID)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := map[string]TemplateVersion{}
	var top int64
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, 0, err
		}
		out[v.Name] = *v
		top = max(top, v.Seq)
	}
	return out, top, rows.Err()
}

// TemplateVersions lists the versions of a source's template, newest
// first; none when the name never had one.
func TemplateVersions(ctx context.Context, tx *Tx, orgID, sourceID, name string) ([]TemplateVersion, error) {
	rows, err := tx.Query(ctx, `SELECT `+versionCols+` FROM template_versions WHERE org_id = ? AND source_id = ? AND name = ? ORDER BY seq DESC`,
		orgID, sourceID, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []TemplateVersion
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, rows.Err()
}

// SourceTemplate is a template at the source's synced commit.
type SourceTemplate struct {
	Name     string
	BlobHash string
	Origin   string // how the repository maps it
	Files    string // JSON: the files of its parts
	Problems string // JSON: what lint found
	// Blob is the content, with SourceTemplatesOf's withContent.
	Blob *TemplateBlob
}

// ReplaceSourceTemplates sets the templates at a source's synced commit.
func ReplaceSourceTemplates(ctx context.Context, tx *Tx, orgID, sourceID string, ts []SourceTemplate) error {
	if _, err := tx.Exec(ctx, `DELETE FROM source_templates WHERE org_id = ? AND source_id = ?`, orgID, sourceID); err != nil {
		return err
	}
	for _, t := range ts {
		if _, err := tx.Exec(ctx, `INSERT INTO source_templates (org_id, source_id, name, blob_hash, origin, files, problems) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			orgID, sourceID, t.Name, t.BlobHash, t.Origin, t.Files, t.Problems); err != nil {
			return err
		}
	}
	return nil
}

// SourceTemplatesOf lists the templates at a source's synced commit by
// name, with their content when withContent.
func SourceTemplatesOf(ctx context.Context, tx *Tx, orgID, sourceID string, withContent bool) ([]SourceTemplate, error) {
	q := `SELECT t.name, t.blob_hash, t.origin, t.files, t.problems`
	if withContent {
		q += `, b.subject, b.html, b.text, b.data FROM source_templates t
			JOIN template_blobs b ON b.org_id = t.org_id AND b.source_id = t.source_id AND b.hash = t.blob_hash`
	} else {
		q += ` FROM source_templates t`
	}
	rows, err := tx.Query(ctx, q+` WHERE t.org_id = ? AND t.source_id = ? ORDER BY t.name`, orgID, sourceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SourceTemplate
	for rows.Next() {
		var t SourceTemplate
		dest := []any{&t.Name, &t.BlobHash, &t.Origin, &t.Files, &t.Problems}
		if withContent {
			t.Blob = &TemplateBlob{}
			dest = append(dest, &t.Blob.Subject, &t.Blob.HTML, &t.Blob.Text, &t.Blob.Data)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		if t.Blob != nil {
			t.Blob.Hash = t.BlobHash
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RecordHookDelivery records a webhook delivery of a source, by its
// delivery id and the hash of its body; fresh is false when either was
// seen before (a replay, perhaps under a new id).
func RecordHookDelivery(ctx context.Context, tx *Tx, orgID, sourceID, deliveryID, bodyHash string) (fresh bool, err error) {
	res, err := tx.Exec(ctx, `INSERT INTO git_hook_deliveries (org_id, source_id, delivery_id, body_hash, received_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, orgID, sourceID, deliveryID, bodyHash, tx.Now())
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// HookDeliveryTTL is how long a webhook delivery is remembered: a replay
// after it is accepted (and costs one sync).
const HookDeliveryTTL = 7 * 24 * time.Hour

// SyncedTemplates returns a source's name, its synced commit ("" before
// its first good sync) and its templates there with their content, by
// name: all read by one statement, so that they agree even while a sync
// stores a new state.
func SyncedTemplates(ctx context.Context, tx *Tx, orgID, sourceID string) (name, commit string, ts []SourceTemplate, err error) {
	rows, err := tx.Query(ctx, `SELECT s.name, s.synced_commit, t.name, t.blob_hash, t.origin, t.files, t.problems, b.subject, b.html, b.text, b.data
		FROM template_sources s
		LEFT JOIN source_templates t ON t.org_id = s.org_id AND t.source_id = s.id
		LEFT JOIN template_blobs b ON b.org_id = t.org_id AND b.source_id = t.source_id AND b.hash = t.blob_hash
		WHERE s.org_id = ? AND s.id = ? ORDER BY t.name`, orgID, sourceID)
	if err != nil {
		return "", "", nil, err
	}
	defer rows.Close()
	found := false
	for rows.Next() {
		found = true
		var tName, hash, origin, files, probs, subject, html, text, data sql.NullString
		if err := rows.Scan(&name, &commit, &tName, &hash, &origin, &files, &probs, &subject, &html, &text, &data); err != nil {
			return "", "", nil, err
		}
		if !tName.Valid {
			continue // a source without templates
		}
		ts = append(ts, SourceTemplate{Name: tName.String, BlobHash: hash.String, Origin: origin.String, Files: files.String, Problems: probs.String,
			Blob: &TemplateBlob{Hash: hash.String, Subject: subject.String, HTML: html.String, Text: text.String, Data: data.String}})
	}
	if err := rows.Err(); err != nil {
		return "", "", nil, err
	}
	if !found {
		return "", "", nil, domain.Errorf(domain.ENotFound, "Template source not found.")
	}
	return name, commit, ts, nil
}

// PreviewTTL is how long a rendered preview is kept for its frame.
const PreviewTTL = 10 * time.Minute

// PutTemplatePreview keeps a rendered HTML part of a source's template
// for PreviewTTL under id (a random key the caller makes).
func PutTemplatePreview(ctx context.Context, tx *Tx, orgID, sourceID, id, name, html string) error {
	_, err := tx.Exec(ctx, `INSERT INTO template_previews (org_id, source_id, id, name, html, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		orgID, sourceID, id, name, html, tx.Now().Add(PreviewTTL))
	return err
}

// TemplatePreview returns a kept preview of the source's template name,
// or ENotFound (another source's or template's, or expired).
func TemplatePreview(ctx context.Context, tx *Tx, orgID, sourceID, name, id string) (string, error) {
	var html string
	err := tx.QueryRow(ctx, `SELECT html FROM template_previews WHERE org_id = ? AND id = ? AND source_id = ? AND name = ? AND expires_at > ?`,
		orgID, id, sourceID, name, tx.Now()).Scan(&html)
	if err != nil {
		return "", notFound(err, "Preview")
	}
	return html, nil
}
