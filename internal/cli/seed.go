package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"sendops/internal/config"
	"sendops/internal/ingest"
	"sendops/internal/seed"
	"sendops/internal/service"
)

// runSeed is `sendops seed`: it stores realistic synthetic SES traffic for
// an organisation directly in the database, through the same code as
// ingest, printing its progress and rate.
func runSeed(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer, env config.Env) error {
	flags := config.Register(fs)
	messages := fs.Int("messages", 0, "SES messages to make (each one to three recipients, several events)")
	org := fs.String("org", "", "the organisation id")
	days := fs.Int("days", 30, "spread the messages over this many days before now")
	connName := fs.String("connection", seed.ConnectionName, "the connection the events arrive on, made (receiving events only) when the organisation has none of that name")
	seedN := fs.Uint64("seed", 1, "with the other flags, decides every message: the same seed stores the same data")
	end := fs.String("end", "", "RFC 3339 time the range ends at (default: now); with it, runs on different days store the same data")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *messages < 1 || *org == "" {
		return &usageError{"seed needs --messages N (1 or more) and --org ORG_ID"}
	}
	if *messages > seed.MaxMessages {
		return &usageError{fmt.Sprintf("--messages: at most %d", seed.MaxMessages)}
	}
	if *days < 1 || *days > 3650 {
		return &usageError{"--days: from 1 to 3650"}
	}
	opts := seed.Options{Messages: *messages, Days: *days, Seed: *seedN}
	if *end != "" {
		t, err := time.Parse(time.RFC3339, *end)
		if err != nil {
			return &usageError{fmt.Sprintf("--end: %q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", *end)}
		}
		opts.End = t
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM) // stop early, keep what is committed
	defer stop()
	return withService(ctx, flags, env, stderr, func(svc *service.Service) error {
		conn, created, err := seed.Connection(ctx, svc, *org, *connName)
		if err != nil {
			return err
		}
		made := ""
		if created {
			made = ", made now"
		}
		fmt.Fprintf(stdout, "seeding %d messages over %d days into the connection %q (%s%s)\n", *messages, *days, conn.Name, conn.ID, made)
		if o, err := svc.Org(ctx, service.SystemActor(*org)); err == nil && o.RetentionDays < *days {
			fmt.Fprintf(stdout, "note: the organisation keeps event data for %d days: searches and pages reach back no further (an owner may raise it in the organisation's settings)\n", o.RetentionDays)
		}
		w := ingest.NewWriter(svc.DB, svc.Keyring, svc.Logger, ingest.Options{}, nil)
		defer w.Close(context.Background())
		last := time.Now()
		opts.Progress = func(p seed.Progress) {
			if time.Since(last) < time.Second {
				return
			}
			last = time.Now()
			fmt.Fprintf(stdout, "  %d of %d messages, %d events, %.0f events/s\n", p.Messages, *messages, p.Events, p.EventsPerSecond())
		}
		p, err := seed.Run(ctx, svc.DB, w, conn, opts)
		if err != nil {
			if p.Messages > 0 {
				fmt.Fprintf(stdout, "stopped after %d messages (%d events), which stay stored; the same command stores the rest\n", p.Messages, p.Events)
			}
			return err
		}
		fmt.Fprintf(stdout, "stored %d messages: %d SES events as %d rows (%d new) in %s, %.0f events/s on %s\n",
			p.Messages, p.Events, p.Rows, p.New, p.Elapsed.Round(time.Millisecond), p.EventsPerSecond(), svc.DB.Engine)
		return nil
	})
}
