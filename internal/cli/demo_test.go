package cli_test

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sendops/internal/cli"
	"sendops/internal/store"
)

// runDemo runs `sendops demo` on dsn until until reports true about the
// database (or 30 s pass), then stops it and checks it stopped cleanly.
func runDemo(t *testing.T, dsn string, env map[string]string, until func(db *store.DB) bool) (stdout string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, []string{"demo", "--addr", addr, "--db", dsn}, &out, &errOut, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	}()

	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "Sign in as") {
		select {
		case status := <-done:
			t.Fatalf("demo exited with %d before it was ready; stderr:\n%s", status, errOut.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo was not ready within 30 s; stderr:\n%s", errOut.String())
		}
	}
	db, err := store.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for !until(db) {
		if time.Now().After(deadline) {
			t.Fatalf("the sandbox did not get there within 30 s; stderr:\n%s", errOut.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	cancel()
	select {
	case status := <-done:
		if status != 0 {
			t.Fatalf("demo exited with %d; stderr:\n%s", status, errOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("demo did not stop within 20 s of its context ending")
	}
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("the server still answers after demo returned")
	}
	if strings.Contains(errOut.String(), "level=ERROR") {
		t.Errorf("the sandbox logged errors:\n%s", errOut.String())
	}
	return out.String()
}

func demoCount(t *testing.T, db *store.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.View(t.Context(), func(tx *store.Tx) error {
		return tx.QueryRow(t.Context(), query, args...).Scan(&n)
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// `sendops demo` runs sesim in the process, connects the demo organisation
// to an emulated account, sets up its event pipeline through the service
// and sends a trickle of simulator mail whose events the ingest path
// stores. Restarted on the same database, it reuses its connection.
func TestDemo(t *testing.T) {
	t.Parallel()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "demo.db")
	env := map[string]string{"SENDOPS_DEMO_INTERVAL": "20ms", "SENDOPS_DEMO_MESSAGES": "8", "SENDOPS_LOG_LEVEL": "info"}

	// The first five messages go to each simulator mailbox in turn, so
	// all of Send, Delivery, Bounce and Complaint arrive.
	out := runDemo(t, dsn, env, func(db *store.DB) bool {
		return demoCount(t, db, `SELECT count(DISTINCT type) FROM events WHERE type IN ('Send', 'Delivery', 'Bounce', 'Complaint')`) == 4
	})
	if !strings.Contains(out, "emulated AWS account") || !strings.Contains(out, "8 messages") {
		t.Errorf("demo printed %q", out)
	}
	db := openStore(t, dsn)
	if n := demoCount(t, db, `SELECT count(*) FROM connections`); n != 1 {
		t.Fatalf("%d connections after the first run, want 1", n)
	}
	if n := demoCount(t, db, `SELECT count(*) FROM connection_pipelines WHERE config_set = 'sandbox' AND set_up_at IS NOT NULL`); n != 1 {
		t.Fatalf("%d complete pipelines after the first run, want 1", n)
	}
	first := demoCount(t, db, `SELECT count(*) FROM ses_messages`)

	// Restarted, the sandbox's emulator is new (and empty): the same
	// connection is pointed at it and its pipeline set up again there.
	runDemo(t, dsn, env, func(db *store.DB) bool {
		return demoCount(t, db, `SELECT count(*) FROM ses_messages`) > first
	})
	if n := demoCount(t, db, `SELECT count(*) FROM connections`); n != 1 {
		t.Errorf("%d connections after a restart, want 1", n)
	}
	if n := demoCount(t, db, `SELECT count(*) FROM ses_messages m JOIN connections c ON c.org_id = m.org_id AND c.id = m.connection_id`); n <= first {
		t.Errorf("messages of the one connection after a restart: %d, want more than %d", n, first)
	}
}
