package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"sendops/internal/awsconn"
	"sendops/internal/config"
	"sendops/internal/domain"
	"sendops/internal/service"
	"sendops/internal/sesim"
	"sendops/internal/sesim/shopapp"
)

// The sandbox (`sendops demo`): sesim runs in the process on a loopback
// port of its own (SigV4 signs the path, so the emulator cannot sit under
// a prefix of SendOps's server). SendOps's own AWS identity lives in it, and
// so does an emulated customer account with the role and invocation role
// the CloudFormation template makes. The demo organisation reaches that
// account through an ordinary role connection and sets up its event
// pipeline through the same service code a real account uses; then the
// customer's application (package shopapp) sends a steady, bounded trickle
// of mailbox simulator mail, whose events come back through sesim's
// EventBridge delivery to SendOps's real ingest endpoint.
const (
	sandboxSendOpsAccount = "999999999999"
	sandboxCustomer       = "123456789012"
	sandboxRegion         = "us-east-1"
	sandboxRole           = "SendOps"
	sandboxConnection     = "Sandbox"
	sandboxConfigSet      = "sandbox"
	sandboxDomain         = "shop.example.com"
)

// demoOptions are the sandbox's own settings.
type demoOptions struct {
	Interval time.Duration // between two sends
	Messages int           // how many to send before the trickle stops
}

type demoFlags struct{ interval, messages *string }

// registerDemoFlags adds the sandbox's flags to the demo command.
func registerDemoFlags(fs *flag.FlagSet) *demoFlags {
	return &demoFlags{
		interval: fs.String("demo-interval", "", "time between two sandbox sends (SENDOPS_DEMO_INTERVAL, default 2s)"),
		messages: fs.String("demo-messages", "", "how many messages the sandbox sends before it stops (SENDOPS_DEMO_MESSAGES, default 600)"),
	}
}

// load reads the sandbox's settings: flags win over SENDOPS_DEMO_*.
func (f *demoFlags) load(env config.Env) (*demoOptions, error) {
	get := func(flagValue *string, name string) string {
		if *flagValue != "" {
			return *flagValue
		}
		v, _ := env(name)
		return v
	}
	o := &demoOptions{Interval: 2 * time.Second, Messages: 600}
	if v := get(f.interval, "SENDOPS_DEMO_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 10*time.Millisecond {
			return nil, &config.Error{Setting: "SENDOPS_DEMO_INTERVAL (--demo-interval)", Problem: fmt.Sprintf("%q is not a duration of 10ms or more", v)}
		}
		o.Interval = d
	}
	if v := get(f.messages, "SENDOPS_DEMO_MESSAGES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, &config.Error{Setting: "SENDOPS_DEMO_MESSAGES (--demo-messages)", Problem: fmt.Sprintf("%q is not a whole number of 0 or more", v)}
		}
		o.Messages = n
	}
	return o, nil
}

// sandbox is the emulated AWS of `sendops demo` and its trickle of mail.
type sandbox struct {
	log       *slog.Logger
	sim       *sesim.Sim
	srv       *http.Server
	served    chan struct{}
	url       string     // the emulator's endpoint
	base      aws.Config // SendOps's own AWS identity, in the emulator
	principal string     // its ARN, which the customer's role trusts

	stop    context.CancelFunc
	sending sync.WaitGroup
}

// startSandbox starts the emulator on a loopback port with SendOps's own
// identity in it. Nothing reaches it before setUp.
func startSandbox(logger *slog.Logger) (*sandbox, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	b := &sandbox{log: logger, served: make(chan struct{}), url: "http://" + ln.Addr().String()}
	b.sim = sesim.New(sesim.Options{Region: sandboxRegion, Logger: logger.With("component", "sesim")})
	id, secret := b.sim.AddAccessKey(sandboxSendOpsAccount, "sendops")
	b.principal = "arn:aws:iam::" + sandboxSendOpsAccount + ":user/sendops"
	b.base = aws.Config{Region: sandboxRegion, Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")}
	b.srv = &http.Server{Handler: b.sim.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		defer close(b.served)
		if err := b.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("sandbox: the emulator stopped", "err", err)
		}
	}()
	return b, nil
}

// setUp makes the customer's account (role trusting SendOps with the
// organisation's ExternalId, invocation role, verified domain, template),
// connects the organisation to it (once: a restarted sandbox reuses its
// connection), sets up its event pipeline and starts the trickle.
func (b *sandbox) setUp(ctx context.Context, svc *service.Service, a *domain.Actor, opts *demoOptions) error {
	ext, err := svc.ExternalID(ctx, a)
	if err != nil {
		return err
	}
	// The role holds exactly the policy SendOps shows customers.
	role := b.sim.AddRole(sandboxCustomer, sandboxRole, b.principal, ext, awsconn.PolicyActions())
	b.sim.AddServiceRole(sandboxCustomer, awsconn.InvokeRoleName, sesim.EventBridgePrincipal, []string{"events:InvokeApiDestination"})
	appID, appSecret := b.sim.AddAccessKey(sandboxCustomer, "shop-app")
	shop := &shopapp.App{Domain: sandboxDomain, ConfigSet: sandboxConfigSet, Log: b.log,
		SES: sesv2.NewFromConfig(aws.Config{Region: sandboxRegion, BaseEndpoint: aws.String(b.url),
			Credentials: credentials.NewStaticCredentialsProvider(appID, appSecret, "")})}
	if err := shop.Prepare(ctx); err != nil {
		return err
	}

	conn, err := svc.SandboxConnection(ctx, a, service.ConnectionInput{Name: sandboxConnection, AWSAccountID: sandboxCustomer,
		Region: sandboxRegion, RoleARN: role, Endpoint: b.url})
	if err != nil {
		return fmt.Errorf("sandbox: connection: %w", err)
	}
	p, err := svc.SetUpPipeline(ctx, a, conn.ID, service.PipelineInput{ConfigurationSet: sandboxConfigSet})
	if err != nil {
		return fmt.Errorf("sandbox: event pipeline: %w", err)
	}
	b.log.Info("sandbox ready", "connection", conn.ID, "aws", b.url, "pipeline", strings.Join(p.Changes, "; "))

	tctx, stop := context.WithCancel(context.Background())
	b.stop = stop
	b.sending.Add(1)
	go func() {
		defer b.sending.Done()
		shop.Trickle(tctx, opts.Messages, opts.Interval)
	}()
	return nil
}

// Close stops the trickle, gives the events in flight a moment to reach
// SendOps (whose server still runs), then stops the emulator.
func (b *sandbox) Close() {
	if b.stop != nil {
		b.stop()
	}
	b.sending.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	b.sim.Idle(ctx)
	b.sim.Close()
	if err := b.srv.Shutdown(ctx); err != nil {
		b.srv.Close()
	}
	<-b.served
}

// demoActor is the demo user acting in the demo organisation.
func demoActor(ctx context.Context, svc *service.Service) (*domain.Actor, error) {
	u, err := svc.UserByEmail(ctx, demoEmail)
	if err != nil {
		return nil, err
	}
	ms, err := svc.Memberships(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if m.OrgName == demoOrg {
			return &domain.Actor{OrgID: m.OrgID, UserID: u.ID, Email: u.Email, Role: m.Role, IP: "sandbox"}, nil
		}
	}
	return nil, fmt.Errorf("the demo user is not in %q", demoOrg)
}
