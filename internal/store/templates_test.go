package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"sendops/internal/domain"
	"sendops/internal/testutil/testdb"
)

// TestTemplateSourceStore runs the template source cases on both engines.
func TestTemplateSourceStore(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		run  func(t *testing.T, ctx context.Context, db *DB)
	}{
		{"sources and the tenant wall", testTemplateSources},
		{"due sources and leases", testTemplateLeases},
		{"syncs keep the last good state", testTemplateSyncRecords},
		{"versions and blobs", testTemplateVersions},
		{"webhook deliveries", testHookDeliveries},
		{"the synced state and previews", testSyncedStateAndPreviews},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			testdb.Each(t, func(t *testing.T, e testdb.Engine) {
				ctx := t.Context()
				db := openTestDB(t, e)
				c.run(t, ctx, db)
			})
		})
	}
}

func newSource(t *testing.T, db *DB, orgID, name string) *TemplateSource {
	t.Helper()
	s := &TemplateSource{OrgID: orgID, Name: name, URL: "https://git.example.com/" + name + ".git", Branch: "main", AuthKind: "token",
		AuthSecret: "v1:sealed-token", WebhookSecret: "v1:sealed-hook", CreatedBy: "ann@example.com"}
	update(t, db, func(tx *Tx) error { return CreateTemplateSource(t.Context(), tx, s) })
	return s
}

func testTemplateSources(t *testing.T, ctx context.Context, db *DB) {
	setClock(db, t0)
	a, b := newOrg(t, db, "A"), newOrg(t, db, "B")
	mail := newSource(t, db, a.ID, "mail")
	newSource(t, db, a.ID, "alerts")
	other := newSource(t, db, b.ID, "theirs")

	var list []TemplateSource
	view(t, db, func(tx *Tx) (err error) { list, err = TemplateSourcesOf(ctx, tx, a.ID); return err })
	if len(list) != 2 || list[0].Name != "alerts" || list[1].Name != "mail" {
		t.Fatalf("sources of A: %+v, want alerts and mail", list)
	}
	got := list[1]
	if got.ID != mail.ID || got.AuthSecret != "v1:sealed-token" || got.WebhookSecret != "v1:sealed-hook" || !got.CreatedAt.Equal(t0) ||
		got.SyncedAt != nil || got.NextSyncAt != nil || got.CreatedBy != "ann@example.com" {
		t.Fatalf("stored source: %+v", got)
	}

	// Another organisation's id is not found, in every function that
	// takes the organisation.
	for what, fn := range map[string]func(tx *Tx) error{
		"get":     func(tx *Tx) error { _, err := TemplateSourceByID(ctx, tx, a.ID, other.ID); return err },
		"update":  func(tx *Tx) error { o := *other; o.OrgID = a.ID; return UpdateTemplateSource(ctx, tx, &o) },
		"secret":  func(tx *Tx) error { return SetTemplateSourceWebhookSecret(ctx, tx, a.ID, other.ID, "v1:x") },
		"request": func(tx *Tx) error { return RequestTemplateSync(ctx, tx, a.ID, other.ID, "webhook") },
		"delete":  func(tx *Tx) error { return DeleteTemplateSource(ctx, tx, a.ID, other.ID) },
	} {
		wantCode(t, what+" with another organisation's id", db.Update(ctx, fn), domain.ENotFound)
	}
	view(t, db, func(tx *Tx) error {
		s, err := TemplateSourceByID(ctx, tx, b.ID, other.ID)
		if err != nil || s.WebhookSecret != "v1:sealed-hook" || s.SyncRequestedAt != nil {
			t.Fatalf("B's source after A's attempts: %+v, %v", s, err)
		}
		// The webhook lookup finds any organisation's source by its id.
		if s, err := TemplateSourceForHook(ctx, tx, other.ID); err != nil || s.OrgID != b.ID {
			t.Fatalf("TemplateSourceForHook = %+v, %v", s, err)
		}
		_, err = TemplateSourceForHook(ctx, tx, "nope")
		wantCode(t, "TemplateSourceForHook of an unknown id", err, domain.ENotFound)
		return nil
	})

	// Update changes what a user may change, nothing else.
	next := t0.Add(time.Hour)
	upd := *mail
	upd.Name, upd.Branch, upd.AuthKind, upd.AuthSecret, upd.Mapping, upd.SyncIntervalMinutes, upd.NextSyncAt = "Mail", "release", "none", "", `{"rules":[]}`, 60, &next
	upd.SyncedCommit, upd.URL = "should-not-change", "https://elsewhere.example/x.git"
	update(t, db, func(tx *Tx) error { return UpdateTemplateSource(ctx, tx, &upd) })
	update(t, db, func(tx *Tx) error { return SetTemplateSourceWebhookSecret(ctx, tx, a.ID, mail.ID, "v2:new-hook") })
	view(t, db, func(tx *Tx) error {
		s, err := TemplateSourceByID(ctx, tx, a.ID, mail.ID)
		if err != nil {
			return err
		}
		if s.Name != "Mail" || s.Branch != "release" || s.AuthKind != "none" || s.AuthSecret != "" || s.Mapping != `{"rules":[]}` ||
			s.SyncIntervalMinutes != 60 || s.NextSyncAt == nil || !s.NextSyncAt.Equal(next) || s.WebhookSecret != "v2:new-hook" ||
			s.SyncedCommit != "" || s.URL != mail.URL {
			t.Fatalf("after update: %+v", s)
		}
		return nil
	})

	// Deleting a source deletes what it holds.
	update(t, db, func(tx *Tx) error {
		if err := PutTemplateBlob(ctx, tx, a.ID, mail.ID, &TemplateBlob{Hash: "h1", Subject: "Hi"}); err != nil {
			return err
		}
		if err := AddTemplateVersion(ctx, tx, &TemplateVersion{OrgID: a.ID, SourceID: mail.ID, Seq: 1, Name: "welcome", Commit: "c1", CommittedAt: t0, BlobHash: "h1"}); err != nil {
			return err
		}
		if err := ReplaceSourceTemplates(ctx, tx, a.ID, mail.ID, []SourceTemplate{{Name: "welcome", BlobHash: "h1", Origin: "front matter"}}); err != nil {
			return err
		}
		_, err := RecordHookDelivery(ctx, tx, a.ID, mail.ID, "d1", "body-1")
		return err
	})
	update(t, db, func(tx *Tx) error { return DeleteTemplateSource(ctx, tx, a.ID, mail.ID) })
	for _, table := range []string{"template_blobs", "template_versions", "source_templates", "git_hook_deliveries"} {
		if n := count(t, db, `SELECT count(*) FROM `+table+` WHERE source_id = ?`, mail.ID); n != 0 {
			t.Errorf("%d rows of %s left after the source was deleted", n, table)
		}
	}
	wantCode(t, "deleting it again", db.Update(ctx, func(tx *Tx) error { return DeleteTemplateSource(ctx, tx, a.ID, mail.ID) }), domain.ENotFound)
}

func testTemplateLeases(t *testing.T, ctx context.Context, db *DB) {
	now := setClock(db, t0)
	o := newOrg(t, db, "A")
	hooked, scheduled, idle := newSource(t, db, o.ID, "hooked"), newSource(t, db, o.ID, "scheduled"), newSource(t, db, o.ID, "idle")
	due := func() []string {
		t.Helper()
		var ds []Due
		view(t, db, func(tx *Tx) (err error) { ds, err = DueTemplateSources(ctx, tx, 5*time.Second, 10); return err })
		var ids []string
		for _, d := range ds {
			ids = append(ids, d.ID)
		}
		return ids
	}
	names := map[string]string{hooked.ID: "hooked", scheduled.ID: "scheduled", idle.ID: "idle"}
	wantDue := func(when string, want ...string) {
		t.Helper()
		got := due()
		var gotNames []string
		for _, id := range got {
			gotNames = append(gotNames, names[id])
		}
		slices.Sort(gotNames)
		if len(gotNames) != len(want) {
			t.Fatalf("%s: due %v, want %v", when, gotNames, want)
		}
		for i := range want {
			if gotNames[i] != want[i] {
				t.Fatalf("%s: due %v, want %v", when, gotNames, want)
			}
		}
	}
	wantDue("nothing asked")

	// A schedule's time comes; webhook requests wait for the debounce,
	// which counts from the first of a burst.
	next := t0.Add(time.Minute)
	sch := *scheduled
	sch.SyncIntervalMinutes, sch.NextSyncAt = 1, &next
	update(t, db, func(tx *Tx) error { return UpdateTemplateSource(ctx, tx, &sch) })
	update(t, db, func(tx *Tx) error { return RequestTemplateSync(ctx, tx, o.ID, hooked.ID, "webhook") })
	*now = t0.Add(4 * time.Second)
	update(t, db, func(tx *Tx) error { return RequestTemplateSync(ctx, tx, o.ID, hooked.ID, "webhook") })
	wantDue("4 s after the first push")
	*now = t0.Add(5 * time.Second)
	wantDue("5 s after the first push", "hooked")
	*now = t0.Add(time.Minute)
	wantDue("a minute later", "hooked", "scheduled")

	// Two workers race for the same source: one claims it.
	var first, second *TemplateSource
	var trigger string
	update(t, db, func(tx *Tx) (err error) {
		first, trigger, err = ClaimTemplateSource(ctx, tx, o.ID, hooked.ID, "worker-1", db.Now().Add(10*time.Minute), true, 5*time.Second)
		return err
	})
	update(t, db, func(tx *Tx) (err error) {
		second, _, err = ClaimTemplateSource(ctx, tx, o.ID, hooked.ID, "worker-2", db.Now().Add(10*time.Minute), true, 5*time.Second)
		return err
	})
	if first == nil || first.LeaseOwner != "worker-1" || trigger != "webhook" || second != nil {
		t.Fatalf("claims: first %+v (trigger %q), second %+v; want worker-1 to hold it for the webhook", first, trigger, second)
	}
	if first.SyncRequestedAt == nil || !first.SyncRequestedAt.Equal(t0) {
		t.Fatalf("the claim cleared the request (%v): a worker that dies with the lease would lose it", first.SyncRequestedAt)
	}
	wantDue("while leased", "scheduled")
	// A sync by hand does not take a leased source either.
	update(t, db, func(tx *Tx) (err error) {
		second, _, err = ClaimTemplateSource(ctx, tx, o.ID, hooked.ID, "hand", db.Now().Add(10*time.Minute), false, 0)
		return err
	})
	if second != nil {
		t.Fatalf("a sync by hand claimed a leased source")
	}
	// The scheduled one's trigger is the schedule.
	update(t, db, func(tx *Tx) (err error) {
		second, trigger, err = ClaimTemplateSource(ctx, tx, o.ID, scheduled.ID, "worker-2", db.Now().Add(10*time.Minute), true, 5*time.Second)
		return err
	})
	if second == nil || trigger != "schedule" {
		t.Fatalf("claim of the scheduled source: %+v, %q", second, trigger)
	}

	// worker-1 crashes: its lease expires and the source is due again,
	// for the webhook's request, which nothing answered.
	*now = t0.Add(time.Minute + 10*time.Minute + time.Second)
	wantDue("after the lease expired", "hooked", "scheduled")
	update(t, db, func(tx *Tx) (err error) {
		second, trigger, err = ClaimTemplateSource(ctx, tx, o.ID, hooked.ID, "worker-3", db.Now().Add(10*time.Minute), true, 5*time.Second)
		return err
	})
	if second == nil || second.LeaseOwner != "worker-3" || trigger != "webhook" {
		t.Fatalf("a crashed worker's source was not claimed again for the webhook: %+v, %q", second, trigger)
	}
	// worker-1 comes back: its lease is lost, and what it found is not
	// stored.
	err := db.Update(ctx, func(tx *Tx) error {
		return FinishTemplateSync(ctx, tx, &TemplateSync{OrgID: o.ID, SourceID: hooked.ID, Trigger: "webhook", StartedAt: t0, FinishedAt: db.Now(),
			Commit: "c9", Status: SyncOK}, "worker-1", nil)
	})
	if !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("finishing a lost lease: %v, want ErrLeaseLost", err)
	}
	if n := count(t, db, `SELECT count(*) FROM template_syncs`); n != 0 {
		t.Fatalf("%d syncs recorded by a worker that lost its lease", n)
	}
	// The holder releases without a sync: the request stays.
	update(t, db, func(tx *Tx) error { return ReleaseTemplateSource(ctx, tx, o.ID, hooked.ID, "worker-3") })
	wantDue("after a release", "hooked", "scheduled")
	pending := func() *time.Time {
		t.Helper()
		var s *TemplateSource
		view(t, db, func(tx *Tx) (err error) { s, err = TemplateSourceByID(ctx, tx, o.ID, hooked.ID); return err })
		return s.SyncRequestedAt
	}
	// A sync answers the requests made before it started; one made while
	// it runs takes that time and stays for the next sync.
	claim := func(owner string) time.Time {
		t.Helper()
		update(t, db, func(tx *Tx) (err error) {
			second, _, err = ClaimTemplateSource(ctx, tx, o.ID, hooked.ID, owner, db.Now().Add(10*time.Minute), false, 0)
			return err
		})
		if second == nil {
			t.Fatalf("%s could not claim", owner)
		}
		return *now
	}
	finish := func(owner string, started time.Time) {
		t.Helper()
		update(t, db, func(tx *Tx) error {
			return FinishTemplateSync(ctx, tx, &TemplateSync{OrgID: o.ID, SourceID: hooked.ID, Trigger: "webhook", StartedAt: started, FinishedAt: db.Now(),
				Commit: "c10", Status: SyncOK}, owner, nil)
		})
	}
	started := claim("worker-4")
	*now = now.Add(time.Second)
	update(t, db, func(tx *Tx) error { return RequestTemplateSync(ctx, tx, o.ID, hooked.ID, "webhook") })
	during := *now
	*now = now.Add(time.Second)
	finish("worker-4", started)
	if p := pending(); p == nil || !p.Equal(during) {
		t.Fatalf("a request made during the sync: pending %v, want %v", p, during)
	}
	started = claim("worker-5")
	*now = now.Add(time.Second)
	finish("worker-5", started)
	if p := pending(); p != nil {
		t.Fatalf("a request made before the sync started is still pending: %v", p)
	}
	view(t, db, func(tx *Tx) error {
		s, err := TemplateSourceByID(ctx, tx, o.ID, hooked.ID)
		if err != nil || s.LeaseOwner != "" || s.LeaseUntil != nil {
			t.Fatalf("after release: %+v, %v", s, err)
		}
		return nil
	})
}

func testTemplateSyncRecords(t *testing.T, ctx context.Context, db *DB) {
	now := setClock(db, t0)
	o := newOrg(t, db, "A")
	src := newSource(t, db, o.ID, "mail")
	claim := func(owner string) {
		t.Helper()
		update(t, db, func(tx *Tx) error {
			s, _, err := ClaimTemplateSource(ctx, tx, o.ID, src.ID, owner, db.Now().Add(10*time.Minute), false, 0)
			if err == nil && s == nil {
				t.Fatalf("%s could not claim the source", owner)
			}
			return err
		})
	}
	get := func() *TemplateSource {
		t.Helper()
		var s *TemplateSource
		view(t, db, func(tx *Tx) (err error) { s, err = TemplateSourceByID(ctx, tx, o.ID, src.ID); return err })
		return s
	}
	claim("w")
	next := t0.Add(time.Hour)
	update(t, db, func(tx *Tx) error {
		return FinishTemplateSync(ctx, tx, &TemplateSync{OrgID: o.ID, SourceID: src.ID, Trigger: "manual", StartedAt: t0, FinishedAt: t0,
			Commit: "good", Status: SyncOK, Templates: 2, Versions: 3}, "w", &next)
	})
	s := get()
	if s.SyncedCommit != "good" || s.SyncedAt == nil || !s.SyncedAt.Equal(t0) || s.LastError != "" || s.LeaseOwner != "" || s.NextSyncAt == nil || !s.NextSyncAt.Equal(next) {
		t.Fatalf("after a good sync: %+v", s)
	}

	*now = t0.Add(time.Minute)
	claim("w")
	update(t, db, func(tx *Tx) error {
		return FinishTemplateSync(ctx, tx, &TemplateSync{OrgID: o.ID, SourceID: src.ID, Trigger: "schedule", StartedAt: *now, FinishedAt: *now,
			Commit: "bad", Status: SyncFailed, Error: "The repository was not found.", Problems: `[{"message":"x"}]`}, "w", nil)
	})
	s = get()
	if s.SyncedCommit != "good" || !s.SyncedAt.Equal(t0) || s.LastError != "The repository was not found." || s.LastErrorAt == nil ||
		!s.LastErrorAt.Equal(*now) || s.NextSyncAt != nil || s.LeaseOwner != "" {
		t.Fatalf("after a failed sync: %+v; want the last good state kept and the error", s)
	}
	var syncs []TemplateSync
	view(t, db, func(tx *Tx) (err error) { syncs, err = TemplateSyncs(ctx, tx, o.ID, src.ID, 10); return err })
	if len(syncs) != 2 || syncs[0].Status != SyncFailed || syncs[0].Commit != "bad" || syncs[0].Problems != `[{"message":"x"}]` ||
		syncs[1].Status != SyncOK || syncs[1].Templates != 2 || syncs[1].Versions != 3 || syncs[1].Trigger != "manual" {
		t.Fatalf("syncs: %+v", syncs)
	}

	// Only the newest syncs are kept.
	for i := range maxSyncsKept + 5 {
		*now = t0.Add(time.Duration(i+2) * time.Minute)
		claim("w")
		update(t, db, func(tx *Tx) error {
			return FinishTemplateSync(ctx, tx, &TemplateSync{OrgID: o.ID, SourceID: src.ID, Trigger: "schedule", StartedAt: *now, FinishedAt: *now,
				Commit: "good", Status: SyncOK}, "w", nil)
		})
	}
	if n := count(t, db, `SELECT count(*) FROM template_syncs WHERE source_id = ?`, src.ID); n != maxSyncsKept {
		t.Fatalf("%d syncs kept, want %d", n, maxSyncsKept)
	}
}

func testTemplateVersions(t *testing.T, ctx context.Context, db *DB) {
	setClock(db, t0)
	o := newOrg(t, db, "A")
	src := newSource(t, db, o.ID, "mail")
	update(t, db, func(tx *Tx) error {
		for _, b := range []*TemplateBlob{{Hash: "h1", Subject: "Hi", HTML: "<p>1</p>"}, {Hash: "h2", Subject: "Hi", HTML: "<p>2</p>", Data: `{"a":1}`},
			{Hash: "h1", Subject: "ignored: same hash"}} {
			if err := PutTemplateBlob(ctx, tx, o.ID, src.ID, b); err != nil {
				return err
			}
		}
		for _, v := range []TemplateVersion{
			{Seq: 1, Name: "welcome", Commit: "c1", BlobHash: "h1", Author: "Ann", AuthorEmail: "ann@example.com", Message: "Add welcome"},
			{Seq: 2, Name: "reset", Commit: "c1", BlobHash: "h1"},
			{Seq: 3, Name: "welcome", Commit: "c2", BlobHash: "h2", Message: "Change welcome"},
			{Seq: 4, Name: "reset", Commit: "c3", BlobHash: ""}, // removed
			{Seq: 5, Name: "welcome", Commit: "c2", BlobHash: "h1", Author: "SendOps", Cause: CauseMapping},
		} {
			v.OrgID, v.SourceID, v.CommittedAt = o.ID, src.ID, t0.Add(time.Duration(v.Seq)*time.Minute)
			if err := AddTemplateVersion(ctx, tx, &v); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, db, func(tx *Tx) error {
		b, err := TemplateBlobByHash(ctx, tx, o.ID, src.ID, "h1")
		if err != nil || b.Subject != "Hi" || b.HTML != "<p>1</p>" {
			t.Fatalf("blob h1 = %+v, %v", b, err)
		}
		_, err = TemplateBlobByHash(ctx, tx, o.ID, src.ID, "h3")
		wantCode(t, "an unknown blob", err, domain.ENotFound)
		latest, top, err := LatestTemplateVersions(ctx, tx, o.ID, src.ID)
		if err != nil || top != 5 || len(latest) != 2 || latest["welcome"].BlobHash != "h1" || latest["welcome"].Cause != CauseMapping ||
			latest["reset"].BlobHash != "" || latest["reset"].Commit != "c3" || latest["reset"].Cause != CauseCommit {
			t.Fatalf("latest versions = %+v, top %d, %v", latest, top, err)
		}
		vs, err := TemplateVersions(ctx, tx, o.ID, src.ID, "welcome")
		if err != nil || len(vs) != 3 || vs[0].Cause != CauseMapping || vs[1].Commit != "c2" || vs[2].Commit != "c1" || vs[2].Author != "Ann" ||
			vs[2].Message != "Add welcome" || !vs[2].CommittedAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("welcome's versions = %+v, %v", vs, err)
		}
		return nil
	})
	update(t, db, func(tx *Tx) error {
		return ReplaceSourceTemplates(ctx, tx, o.ID, src.ID, []SourceTemplate{
			{Name: "welcome", BlobHash: "h2", Origin: "front matter", Files: `{"html":"welcome.html"}`, Problems: `[]`},
		})
	})
	view(t, db, func(tx *Tx) error {
		ts, err := SourceTemplatesOf(ctx, tx, o.ID, src.ID, true)
		if err != nil || len(ts) != 1 || ts[0].Blob == nil || ts[0].Blob.Data != `{"a":1}` || ts[0].Files != `{"html":"welcome.html"}` {
			t.Fatalf("source templates with content = %+v, %v", ts, err)
		}
		ts, err = SourceTemplatesOf(ctx, tx, o.ID, src.ID, false)
		if err != nil || len(ts) != 1 || ts[0].Blob != nil || ts[0].Origin != "front matter" {
			t.Fatalf("source templates = %+v, %v", ts, err)
		}
		return nil
	})
}

func testHookDeliveries(t *testing.T, ctx context.Context, db *DB) {
	now := setClock(db, t0)
	o := newOrg(t, db, "A")
	a, b := newSource(t, db, o.ID, "a"), newSource(t, db, o.ID, "b")
	recordBody := func(src *TemplateSource, id, body string) bool {
		t.Helper()
		var fresh bool
		update(t, db, func(tx *Tx) (err error) { fresh, err = RecordHookDelivery(ctx, tx, o.ID, src.ID, id, body); return err })
		return fresh
	}
	record := func(src *TemplateSource, id string) bool {
		t.Helper()
		return recordBody(src, id, "body-of-"+id)
	}
	if !record(a, "d1") || record(a, "d1") || !record(b, "d1") {
		t.Fatal("a delivery id is fresh once per source")
	}
	// The same body under a new delivery id is a replay too.
	if recordBody(a, "d2", "body-of-d1") {
		t.Fatal("a body seen before was fresh under a new delivery id")
	}
	if !recordBody(a, "d3", "another body") {
		t.Fatal("another body was refused")
	}
	*now = t0.Add(HookDeliveryTTL - time.Second)
	update(t, db, func(tx *Tx) error { _, err := DeleteExpired(ctx, tx, time.Hour); return err })
	if record(a, "d1") {
		t.Fatal("a delivery was forgotten before 7 days")
	}
	*now = t0.Add(HookDeliveryTTL + time.Second)
	update(t, db, func(tx *Tx) error { _, err := DeleteExpired(ctx, tx, time.Hour); return err })
	if n := count(t, db, `SELECT count(*) FROM git_hook_deliveries`); n != 0 {
		t.Fatalf("%d deliveries kept after 7 days", n)
	}
}

func testSyncedStateAndPreviews(t *testing.T, ctx context.Context, db *DB) {
	now := setClock(db, t0)
	a, b := newOrg(t, db, "A"), newOrg(t, db, "B")
	src, empty, theirs := newSource(t, db, a.ID, "mail"), newSource(t, db, a.ID, "empty"), newSource(t, db, b.ID, "theirs")
	update(t, db, func(tx *Tx) error {
		for _, h := range []string{"h1", "h2"} {
			if err := PutTemplateBlob(ctx, tx, a.ID, src.ID, &TemplateBlob{Hash: h, Subject: "S " + h, HTML: "<p>" + h + "</p>", Data: "{}"}); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE template_sources SET synced_commit = 'c1' WHERE id = ?`, src.ID); err != nil {
			return err
		}
		return ReplaceSourceTemplates(ctx, tx, a.ID, src.ID, []SourceTemplate{{Name: "b", BlobHash: "h2", Origin: "o"}, {Name: "a", BlobHash: "h1", Origin: "o"}})
	})
	view(t, db, func(tx *Tx) error {
		name, commit, ts, err := SyncedTemplates(ctx, tx, a.ID, src.ID)
		if err != nil || name != "mail" || commit != "c1" || len(ts) != 2 || ts[0].Name != "a" || ts[0].Blob.HTML != "<p>h1</p>" || ts[1].Blob.Subject != "S h2" {
			t.Fatalf("synced templates: %q %q %+v, %v", name, commit, ts, err)
		}
		name, commit, ts, err = SyncedTemplates(ctx, tx, a.ID, empty.ID)
		if err != nil || name != "empty" || commit != "" || len(ts) != 0 {
			t.Fatalf("a source without templates: %q %q %+v, %v", name, commit, ts, err)
		}
		_, _, _, err = SyncedTemplates(ctx, tx, a.ID, theirs.ID)
		wantCode(t, "another organisation's source", err, domain.ENotFound)
		return nil
	})

	// A preview is kept for its source's template, in its organisation,
	// until it expires; then it is deleted.
	update(t, db, func(tx *Tx) error { return PutTemplatePreview(ctx, tx, a.ID, src.ID, "k1", "a", "<p>typed</p>") })
	get := func(org, source, name, id string) (string, error) {
		var html string
		err := db.View(ctx, func(tx *Tx) (err error) { html, err = TemplatePreview(ctx, tx, org, source, name, id); return err })
		return html, err
	}
	if html, err := get(a.ID, src.ID, "a", "k1"); err != nil || html != "<p>typed</p>" {
		t.Fatalf("preview: %q, %v", html, err)
	}
	for _, c := range []struct{ org, source, name, id string }{{b.ID, src.ID, "a", "k1"}, {a.ID, empty.ID, "a", "k1"}, {a.ID, src.ID, "b", "k1"}, {a.ID, src.ID, "a", "k2"}} {
		_, err := get(c.org, c.source, c.name, c.id)
		wantCode(t, "a preview asked for elsewhere", err, domain.ENotFound)
	}
	*now = t0.Add(PreviewTTL)
	_, err := get(a.ID, src.ID, "a", "k1")
	wantCode(t, "an expired preview", err, domain.ENotFound)
	update(t, db, func(tx *Tx) error { _, err := DeleteExpired(ctx, tx, time.Hour); return err })
	if n := count(t, db, `SELECT count(*) FROM template_previews`); n != 0 {
		t.Fatalf("%d expired previews kept", n)
	}
}
