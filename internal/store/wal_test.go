package store

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Writes that never pause, as in a seed or a long burst of events, do not
// grow SQLite's WAL without bound: past its limit, one pass of the
// checkpointer empties it while the writes go on, and every row written is
// in the database afterwards. (A checkpoint from a connection of its own
// never restarts the WAL under such writes, and one that waits for the
// writer's lock never gets it.)
func TestWALStaysBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "wal.db")
	const limit = 256                                      // pages: 1 MiB
	db, err := open(ctx, "sqlite:"+path, time.Hour, limit) // passes run here, not on a timer
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `CREATE TABLE filler (b BLOB)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	walSize := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	// 64 MiB in transactions of 256 KiB, back to back.
	blob := bytes.Repeat([]byte("x"), 4096)
	const txs, perTx, MiB = 256, 64, 1 << 20
	var written atomic.Int64
	errs := make(chan error, 1)
	go func() {
		for range txs {
			if err := db.Update(ctx, func(tx *Tx) error {
				_, err := tx.Exec(ctx, `INSERT INTO filler (b) VALUES `+strings.TrimSuffix(strings.Repeat("(?), ", perTx), ", "), repeatArg(blob, perTx)...)
				return err
			}); err != nil {
				errs <- err
				return
			}
			written.Add(1)
		}
		errs <- nil
	}()
	for walSize() < 16*MiB && written.Load() < txs {
		time.Sleep(time.Millisecond)
	}
	if written.Load() == txs {
		t.Fatalf("the writes ended before the WAL reached 16 MiB (%d bytes)", walSize())
	}
	for pass := 0; pass < 3 && written.Load() < txs; pass++ { // a pass whose truncation met the writer mid-transaction passes again
		if !db.checkpointOnce(ctx) {
			t.Fatalf("pass %d: the checkpointer could not empty the WAL with no reader about", pass)
		}
		if n := walSize(); n < 8*MiB {
			break
		} else if pass == 2 {
			t.Errorf("after three passes under writes, the WAL is %d bytes; want it emptied (under 8 MiB)", n)
		}
	}
	if written.Load() == txs {
		t.Errorf("the writes ended before the checkpointer's pass did: it waited for them instead of making them wait")
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.View(ctx, func(tx *Tx) error { return tx.QueryRow(ctx, `SELECT count(*) FROM filler`).Scan(&n) }); err != nil || n != txs*perTx {
		t.Errorf("%d rows stored, %v; want %d", n, err, txs*perTx)
	}
}

func repeatArg(v any, n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = v
	}
	return out
}
