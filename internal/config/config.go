// Package config builds SendOps's typed configuration from command-line
// flags and SENDOPS_* environment variables. Flags win over the
// environment; secrets may be read from files (SENDOPS_*_FILE).
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is the server's configuration.
type Config struct {
	Addr      string // listen address, host:port
	DB        string // sqlite:PATH or postgres://…
	BaseURL   string // public base URL, e.g. https://sendops.example.com
	SecretKey []byte // at least 32 bytes; seals secrets at rest
	SMTPURL   string // outgoing notices; "" writes them to the log
	LogLevel  slog.Level
	LogFormat string // text or json

	SessionIdle     time.Duration // a session unused this long ends
	SessionAbsolute time.Duration // a session ends this long after sign-in
	TrustProxy      bool          // take the client address from X-Forwarded-For

	// AWSPrincipal is the ARN customers' roles trust (SendOps's own AWS
	// identity), shown to them; AllowAWSEndpoint lets connections name any
	// endpoint (tests, a local emulator), AWSEndpoints only those listed.
	AWSPrincipal     string
	AllowAWSEndpoint bool
	AWSEndpoints     []string

	// GitAllowPrivate lets template sources' Git URLs reach hosts on
	// loopback, private or link-local addresses (a Git server on the
	// private network); off, only public hosts.
	GitAllowPrivate bool

	// SecretKeyFile is where a generated secret key was kept ("" if none).
	SecretKeyFile string
	// SecretKeyPrevious is the secret key in use before SecretKey, while
	// values sealed under it are re-sealed (sendops keys rotate); nil if none.
	SecretKeyPrevious []byte
}

// Error is an invalid setting: it names the setting. The command line prints
// it on one line and exits with status 2.
type Error struct {
	Setting string
	Problem string
}

func (e *Error) Error() string { return fmt.Sprintf("invalid %s: %s", e.Setting, e.Problem) }

// Env looks up environment variables; tests pass their own.
type Env func(string) (string, bool)

// Flags holds the raw values of the server flags, so that flags given on the
// command line override the environment.
type Flags struct {
	fs       *flag.FlagSet
	addr     string
	db       string
	baseURL  string
	logLevel string
	logFmt   string
}

// Register declares the server flags on fs.
func Register(fs *flag.FlagSet) *Flags {
	f := &Flags{fs: fs}
	fs.StringVar(&f.addr, "addr", "", "listen address (SENDOPS_ADDR, default 127.0.0.1:8080)")
	fs.StringVar(&f.db, "db", "", "database: sqlite:PATH or a postgres:// URL (SENDOPS_DB, default sqlite:sendops.db)")
	fs.StringVar(&f.baseURL, "base-url", "", "public base URL (SENDOPS_BASE_URL, default http://ADDR)")
	fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error (SENDOPS_LOG_LEVEL, default info)")
	fs.StringVar(&f.logFmt, "log-format", "", "text or json (SENDOPS_LOG_FORMAT, default text)")
	return f
}

// set reports the flag's value when it was given on the command line.
func (f *Flags) set(name string) (string, bool) {
	given := false
	f.fs.Visit(func(fl *flag.Flag) {
		if fl.Name == name {
			given = true
		}
	})
	if !given {
		return "", false
	}
	return f.fs.Lookup(name).Value.String(), true
}

// Load builds and validates the configuration. withSecret says whether the
// command needs the secret key (serve does; migrate does not).
func Load(f *Flags, env Env, withSecret bool) (*Config, error) {
	get := func(flagName, envName, def string) string {
		if f != nil {
			if v, ok := f.set(flagName); ok {
				return v
			}
		}
		if v, ok := env(envName); ok && v != "" {
			return v
		}
		return def
	}
	c := &Config{
		Addr:            get("addr", "SENDOPS_ADDR", "127.0.0.1:8080"),
		DB:              get("db", "SENDOPS_DB", "sqlite:sendops.db"),
		BaseURL:         get("base-url", "SENDOPS_BASE_URL", ""),
		LogFormat:       get("log-format", "SENDOPS_LOG_FORMAT", "text"),
		SessionIdle:     7 * 24 * time.Hour,
		SessionAbsolute: 30 * 24 * time.Hour,
	}
	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		return nil, &Error{"SENDOPS_ADDR (--addr)", fmt.Sprintf("%q is not host:port", c.Addr)}
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return nil, &Error{"SENDOPS_ADDR (--addr)", fmt.Sprintf("%q has no port number from 0 to 65535", c.Addr)}
	}
	if !strings.HasPrefix(c.DB, "sqlite:") && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") {
		return nil, &Error{"SENDOPS_DB (--db)", "use sqlite:PATH or a postgres:// URL"}
	}
	if c.DB == "sqlite:" {
		return nil, &Error{"SENDOPS_DB (--db)", "sqlite: needs a file path"}
	}
	if c.BaseURL == "" {
		host, port, _ := net.SplitHostPort(c.Addr)
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "localhost"
		}
		c.BaseURL = "http://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, &Error{"SENDOPS_BASE_URL (--base-url)", fmt.Sprintf("%q is not an http(s) URL without a path", c.BaseURL)}
	}
	c.BaseURL = strings.TrimSuffix(c.BaseURL, "/")
	if err := c.LogLevel.UnmarshalText([]byte(get("log-level", "SENDOPS_LOG_LEVEL", "info"))); err != nil {
		return nil, &Error{"SENDOPS_LOG_LEVEL (--log-level)", "use debug, info, warn or error"}
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return nil, &Error{"SENDOPS_LOG_FORMAT (--log-format)", "use text or json"}
	}
	if c.SMTPURL, err = secretValue(env, "SENDOPS_SMTP_URL"); err != nil {
		return nil, err
	}
	if c.SMTPURL != "" {
		if u, err := url.Parse(c.SMTPURL); err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Host == "" {
			return nil, &Error{"SENDOPS_SMTP_URL", "use smtp://[user:pass@]host[:port]?from=ADDRESS or smtps://…"}
		}
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"SENDOPS_SESSION_IDLE", &c.SessionIdle}, {"SENDOPS_SESSION_MAX", &c.SessionAbsolute}} {
		if v, ok := env(d.name); ok && v != "" {
			if *d.dst, err = time.ParseDuration(v); err != nil || *d.dst < time.Minute {
				return nil, &Error{d.name, fmt.Sprintf("%q is not a duration of a minute or more (e.g. 24h)", v)}
			}
		}
	}
	if v, ok := env("SENDOPS_TRUST_PROXY"); ok {
		c.TrustProxy = v == "1" || v == "true"
	}
	if v, ok := env("SENDOPS_GIT_ALLOW_PRIVATE"); ok {
		c.GitAllowPrivate = v == "1" || v == "true"
	}
	if v, ok := env("SENDOPS_ALLOW_AWS_ENDPOINT"); ok {
		if c.AllowAWSEndpoint, c.AWSEndpoints, err = parseEndpoints(v); err != nil {
			return nil, err
		}
	}
	if v, ok := env("SENDOPS_AWS_PRINCIPAL"); ok && v != "" {
		if !strings.HasPrefix(v, "arn:aws") {
			return nil, &Error{"SENDOPS_AWS_PRINCIPAL", "use an IAM ARN such as arn:aws:iam::123456789012:role/SendOps"}
		}
		c.AWSPrincipal = v
	}
	if withSecret {
		if err := c.loadSecret(env); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// parseEndpoints reads SENDOPS_ALLOW_AWS_ENDPOINT: "1" or "true" allows any
// endpoint; "", "0" or "false" none; anything else is a comma-separated
// list of the exact endpoint URLs allowed.
func parseEndpoints(v string) (all bool, list []string, err error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true":
		return true, nil, nil
	case "", "0", "false":
		return false, nil, nil
	}
	for _, e := range strings.Split(v, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		u, perr := url.Parse(e)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return false, nil, &Error{"SENDOPS_ALLOW_AWS_ENDPOINT", fmt.Sprintf("%q is not an endpoint URL: use true, or a comma-separated list such as http://127.0.0.1:4566,https://ses.internal.example", e)}
		}
		list = append(list, strings.TrimSuffix(e, "/"))
	}
	return false, list, nil
}

// secretValue reads NAME, or the file named by NAME_FILE.
func secretValue(env Env, name string) (string, error) {
	if file, ok := env(name + "_FILE"); ok && file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", &Error{name + "_FILE", fmt.Sprintf("cannot read %s: %v", file, errors.Unwrap(err))}
		}
		return strings.TrimSpace(string(b)), nil
	}
	v, _ := env(name)
	return v, nil
}

// loadSecret reads the secret key. On SQLite without one, a key is made
// once and kept beside the database file (PATH.secret, mode 0600).
func (c *Config) loadSecret(env Env) error {
	v, err := secretValue(env, "SENDOPS_SECRET_KEY")
	if err != nil {
		return err
	}
	if v == "" && strings.HasPrefix(c.DB, "sqlite:") {
		c.SecretKeyFile = strings.TrimPrefix(c.DB, "sqlite:") + ".secret"
		b, err := os.ReadFile(c.SecretKeyFile)
		if errors.Is(err, os.ErrNotExist) {
			key := make([]byte, 32)
			rand.Read(key)
			v = hex.EncodeToString(key)
			if err := os.MkdirAll(filepath.Dir(c.SecretKeyFile), 0o700); err != nil {
				return &Error{"SENDOPS_SECRET_KEY", err.Error()}
			}
			if err := os.WriteFile(c.SecretKeyFile, []byte(v+"\n"), 0o600); err != nil {
				return &Error{"SENDOPS_SECRET_KEY", fmt.Sprintf("cannot keep a generated key in %s: %v", c.SecretKeyFile, err)}
			}
		} else if err != nil {
			return &Error{"SENDOPS_SECRET_KEY", fmt.Sprintf("cannot read %s: %v", c.SecretKeyFile, err)}
		} else {
			v = strings.TrimSpace(string(b))
		}
	}
	if v == "" {
		return &Error{"SENDOPS_SECRET_KEY", "required with PostgreSQL: set it (or SENDOPS_SECRET_KEY_FILE) to 32 or more random bytes, e.g. the output of `openssl rand -hex 32`"}
	}
	if len(v) < 32 {
		return &Error{"SENDOPS_SECRET_KEY", "must be at least 32 characters"}
	}
	c.SecretKey = []byte(v)
	prev, err := secretValue(env, "SENDOPS_SECRET_KEY_PREVIOUS")
	if err != nil {
		return err
	}
	switch {
	case prev == "":
	case len(prev) < 32:
		return &Error{"SENDOPS_SECRET_KEY_PREVIOUS", "must be at least 32 characters: the secret key used before SENDOPS_SECRET_KEY"}
	case prev == v:
		return &Error{"SENDOPS_SECRET_KEY_PREVIOUS", "is the same as SENDOPS_SECRET_KEY: give the key used before it, or unset it"}
	default:
		c.SecretKeyPrevious = []byte(prev)
	}
	return nil
}

// Secure reports whether the public URL is https (cookies get Secure, and
// HSTS is sent).
func (c *Config) Secure() bool { return strings.HasPrefix(c.BaseURL, "https://") }
