package loadgen

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sendops/internal/sesevent"
)

// TestLoadgenEvents checks that generated events are SES events the
// project's parser reads back as generated, with one identity each.
func TestLoadgenEvents(t *testing.T) {
	t.Parallel()
	g := Generator{Seed: 42, Start: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Account: "123456789012", Region: "us-east-1"}
	keys := map[string]Event{}
	types := map[string]int{}
	bounces := map[string]int{}
	domains := map[string]int{}
	var size, events int
	for i := range uint64(2000) {
		m := g.message(i)
		if again := g.message(i); again.id != m.id || len(again.events) != len(m.events) {
			t.Fatalf("message %d is not the same when made twice", i)
		}
		if n := len(m.destination); n < 1 || n > 3 {
			t.Fatalf("message %d has %d recipients", i, n)
		}
		if m.events[0].Type != "Send" {
			t.Fatalf("message %d starts with %s", i, m.events[0].Type)
		}
		for _, d := range m.destination {
			domains[d[strings.IndexByte(d, '@')+1:]]++
		}
		for j, want := range m.events {
			b := g.body(m, j)
			size += len(b)
			events++
			env, ev, err := sesevent.ParseEventBridge(b)
			if err != nil {
				t.Fatalf("event %d of message %d: %v\n%s", j, i, err, b)
			}
			if env.Account != g.Account || env.Region != g.Region || env.DetailType == "" || len(env.Resources) != 1 {
				t.Fatalf("envelope %+v", env)
			}
			if ev.Type != want.Type || !ev.Time.Equal(want.Time) || ev.Mail.MessageID != m.id || !slices.Equal(ev.Recipients, want.Recipients) || !ev.Known {
				t.Fatalf("parsed %s %s %s %v; generated %s", ev.Type, ev.Time, ev.Mail.MessageID, ev.Recipients, want.Event)
			}
			if ev.Mail.ConfigurationSet == "" || ev.Mail.Tags["ses:from-domain"] == nil {
				t.Fatalf("no configuration set or tags: %s", b)
			}
			switch ev.Type {
			case sesevent.TypeBounce:
				bounces[ev.Bounce.Type+"/"+ev.Bounce.SubType]++
				if ev.Bounce.Type == "Permanent" && !strings.Contains(ev.Bounce.Recipients[0].DiagnosticCode, "550 5.1.1") {
					t.Fatalf("permanent bounce diagnostic %q", ev.Bounce.Recipients[0].DiagnosticCode)
				}
			case sesevent.TypeClick:
				if ev.Click.Link == "" {
					t.Fatalf("click without link: %s", b)
				}
			case sesevent.TypeComplaint:
				if ev.Complaint.FeedbackType != "abuse" {
					t.Fatalf("complaint type %q", ev.Complaint.FeedbackType)
				}
			}
			k := ev.Key()
			if prev, dup := keys[k]; dup {
				t.Fatalf("two events have one identity: %s and %s", prev, want.Event)
			}
			keys[k] = want.Event
			types[ev.Type]++
		}
	}
	for _, typ := range []string{"Send", "Delivery", "Bounce", "Complaint", "Open", "Click", "DeliveryDelay"} {
		if types[typ] == 0 {
			t.Errorf("no %s event in 2000 messages (%v)", typ, types)
		}
	}
	for _, b := range []string{"Permanent/General", "Transient/MailboxFull", "Transient/General"} {
		if bounces[b] == 0 {
			t.Errorf("no %s bounce (%v)", b, bounces)
		}
	}
	for _, d := range []string{"gmail.com", "outlook.com", "yahoo.com", "example.org"} {
		if domains[d] == 0 {
			t.Errorf("no recipient at %s (%v)", d, domains)
		}
	}
	if per := float64(events) / 2000; per < 2.5 || per > 6 {
		t.Errorf("%.1f events per message; want several", per)
	}
	t.Logf("%d events, %.1f per message, %d bytes each on average; %v", events, float64(events)/2000, size/events, types)
}

func TestLoadgenRefusesRemoteURLs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080/ingest/eventbridge", true},
		{"http://127.5.6.7:8080/ingest/eventbridge", true},
		{"http://localhost:8080/ingest/eventbridge", true},
		{"http://[::1]:8080/ingest/eventbridge", true},
		{"http://10.0.0.1:8080/ingest/eventbridge", false},
		{"http://0.0.0.0:8080/ingest/eventbridge", false},
		{"https://sendops.example.com/ingest/eventbridge", false},
		{"http://127.0.0.1.example.com/ingest/eventbridge", false},
		{"http://[::ffff:10.0.0.1]:8080/", false},
		{"ftp://127.0.0.1/", false},
		{"", false},
	} {
		_, err := New(Config{URL: tc.url})
		if (err == nil) != tc.ok {
			t.Errorf("New(%q) = %v; want ok %v", tc.url, err, tc.ok)
		}
	}
	if _, err := New(Config{URL: "http://127.0.0.1:1/", APIURL: "http://192.0.2.1/"}); err == nil {
		t.Error("a remote API URL was accepted")
	}
	// Whatever a name resolves to, the client connects to loopback only.
	_, err := LoopbackClient(1).Get("http://192.0.2.1:9/")
	if err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Errorf("LoopbackClient to 192.0.2.1: %v", err)
	}
}

func TestLoadgenHistogram(t *testing.T) {
	t.Parallel()
	var h Histogram
	for i := 1; i <= 10000; i++ {
		h.Record(time.Duration(i) * 10 * time.Microsecond) // 10 µs … 100 ms
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.9, 90 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}} {
		got := h.Quantile(tc.q)
		if got < tc.want || float64(got) > float64(tc.want)*1.035 {
			t.Errorf("Quantile(%v) = %s; want %s to +3.5%%", tc.q, got, tc.want)
		}
	}
	if h.Max() != 100*time.Millisecond || h.Count() != 10000 {
		t.Errorf("max %s count %d", h.Max(), h.Count())
	}
	for us := uint64(0); us < 1<<30; us = us*9/8 + 1 {
		if i := bucketOf(us); bucketTop(i) < us || (i > 0 && bucketTop(i-1) >= us) {
			t.Fatalf("%d µs falls in bucket %d of top %d", us, i, bucketTop(i))
		}
	}
}

// fakeSendOps stands in for the ingest endpoint and the message API: it
// stores events once by their identity, and misbehaves as told.
type fakeSendOps struct {
	mu       sync.Mutex
	keys     map[string]bool
	msgs     map[string][]storedEvent
	requests int
	// busyEvery answers every nth request 503 without storing; lostAnswer
	// every nth 503 after storing (a commit whose answer was lost).
	busyEvery, lostAnswerEvery int
	// forget drops every nth stored event after answering 200; double
	// stores every nth one twice.
	forgetEvery, doubleEvery int
}

type storedEvent struct {
	Type       string    `json:"type"`
	Time       time.Time `json:"time"`
	Recipients []string  `json:"recipients"`
}

func (f *fakeSendOps) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		if r.Header.Get("Authorization") != "Bearer key" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		id := strings.TrimPrefix(r.URL.Path, "/api/v1/messages/")
		f.mu.Lock()
		evs, ok := f.msgs[id]
		f.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"message_id": id, "events": evs})
		return
	}
	if r.Header.Get("X-Test-Key") != "secret" {
		http.Error(w, "no", http.StatusUnauthorized)
		return
	}
	b, _ := io.ReadAll(r.Body)
	_, ev, err := sesevent.ParseEventBridge(b)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	n := f.requests
	if f.busyEvery > 0 && n%f.busyEvery == 0 {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	status := "duplicate"
	if k := ev.Key(); !f.keys[k] {
		f.keys[k] = true
		status = "stored"
		se := storedEvent{ev.Type, ev.Time, ev.Recipients}
		switch {
		case f.forgetEvery > 0 && n%f.forgetEvery == 0:
		case f.doubleEvery > 0 && n%f.doubleEvery == 0:
			f.msgs[ev.Mail.MessageID] = append(f.msgs[ev.Mail.MessageID], se, se)
		default:
			f.msgs[ev.Mail.MessageID] = append(f.msgs[ev.Mail.MessageID], se)
		}
	}
	if f.lostAnswerEvery > 0 && n%f.lostAnswerEvery == 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	json.NewEncoder(w).Encode(map[string]string{"status": status})
}

func runFake(t *testing.T, f *fakeSendOps, cfg Config) (*Report, *Verification) {
	t.Helper()
	f.keys, f.msgs = map[string]bool{}, map[string][]storedEvent{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg.URL, cfg.Header, cfg.Secret, cfg.APIKey = srv.URL+"/ingest/eventbridge", "X-Test-Key", "secret", "key"
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	v, err := r.Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := len(r.Acknowledged()); int64(got) != rep.Acked {
		t.Errorf("Acknowledged() has %d events; the report says %d", got, rep.Acked)
	}
	return rep, v
}

func TestLoadgenRunRetriesAndVerifies(t *testing.T) {
	t.Parallel()
	f := &fakeSendOps{busyEvery: 17, lostAnswerEvery: 13}
	rep, v := runFake(t, f, Config{Messages: 60, Concurrency: 8, Duration: 20 * time.Second})
	t.Log("\n" + rep.String() + v.String())
	if rep.Messages != 60 || rep.Acked != rep.Events || rep.GaveUp != 0 {
		t.Errorf("%d messages, %d of %d events acknowledged, %d given up; want 60 and all", rep.Messages, rep.Acked, rep.Events, rep.GaveUp)
	}
	if rep.Errors["503"] == 0 || rep.Retries == 0 || rep.Duplicate == 0 {
		t.Errorf("503s %d, retries %d, duplicates %d: the fake's failures were not retried", rep.Errors["503"], rep.Retries, rep.Duplicate)
	}
	if rep.FirstAttemptDuplicates != 0 {
		t.Errorf("%d events were duplicates on their first attempt", rep.FirstAttemptDuplicates)
	}
	if rep.Latency.Count() != uint64(rep.Requests) {
		t.Errorf("latency of %d requests recorded; %d sent", rep.Latency.Count(), rep.Requests)
	}
	if !v.OK() || v.Acked != int(rep.Acked) || v.Messages != 60 {
		t.Errorf("verification of a correct store: %s", v)
	}
}

func TestLoadgenVerifyFindsLostAndDoubled(t *testing.T) {
	t.Parallel()
	f := &fakeSendOps{forgetEvery: 7, doubleEvery: 11}
	rep, v := runFake(t, f, Config{Messages: 40, Concurrency: 4})
	if v.OK() || len(v.Lost) == 0 || len(v.Doubled) == 0 {
		t.Fatalf("verification of a store that loses and doubles events:\n%s%s", rep, v)
	}
	if want := int(rep.Acked) / 7; len(v.Lost) < want-1 {
		t.Errorf("%d lost found; about %d were", len(v.Lost), want)
	}
}

func TestLoadgenRateAndBounds(t *testing.T) {
	t.Parallel()
	f := &fakeSendOps{}
	start := time.Now()
	rep, _ := runFake(t, f, Config{Rate: 100, Concurrency: 4, Duration: 1500 * time.Millisecond})
	took := time.Since(start)
	if rep.Events < 120 || rep.Events > 160 || took > 5*time.Second {
		t.Errorf("rate 100/s for 1.5 s sent %d events in %s", rep.Events, took)
	}
	// A server that never answers 200: every event is given up, in time.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	r, err := New(Config{URL: srv.URL, Messages: 2, MaxAttempts: 3, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	rep, err = r.Run(ctx)
	if err != nil || rep.Acked != 0 || rep.GaveUp != rep.Events || rep.Requests != 3*rep.Events || rep.Errors["500"] != rep.Requests {
		t.Errorf("against a failing server: err %v\n%s", err, rep)
	}
}
