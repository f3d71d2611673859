package sesevent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixture returns testdata/name. The fixtures are the project's own, written
// from the documented shapes with made-up values.
func fixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// fixtures returns every testdata/dir/*.json by name.
func fixtures(tb testing.TB, dir string) map[string][]byte {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no fixtures in testdata/%s: %v", dir, err)
	}
	out := make(map[string][]byte, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out[dir+"/"+filepath.Base(p)] = b
	}
	return out
}

// ts parses an RFC 3339 time for expectations.
func ts(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t.UTC()
}

// replace is strings.Replace that fails the test when old is absent, so a
// mutation that silently does nothing cannot make a test pass.
func replace(tb testing.TB, b []byte, old, new string) []byte {
	tb.Helper()
	s := string(b)
	if !strings.Contains(s, old) {
		tb.Fatalf("fixture does not contain %q", old)
	}
	return []byte(strings.Replace(s, old, new, 1))
}

// wrapEventBridge puts detail into an EventBridge envelope.
func wrapEventBridge(detailType string, detail []byte) []byte {
	return []byte(`{"version":"0","id":"3f1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8","detail-type":"` + detailType +
		`","source":"aws.ses","account":"210987654321","time":"2024-05-06T09:15:32Z","region":"eu-west-1",` +
		`"resources":["arn:aws:ses:eu-west-1:210987654321:configuration-set/sendops-prod"],"detail":` + string(detail) + `}`)
}
