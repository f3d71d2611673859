package sesim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

const (
	testAccount  = "111122223333"
	otherAccount = "444455556666"
)

// env is a simulator served over HTTP with root credentials.
type env struct {
	sim          *Sim
	srv          *httptest.Server
	rootID       string
	rootSecret   string
	root         aws.Config
	ses          *sesv2.Client
	eb           *eventbridge.Client
	sts          *sts.Client
	clockMu      sync.Mutex
	clockCurrent time.Time
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	e := &env{clockCurrent: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	if opts.Now == nil {
		opts.Now = e.now
	}
	if opts.RetryBase == 0 {
		opts.RetryBase = 5 * time.Millisecond
	}
	e.sim = New(opts)
	e.srv = httptest.NewServer(e.sim.Handler())
	t.Cleanup(func() {
		e.sim.Close()
		e.srv.Close()
	})
	e.rootID, e.rootSecret = e.sim.AddAccessKey(testAccount, "")
	e.root = e.config(e.rootID, e.rootSecret, "")
	e.ses = sesv2.NewFromConfig(e.root)
	e.eb = eventbridge.NewFromConfig(e.root)
	e.sts = sts.NewFromConfig(e.root)
	return e
}

func (e *env) now() time.Time {
	e.clockMu.Lock()
	defer e.clockMu.Unlock()
	return e.clockCurrent
}

func (e *env) advance(d time.Duration) {
	e.clockMu.Lock()
	defer e.clockMu.Unlock()
	e.clockCurrent = e.clockCurrent.Add(d)
}

// config is an SDK configuration pointed at the simulator. Retries back off
// without delay so throttling tests stay fast.
func (e *env) config(id, secret, token string) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, token),
		BaseEndpoint: aws.String(e.srv.URL),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		},
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// apiCode returns the AWS error code of err, or "" when err is nil.
func apiCode(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error is not an AWS API error: %v", err)
	}
	return ae.ErrorCode()
}

// receiver is an HTTP endpoint recording what API destinations post.
type receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	requests []recorded
	statuses []int // answered in order; 200 once exhausted
	headers  map[string]string
}

type recorded struct {
	header http.Header
	body   []byte
	env    map[string]any
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	t.Helper()
	rc := &receiver{statuses: statuses, headers: map[string]string{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var env map[string]any
		json.Unmarshal(body, &env)
		rc.mu.Lock()
		rc.requests = append(rc.requests, recorded{r.Header.Clone(), body, env})
		status := http.StatusOK
		if len(rc.statuses) > 0 {
			status, rc.statuses = rc.statuses[0], rc.statuses[1:]
		}
		for k, v := range rc.headers {
			w.Header().Set(k, v)
		}
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) received() []recorded {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]recorded(nil), rc.requests...)
}

func TestActionMatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, action string
		want            bool
	}{
		{"ses:GetAccount", "ses:GetAccount", true},
		{"ses:getaccount", "ses:GetAccount", true},
		{"ses:*", "ses:SendEmail", true},
		{"ses:Get*", "ses:GetEmailIdentity", true},
		{"ses:Get*", "ses:ListEmailIdentities", false},
		{"*", "events:PutRule", true},
		{"events:PutRule", "events:PutTargets", false},
		{"sts:AssumeRole", "ses:GetAccount", false},
	}
	for _, tt := range tests {
		if got := actionMatches(tt.pattern, tt.action); got != tt.want {
			t.Errorf("actionMatches(%q, %q) = %v, want %v", tt.pattern, tt.action, got, tt.want)
		}
	}
}

func TestSESID(t *testing.T) {
	t.Parallel()
	id := sesID("us-east-1", time.UnixMilli(0x018f00000000))
	if !strings.HasPrefix(id, "0100018f00000000-") || !strings.HasSuffix(id, "-000000") || len(id) != 60 {
		t.Errorf("sesID = %q, want 0100018f00000000-<uuid>-000000", id)
	}
}

func TestUnsignedAndUnknownRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	resp, err := http.Get(e.srv.URL + "/v2/email/account")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("x-amzn-ErrorType") != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned request: status %d, error type %q; want 403 MissingAuthenticationTokenException", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"))
	}
}
