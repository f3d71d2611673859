package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"sendops/internal/config"
	"sendops/internal/domain"
	"sendops/internal/logging"
	"sendops/internal/service"
	"sendops/internal/store"
)

// usageError is a command line that cannot be run; exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

const usage = `sendops — a control plane for Amazon SES

Usage:
  sendops serve   [--addr A] [--db D] [--base-url U] [--log-level L] [--log-format F]
  sendops demo    [--addr A] [--db D] [--demo-interval 2s] [--demo-messages 600]
                                           the sandbox: serve with a demo account, an emulated AWS account and a trickle of mail
  sendops migrate [--db D]                 apply database migrations
  sendops user create --email E --password-file F --org NAME [--name N]
  sendops apikey create --org ORG_ID --scopes read,write,recipients:read,admin --name N
  sendops keys rotate [--db D]             re-seal every secret at rest under a new key version
  sendops loadgen --url U --secret S [--rate R|max] [--concurrency C] [--duration D] [--messages M] [--api-key K]
  sendops sesim [--addr A]                 the AWS emulator (STS, SES v2, EventBridge) on one address
  sendops seed --messages N --org ORG_ID [--db D] [--days 30] [--connection NAME] [--seed S] [--end T]
                                           store realistic synthetic SES traffic, for benchmarks and demos
  sendops templates lint DIR               check the email templates a repository maps (exit 1 on errors)
  sendops templates render DIR NAME [--data FILE]
                                           render one as SES would: subject, text and HTML parts
  sendops version

Every flag has a SENDOPS_* environment variable (SENDOPS_ADDR, SENDOPS_DB,
SENDOPS_BASE_URL, SENDOPS_LOG_LEVEL, SENDOPS_LOG_FORMAT); secrets come from
SENDOPS_SECRET_KEY (and SENDOPS_SECRET_KEY_PREVIOUS while changing it) and
SENDOPS_SMTP_URL, or the files named by *_FILE.
`

// Main runs the sendops command with args (without the program name) and
// returns its exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, env config.Env) int {
	err := run(ctx, args, stdout, stderr, env)
	if err == nil {
		return 0
	}
	var ce *config.Error
	var ue *usageError
	switch {
	case errors.As(err, &ce):
		fmt.Fprintf(stderr, "sendops: %v\n", ce)
		return 2
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "sendops: %v\n", ue)
		return 2
	case errors.Is(err, flag.ErrHelp):
		return 0
	}
	var de *domain.Error
	if errors.As(err, &de) {
		fmt.Fprintf(stderr, "sendops: %s\n", de.Message)
	} else {
		fmt.Fprintf(stderr, "sendops: %v\n", err)
	}
	return 1
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, env config.Env) error {
	if len(args) == 0 {
		return &usageError{"name a command (sendops help lists them)"}
	}
	cmd, rest := args[0], args[1:]
	if (cmd == "user" || cmd == "apikey") && len(rest) > 0 && rest[0] == "create" {
		cmd, rest = cmd+" create", rest[1:]
	}
	if cmd == "keys" && len(rest) > 0 && rest[0] == "rotate" {
		cmd, rest = "keys rotate", rest[1:]
	}
	fs := flag.NewFlagSet("sendops "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by Main
	switch cmd {
	case "serve", "demo":
		flags := config.Register(fs)
		var df *demoFlags
		if cmd == "demo" {
			df = registerDemoFlags(fs)
		}
		if err := parse(fs, rest); err != nil {
			return err
		}
		var demo *demoOptions
		if cmd == "demo" {
			env = demoEnv(env)
			var err error
			if demo, err = df.load(env); err != nil {
				return err
			}
		}
		cfg, err := config.Load(flags, env, true)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stdout, stderr, demo)
	case "migrate":
		flags := config.Register(fs)
		if err := parse(fs, rest); err != nil {
			return err
		}
		cfg, err := config.Load(flags, env, false)
		if err != nil {
			return err
		}
		db, err := store.Open(ctx, cfg.DB)
		if err != nil {
			return err
		}
		defer db.Close()
		n, err := db.Migrate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "schema at version %d (%d migrations applied)\n", db.KnownVersion(), n)
		return nil
	case "user create":
		flags := config.Register(fs)
		email := fs.String("email", "", "the user's email address")
		pwFile := fs.String("password-file", "", "a file holding the password (- for standard input)")
		org := fs.String("org", "", "the name of the new organisation the user will own")
		name := fs.String("name", "", "the user's name (default: the part of the email before @)")
		if err := parse(fs, rest); err != nil {
			return err
		}
		if *email == "" || *pwFile == "" || *org == "" {
			return &usageError{"user create needs --email, --password-file and --org"}
		}
		pw, err := readPassword(*pwFile)
		if err != nil {
			return err
		}
		if *name == "" {
			*name, _, _ = strings.Cut(*email, "@")
		}
		return withService(ctx, flags, env, stderr, func(svc *service.Service) error {
			_, o, err := svc.CreateUser(ctx, service.SignUp{Name: *name, Email: *email, Password: pw, OrgName: *org})
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, o.ID)
			return nil
		})
	case "apikey create":
		flags := config.Register(fs)
		org := fs.String("org", "", "the organisation id")
		scopes := fs.String("scopes", "read", "comma-separated: read, write, recipients:read, admin")
		name := fs.String("name", "", "what the key is for")
		if err := parse(fs, rest); err != nil {
			return err
		}
		if *org == "" || *name == "" {
			return &usageError{"apikey create needs --org and --name"}
		}
		sc, err := domain.ParseScopes(*scopes)
		if err != nil {
			return &usageError{"--scopes: " + domain.ErrorMessage(err)}
		}
		return withService(ctx, flags, env, stderr, func(svc *service.Service) error {
			_, token, err := svc.CreateAPIKey(ctx, service.SystemActor(*org), *name, sc)
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, token)
			return nil
		})
	case "keys rotate":
		return runKeysRotate(ctx, fs, rest, stdout, env)
	case "loadgen":
		return runLoadgen(ctx, fs, rest, stdout, env)
	case "sesim":
		return runSesim(ctx, fs, rest, stdout, stderr)
	case "seed":
		return runSeed(ctx, fs, rest, stdout, stderr, env)
	case "templates":
		return runTemplates(fs, rest, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "sendops", Version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return &usageError{fmt.Sprintf("unknown command %q (sendops help lists them)", strings.Join(args[:min(2, len(args))], " "))}
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stdout)
			fs.PrintDefaults()
			return err
		}
		return &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func readPassword(file string) (string, error) {
	var b []byte
	var err error
	if file == "-" {
		b, err = io.ReadAll(io.LimitReader(os.Stdin, 4096))
	} else {
		b, err = os.ReadFile(file)
	}
	if err != nil {
		return "", &usageError{"--password-file: " + err.Error()}
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// withService opens the database (migrating it) and runs fn with a service
// that has no HTTP server.
func withService(ctx context.Context, flags *config.Flags, env config.Env, stderr io.Writer, fn func(*service.Service) error) error {
	cfg, err := config.Load(flags, env, true)
	if err != nil {
		return err
	}
	p := &Program{Config: cfg, LogOutput: stderr}
	svc, err := p.openService(ctx)
	if err != nil {
		return err
	}
	defer p.Close()
	return fn(svc)
}

// demoEnv points the sandbox at its own SQLite file unless told otherwise.
func demoEnv(env config.Env) config.Env {
	return func(k string) (string, bool) {
		if k == "SENDOPS_DB" {
			if v, ok := env(k); ok && v != "" {
				return v, true
			}
			return "sqlite:" + filepath.Join("sendops-demo", "sendops.db"), true
		}
		return env(k)
	}
}

// Demo account, for the sandbox only.
const (
	demoEmail    = "demo@sendops.test"
	demoPassword = "sendops-demo-password"
	demoOrg      = "Demo organisation"
)

// serve runs the server until ctx ends; with demo, the sandbox too (see
// demo.go).
func serve(ctx context.Context, cfg *config.Config, stdout, stderr io.Writer, demo *demoOptions) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	p := &Program{Config: cfg, LogOutput: stderr}
	var box *sandbox
	if demo != nil {
		p.Logger = logging.New(stderr, cfg.LogLevel, cfg.LogFormat)
		var err error
		if box, err = startSandbox(p.Logger); err != nil {
			return err
		}
		// SendOps's own AWS identity is in the emulator, and connections
		// may name it (and only it) without SENDOPS_ALLOW_AWS_ENDPOINT.
		p.AWSBase, p.SandboxEndpoint, cfg.AWSPrincipal = &box.base, box.url, box.principal
	}
	// The sandbox's trickle and deliveries need the server and the
	// database: they stop first.
	shutdown := func() error {
		if box != nil {
			box.Close()
		}
		return p.Close()
	}
	if err := p.Open(ctx); err != nil {
		if box != nil {
			box.Close()
		}
		return err
	}
	if cfg.SecretKeyFile != "" {
		p.Logger.Info("secret key kept beside the database", "file", cfg.SecretKeyFile)
	}
	if demo != nil {
		if err := ensureDemo(ctx, p.Service); err != nil {
			shutdown()
			return err
		}
		a, err := demoActor(ctx, p.Service)
		if err == nil {
			err = box.setUp(ctx, p.Service, a, demo)
		}
		if err != nil {
			shutdown()
			return err
		}
		fmt.Fprintf(stdout, "\nSendOps sandbox at %s\nSign in as %s with the password %s\n", cfg.BaseURL, demoEmail, demoPassword)
		fmt.Fprintf(stdout, "An emulated AWS account (%s) sends %d messages of simulator mail, one every %s, through the event pipeline.\n\n",
			sandboxCustomer, demo.Messages, demo.Interval)
	}
	select {
	case <-ctx.Done():
		p.Logger.Info("shutting down")
	case err := <-p.Served():
		if !errors.Is(err, http.ErrServerClosed) {
			shutdown()
			return err
		}
	}
	return shutdown()
}

// ensureDemo creates the demo user and organisation when missing.
func ensureDemo(ctx context.Context, svc *service.Service) error {
	if _, err := svc.UserByEmail(ctx, demoEmail); err == nil || !domain.IsNotFound(err) {
		return err
	}
	_, _, err := svc.CreateUser(ctx, service.SignUp{Name: "Demo user", Email: demoEmail, Password: demoPassword, OrgName: demoOrg})
	return err
}
