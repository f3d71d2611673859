package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sendops/internal/loadgen"
	"sendops/internal/store"
	"sendops/internal/testutil/testdb"
)

const crashSecretKey = "crash-test-secret-key-0123456789abcdefghij"

// TestCrashLoadgen kills the server (SIGKILL) while loadgen sends it events,
// starts it again on the same database, lets loadgen's retries finish and
// checks that every event the server acknowledged, before the kill or
// after, is stored exactly once: the events table holds exactly their rows,
// and the API shows each of them once.
func TestCrashLoadgen(t *testing.T) {
	bin := buildSendops(t)
	testdb.Each(t, func(t *testing.T, e testdb.Engine) {
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
		defer cancel()
		dir := t.TempDir()
		env := []string{"SENDOPS_SECRET_KEY=" + crashSecretKey, "SENDOPS_DB=" + e.DSN}

		pw := filepath.Join(dir, "password")
		if err := os.WriteFile(pw, []byte("correct horse battery staple\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		orgID := runBin(t, bin, env, "user", "create", "--email", "load@example.com", "--password-file", pw, "--org", "Load test")
		key := runBin(t, bin, env, "apikey", "create", "--org", orgID, "--scopes", "read,write,recipients:read", "--name", "crash test")

		addr := freeAddr(t)
		srv := startServer(t, bin, env, addr, filepath.Join(dir, "server-1.log"))
		conn := createConnection(t, "http://"+addr, key)

		r, err := loadgen.New(loadgen.Config{
			URL: conn.Ingest.EventBridgeURL, Header: conn.Ingest.HeaderName, Secret: conn.Ingest.Secret, APIKey: key,
			Concurrency: 32, Duration: 7 * time.Second, MaxAttempts: 40, RetryWindow: 30 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		type result struct {
			rep *loadgen.Report
			err error
		}
		done := make(chan result, 1)
		go func() {
			rep, err := r.Run(ctx)
			done <- result{rep, err}
		}()

		// Kill the server once it has acknowledged a good number of events
		// (or after 3 s on a slow machine), while requests are in flight and
		// batches are being committed.
		deadline := time.Now().Add(3 * time.Second)
		for r.AckedCount() < 1500 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		srv.kill(t)
		before := r.Acknowledged()
		if len(before) == 0 {
			t.Fatal("no event was acknowledged before the kill")
		}
		time.Sleep(500 * time.Millisecond) // down for a moment: loadgen sees refused connections
		startServer(t, bin, env, addr, filepath.Join(dir, "server-2.log"))

		res := <-done
		if res.err != nil {
			t.Fatal(res.err)
		}
		rep := res.rep
		t.Logf("%d events acknowledged before the kill\n%s", len(before), rep)
		if rep.GaveUp != 0 || rep.Acked != rep.Events {
			t.Errorf("%d of %d events acknowledged, %d given up: the restarted server should take them all", rep.Acked, rep.Events, rep.GaveUp)
		}
		if rep.Acked <= int64(len(before)) {
			t.Errorf("no event was acknowledged after the restart (%d before, %d in all)", len(before), rep.Acked)
		}
		if transport := rep.Requests - rep.Acked - rep.Errors["503"]; transport == 0 {
			t.Errorf("no request failed: the kill did not happen mid-run (%v)", rep.Errors)
		}
		if rep.FirstAttemptDuplicates != 0 {
			t.Errorf("%d events were duplicates on their first attempt", rep.FirstAttemptDuplicates)
		}

		// Every event acknowledged before the kill is still acknowledged,
		// and so checked below.
		acked := map[string]bool{}
		all := r.Acknowledged()
		wantRows := int64(0)
		for _, ev := range all {
			acked[ev.String()] = true
			wantRows += int64(len(ev.Recipients))
		}
		for _, ev := range before {
			if !acked[ev.String()] {
				t.Fatalf("event %s was acknowledged before the kill and is missing from the final list", ev)
			}
		}

		// The database holds one row per recipient of each acknowledged
		// event, no more and no less (every event was acknowledged).
		db := openStore(t, e.DSN)
		var rows int64
		if err := db.View(ctx, func(tx *store.Tx) (err error) {
			rows, err = store.CountEvents(ctx, tx, orgID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if rows != wantRows {
			t.Errorf("the events table holds %d rows; the %d acknowledged events have %d", rows, len(all), wantRows)
		}

		// And the API shows each acknowledged event exactly once.
		v, err := r.Verify(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("\n%s", v)
		if !v.OK() || v.Acked != len(all) {
			t.Errorf("verification failed (%d of %d acknowledged events checked)", v.Acked, len(all))
		}
	})
}

// buildSendops builds the sendops binary into the test's temp directory.
func buildSendops(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sendops")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "sendops/cmd/sendops")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runBin runs the binary to completion and returns its trimmed stdout.
func runBin(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sendops %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// freeAddr returns a loopback address with a port free at the moment.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// server is a `sendops serve` process.
type server struct {
	proc   *os.Process
	exited chan struct{}
}

// kill ends the server with SIGKILL, as a crash or the OOM killer would,
// and waits for it to be gone.
func (s *server) kill(t *testing.T) {
	t.Helper()
	if err := s.proc.Kill(); err != nil {
		t.Fatal(err)
	}
	<-s.exited
}

// startServer runs `sendops serve` on addr until it answers /readyz; the
// process is killed when the test ends, and its log shown if it failed.
func startServer(t *testing.T, bin string, env []string, addr, logFile string) *server {
	t.Helper()
	logs, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--addr", addr, "--log-level", "warn")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{proc: cmd.Process, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		s.proc.Kill()
		<-s.exited
		logs.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logFile)
			t.Logf("%s:\n%s", filepath.Base(logFile), b)
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		res, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-s.exited:
			b, _ := os.ReadFile(logFile)
			t.Fatalf("sendops serve exited:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sendops serve on %s not ready after 30 s (%v)", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type connectionAnswer struct {
	ID     string `json:"id"`
	Ingest struct {
		EventBridgeURL string `json:"eventbridge_url"`
		HeaderName     string `json:"header_name"`
		Secret         string `json:"secret"`
	} `json:"ingest"`
}

// createConnection makes a connection through the API, as a user would.
func createConnection(t *testing.T, base, key string) *connectionAnswer {
	t.Helper()
	body := `{"name":"load test","aws_account_id":"123456789012","region":"us-east-1"}`
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/api/v1/connections", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var c connectionAnswer
	if err := json.NewDecoder(res.Body).Decode(&c); err != nil || res.StatusCode != http.StatusCreated || c.Ingest.Secret == "" {
		t.Fatalf("create connection: status %d, %v, %+v", res.StatusCode, err, c)
	}
	if !strings.HasPrefix(c.Ingest.EventBridgeURL, base+"/") {
		t.Fatalf("ingest URL %q is not on %s", c.Ingest.EventBridgeURL, base)
	}
	return &c
}
