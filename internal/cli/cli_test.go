package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sendops/internal/cli"
	"sendops/internal/domain"
	"sendops/internal/secret"
	"sendops/internal/store"
	"sendops/internal/testutil/testdb"
)

var (
	orgIDLine  = regexp.MustCompile(`^[0-9abcdefghjkmnpqrstvwxyz]{26}\n$`)
	apiKeyLine = regexp.MustCompile(`^sk_[A-Za-z0-9_-]{20,}\n$`)
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// sendops runs the command as the binary would, with env as its whole
// environment, and returns its exit status and output.
func sendops(ctx context.Context, env map[string]string, args ...string) (status int, stdout, stderr string) {
	var out, errOut syncBuffer
	status = cli.Main(ctx, args, &out, &errOut, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	return status, out.String(), errOut.String()
}

// engineEnv is the environment the commands run with on an engine.
func engineEnv(e testdb.Engine) map[string]string {
	env := map[string]string{}
	if e.Name == "postgres" {
		env["SENDOPS_SECRET_KEY"] = "cli-test-secret-key-0123456789abcdefghij"
	}
	return env
}

func with(env map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func openStore(t *testing.T, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestCommands(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		ctx := t.Context()
		env := engineEnv(e)
		db := openStore(t, e.DSN)
		known := db.KnownVersion()
		// Every migration file, whose numbers may have gaps while another
		// one is written.
		files, globErr := filepath.Glob(filepath.Join("..", "store", "migrations", e.Name, "*.sql"))
		if globErr != nil || len(files) == 0 {
			t.Fatalf("migration files: %v %v", files, globErr)
		}

		// migrate, twice.
		for _, applied := range []int{len(files), 0} {
			status, out, errOut := sendops(ctx, env, "migrate", "--db", e.DSN)
			if want := fmt.Sprintf("schema at version %d (%d migrations applied)\n", known, applied); status != 0 || out != want || errOut != "" {
				t.Fatalf("migrate = %d, stdout %q, stderr %q; want 0, %q", status, out, errOut, want)
			}
		}
		if err := db.CheckSchema(ctx); err != nil {
			t.Fatalf("schema after sendops migrate: %v", err)
		}

		status, out, errOut := sendops(ctx, env, "version")
		if status != 0 || out != "sendops "+cli.Version+"\n" || errOut != "" {
			t.Fatalf("version = %d, %q, %q", status, out, errOut)
		}

		// user create prints the new organisation's id, and nothing else.
		pwFile := filepath.Join(t.TempDir(), "password")
		if err := os.WriteFile(pwFile, []byte("correct horse battery staple\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		status, out, errOut = sendops(ctx, with(env, "SENDOPS_DB", e.DSN), "user", "create", "--email", "Owner@Example.com", "--password-file", pwFile, "--org", "Acme Mail")
		if status != 0 || !orgIDLine.MatchString(out) || errOut != "" {
			t.Fatalf("user create = %d, stdout %q, stderr %q; want 0 and an organisation id", status, out, errOut)
		}
		orgID := strings.TrimSpace(out)
		var u *domain.User
		var m *domain.Membership
		var org *domain.Org
		err := db.View(ctx, func(tx *store.Tx) (err error) {
			if u, err = store.UserByEmail(ctx, tx, "owner@example.com"); err != nil {
				return err
			}
			if org, err = store.OrgByID(ctx, tx, orgID); err != nil {
				return err
			}
			m, err = store.Member(ctx, tx, orgID, u.ID)
			return err
		})
		if err != nil {
			t.Fatalf("what user create stored: %v", err)
		}
		if org.Name != "Acme Mail" || m.Role != domain.RoleOwner || u.Name != "Owner" || !u.EmailVerified() ||
			!secret.CheckPassword(u.PasswordHash, "correct horse battery staple") {
			t.Fatalf("user create stored org %+v, membership %+v, user %+v", org, m, u)
		}

		// The same address again is refused, with one line.
		status, out, errOut = sendops(ctx, env, "user", "create", "--db", e.DSN, "--email", "owner@EXAMPLE.com", "--password-file", pwFile, "--org", "Again")
		if status != 1 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "already exists") {
			t.Fatalf("duplicate user create = %d, stdout %q, stderr %q", status, out, errOut)
		}

		// apikey create prints the key, and nothing else.
		status, out, errOut = sendops(ctx, env, "apikey", "create", "--db", e.DSN, "--org", orgID, "--scopes", "read,write,recipients:read,admin", "--name", "CI")
		if status != 0 || !apiKeyLine.MatchString(out) || errOut != "" {
			t.Fatalf("apikey create = %d, stdout %q, stderr %q; want 0 and a key", status, out, errOut)
		}
		key := strings.TrimSpace(out)
		var k *domain.APIKey
		if err := db.View(ctx, func(tx *store.Tx) (err error) {
			k, err = store.APIKeyByHash(ctx, tx, secret.HashToken(key))
			return err
		}); err != nil {
			t.Fatalf("the printed key is not stored: %v", err)
		}
		if k.OrgID != orgID || k.Name != "CI" || !slices.Equal(k.Scopes, domain.Scopes) || !strings.HasPrefix(key, k.Prefix) {
			t.Fatalf("stored key %+v", k)
		}

		status, out, errOut = sendops(ctx, env, "apikey", "create", "--db", e.DSN, "--org", domain.NewID(), "--name", "ghost")
		if status != 1 || out != "" || strings.Count(errOut, "\n") != 1 {
			t.Fatalf("apikey create for a missing org = %d, stdout %q, stderr %q; want 1 and one line", status, out, errOut)
		}

		// The server, started the way the binary starts it.
		serveAndCall(t, env, e.DSN, orgID, key)

		// A schema newer than this binary is refused.
		err = db.Update(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`, known+1, "future.sql", "2099-01-01T00:00:00.000000Z")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"migrate", "--db", e.DSN}, {"serve", "--db", e.DSN, "--addr", "127.0.0.1:0"}} {
			status, out, errOut := sendops(ctx, env, args...)
			if status == 0 || out != "" || !strings.Contains(errOut, "newer") {
				t.Fatalf("%s on a newer schema = %d, stdout %q, stderr %q; want a failure", args[0], status, out, errOut)
			}
		}
	})
}

// serveAndCall runs "sendops serve" until its context is cancelled, and
// uses the API key against it.
func serveAndCall(t *testing.T, env map[string]string, dsn, orgID, key string) {
	t.Helper()
	run := startMain(t, "serve", dsn, env)
	ctx, addr, done, errOut := run.ctx, run.addr, run.done, &run.errOut

	client := &http.Client{Timeout: 2 * time.Second}
	base := "http://" + addr
	get := func(path, key string) (int, []byte) {
		req, err := http.NewRequestWithContext(ctx, "GET", base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.Bytes()
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, path := range []string{"/healthz", "/readyz"} {
		for {
			if code, _ := get(path, ""); code == http.StatusOK {
				break
			}
			select {
			case status := <-done:
				t.Fatalf("serve exited with %d before %s answered; stderr:\n%s", status, path, errOut.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not answer 200 within 10 s; stderr:\n%s", path, errOut.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	code, body := get("/api/v1/org", key)
	var org struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal(body, &org); code != http.StatusOK || err != nil || org.ID != orgID || org.Name != "Acme Mail" {
		t.Fatalf("GET /api/v1/org with the printed key = %d %s (%v); want the org %s", code, body, err, orgID)
	}
	for _, bad := range []string{"", "sk_not-a-key"} {
		if code, body := get("/api/v1/org", bad); code != http.StatusUnauthorized || bytes.Contains(body, []byte(orgID)) {
			t.Fatalf("GET /api/v1/org with key %q = %d %s; want 401", bad, code, body)
		}
	}

	run.stop(t)
	if code, _ := get("/healthz", ""); code != 0 {
		t.Fatalf("the server still answers (%d) after serve returned", code)
	}
	if run.out.String() != "" {
		t.Errorf("serve wrote to stdout: %q", run.out.String())
	}
}

// running is a sendops command running in the background on a free
// loopback address, as a user runs it.
type running struct {
	cmd         string
	addr        string
	ctx         context.Context
	cancel      context.CancelFunc
	out, errOut syncBuffer
	done        chan int // its exit status
}

// startMain runs `sendops CMD --addr A --db dsn` with env until stop (or
// the test's end).
func startMain(t *testing.T, cmd, dsn string, env map[string]string) *running {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &running{cmd: cmd, addr: ln.Addr().String(), done: make(chan int, 1)}
	ln.Close()
	r.ctx, r.cancel = context.WithCancel(t.Context())
	t.Cleanup(r.cancel)
	go func() {
		r.done <- cli.Main(r.ctx, []string{cmd, "--addr", r.addr, "--db", dsn}, &r.out, &r.errOut, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	}()
	return r
}

// stop ends the command's context and checks that it exits 0 within 20 s.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case status := <-r.done:
		if status != 0 {
			t.Fatalf("%s exited with %d after its context ended; stderr:\n%s", r.cmd, status, r.errOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not stop within 20 s of its context ending", r.cmd)
	}
}

func TestCommandErrors(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		env := with(engineEnv(e), "SENDOPS_DB", e.DSN)
		pwFile := filepath.Join(t.TempDir(), "password")
		if err := os.WriteFile(pwFile, []byte("correct horse battery staple"), 0o600); err != nil {
			t.Fatal(err)
		}
		org := domain.NewID()
		for _, c := range []struct {
			name string
			env  map[string]string
			args []string
			want string // in the one line written to stderr
		}{
			{"unknown scope", env, []string{"apikey", "create", "--org", org, "--name", "n", "--scopes", "read,bogus"}, `"bogus"`},
			{"no scope", env, []string{"apikey", "create", "--org", org, "--name", "n", "--scopes", ","}, "scope"},
			{"apikey without name", env, []string{"apikey", "create", "--org", org}, "--name"},
			{"apikey without org", env, []string{"apikey", "create", "--name", "n"}, "--org"},
			{"user without org", env, []string{"user", "create", "--email", "a@example.com", "--password-file", pwFile}, "--org"},
			{"user without password", env, []string{"user", "create", "--email", "a@example.com", "--org", "O"}, "--password-file"},
			{"unreadable password file", env, []string{"user", "create", "--email", "a@example.com", "--org", "O", "--password-file", pwFile + ".missing"}, "--password-file"},
			{"stray argument", env, []string{"migrate", "extra"}, `"extra"`},
			{"log level", with(env, "SENDOPS_LOG_LEVEL", "loud"), []string{"migrate"}, "SENDOPS_LOG_LEVEL"},
			{"log level, serve", with(env, "SENDOPS_LOG_LEVEL", "loud"), []string{"serve"}, "SENDOPS_LOG_LEVEL"},
			{"addr flag", env, []string{"serve", "--addr", "nonsense"}, "SENDOPS_ADDR"},
			{"db flag", env, []string{"migrate", "--db", "mysql://x"}, "SENDOPS_DB"},
			{"session setting", with(env, "SENDOPS_SESSION_IDLE", "1s"), []string{"serve"}, "SENDOPS_SESSION_IDLE"},
			{"short secret key", with(env, "SENDOPS_SECRET_KEY", "short"), []string{"apikey", "create", "--org", org, "--name", "n"}, "SENDOPS_SECRET_KEY"},
		} {
			status, out, errOut := sendops(t.Context(), c.env, c.args...)
			if status != 2 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "sendops: ") || !strings.Contains(errOut, c.want) {
				t.Errorf("%s: %q = %d, stdout %q, stderr %q; want 2 and one line naming %s", c.name, c.args, status, out, errOut, c.want)
			}
		}
		// None of the refused commands touched the database.
		db := openStore(t, e.DSN)
		if v, err := db.SchemaVersion(t.Context()); err != nil || v != 0 {
			t.Errorf("schema version %d, %v after refused commands; want 0", v, err)
		}

		// Command lines that cannot be parsed end with the same one-line
		// error. (Today the usage text or the flag package's own message
		// comes first; only the last line is checked until that is fixed.)
		for _, c := range []struct {
			name string
			args []string
			want string
		}{
			{"unknown command", []string{"frobnicate"}, `"frobnicate"`},
			{"unknown subcommand", []string{"user", "delete"}, `"user delete"`},
			{"no command", nil, "command"},
			{"unknown flag", []string{"migrate", "--bogus"}, "bogus"},
		} {
			status, out, errOut := sendops(t.Context(), env, c.args...)
			lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			if status != 2 || out != "" || !strings.HasPrefix(lines[len(lines)-1], "sendops: ") || !strings.Contains(lines[len(lines)-1], c.want) {
				t.Errorf("%s: %q = %d, stdout %q, stderr %q; want 2 ending with a line naming %s", c.name, c.args, status, out, errOut, c.want)
			}
		}
	})
}
