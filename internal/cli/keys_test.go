package cli_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"sendops/internal/cli"
	"sendops/internal/config"
	"sendops/internal/domain"
	"sendops/internal/service"
	"sendops/internal/sesevent"
	"sendops/internal/sesim"
	"sendops/internal/store"
	"sendops/internal/testutil/testdb"
)

const (
	keyA = "rotate-test-first-secret-key-0123456789ab"
	keyB = "rotate-test-second-secret-key-0123456789a"
)

// openProgram opens a whole server on env's database and secret keys.
func openProgram(t *testing.T, env map[string]string) (*cli.Program, error) {
	t.Helper()
	cfg, err := config.Load(nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, true)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cli.Program{Config: cfg, LogOutput: io.Discard, Listener: ln, AWSBase: &aws.Config{Region: "us-east-1"}}
	if err := p.Open(t.Context()); err != nil {
		ln.Close()
		return nil, err
	}
	return p, nil
}

func mustOpen(t *testing.T, env map[string]string) *cli.Program {
	t.Helper()
	p, err := openProgram(t, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// sealedValues returns every sealed value in the database, by column and
// row.
func sealedValues(t *testing.T, dsn string) map[string]string {
	t.Helper()
	db := openStore(t, dsn)
	out := map[string]string{}
	for _, c := range store.SealedColumns {
		err := db.View(t.Context(), func(tx *store.Tx) error {
			rows, err := tx.Query(t.Context(), `SELECT `+strings.Join(c.Key, " || '/' || ")+`, `+c.Column+` FROM `+c.Table+` WHERE `+c.Column+` <> ''`)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var k, v string
				if err := rows.Scan(&k, &v); err != nil {
					return err
				}
				out[c.Table+"."+c.Column+" "+k] = v
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// allUnder fails unless every value is sealed under version.
func allUnder(t *testing.T, values map[string]string, version int) {
	t.Helper()
	for k, v := range values {
		if !strings.HasPrefix(v, fmt.Sprintf("v%d:", version)) {
			t.Errorf("%s is sealed as %.4s…, not under key version %d", k, v, version)
		}
	}
}

// keysFixture is what the test seals: a pending TOTP secret, a connection
// with access keys to a sesim account, the organisation's key (made by the
// ingest path on the first event) and the connection's pipeline secret.
type keysFixture struct {
	user     *domain.User
	org      *domain.Org
	conn     *domain.Connection
	totp     string
	messages int
}

// works proves that a server opens every sealed value through the code
// that uses it: the TOTP secret is the one made, the connection's access
// key reaches sesim, and the ingest path stores an event with the
// organisation's key.
func (f *keysFixture) works(t *testing.T, p *cli.Program, when string) {
	t.Helper()
	ctx := t.Context()
	u, err := p.Service.User(ctx, f.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	if setup, err := p.Service.PendingMFA(ctx, u); err != nil || setup == nil || setup.Secret != f.totp {
		t.Fatalf("%s: the pending TOTP secret is %+v, %v; want %q", when, setup, err, f.totp)
	}
	if acc, err := p.Service.SESAccount(ctx, service.SystemActor(f.org.ID), f.conn.ID); err != nil || acc.EnforcementStatus == "" {
		t.Fatalf("%s: the connection's access key does not reach sesim: %+v, %v", when, acc, err)
	}
	// The pipeline's status opens its secret (to tell whether it is current).
	if pl, err := p.Service.Pipeline(ctx, service.SystemActor(f.org.ID), f.conn.ID); err != nil {
		t.Fatalf("%s: the pipeline's status: %+v, %v", when, pl, err)
	}
	f.messages++
	ev, err := sesevent.Parse(fmt.Appendf(nil, `{"eventType":"Send","mail":{"timestamp":"2026-03-10T09:59:58.000Z","messageId":"msg-%d",
		"source":"news@mail.shop.example","destination":["ana@example.com"],"commonHeaders":{"subject":"Hi"}},"send":{}}`, f.messages))
	if err != nil {
		t.Fatal(err)
	}
	if stored, err := p.Ingest.Write(ctx, f.conn, ev); err != nil || !stored {
		t.Fatalf("%s: ingest with the organisation's key: %v, %v", when, stored, err)
	}
}

// keys rotate re-seals every sealed value under a new key version, while a
// server that started before it keeps working, and moves values from one
// secret key to another with SENDOPS_SECRET_KEY_PREVIOUS.
func TestKeysRotate(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		ctx := t.Context()
		sim := sesim.New(sesim.Options{})
		t.Cleanup(func() { sim.Close() })
		srv := httptest.NewServer(sim.Handler())
		t.Cleanup(srv.Close)
		const customer = "123456789012"
		sim.AddAccount(customer)
		keyID, keySecret := sim.AddAccessKey(customer, "selfhost")

		envA := map[string]string{"SENDOPS_DB": e.DSN, "SENDOPS_SECRET_KEY": keyA, "SENDOPS_ALLOW_AWS_ENDPOINT": "1", "SENDOPS_ADDR": "127.0.0.1:0"}
		first := mustOpen(t, envA)
		f := &keysFixture{}
		var err error
		if f.user, f.org, err = first.Service.CreateUser(ctx, service.SignUp{Name: "Ana", Email: "ana@shop.example", Password: "correct horse battery staple", OrgName: "Shop"}); err != nil {
			t.Fatal(err)
		}
		setup, err := first.Service.BeginMFA(ctx, f.user.ID)
		if err != nil {
			t.Fatal(err)
		}
		f.totp = setup.Secret
		if f.conn, _, err = first.Service.CreateConnection(ctx, service.SystemActor(f.org.ID), service.ConnectionInput{
			Name: "selfhost", AWSAccountID: customer, Region: "us-east-1", AccessKeyID: keyID, SecretAccessKey: keySecret, Endpoint: srv.URL}); err != nil {
			t.Fatal(err)
		}
		if _, err := first.Service.SetUpPipeline(ctx, service.SystemActor(f.org.ID), f.conn.ID, service.PipelineInput{}); err != nil {
			t.Fatal(err)
		}
		f.works(t, first, "before any rotation")
		before := sealedValues(t, e.DSN)
		if len(before) != 4 {
			t.Fatalf("sealed values: %v; want a TOTP secret, a connection secret, an organisation key and a pipeline secret", before)
		}
		allUnder(t, before, 1)

		// Rotate while the first server runs.
		status, out, errOut := sendops(ctx, envA, "keys", "rotate", "--db", e.DSN)
		if want := "re-sealed 1 connection secret, 1 TOTP secret, 1 organisation key, 1 pipeline secret, 0 Git credentials and 0 Git webhook secrets under key version 2\n"; status != 0 || !strings.HasPrefix(out, want) || errOut != "" {
			t.Fatalf("keys rotate = %d, stdout %q, stderr %q; want 0 and %q", status, out, errOut, want)
		}
		after := sealedValues(t, e.DSN)
		allUnder(t, after, 2)
		for k, v := range before {
			if after[k] == v || after[k] == "" {
				t.Errorf("%s was not re-sealed", k)
			}
		}
		// The running server opens the new version and keeps sealing under
		// the one it started with, which opens too.
		f.works(t, first, "on a server started before the rotation")
		if _, err := first.Service.BeginMFA(ctx, f.user.ID); err != nil {
			t.Fatal(err)
		}
		straggler := sealedValues(t, e.DSN)
		if v := straggler["users.totp_secret "+f.user.ID]; !strings.HasPrefix(v, "v1:") {
			t.Fatalf("the server started before the rotation sealed %.4s…, want v1:", v)
		}
		if setup, err := first.Service.PendingMFA(ctx, mustUser(t, first, f.user.ID)); err != nil {
			t.Fatal(err)
		} else {
			f.totp = setup.Secret
		}
		first.Close()

		// Run again: it finishes what the rotation left (the straggler)
		// under the same version rather than making another.
		status, out, errOut = sendops(ctx, envA, "keys", "rotate", "--db", e.DSN)
		if want := "re-sealed 0 connection secrets, 1 TOTP secret, 0 organisation keys, 0 pipeline secrets, 0 Git credentials and 0 Git webhook secrets under key version 2\n"; status != 0 || !strings.HasPrefix(out, want) || !strings.Contains(out, "already the newest") {
			t.Fatalf("keys rotate again = %d, stdout %q, stderr %q; want 0 and %q", status, out, errOut, want)
		}
		allUnder(t, sealedValues(t, e.DSN), 2)
		second := mustOpen(t, envA)
		f.works(t, second, "after the rotation")
		second.Close()

		// The secret key changes. Without the old key nothing starts, and the
		// error names the setting to give.
		envB := with(envA, "SENDOPS_SECRET_KEY", keyB)
		for _, c := range []struct {
			env     map[string]string
			setting string
		}{
			{envB, "SENDOPS_SECRET_KEY"},
			{with(envB, "SENDOPS_SECRET_KEY_PREVIOUS", "not-the-old-key-either-0123456789abcdef"), "SENDOPS_SECRET_KEY_PREVIOUS"},
		} {
			status, out, errOut := sendops(ctx, c.env, "keys", "rotate")
			line := regexp.MustCompile(`^sendops: invalid ` + c.setting + `: .*key version 2.*fingerprint [0-9a-f]{16}.*\n$`)
			if status != 2 || out != "" || !line.MatchString(errOut) {
				t.Errorf("keys rotate with the wrong keys = %d, stdout %q, stderr %q; want 2 and one line naming %s", status, out, errOut, c.setting)
			}
			_, err := openProgram(t, c.env)
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Setting != c.setting {
				t.Errorf("a server with the wrong keys: %v; want an error naming %s", err, c.setting)
			}
		}
		allUnder(t, sealedValues(t, e.DSN), 2)

		// With the old key as the previous one, a server starts and seals
		// under a new version of the new key; rotation moves the rest.
		envBA := with(envB, "SENDOPS_SECRET_KEY_PREVIOUS", keyA)
		third := mustOpen(t, envBA)
		f.works(t, third, "with the new key and the previous one")
		third.Close()
		status, out, errOut = sendops(ctx, envBA, "keys", "rotate")
		if want := "re-sealed 1 connection secret, 1 TOTP secret, 1 organisation key, 1 pipeline secret, 0 Git credentials and 0 Git webhook secrets under key version 3\n"; status != 0 || !strings.HasPrefix(out, want) || !strings.Contains(out, "remove SENDOPS_SECRET_KEY_PREVIOUS") {
			t.Fatalf("keys rotate to the new key = %d, stdout %q, stderr %q; want 0 and %q", status, out, errOut, want)
		}
		allUnder(t, sealedValues(t, e.DSN), 3)
		// Now the old key is needed no more.
		fourth := mustOpen(t, envB)
		f.works(t, fourth, "with the new key alone")
	})
}

func mustUser(t *testing.T, p *cli.Program, id string) *domain.User {
	t.Helper()
	u, err := p.Service.User(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// A database sealed before key versions were recorded opens with the key
// that sealed it; another key is refused before anything is recorded.
func TestKeysFirstStart(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		ctx := context.Background()
		env := map[string]string{"SENDOPS_DB": e.DSN, "SENDOPS_SECRET_KEY": keyA, "SENDOPS_ADDR": "127.0.0.1:0"}
		p := mustOpen(t, env)
		u, _, err := p.Service.CreateUser(ctx, service.SignUp{Name: "Ana", Email: "ana@shop.example", Password: "correct horse battery staple", OrgName: "Shop"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Service.BeginMFA(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		p.Close()
		// As if sealed by a server that did not record versions.
		db := openStore(t, e.DSN)
		forget := func() {
			if err := db.Update(ctx, func(tx *store.Tx) error { _, err := tx.Exec(ctx, `DELETE FROM seal_keys`); return err }); err != nil {
				t.Fatal(err)
			}
		}
		forget()

		// A previous key that is not the one does not stop the right key.
		p = mustOpen(t, with(env, "SENDOPS_SECRET_KEY_PREVIOUS", keyB))
		if _, err := p.Service.PendingMFA(ctx, mustUser(t, p, u.ID)); err != nil {
			t.Fatalf("the TOTP secret does not open with the key that sealed it: %v", err)
		}
		p.Close()
		forget()

		_, err = openProgram(t, with(env, "SENDOPS_SECRET_KEY", keyB))
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Setting != "SENDOPS_SECRET_KEY" || !strings.Contains(ce.Problem, "do not open") {
			t.Fatalf("another key on a database without versions: %v", err)
		}
		if n := countRows(t, db, `SELECT count(*) FROM seal_keys`); n != 0 {
			t.Fatalf("a refused key recorded %d versions", n)
		}
		// The previous key, when given, is the one that sealed them.
		p = mustOpen(t, with(env, "SENDOPS_SECRET_KEY", keyB, "SENDOPS_SECRET_KEY_PREVIOUS", keyA))
		if _, err := p.Service.PendingMFA(ctx, mustUser(t, p, u.ID)); err != nil {
			t.Fatalf("the TOTP secret does not open with the previous key: %v", err)
		}
		if _, err := p.Service.BeginMFA(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if v := sealedValues(t, e.DSN)["users.totp_secret "+u.ID]; !strings.HasPrefix(v, "v2:") {
			t.Fatalf("a new value was sealed as %.4s…; want v2: (the new key's version)", v)
		}
	})
}

func countRows(t *testing.T, db *store.DB, q string) int {
	t.Helper()
	var n int
	if err := db.View(t.Context(), func(tx *store.Tx) error { return tx.QueryRow(t.Context(), q).Scan(&n) }); err != nil {
		t.Fatal(err)
	}
	return n
}
