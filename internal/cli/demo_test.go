package cli_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sendops/internal/store"
)

// runDemo runs `sendops demo` on dsn until until reports true about the
// database (or 30 s pass), then stops it and checks it stopped cleanly.
func runDemo(t *testing.T, dsn string, env map[string]string, until func(db *store.DB) bool) (stdout string) {
	t.Helper()
	run := startMain(t, "demo", dsn, env)
	addr, done, out, errOut := run.addr, run.done, &run.out, &run.errOut

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

	run.stop(t)
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
	var connID string
	if err := db.View(t.Context(), func(tx *store.Tx) error {
		return tx.QueryRow(t.Context(), `SELECT id FROM connections`).Scan(&connID)
	}); err != nil {
		t.Fatal(err)
	}
	first := demoMessages(t, db)

	// Restarted, the sandbox's emulator is new (and empty): the same
	// connection is pointed at it, its pipeline made again there, and the
	// events of mail the new emulator sends arrive: messages the first run
	// did not have (a message is stored with its first event).
	fresh := func(db *store.DB) map[string]string {
		out := demoMessages(t, db)
		for id := range first {
			delete(out, id)
		}
		return out
	}
	runDemo(t, dsn, env, func(db *store.DB) bool { return len(fresh(db)) > 0 })
	if n := demoCount(t, db, `SELECT count(*) FROM connections WHERE id = ?`, connID); n != 1 || demoCount(t, db, `SELECT count(*) FROM connections`) != 1 {
		t.Errorf("after a restart the sandbox has %d connections, and its first one %d times; want the first one only", demoCount(t, db, `SELECT count(*) FROM connections`), n)
	}
	for id, conn := range fresh(db) {
		if conn != connID {
			t.Errorf("message %s of the restarted sandbox came through connection %s, want %s", id, conn, connID)
		}
	}
	// Each emulator, empty when it started, had its pipeline made.
	if n := demoCount(t, db, `SELECT count(*) FROM audit_log WHERE action = 'connection.pipeline_set_up' AND details LIKE ?`, "%created EventBridge connection%"); n != 2 {
		t.Errorf("%d set-up runs created the EventBridge connection, want 2 (one in each emulator)", n)
	}
}

// demoMessages returns each message the sandbox's events brought, with
// the connection they came through.
func demoMessages(t *testing.T, db *store.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := db.View(t.Context(), func(tx *store.Tx) error {
		rows, err := tx.Query(t.Context(), `SELECT message_id, connection_id FROM ses_messages`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, conn string
			if err := rows.Scan(&id, &conn); err != nil {
				return err
			}
			out[id] = conn
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
