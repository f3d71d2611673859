package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"sendops/internal/config"
	"sendops/internal/loadgen"
)

// runLoadgen is `sendops loadgen`: it sends SES events to a local ingest
// endpoint, prints what it measured and, with an API key, checks that every
// acknowledged event is stored exactly once. A lost or doubled event makes
// it fail (exit status 1).
func runLoadgen(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer, env config.Env) error {
	var cfg loadgen.Config
	fs.StringVar(&cfg.URL, "url", "", "the EventBridge ingest URL (127.0.0.1, ::1 or localhost only)")
	fs.StringVar(&cfg.Header, "header", loadgen.DefaultHeader, "the ingest header name")
	fs.StringVar(&cfg.Secret, "secret", "", "the ingest secret (or SENDOPS_LOADGEN_SECRET)")
	fs.StringVar(&cfg.APIKey, "api-key", "", "an API key with read,recipients:read to verify with (or SENDOPS_LOADGEN_API_KEY); none: no verification")
	fs.StringVar(&cfg.APIURL, "api-url", "", "the API's base URL (default: that of --url)")
	fs.StringVar(&cfg.Account, "account", "123456789012", "the AWS account id the events come from")
	fs.StringVar(&cfg.Region, "region", "us-east-1", "the AWS region they come from")
	rate := fs.String("rate", "max", "events per second, or max")
	fs.IntVar(&cfg.Concurrency, "concurrency", 16, "requests in flight at most")
	fs.DurationVar(&cfg.Duration, "duration", loadgen.DefaultDuration, "no new event starts after this (at most 1h)")
	fs.IntVar(&cfg.Messages, "messages", 0, "SES messages to send, each several events (0: until --duration)")
	fs.IntVar(&cfg.MaxAttempts, "max-attempts", 10, "tries per event")
	fs.DurationVar(&cfg.RetryWindow, "retry-window", 30*time.Second, "how long retries go on after --duration")
	seed := fs.Uint64("seed", 0, "makes the messages (0: random)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg.Seed = *seed
	if cfg.Secret == "" {
		cfg.Secret, _ = env("SENDOPS_LOADGEN_SECRET")
	}
	if cfg.APIKey == "" {
		cfg.APIKey, _ = env("SENDOPS_LOADGEN_API_KEY")
	}
	if cfg.URL == "" || cfg.Secret == "" {
		return &usageError{"loadgen needs --url and --secret"}
	}
	if *rate != "max" {
		r, err := strconv.ParseFloat(*rate, 64)
		if err != nil || r <= 0 {
			return &usageError{fmt.Sprintf("--rate: %q is not a positive number or max", *rate)}
		}
		cfg.Rate = r
	}
	if cfg.Concurrency < 1 {
		return &usageError{"--concurrency: must be 1 or more"}
	}
	if cfg.MaxAttempts < 1 {
		return &usageError{"--max-attempts: must be 1 or more"}
	}
	r, err := loadgen.New(cfg)
	if err != nil {
		return &usageError{"loadgen: " + err.Error()}
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM) // stop early, still report
	defer stop()
	rep, err := r.Run(ctx)
	if rep != nil {
		fmt.Fprint(stdout, rep)
	}
	if err != nil {
		return err
	}
	if cfg.APIKey == "" {
		fmt.Fprintln(stdout, "verification  skipped (no --api-key)")
		return nil
	}
	v, err := r.Verify(ctx)
	if v != nil {
		fmt.Fprint(stdout, v)
	}
	if err != nil {
		return err
	}
	if !v.OK() {
		var what []string
		if len(v.Lost) > 0 {
			what = append(what, fmt.Sprintf("%d acknowledged events lost", len(v.Lost)))
		}
		if len(v.Doubled) > 0 {
			what = append(what, fmt.Sprintf("%d events stored twice", len(v.Doubled)))
		}
		if v.Unexpected > 0 {
			what = append(what, fmt.Sprintf("%d unexpected events", v.Unexpected))
		}
		if v.ErrorCount > 0 {
			what = append(what, fmt.Sprintf("%d messages unreadable", v.ErrorCount))
		}
		return errors.New("verification failed: " + strings.Join(what, ", "))
	}
	return nil
}
