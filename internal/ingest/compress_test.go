package ingest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"

	"sendops/internal/sesevent"
	"sendops/internal/store"
	"sendops/internal/testutil/testdb"
)

// The raw JSON of every stored event reads back exactly: what the writer
// stores now (dictionary 2) and what earlier versions stored (dictionary 1,
// with a checksum; no dictionary at all).
func TestRawJSONRoundTrip(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../sesevent/testdata/event/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no SES examples: %v", err)
	}
	older := map[string]*zstd.Encoder{}
	if older["dictionary 1"], err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderDictRaw(1, dictionary)); err != nil {
		t.Fatal(err)
	}
	if older["no dictionary"], err = zstd.NewWriter(nil); err != nil {
		t.Fatal(err)
	}
	env := newWriterEnv(t, testdb.Engine{Name: "sqlite", DSN: testdb.SQLite(t)}, Options{})
	for _, f := range files {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for name, enc := range older {
			if got, err := Decompress(enc.EncodeAll(want, nil)); err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s, %s: Decompress = %.40q, %v; want the JSON back", filepath.Base(f), name, got, err)
			}
		}
		ev, err := sesevent.Parse(want)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		// One message per file, so that each is read back on its own.
		ev.Mail.MessageID = filepath.Base(f)
		if _, err := env.w.Write(context.Background(), env.conn, ev); err != nil {
			t.Fatalf("%s: write: %v", f, err)
		}
		var raws [][]byte
		if err := env.db.View(context.Background(), func(tx *store.Tx) error {
			m, err := store.Message(context.Background(), tx, env.conn.OrgID, ev.Mail.MessageID)
			if err != nil {
				return err
			}
			for _, e := range m.Events {
				if e.Raw != nil {
					raws = append(raws, e.Raw)
				}
			}
			return nil
		}); err != nil {
			t.Fatalf("%s: read back: %v", f, err)
		}
		if len(raws) != 1 {
			t.Fatalf("%s: %d events with raw JSON, want 1", f, len(raws))
		}
		var h zstd.Header
		if err := h.Decode(raws[0]); err != nil || h.DictionaryID != 2 || h.HasCheckSum {
			t.Errorf("%s: stored frame: dictionary %d, checksum %v, %v; want dictionary 2 and no checksum", f, h.DictionaryID, h.HasCheckSum, err)
		}
		if got, err := Decompress(raws[0]); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: stored raw JSON = %.40q, %v; want the event as received", f, got, err)
		}
	}
}

// BenchmarkCompress measures compressing one typical SES event the way the
// writer does (dictionary 2, fastest level, no checksum), from every core.
func BenchmarkCompress(b *testing.B) {
	raw, err := os.ReadFile("../sesevent/testdata/event/bounce-permanent-general.json")
	if err != nil {
		b.Fatal(err)
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithEncoderDict(dictionary2), zstd.WithEncoderCRC(false))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			enc.EncodeAll(raw, make([]byte, 0, len(raw)/2))
		}
	})
}
