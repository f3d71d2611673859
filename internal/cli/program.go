// Package cli is the sendops command: its subcommands, and the Program that
// runs the server, which tests start whole.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/prometheus/client_golang/prometheus"

	"sendops/internal/config"
	"sendops/internal/dnscheck"
	"sendops/internal/ingest"
	"sendops/internal/logging"
	"sendops/internal/notify"
	"sendops/internal/service"
	"sendops/internal/snsverify"
	"sendops/internal/store"
	"sendops/internal/web"
)

// Version is set at build time with -ldflags "-X sendops/internal/cli.Version=…".
var Version = "dev"

// Program is a running SendOps server: its database, services, workers and
// HTTP server. Open starts it; Close stops it in a fixed order.
type Program struct {
	Config *config.Config
	Logger *slog.Logger
	// LogOutput is where logs go (stderr by default).
	LogOutput io.Writer

	// SNS verifies SNS messages; nil makes one that fetches certificates
	// from AWS. Tests give one with their own CA.
	SNS *snsverify.Verifier
	// SNSClient confirms SNS subscriptions; nil: a default client. Tests
	// route it to a local server.
	SNSClient *http.Client

	// AWSBase is SendOps's own AWS configuration (credentials to assume
	// customers' roles); zero: the standard credential chain of the server.
	AWSBase *aws.Config

	// DNSResolver answers the live checks of identities' DNS records; nil:
	// the system's resolver. Tests give one that asks their own server.
	DNSResolver dnscheck.Resolver

	// SandboxEndpoint is the address of the emulator `sendops demo` runs
	// in the process, which connections may name (service.Service).
	SandboxEndpoint string

	// GitAllowFile lets template sources name file:// repositories (tests
	// only: never set from configuration).
	GitAllowFile bool

	// Listener, when set before Open, is served instead of listening on
	// Config.Addr (tests listen first to know the port).
	Listener net.Listener

	DB      *store.DB
	Service *service.Service
	Server  *web.Server

	http     *http.Server
	listener net.Listener
	notices  *notify.Queue
	// Ingest is the event writer (group commit).
	Ingest  *ingest.Writer
	stop    context.CancelFunc
	workers sync.WaitGroup
	served  chan error
}

// Open opens the database (migrating it), builds the application and starts
// listening and serving in the background. URL tells where.
func (p *Program) Open(ctx context.Context) error {
	if _, err := p.openService(ctx); err != nil {
		return err
	}
	if p.SNS == nil {
		p.SNS = &snsverify.Verifier{}
	}
	c := p.Config
	var err error
	reg := prometheus.NewRegistry()
	p.Ingest = ingest.NewWriter(p.DB, p.Service.Keyring, p.Logger, ingest.Options{}, reg)
	p.Server, err = web.New(web.Options{
		Service: p.Service, DB: p.DB, Logger: p.Logger, BaseURL: c.BaseURL,
		Secure: c.Secure(), TrustProxy: c.TrustProxy, Version: Version, Registry: reg,
		Ingest: p.Ingest, IngestAuth: &ingest.Auth{DB: p.DB}, SNS: p.SNS, SNSClient: p.SNSClient,
	})
	if err != nil {
		p.Close()
		return err
	}
	if p.listener = p.Listener; p.listener == nil {
		if p.listener, err = net.Listen("tcp", c.Addr); err != nil {
			p.Close()
			return &config.Error{Setting: "SENDOPS_ADDR (--addr)", Problem: err.Error()}
		}
	}
	p.http = p.Server.HTTPServer(c.Addr)
	p.served = make(chan error, 1)
	go func() { p.served <- p.http.Serve(p.listener) }()

	wctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	p.workers.Add(1)
	go func() {
		defer p.workers.Done()
		p.Service.Run(wctx, 10*time.Minute)
	}()
	p.workers.Add(1)
	go func() {
		defer p.workers.Done()
		p.Service.RunTemplateSync(wctx)
	}()
	p.workers.Add(1)
	go func() {
		defer p.workers.Done()
		p.Service.RunTemplateJobs(wctx)
	}()
	p.Logger.Info("sendops serving", "addr", p.listener.Addr().String(), "url", c.BaseURL, "db", string(p.DB.Engine), "version", Version)
	return nil
}

// openService opens the database (migrating it) and builds the services.
func (p *Program) openService(ctx context.Context) (*service.Service, error) {
	c := p.Config
	if p.LogOutput == nil {
		p.LogOutput = os.Stderr
	}
	if p.Logger == nil {
		p.Logger = logging.New(p.LogOutput, c.LogLevel, c.LogFormat)
	}
	mailer, err := notify.New(c.SMTPURL, p.Logger)
	if err != nil {
		return nil, &config.Error{Setting: "SENDOPS_SMTP_URL", Problem: err.Error()}
	}
	if p.DB, err = openDB(ctx, c.DB, true); err != nil {
		return nil, err
	}
	keyring, err := openKeyring(ctx, p.DB, c)
	if err != nil {
		p.DB.Close()
		return nil, err
	}
	p.notices = notify.NewQueue(mailer, p.Logger, 1000)
	if p.AWSBase == nil {
		// Reads the environment, shared config and instance metadata lazily:
		// no AWS call is made here.
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			p.DB.Close()
			return nil, fmt.Errorf("AWS configuration: %w", err)
		}
		p.AWSBase = &cfg
	}
	p.Service = &service.Service{
		DB: p.DB, Keyring: keyring, Notices: p.notices, Logger: p.Logger,
		BaseURL: c.BaseURL, SessionIdle: c.SessionIdle, SessionAbsolute: c.SessionAbsolute,
		AWSBase: *p.AWSBase, AWSPrincipal: c.AWSPrincipal, AllowAWSEndpoint: c.AllowAWSEndpoint, AWSEndpoints: c.AWSEndpoints,
		DNS: p.DNSResolver, SandboxEndpoint: p.SandboxEndpoint,
		GitAllowPrivate: c.GitAllowPrivate, GitAllowFile: p.GitAllowFile,
	}
	if p.Service.DNS == nil {
		p.Service.DNS = net.DefaultResolver
	}
	return p.Service, nil
}

// openDB opens the database and brings its schema up to date, or (with
// migrate false) checks that it is current.
func openDB(ctx context.Context, dsn string, migrate bool) (*store.DB, error) {
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if migrate {
		_, err = db.Migrate(ctx)
	} else {
		err = db.CheckSchema(ctx)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// URL is the address the server listens on, as an http URL.
func (p *Program) URL() string {
	if p.listener == nil {
		return ""
	}
	return "http://" + p.listener.Addr().String()
}

// Served returns a channel that receives the HTTP server's end.
func (p *Program) Served() <-chan error { return p.served }

// Close stops the program in a fixed order: stop accepting and drain HTTP
// (up to 15 s), commit the queued events, stop the workers, send the queued
// notices, close the database.
func (p *Program) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var errs []error
	if p.http != nil {
		if err := p.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
	} else if p.listener != nil {
		p.listener.Close()
	}
	if p.Ingest != nil {
		if err := p.Ingest.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("ingest: %w", err))
		}
	}
	if p.stop != nil {
		p.stop()
	}
	p.workers.Wait()
	if p.notices != nil {
		if err := p.notices.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("notices: %w", err))
		}
	}
	if p.DB != nil {
		if err := p.DB.Close(); err != nil {
			errs = append(errs, fmt.Errorf("database: %w", err))
		}
	}
	if p.Logger != nil && p.http != nil {
		p.Logger.Info("sendops stopped")
	}
	return errors.Join(errs...)
}
