package ingest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sendops/internal/loadgen"
	"sendops/internal/sesevent"
	"sendops/internal/store"
	"sendops/internal/testutil/testdb"
)

// BenchmarkInsertEvents measures the store alone, without HTTP, parsing or
// a client on the same cores: b.N loadgen events, turned into rows before
// the timer starts, committed in transactions of a fixed number of events
// as the writer commits them. Events arrive interleaved, a message's later
// events some 50 messages after its first, as they would from SES.
//
//	go test ./internal/ingest -run '^$' -bench InsertEvents -benchtime 30000x
func BenchmarkInsertEvents(b *testing.B) {
	testdb.EachBench(b, func(b *testing.B, name string, newDSN func(testing.TB) string) {
		for _, batch := range []int{16, 64} {
			b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
				benchInsertEvents(b, testdb.Engine{Name: name, DSN: newDSN(b)}, batch)
			})
		}
	})
}

func benchInsertEvents(b *testing.B, e testdb.Engine, batch int) {
	ctx := context.Background()
	env := newWriterEnv(b, e, Options{})
	events := benchEvents(b, env, b.N)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < len(events); i += batch {
		part := events[i:min(i+batch, len(events))]
		var rows []store.EventRow
		for _, r := range part {
			rows = append(rows, r...)
		}
		if err := env.db.Update(ctx, func(tx *store.Tx) error {
			_, err := store.InsertEvents(ctx, tx, rows)
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(len(events))/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(float64(time.Since(start).Microseconds())/float64(len(events)), "µs/event")
	b.ReportMetric(0, "ns/op")
}

// benchEvents returns the rows of n loadgen events (about n/3 messages) of
// env's connection, in the order they arrive.
func benchEvents(b *testing.B, env *writerEnv, n int) [][]store.EventRow {
	ctx := context.Background()
	gen := loadgen.Generator{Seed: 7, Start: time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC), Account: env.conn.AWSAccountID, Region: env.conn.Region}
	var byAt [][][]store.EventRow // by the message's index plus 50 per earlier event of it
	for i := 0; n > 0; i++ {
		for j, body := range gen.Bodies(uint64(i)) {
			if n == 0 {
				break
			}
			_, ev, err := sesevent.ParseEventBridge(body)
			if err != nil {
				b.Fatal(err)
			}
			rows, err := env.w.Rows(ctx, env.conn, ev)
			if err != nil {
				b.Fatal(err)
			}
			at := i + 50*j
			for len(byAt) <= at {
				byAt = append(byAt, nil)
			}
			byAt[at] = append(byAt[at], rows)
			n--
		}
	}
	var out [][]store.EventRow
	for _, rows := range byAt {
		out = append(out, rows...)
	}
	return out
}
