package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"sendops/internal/domain"
	"sendops/internal/testutil/testdb"
)

// storeCases is the one table of store tests; TestStore runs every case on
// a fresh database of each engine.
var storeCases = []struct {
	name string
	// fresh cases get an unmigrated database.
	fresh bool
	run   func(t *testing.T, ctx context.Context, db *DB)
}{
	{"migrations are idempotent", true, testMigrate},
	{"newer schema is refused", false, testNewerSchema},
	{"users", false, testUsers},
	{"times round-trip in UTC", false, testTimes},
	{"orgs and memberships", false, testOrgs},
	{"tenant wall", false, testTenantWall},
	{"sessions expire", false, testSessions},
	{"user tokens", false, testUserTokens},
	{"recovery codes", false, testRecoveryCodes},
	{"throttle", false, testThrottle},
	{"api key pages", false, testAPIKeyPages},
	{"audit filters", false, testAudit},
	{"notice prefs", false, testNoticePrefs},
	{"delete expired", false, testDeleteExpired},
}

func TestStore(t *testing.T) {
	t.Parallel()
	for _, c := range storeCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			testdb.Each(t, func(t *testing.T, e testdb.Engine) {
				ctx := t.Context()
				db, err := Open(ctx, e.DSN)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				if want := Engine(e.Name); db.Engine != want {
					t.Fatalf("Open(%s) engine = %q, want %q", e.DSN, db.Engine, want)
				}
				if !c.fresh {
					if _, err := db.Migrate(ctx); err != nil {
						t.Fatal(err)
					}
				}
				c.run(t, ctx, db)
			})
		})
	}
}

// Helpers.

func update(t *testing.T, db *DB, fn func(tx *Tx) error) {
	t.Helper()
	if err := db.Update(t.Context(), fn); err != nil {
		t.Fatal(err)
	}
}

func view(t *testing.T, db *DB, fn func(tx *Tx) error) {
	t.Helper()
	if err := db.View(t.Context(), fn); err != nil {
		t.Fatal(err)
	}
}

// setClock makes db's clock read *now, which the test moves.
func setClock(db *DB, t0 time.Time) *time.Time {
	now := t0
	db.Now = func() time.Time { return now }
	return &now
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := domain.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v has code %q, want %q", what, err, got, code)
	}
}

func wantField(t *testing.T, what string, err error, field string) {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.EInvalid || de.Field != field {
		t.Fatalf("%s: error %#v, want an EInvalid domain error for field %q", what, err, field)
	}
}

func newUser(t *testing.T, db *DB, email string) *domain.User {
	t.Helper()
	u := &domain.User{Name: email, Email: email, PasswordHash: "hash"}
	update(t, db, func(tx *Tx) error { return CreateUser(t.Context(), tx, u) })
	return u
}

func newOrg(t *testing.T, db *DB, name string) *domain.Org {
	t.Helper()
	o := &domain.Org{Name: name}
	update(t, db, func(tx *Tx) error { return CreateOrg(t.Context(), tx, o) })
	return o
}

func count(t *testing.T, db *DB, query string, args ...any) int {
	t.Helper()
	var n int
	view(t, db, func(tx *Tx) error { return tx.QueryRow(t.Context(), query, args...).Scan(&n) })
	return n
}

// t0 is a fixed clock reading, in a zone other than UTC on purpose.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.FixedZone("IST", 5*3600+1800))

// Cases.

func testMigrate(t *testing.T, ctx context.Context, db *DB) {
	if v, err := db.SchemaVersion(ctx); err != nil || v != 0 {
		t.Fatalf("SchemaVersion of an empty database = %d, %v; want 0", v, err)
	}
	if err := db.CheckSchema(ctx); err == nil {
		t.Fatal("CheckSchema passed on an unmigrated database")
	}
	ms, err := db.migrations()
	if err != nil || len(ms) == 0 {
		t.Fatalf("migrations() = %d, %v", len(ms), err)
	}
	known := db.KnownVersion()
	if known != ms[len(ms)-1].version || known < 1 {
		t.Fatalf("KnownVersion = %d, last migration %d", known, ms[len(ms)-1].version)
	}
	for i, want := range []int{len(ms), 0, 0} {
		n, err := db.Migrate(ctx)
		if err != nil || n != want {
			t.Fatalf("Migrate #%d = %d, %v; want %d applied", i+1, n, err, want)
		}
	}
	if err := db.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema after Migrate: %v", err)
	}
	if v, err := db.SchemaVersion(ctx); err != nil || v != known {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, known)
	}
	if n := count(t, db, `SELECT count(*) FROM schema_migrations`); n != len(ms) {
		t.Fatalf("schema_migrations holds %d rows, want %d", n, len(ms))
	}
}

func testNewerSchema(t *testing.T, ctx context.Context, db *DB) {
	next := db.KnownVersion() + 1
	update(t, db, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			next, fmt.Sprintf("%04d_future.sql", next), "2099-01-01T00:00:00.000000Z")
		return err
	})
	if v, err := db.SchemaVersion(ctx); err != nil || v != next {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, next)
	}
	if n, err := db.Migrate(ctx); err == nil || n != 0 {
		t.Fatalf("Migrate on a newer schema = %d, %v; want an error and nothing applied", n, err)
	}
	if err := db.CheckSchema(ctx); err == nil {
		t.Fatal("CheckSchema passed on a schema newer than the binary knows")
	}
}

func testUsers(t *testing.T, ctx context.Context, db *DB) {
	u := newUser(t, db, "Alice@Example.COM")
	if u.ID == "" || u.Email != "alice@example.com" {
		t.Fatalf("CreateUser set ID %q, Email %q", u.ID, u.Email)
	}
	for _, email := range []string{"alice@example.com", "ALICE@EXAMPLE.COM", " Alice@example.com "} {
		var got *domain.User
		view(t, db, func(tx *Tx) (err error) { got, err = UserByEmail(ctx, tx, email); return err })
		if got.ID != u.ID || got.Email != "alice@example.com" || got.Name != "Alice@Example.COM" || got.PasswordHash != "hash" {
			t.Fatalf("UserByEmail(%q) = %+v, want user %s", email, got, u.ID)
		}
	}
	var byID *domain.User
	view(t, db, func(tx *Tx) (err error) { byID, err = UserByID(ctx, tx, u.ID); return err })
	if byID.Email != "alice@example.com" || byID.EmailVerifiedAt != nil || byID.MFAEnabledAt != nil {
		t.Fatalf("UserByID = %+v", byID)
	}

	err := db.Update(ctx, func(tx *Tx) error {
		return CreateUser(ctx, tx, &domain.User{Name: "Imposter", Email: "aLiCe@example.com", PasswordHash: "x"})
	})
	wantField(t, "CreateUser with a taken email in another case", err, "email")
	if n := count(t, db, `SELECT count(*) FROM users`); n != 1 {
		t.Fatalf("%d users stored after a refused duplicate, want 1", n)
	}

	bob := newUser(t, db, "bob@example.com")
	bob.Email = "ALICE@example.com"
	err = db.Update(ctx, func(tx *Tx) error { return UpdateUser(ctx, tx, bob) })
	wantField(t, "UpdateUser to a taken email", err, "email")
	view(t, db, func(tx *Tx) (err error) { byID, err = UserByID(ctx, tx, bob.ID); return err })
	if byID.Email != "bob@example.com" {
		t.Fatalf("refused UpdateUser changed the email to %q", byID.Email)
	}

	bob.Email, bob.Name, bob.TOTPLastStep = "Robert@Example.com", "Robert", 42
	update(t, db, func(tx *Tx) error { return UpdateUser(ctx, tx, bob) })
	view(t, db, func(tx *Tx) (err error) { byID, err = UserByEmail(ctx, tx, "robert@example.com"); return err })
	if byID.ID != bob.ID || byID.Name != "Robert" || byID.TOTPLastStep != 42 {
		t.Fatalf("after UpdateUser: %+v", byID)
	}

	for _, lookup := range []func(tx *Tx) error{
		func(tx *Tx) error { _, err := UserByID(ctx, tx, domain.NewID()); return err },
		func(tx *Tx) error { _, err := UserByEmail(ctx, tx, "nobody@example.com"); return err },
		func(tx *Tx) error { _, err := UserByEmail(ctx, tx, "bob@example.com"); return err },
	} {
		wantCode(t, "lookup of a missing user", db.View(ctx, lookup), domain.ENotFound)
	}
}

func testTimes(t *testing.T, ctx context.Context, db *DB) {
	setClock(db, t0)
	verified := time.Date(2024, 2, 29, 23, 59, 59, 999999000, time.FixedZone("PDT", -7*3600))
	u := &domain.User{Name: "T", Email: "t@example.com", PasswordHash: "h", EmailVerifiedAt: &verified}
	update(t, db, func(tx *Tx) error { return CreateUser(ctx, tx, u) })
	var got *domain.User
	view(t, db, func(tx *Tx) (err error) { got, err = UserByID(ctx, tx, u.ID); return err })
	for _, c := range []struct {
		name      string
		got, want time.Time
	}{
		{"created_at", got.CreatedAt, t0},
		{"updated_at", got.UpdatedAt, t0},
		{"email_verified_at", *got.EmailVerifiedAt, verified},
	} {
		if !c.got.Equal(c.want) || c.got.Location() != time.UTC {
			t.Errorf("%s read back as %v, want %v in UTC", c.name, c.got, c.want.UTC())
		}
	}
	if got.MFAEnabledAt != nil {
		t.Errorf("a NULL mfa_enabled_at read back as %v", got.MFAEnabledAt)
	}

	// Sub-microsecond digits are dropped, never rounded into another
	// microsecond; the value read back is UTC.
	withNanos := time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", -3*3600))
	setClock(db, withNanos)
	o := newOrg(t, db, "Nanos")
	var org *domain.Org
	view(t, db, func(tx *Tx) (err error) { org, err = OrgByID(ctx, tx, o.ID); return err })
	if want := withNanos.UTC().Truncate(time.Microsecond); !org.CreatedAt.Equal(want) || org.CreatedAt.Location() != time.UTC {
		t.Errorf("org created_at read back as %v, want %v", org.CreatedAt, want)
	}
}

func testOrgs(t *testing.T, ctx context.Context, db *DB) {
	now := setClock(db, t0)
	o := newOrg(t, db, "Zeta")
	if o.ID == "" || o.RetentionDays != 7 {
		t.Fatalf("CreateOrg: %+v, want an id and 7 retention days", o)
	}
	o.Name, o.RequireMFA, o.RetentionDays = "Zeta Ltd", true, 30
	update(t, db, func(tx *Tx) error { return UpdateOrg(ctx, tx, o) })
	var got *domain.Org
	view(t, db, func(tx *Tx) (err error) { got, err = OrgByID(ctx, tx, o.ID); return err })
	if got.Name != "Zeta Ltd" || !got.RequireMFA || got.RetentionDays != 30 || !got.CreatedAt.Equal(t0) {
		t.Fatalf("OrgByID after UpdateOrg = %+v", got)
	}
	wantCode(t, "OrgByID of a missing org", db.View(ctx, func(tx *Tx) error { _, err := OrgByID(ctx, tx, "nope"); return err }), domain.ENotFound)

	alpha := newOrg(t, db, "Alpha")
	carol, alice, bob := newUser(t, db, "carol@example.com"), newUser(t, db, "alice@example.com"), newUser(t, db, "bob@example.com")
	update(t, db, func(tx *Tx) error {
		for _, m := range []struct {
			org, user string
			role      domain.Role
		}{
			{o.ID, carol.ID, domain.RoleViewer},
			{o.ID, alice.ID, domain.RoleOwner},
			{o.ID, bob.ID, domain.RoleOwner},
			{alpha.ID, alice.ID, domain.RoleDeveloper},
		} {
			if err := PutMember(ctx, tx, m.org, m.user, m.role); err != nil {
				return err
			}
		}
		return nil
	})
	owners := func() (n int) {
		view(t, db, func(tx *Tx) (err error) { n, err = CountOwners(ctx, tx, o.ID); return err })
		return n
	}
	if n := owners(); n != 2 {
		t.Fatalf("CountOwners = %d, want 2", n)
	}

	// Changing a role is an upsert: one row, the new role, the old join time.
	*now = t0.Add(time.Hour)
	update(t, db, func(tx *Tx) error { return PutMember(ctx, tx, o.ID, bob.ID, domain.RoleAdmin) })
	if n := owners(); n != 1 {
		t.Fatalf("CountOwners after demoting bob = %d, want 1", n)
	}
	var ms []domain.Membership
	view(t, db, func(tx *Tx) (err error) { ms, err = OrgMembers(ctx, tx, o.ID); return err })
	var order []string
	for _, m := range ms {
		order = append(order, m.UserEmail+"="+string(m.Role))
		if m.OrgID != o.ID || m.OrgName != "Zeta Ltd" || !m.CreatedAt.Equal(t0) {
			t.Errorf("member %+v: wrong org or join time (want %v)", m, t0)
		}
	}
	if want := []string{"alice@example.com=owner", "bob@example.com=admin", "carol@example.com=viewer"}; !slices.Equal(order, want) {
		t.Fatalf("OrgMembers = %v, want %v (by email)", order, want)
	}

	view(t, db, func(tx *Tx) (err error) { ms, err = UserMemberships(ctx, tx, alice.ID); return err })
	order = nil
	for _, m := range ms {
		order = append(order, m.OrgName+"="+string(m.Role))
	}
	if want := []string{"Alpha=developer", "Zeta Ltd=owner"}; !slices.Equal(order, want) {
		t.Fatalf("UserMemberships = %v, want %v (by org name)", order, want)
	}

	var m *domain.Membership
	view(t, db, func(tx *Tx) (err error) { m, err = Member(ctx, tx, o.ID, bob.ID); return err })
	if m.Role != domain.RoleAdmin || m.UserName != "bob@example.com" || m.UserMFA {
		t.Fatalf("Member = %+v", m)
	}
	update(t, db, func(tx *Tx) error { return DeleteMember(ctx, tx, o.ID, bob.ID) })
	wantCode(t, "Member after DeleteMember", db.View(ctx, func(tx *Tx) error { _, err := Member(ctx, tx, o.ID, bob.ID); return err }), domain.ENotFound)

	if err := db.Update(ctx, func(tx *Tx) error { return PutMember(ctx, tx, o.ID, bob.ID, "emperor") }); err == nil {
		t.Fatal("PutMember stored an unknown role")
	}
	if n := count(t, db, `SELECT count(*) FROM memberships WHERE org_id = ?`, o.ID); n != 2 {
		t.Fatalf("%d memberships, want 2", n)
	}
}

func testTenantWall(t *testing.T, ctx context.Context, db *DB) {
	a, b := newOrg(t, db, "A"), newOrg(t, db, "B")
	alice := newUser(t, db, "alice@example.com")
	key := &domain.APIKey{OrgID: a.ID, Name: "k", Prefix: "sk_aaaa", Hash: "hash-a", Scopes: []domain.Scope{domain.ScopeRead}}
	inv := &domain.Invitation{OrgID: a.ID, Email: "new@example.com", Role: domain.RoleViewer, InvitedBy: alice.ID, ExpiresAt: db.Now().Add(time.Hour)}
	update(t, db, func(tx *Tx) error {
		if err := PutMember(ctx, tx, a.ID, alice.ID, domain.RoleOwner); err != nil {
			return err
		}
		if err := CreateAPIKey(ctx, tx, key); err != nil {
			return err
		}
		return CreateInvitation(ctx, tx, inv, "invite-hash")
	})

	for _, c := range []struct {
		name string
		fn   func(tx *Tx) error
	}{
		{"APIKey", func(tx *Tx) error { _, err := APIKey(ctx, tx, b.ID, key.ID); return err }},
		{"RevokeAPIKey", func(tx *Tx) error { return RevokeAPIKey(ctx, tx, b.ID, key.ID) }},
		{"DeleteInvitation", func(tx *Tx) error { return DeleteInvitation(ctx, tx, b.ID, inv.ID) }},
		{"Member", func(tx *Tx) error { _, err := Member(ctx, tx, b.ID, alice.ID); return err }},
	} {
		wantCode(t, c.name+" with another org's id", db.Update(ctx, c.fn), domain.ENotFound)
	}
	update(t, db, func(tx *Tx) error {
		if ok, err := AcceptInvitation(ctx, tx, b.ID, inv.ID); err != nil || ok {
			return fmt.Errorf("AcceptInvitation with another org's id = %v, %v", ok, err)
		}
		return TouchAPIKey(ctx, tx, b.ID, key.ID)
	})
	var bKeys []domain.APIKey
	var bInvs []domain.Invitation
	view(t, db, func(tx *Tx) (err error) {
		if bKeys, _, err = APIKeys(ctx, tx, b.ID, domain.Page{}); err != nil {
			return err
		}
		bInvs, err = PendingInvitations(ctx, tx, b.ID)
		return err
	})
	if len(bKeys) != 0 || len(bInvs) != 0 {
		t.Fatalf("org B lists org A's keys %v or invitations %v", bKeys, bInvs)
	}

	// Org A's data is untouched by the attempts through org B.
	var k *domain.APIKey
	var invs []domain.Invitation
	view(t, db, func(tx *Tx) (err error) {
		if k, err = APIKey(ctx, tx, a.ID, key.ID); err != nil {
			return err
		}
		invs, err = PendingInvitations(ctx, tx, a.ID)
		return err
	})
	if k.RevokedAt != nil || k.LastUsedAt != nil || len(invs) != 1 || invs[0].ID != inv.ID || invs[0].AcceptedAt != nil {
		t.Fatalf("org A after org B's attempts: key %+v, invitations %+v", k, invs)
	}

	// Through org A the same calls work, once.
	update(t, db, func(tx *Tx) error {
		if err := RevokeAPIKey(ctx, tx, a.ID, key.ID); err != nil {
			return err
		}
		return DeleteInvitation(ctx, tx, a.ID, inv.ID)
	})
	wantCode(t, "second RevokeAPIKey", db.Update(ctx, func(tx *Tx) error { return RevokeAPIKey(ctx, tx, a.ID, key.ID) }), domain.ENotFound)
	wantCode(t, "APIKeyByHash of a revoked key", db.View(ctx, func(tx *Tx) error { _, err := APIKeyByHash(ctx, tx, "hash-a"); return err }), domain.ENotFound)
	wantCode(t, "second DeleteInvitation", db.Update(ctx, func(tx *Tx) error { return DeleteInvitation(ctx, tx, a.ID, inv.ID) }), domain.ENotFound)
}

func testSessions(t *testing.T, ctx context.Context, db *DB) {
	now := setClock(db, t0)
	u, other := newUser(t, db, "s@example.com"), newUser(t, db, "o@example.com")
	const idle = time.Hour
	s := &domain.Session{ID: "sess-1", UserID: u.ID, CSRFToken: "csrf", IP: "192.0.2.1", UserAgent: "test",
		CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(3 * time.Hour)}
	pending := &domain.Session{ID: "sess-mfa", UserID: u.ID, MFAPending: true, CSRFToken: "c2", CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}
	update(t, db, func(tx *Tx) error {
		if err := CreateSession(ctx, tx, s); err != nil {
			return err
		}
		return CreateSession(ctx, tx, pending)
	})
	live := func() error {
		return db.View(ctx, func(tx *Tx) error {
			got, err := LiveSession(ctx, tx, s.ID, idle)
			if err == nil && (got.UserID != u.ID || got.CSRFToken != "csrf" || got.IP != "192.0.2.1" || got.MFAPending) {
				return fmt.Errorf("LiveSession = %+v", got)
			}
			return err
		})
	}
	touch := func() { update(t, db, func(tx *Tx) error { return TouchSession(ctx, tx, s.ID) }) }

	steps := []struct {
		at    time.Duration // since t0
		touch bool          // touch the session at this time, after checking
		want  string        // "" live, else the error code
	}{
		{0, false, ""},
		{59 * time.Minute, true, ""},
		{time.Hour + 58*time.Minute, true, ""},   // idle counts from the last touch
		{2*time.Hour + 57*time.Minute, true, ""}, // still before the absolute expiry
		{3 * time.Hour, false, domain.ENotFound}, // at the absolute expiry, though seen 2 minutes ago
	}
	for _, st := range steps {
		*now = t0.Add(st.at)
		if err := live(); domain.ErrorCode(err) != st.want {
			t.Fatalf("at t0+%v: LiveSession error %v, want code %q", st.at, err, st.want)
		}
		if st.touch {
			touch()
		}
	}

	// Unused for longer than idle.
	*now = t0
	s2 := &domain.Session{ID: "sess-2", UserID: u.ID, CSRFToken: "c", CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
	update(t, db, func(tx *Tx) error { return CreateSession(ctx, tx, s2) })
	*now = t0.Add(idle + time.Second)
	wantCode(t, "LiveSession idle past the limit", db.View(ctx, func(tx *Tx) error { _, err := LiveSession(ctx, tx, s2.ID, idle); return err }), domain.ENotFound)
	wantCode(t, "LiveSession of an unknown id", db.View(ctx, func(tx *Tx) error { _, err := LiveSession(ctx, tx, "nope", idle); return err }), domain.ENotFound)

	// UserSessions lists live, completed sign-ins only.
	*now = t0.Add(30 * time.Minute)
	var list []domain.Session
	view(t, db, func(tx *Tx) (err error) { list, err = UserSessions(ctx, tx, u.ID, idle); return err })
	var ids []string
	for _, x := range list {
		ids = append(ids, x.ID)
	}
	if want := []string{"sess-1", "sess-2"}; !slices.Equal(ids, want) {
		t.Fatalf("UserSessions = %v, want %v", ids, want)
	}
	update(t, db, func(tx *Tx) error {
		if ok, err := DeleteSession(ctx, tx, other.ID, s.ID); err != nil || ok {
			return fmt.Errorf("DeleteSession of another user's session = %v, %v", ok, err)
		}
		return DeleteUserSessions(ctx, tx, u.ID, s.ID)
	})
	if err := live(); err != nil {
		t.Fatalf("the kept session is gone: %v", err)
	}
	if n := count(t, db, `SELECT count(*) FROM sessions`); n != 1 {
		t.Fatalf("%d sessions after DeleteUserSessions, want 1", n)
	}
}

func testUserTokens(t *testing.T, ctx context.Context, db *DB) {
	now := setClock(db, t0)
	u := newUser(t, db, "tok@example.com")
	use := func(hash, purpose string) (string, string, error) {
		var id, email string
		err := db.Update(ctx, func(tx *Tx) (err error) { id, email, err = UseUserToken(ctx, tx, hash, purpose); return err })
		return id, email, err
	}
	update(t, db, func(tx *Tx) error {
		for _, h := range []string{"h1", "h2", "h3"} {
			if err := CreateUserToken(ctx, tx, h, "verify", u.ID, "new@example.com", time.Hour); err != nil {
				return err
			}
		}
		return nil
	})

	_, _, err := use("h1", "reset")
	wantCode(t, "token used for another purpose", err, domain.ENotFound)
	id, email, err := use("h1", "verify")
	if err != nil || id != u.ID || email != "new@example.com" {
		t.Fatalf("UseUserToken = %q, %q, %v", id, email, err)
	}
	_, _, err = use("h1", "verify")
	wantCode(t, "token used twice", err, domain.ENotFound)
	_, _, err = use("unknown", "verify")
	wantCode(t, "unknown token", err, domain.ENotFound)

	update(t, db, func(tx *Tx) error { return DeleteUserTokens(ctx, tx, u.ID, "verify") })
	_, _, err = use("h2", "verify")
	wantCode(t, "token after DeleteUserTokens", err, domain.ENotFound)

	update(t, db, func(tx *Tx) error { return CreateUserToken(ctx, tx, "h4", "reset", u.ID, "", time.Hour) })
	*now = t0.Add(time.Hour)
	_, _, err = use("h4", "reset")
	wantCode(t, "token at its expiry", err, domain.ENotFound)
	*now = t0.Add(time.Hour - time.Microsecond)
	if id, _, err := use("h4", "reset"); err != nil || id != u.ID {
		t.Fatalf("token just before its expiry: %q, %v", id, err)
	}
}

func testRecoveryCodes(t *testing.T, ctx context.Context, db *DB) {
	u, other := newUser(t, db, "r@example.com"), newUser(t, db, "x@example.com")
	use := func(userID, hash string) bool {
		var ok bool
		update(t, db, func(tx *Tx) (err error) { ok, err = UseRecoveryCode(ctx, tx, userID, hash); return err })
		return ok
	}
	left := func() int {
		var n int
		view(t, db, func(tx *Tx) (err error) { n, err = CountRecoveryCodes(ctx, tx, u.ID); return err })
		return n
	}
	update(t, db, func(tx *Tx) error { return ReplaceRecoveryCodes(ctx, tx, u.ID, []string{"a", "b", "c"}) })
	steps := []struct {
		user, code string
		want       bool
		left       int
	}{
		{u.ID, "a", true, 2},
		{u.ID, "a", false, 2},
		{other.ID, "b", false, 2},
		{u.ID, "zz", false, 2},
		{u.ID, "b", true, 1},
	}
	for _, st := range steps {
		if got := use(st.user, st.code); got != st.want {
			t.Fatalf("UseRecoveryCode(%s) = %v, want %v", st.code, got, st.want)
		}
		if n := left(); n != st.left {
			t.Fatalf("after using %s: %d codes left, want %d", st.code, n, st.left)
		}
	}
	update(t, db, func(tx *Tx) error { return ReplaceRecoveryCodes(ctx, tx, u.ID, []string{"d", "e"}) })
	if use(u.ID, "c") {
		t.Fatal("an old code works after ReplaceRecoveryCodes")
	}
	if n := left(); n != 2 || !use(u.ID, "d") {
		t.Fatalf("after replacing: %d codes left, want 2 and d usable", n)
	}
}

func testThrottle(t *testing.T, ctx context.Context, db *DB) {
	now := setClock(db, t0)
	const window = 15 * time.Minute
	add := func(key string) {
		update(t, db, func(tx *Tx) error { return AddThrottleFailure(ctx, tx, key, tx.Now().Add(-window)) })
	}
	check := func(key string, wantN int, wantStart time.Time) {
		t.Helper()
		var n int
		var start time.Time
		view(t, db, func(tx *Tx) (err error) {
			n, start, err = ThrottleFailures(ctx, tx, key, tx.Now().Add(-window))
			return err
		})
		if n != wantN || !start.Equal(wantStart) {
			t.Fatalf("at %v: ThrottleFailures(%s) = %d since %v, want %d since %v", now.Sub(t0), key, n, start, wantN, wantStart)
		}
	}
	check("acct:a", 0, time.Time{})
	for range 3 {
		add("acct:a")
	}
	add("ip:1")
	check("acct:a", 3, t0)
	check("ip:1", 1, t0)

	*now = t0.Add(10 * time.Minute)
	add("acct:a")
	check("acct:a", 4, t0) // same window

	*now = t0.Add(window + time.Second)
	check("acct:a", 0, time.Time{}) // the window is over
	add("acct:a")
	check("acct:a", 1, *now) // a new window

	update(t, db, func(tx *Tx) error { return ClearThrottle(ctx, tx, "acct:a") })
	check("acct:a", 0, time.Time{})
	*now = t0.Add(time.Minute)
	check("ip:1", 1, t0) // other keys untouched
}

func testAPIKeyPages(t *testing.T, ctx context.Context, db *DB) {
	org, other := newOrg(t, db, "Keys"), newOrg(t, db, "Other")
	var created []string
	update(t, db, func(tx *Tx) error {
		for i := range 7 {
			k := &domain.APIKey{OrgID: org.ID, Name: fmt.Sprintf("key %d", i), Prefix: fmt.Sprintf("sk_%d", i), Hash: fmt.Sprintf("hash-%d", i),
				Scopes: []domain.Scope{domain.ScopeRead, domain.ScopeRecipientsRead}}
			if err := CreateAPIKey(ctx, tx, k); err != nil {
				return err
			}
			created = append(created, k.ID)
		}
		return CreateAPIKey(ctx, tx, &domain.APIKey{OrgID: other.ID, Name: "o", Prefix: "sk_o", Hash: "hash-o", Scopes: []domain.Scope{domain.ScopeAdmin}})
	})
	update(t, db, func(tx *Tx) error { return RevokeAPIKey(ctx, tx, org.ID, created[2]) })
	list := func(p domain.Page) ([]domain.APIKey, string, error) {
		var keys []domain.APIKey
		var next string
		err := db.View(ctx, func(tx *Tx) (err error) { keys, next, err = APIKeys(ctx, tx, org.ID, p); return err })
		return keys, next, err
	}

	// Walk every page of 3.
	var seen []string
	sizes := []int{}
	cursor := ""
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("pagination does not end")
		}
		keys, next, err := list(domain.Page{Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(keys))
		for _, k := range keys {
			if k.OrgID != org.ID || !slices.Equal(k.Scopes, []domain.Scope{domain.ScopeRead, domain.ScopeRecipientsRead}) {
				t.Fatalf("listed key %+v", k)
			}
			if (k.ID == created[2]) != (k.RevokedAt != nil) {
				t.Fatalf("key %s revoked_at = %v", k.ID, k.RevokedAt)
			}
			seen = append(seen, k.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(sizes, []int{3, 3, 1}) {
		t.Fatalf("page sizes %v, want [3 3 1]", sizes)
	}
	want := slices.Clone(created)
	slices.Sort(want)
	slices.Reverse(want)
	if !slices.Equal(seen, want) {
		t.Fatalf("pages listed %v, want every key once, newest id first: %v", seen, want)
	}

	for _, c := range []struct {
		limit    int
		wantN    int
		wantNext bool
	}{
		{1, 1, true},
		{6, 6, true},
		{7, 7, false},
		{200, 7, false},
		{0, 7, false}, // the default
	} {
		keys, next, err := list(domain.Page{Limit: c.limit})
		if err != nil || len(keys) != c.wantN || (next != "") != c.wantNext {
			t.Fatalf("limit %d: %d keys, next %q, %v; want %d keys, next %v", c.limit, len(keys), next, err, c.wantN, c.wantNext)
		}
	}
	for _, c := range []struct {
		page  domain.Page
		field string
	}{
		{domain.Page{Limit: -1}, "limit"},
		{domain.Page{Limit: 201}, "limit"},
		{domain.Page{Limit: 3, Cursor: "not a cursor!"}, "cursor"},
		{domain.Page{Limit: 3, Cursor: "="}, "cursor"},
	} {
		_, _, err := list(c.page)
		wantField(t, fmt.Sprintf("APIKeys(%+v)", c.page), err, c.field)
	}
}

func testAudit(t *testing.T, ctx context.Context, db *DB) {
	a, b := newOrg(t, db, "A"), newOrg(t, db, "B")
	entries := []domain.AuditEntry{
		{ID: "a01", OrgID: a.ID, At: t0, ActorName: "Alice@Example.com", Action: "member.invited"},
		{ID: "a02", OrgID: a.ID, At: t0.Add(time.Hour), ActorName: "bob@example.com", Action: "member.removed"},
		{ID: "a03", OrgID: a.ID, At: t0.Add(2 * time.Hour), ActorName: "API key sk_abcd1234", Action: "members.listed"},
		{ID: "a04", OrgID: a.ID, At: t0.Add(3 * time.Hour), ActorName: "100%_real@example.com", Action: "org.created"},
		{ID: "a05", OrgID: a.ID, At: t0.Add(4 * time.Hour), ActorName: "xreal@example.com", Action: "apixkey.rotated"},
		{ID: "a06", OrgID: a.ID, At: t0.Add(5 * time.Hour), ActorName: "system", Action: "member"},
		{ID: "b01", OrgID: b.ID, At: t0.Add(time.Hour), ActorName: "alice@example.com", Action: "member.invited"},
	}
	update(t, db, func(tx *Tx) error {
		for i := range entries {
			if err := AddAudit(ctx, tx, &entries[i]); err != nil {
				return err
			}
		}
		return nil
	})
	list := func(f domain.AuditFilter) ([]string, string, error) {
		var ids []string
		var next string
		err := db.View(ctx, func(tx *Tx) (err error) {
			next, err = Audit(ctx, tx, a.ID, f, func(e *domain.AuditEntry) error {
				if e.OrgID != a.ID {
					return fmt.Errorf("entry of org %s listed", e.OrgID)
				}
				if i := slices.IndexFunc(entries, func(x domain.AuditEntry) bool { return x.ID == e.ID }); i < 0 ||
					!e.At.Equal(entries[i].At) || e.At.Location() != time.UTC || e.ActorName != entries[i].ActorName {
					return fmt.Errorf("entry %+v does not match what was stored", e)
				}
				ids = append(ids, e.ID)
				return nil
			})
			return err
		})
		return ids, next, err
	}
	west := time.FixedZone("W", -8*3600)
	for _, c := range []struct {
		name string
		f    domain.AuditFilter
		want []string
	}{
		{"all, newest first", domain.AuditFilter{}, []string{"a06", "a05", "a04", "a03", "a02", "a01"}},
		{"exact action", domain.AuditFilter{Action: "member.invited"}, []string{"a01"}},
		{"exact action is not a prefix", domain.AuditFilter{Action: "member"}, []string{"a06"}},
		{"action prefix", domain.AuditFilter{Action: "member."}, []string{"a02", "a01"}},
		{"underscore in a prefix is literal", domain.AuditFilter{Action: "api_key."}, nil},
		{"actor any case", domain.AuditFilter{Actor: "ALICE"}, []string{"a01"}},
		{"actor substring", domain.AuditFilter{Actor: "EXAMPLE.COM"}, []string{"a05", "a04", "a02", "a01"}},
		{"percent in actor is literal", domain.AuditFilter{Actor: "%"}, []string{"a04"}},
		{"underscore in actor is literal", domain.AuditFilter{Actor: "_real"}, []string{"a04"}},
		{"backslash in actor is literal", domain.AuditFilter{Actor: `\`}, nil},
		{"no match", domain.AuditFilter{Actor: "mallory"}, nil},
		{"since, inclusive", domain.AuditFilter{Since: t0.Add(4 * time.Hour).In(west)}, []string{"a06", "a05"}},
		{"until, exclusive", domain.AuditFilter{Until: t0.Add(time.Hour).In(west)}, []string{"a01"}},
		{"since and until", domain.AuditFilter{Since: t0.Add(time.Minute), Until: t0.Add(3*time.Hour + time.Second)}, []string{"a04", "a03", "a02"}},
		{"combined", domain.AuditFilter{Action: "member.", Actor: "bob", Since: t0.Add(-time.Hour)}, []string{"a02"}},
		{"export: every row", domain.AuditFilter{Page: domain.Page{Limit: -1}}, []string{"a06", "a05", "a04", "a03", "a02", "a01"}},
	} {
		got, next, err := list(c.f)
		if err != nil || !slices.Equal(got, c.want) || next != "" {
			t.Errorf("%s: Audit = %v, next %q, %v; want %v", c.name, got, next, err, c.want)
		}
	}

	// Pages of 4: every entry once.
	first, next, err := list(domain.AuditFilter{Page: domain.Page{Limit: 4}})
	if err != nil || !slices.Equal(first, []string{"a06", "a05", "a04", "a03"}) || next == "" {
		t.Fatalf("first page = %v, next %q, %v", first, next, err)
	}
	second, next2, err := list(domain.AuditFilter{Page: domain.Page{Limit: 4, Cursor: next}})
	if err != nil || !slices.Equal(second, []string{"a02", "a01"}) || next2 != "" {
		t.Fatalf("second page = %v, next %q, %v", second, next2, err)
	}
	_, _, err = list(domain.AuditFilter{Page: domain.Page{Limit: MaxLimit + 1}})
	wantField(t, "Audit with too large a limit", err, "limit")
	_, _, err = list(domain.AuditFilter{Page: domain.Page{Cursor: "***"}})
	wantField(t, "Audit with a bad cursor", err, "cursor")
}

func testNoticePrefs(t *testing.T, ctx context.Context, db *DB) {
	u, other := newUser(t, db, "n@example.com"), newUser(t, db, "m@example.com")
	prefs := func(userID string) map[string]bool {
		var p map[string]bool
		view(t, db, func(tx *Tx) (err error) { p, err = NoticePrefs(ctx, tx, userID); return err })
		return p
	}
	p := prefs(u.ID)
	if len(p) != len(domain.NoticeKinds) {
		t.Fatalf("NoticePrefs = %v, want every kind", p)
	}
	for _, k := range domain.NoticeKinds {
		if !p[k.Key] {
			t.Fatalf("notice %q is off by default", k.Key)
		}
	}
	kind := domain.NoticeKinds[0].Key
	for _, on := range []bool{false, false, true, false} {
		update(t, db, func(tx *Tx) error { return SetNoticePref(ctx, tx, u.ID, kind, on) })
		if p := prefs(u.ID); p[kind] != on || !p[domain.NoticeKinds[1].Key] {
			t.Fatalf("after SetNoticePref(%s, %v): %v", kind, on, p)
		}
	}
	if n := count(t, db, `SELECT count(*) FROM notice_prefs WHERE user_id = ?`, u.ID); n != 1 {
		t.Fatalf("%d stored preferences, want 1 (an upsert)", n)
	}
	if !prefs(other.ID)[kind] {
		t.Fatal("one user's preference changed another's")
	}
}

func testDeleteExpired(t *testing.T, ctx context.Context, db *DB) {
	now := setClock(db, t0)
	u := newUser(t, db, "d@example.com")
	const idle = time.Hour
	update(t, db, func(tx *Tx) error {
		for _, s := range []domain.Session{
			{ID: "live", LastSeenAt: t0, ExpiresAt: t0.Add(48 * time.Hour)},
			{ID: "idle", LastSeenAt: t0.Add(-2 * idle), ExpiresAt: t0.Add(48 * time.Hour)},
			{ID: "over", LastSeenAt: t0, ExpiresAt: t0.Add(time.Minute)},
		} {
			s.UserID, s.CSRFToken, s.CreatedAt = u.ID, "c", t0.Add(-3*idle)
			if err := CreateSession(ctx, tx, &s); err != nil {
				return err
			}
		}
		if err := CreateUserToken(ctx, tx, "live-token", "verify", u.ID, "", time.Hour); err != nil {
			return err
		}
		return AddThrottleFailure(ctx, tx, "k", t0.Add(-time.Minute))
	})
	*now = t0.Add(2 * time.Minute)
	var n int64
	update(t, db, func(tx *Tx) (err error) { n, err = DeleteExpired(ctx, tx, idle); return err })
	if n != 2 {
		t.Fatalf("DeleteExpired = %d rows, want 2 (the idle and the expired session)", n)
	}
	var ids []string
	view(t, db, func(tx *Tx) error {
		rows, err := tx.Query(ctx, `SELECT id FROM sessions ORDER BY id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	if !slices.Equal(ids, []string{"live"}) {
		t.Fatalf("sessions left: %v, want [live]", ids)
	}
	if c := count(t, db, `SELECT count(*) FROM user_tokens`) + count(t, db, `SELECT count(*) FROM login_throttle`); c != 2 {
		t.Fatalf("%d live tokens and throttle windows left, want 2", c)
	}

	// A day later the token and the throttle window go too.
	*now = t0.Add(26 * time.Hour)
	update(t, db, func(tx *Tx) (err error) { n, err = DeleteExpired(ctx, tx, idle); return err })
	if n != 3 {
		t.Fatalf("DeleteExpired a day later = %d rows, want 3", n)
	}
	for _, table := range []string{"sessions", "user_tokens", "login_throttle"} {
		if c := count(t, db, `SELECT count(*) FROM `+table); c != 0 {
			t.Errorf("%d rows left in %s", c, table)
		}
	}
}
