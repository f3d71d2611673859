package snsverify

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// realDir holds real SNS material kept outside the repository: a real SNS
// signing certificate (sns-signing/*.pem, expired) and real envelopes
// (sns-envelope/*.json) whose verification result INDEX.md records.
const realDir = "../../../shared/ses-events"

// realEnvelope is one row of INDEX.md for an envelope whose signature the
// reference verifier checked with a certificate we have.
type realEnvelope struct {
	file     string // relative to realDir
	verified bool   // VERIFIED; false: FAILED (tampered upstream)
}

func readRealIndex(t *testing.T) []realEnvelope {
	t.Helper()
	f, err := os.Open(filepath.Join(realDir, "INDEX.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []realEnvelope
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "|")
		if len(cols) < 6 {
			continue
		}
		file := strings.Trim(strings.TrimSpace(cols[1]), "`")
		if !strings.HasPrefix(file, "sns-envelope/") || !strings.HasSuffix(file, ".json") {
			continue
		}
		switch sig := strings.TrimSpace(cols[4]); {
		case sig == "VERIFIED":
			out = append(out, realEnvelope{file, true})
		case sig == "FAILED":
			out = append(out, realEnvelope{file, false})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// realCerts returns the PEMs in sns-signing/ by file name.
func realCerts(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(realDir, "sns-signing", "*.pem"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no certificate in sns-signing/: %v", err)
	}
	certs := make(map[string][]byte)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		certs[filepath.Base(f)] = b
	}
	return certs
}

// fileFetcher serves the real certificates by the file name at the end of
// the URL, standing in for SNS's regional hosts (the same certificate is
// published under us-east-1, us-east-2 and eu-central-1).
type fileFetcher struct{ certs map[string][]byte }

func (f fileFetcher) Fetch(_ context.Context, raw string) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if b, ok := f.certs[path.Base(u.Path)]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("no local copy of %s", raw)
}

func TestRealMaterial(t *testing.T) {
	if _, err := os.Stat(realDir); err != nil {
		t.Skipf("real SNS material not present at %s: %v", realDir, err)
	}
	envelopes := readRealIndex(t)
	var nVerified, nFailed int
	for _, e := range envelopes {
		if e.verified {
			nVerified++
		} else {
			nFailed++
		}
	}
	if nVerified == 0 || nFailed == 0 {
		t.Fatalf("INDEX.md lists %d VERIFIED and %d FAILED envelopes; want some of each", nVerified, nFailed)
	}
	certs := realCerts(t)

	// Pin the clock inside the validity of every real certificate (they
	// expired in 2022), and collect them for a pinned trust store.
	var from, to time.Time
	pinnedRoots := x509.NewCertPool()
	for name, b := range certs {
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s: not PEM", name)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if from.IsZero() || c.NotBefore.After(from) {
			from = c.NotBefore
		}
		if to.IsZero() || c.NotAfter.Before(to) {
			to = c.NotAfter
		}
		pinnedRoots.AddCert(c)
	}
	if !from.Before(to) {
		t.Fatalf("real certificates share no validity period (%v..%v)", from, to)
	}
	at := from.Add(to.Sub(from) / 2)
	now := func() time.Time { return at }

	// run verifies every listed envelope with v and checks the outcome.
	run := func(t *testing.T, v *Verifier) {
		for _, e := range envelopes {
			t.Run(path.Base(e.file), func(t *testing.T) {
				b, err := os.ReadFile(filepath.Join(realDir, e.file))
				if err != nil {
					t.Fatal(err)
				}
				m, err := Parse(b)
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				err = v.Verify(context.Background(), m)
				switch {
				case e.verified && err != nil:
					t.Fatalf("INDEX.md says VERIFIED; Verify = %v", err)
				case !e.verified && !errors.Is(err, ErrForged):
					t.Fatalf("INDEX.md says FAILED; Verify = %v, want ErrForged", err)
				}
			})
		}
	}

	t.Run("system roots", func(t *testing.T) {
		sys, err := x509.SystemCertPool()
		if err != nil {
			t.Skipf("no system roots: %v", err)
		}
		for name, b := range certs {
			e, err := parseCertPEM(b)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.leaf.Verify(x509.VerifyOptions{Roots: sys, Intermediates: e.intermediates, CurrentTime: at}); err != nil {
				t.Skipf("%s does not chain to the system roots offline: %v. The PEM SNS serves holds only the "+
					"leaf, issued by the intermediate %q, which is not a root and which Go does not fetch "+
					"(no AIA chasing); the subtest \"pinned certificate\" checks the signatures instead",
					name, err, e.leaf.Issuer.String())
			}
		}
		run(t, &Verifier{Fetcher: fileFetcher{certs}, Now: now})
	})

	// The real certificate as the only trust anchor: the chain check is then
	// trivial, but every signature, string-to-sign, hash and name check runs
	// on bytes SNS produced.
	t.Run("pinned certificate", func(t *testing.T) {
		run(t, &Verifier{Fetcher: fileFetcher{certs}, Roots: pinnedRoots, Now: now})
	})

	// At real time the same certificate has expired and nothing verifies.
	t.Run("real time refuses the expired certificate", func(t *testing.T) {
		v := &Verifier{Fetcher: fileFetcher{certs}, Roots: pinnedRoots}
		for _, e := range envelopes {
			if !e.verified {
				continue
			}
			b, err := os.ReadFile(filepath.Join(realDir, e.file))
			if err != nil {
				t.Fatal(err)
			}
			m, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Verify(context.Background(), m); !errors.Is(err, ErrForged) {
				t.Errorf("%s: Verify at real time = %v, want ErrForged", e.file, err)
			}
		}
	})

	// A real SubscriptionConfirmation is confirmed with one GET of its own
	// SubscribeURL (answered here by a stub, not by SNS).
	t.Run("confirm real subscription", func(t *testing.T) {
		var n int
		for _, e := range envelopes {
			b, err := os.ReadFile(filepath.Join(realDir, e.file))
			if err != nil {
				t.Fatal(err)
			}
			m, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if !e.verified || m.Type != TypeSubscriptionConfirmation {
				continue
			}
			n++
			rt := &stubTransport{status: 200}
			v := &Verifier{Fetcher: fileFetcher{certs}, Roots: pinnedRoots, Now: now}
			if err := v.Confirm(context.Background(), &http.Client{Transport: rt}, m); err != nil {
				t.Fatalf("%s: Confirm = %v", e.file, err)
			}
			if rt.count() != 1 || rt.requests[0].URL.String() != m.SubscribeURL {
				t.Fatalf("%s: requests %d", e.file, rt.count())
			}
			if _, _, _, ok := TopicParts(m.TopicArn); !ok {
				t.Errorf("%s: TopicParts(%q) not ok", e.file, m.TopicArn)
			}
		}
		if n == 0 {
			t.Fatal("no verified SubscriptionConfirmation in INDEX.md")
		}
	})
}
