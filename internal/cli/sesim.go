package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"sendops/internal/sesim"
)

// runSesim serves the AWS emulator on one address until interrupted, with an
// account whose root access key it prints.
func runSesim(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	addr := fs.String("addr", "127.0.0.1:4566", "listen address")
	account := fs.String("account", "123456789012", "the emulated AWS account id")
	region := fs.String("region", "us-east-1", "the default region")
	keyID := fs.String("access-key-id", "", "a fixed access key id for the account's root user (default: generated)")
	if err := parse(fs, args); err != nil {
		return err
	}
	secretKey := os.Getenv("SENDOPS_SESIM_SECRET_ACCESS_KEY")
	if (*keyID == "") != (secretKey == "") {
		return &usageError{"--access-key-id and SENDOPS_SESIM_SECRET_ACCESS_KEY go together"}
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	sim := sesim.New(sesim.Options{Region: *region, Logger: logger})
	defer sim.Close()
	sim.AddAccount(*account)
	if *keyID != "" {
		if err := sim.ImportAccessKey(*account, "root", *keyID, secretKey); err != nil {
			return &usageError{err.Error()}
		}
	} else {
		*keyID, secretKey = sim.AddAccessKey(*account, "root")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return &usageError{fmt.Sprintf("--addr: %v", err)}
	}
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(stdout, "sesim (STS, SES v2, EventBridge) at http://%s for account %s in %s\nAWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n",
		ln.Addr(), *account, *region, *keyID, secretKey)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shut)
}
