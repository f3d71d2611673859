package config_test

import (
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sendops/internal/config"
)

// key32 is the shortest secret key accepted.
const key32 = "0123456789abcdef0123456789abcdef"

func envOf(vars map[string]string) config.Env {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

// flags registers the server flags and parses args, as the command does.
func flags(t *testing.T, args ...string) *config.Flags {
	t.Helper()
	fs := flag.NewFlagSet("sendops serve", flag.ContinueOnError)
	f := config.Register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return f
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	for _, f := range []*config.Flags{nil, flags(t)} {
		c, err := config.Load(f, envOf(nil), false)
		if err != nil {
			t.Fatal(err)
		}
		want := config.Config{
			Addr: "127.0.0.1:8080", DB: "sqlite:sendops.db", BaseURL: "http://127.0.0.1:8080",
			LogLevel: slog.LevelInfo, LogFormat: "text",
			SessionIdle: 7 * 24 * time.Hour, SessionAbsolute: 30 * 24 * time.Hour,
		}
		if c.Addr != want.Addr || c.DB != want.DB || c.BaseURL != want.BaseURL || c.LogLevel != want.LogLevel ||
			c.LogFormat != want.LogFormat || c.SessionIdle != want.SessionIdle || c.SessionAbsolute != want.SessionAbsolute ||
			c.SMTPURL != "" || c.TrustProxy || c.SecretKey != nil || c.SecretKeyFile != "" || c.Secure() {
			t.Fatalf("defaults (flags %v):\n got %+v\nwant %+v", f != nil, *c, want)
		}
	}
}

func TestBaseURLDerived(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		addr, baseURL, want string
	}{
		{"127.0.0.1:9000", "", "http://127.0.0.1:9000"},
		{":9000", "", "http://localhost:9000"},
		{"0.0.0.0:80", "", "http://localhost:80"},
		{"[::]:8080", "", "http://localhost:8080"},
		{"[::1]:8080", "", "http://[::1]:8080"},
		{"example.net:8080", "", "http://example.net:8080"},
		{":9000", "https://sendops.example.com/", "https://sendops.example.com"},
		{":9000", "https://sendops.example.com", "https://sendops.example.com"},
	} {
		cfg, err := config.Load(nil, envOf(map[string]string{"SENDOPS_ADDR": c.addr, "SENDOPS_BASE_URL": c.baseURL}), false)
		if err != nil || cfg.BaseURL != c.want {
			t.Errorf("addr %q, base URL %q: got %v, %v; want %q", c.addr, c.baseURL, cfg, err, c.want)
			continue
		}
		if cfg.Secure() != strings.HasPrefix(c.want, "https:") {
			t.Errorf("base URL %q: Secure() = %v", cfg.BaseURL, cfg.Secure())
		}
	}
}

func TestEnvironmentAndFlags(t *testing.T) {
	t.Parallel()
	smtpFile := filepath.Join(t.TempDir(), "smtp")
	if err := os.WriteFile(smtpFile, []byte("smtps://u:p@mail.example.com:465?from=a@example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"SENDOPS_ADDR":         "0.0.0.0:7000",
		"SENDOPS_DB":           "postgres://db.example.com/sendops",
		"SENDOPS_BASE_URL":     "https://env.example.com",
		"SENDOPS_LOG_LEVEL":    "warn",
		"SENDOPS_LOG_FORMAT":   "json",
		"SENDOPS_SESSION_IDLE": "2h",
		"SENDOPS_SESSION_MAX":  "72h",
		"SENDOPS_TRUST_PROXY":  "true",
		"SENDOPS_SMTP_URL":     "smtp://mail.example.com:25?from=a@example.com",
	}
	type result struct {
		addr, db, base, format, smtp string
		level                        slog.Level
	}
	for _, c := range []struct {
		name  string
		env   map[string]string
		flags []string
		want  result
	}{
		{"environment", env, nil, result{"0.0.0.0:7000", "postgres://db.example.com/sendops", "https://env.example.com", "json", env["SENDOPS_SMTP_URL"], slog.LevelWarn}},
		{"flags win", env,
			[]string{"--addr", "127.0.0.1:9999", "--db", "sqlite:/tmp/x.db", "--base-url", "http://flag.example.com", "--log-level", "debug", "--log-format", "text"},
			result{"127.0.0.1:9999", "sqlite:/tmp/x.db", "http://flag.example.com", "text", env["SENDOPS_SMTP_URL"], slog.LevelDebug}},
		{"one flag, the rest from the environment", env, []string{"-addr=127.0.0.1:1234"},
			result{"127.0.0.1:1234", "postgres://db.example.com/sendops", "https://env.example.com", "json", env["SENDOPS_SMTP_URL"], slog.LevelWarn}},
		{"flags alone", nil, []string{"--addr", "127.0.0.1:1234", "--db", "postgresql://h/db"},
			result{"127.0.0.1:1234", "postgresql://h/db", "http://127.0.0.1:1234", "text", "", slog.LevelInfo}},
		{"empty variables are unset", map[string]string{"SENDOPS_ADDR": "", "SENDOPS_DB": "", "SENDOPS_LOG_LEVEL": ""}, nil,
			result{"127.0.0.1:8080", "sqlite:sendops.db", "http://127.0.0.1:8080", "text", "", slog.LevelInfo}},
		{"SMTP URL from a file", map[string]string{"SENDOPS_SMTP_URL_FILE": smtpFile}, nil,
			result{"127.0.0.1:8080", "sqlite:sendops.db", "http://127.0.0.1:8080", "text", "smtps://u:p@mail.example.com:465?from=a@example.com", slog.LevelInfo}},
	} {
		var f *config.Flags
		if c.flags != nil {
			f = flags(t, c.flags...)
		}
		cfg, err := config.Load(f, envOf(c.env), false)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		got := result{cfg.Addr, cfg.DB, cfg.BaseURL, cfg.LogFormat, cfg.SMTPURL, cfg.LogLevel}
		if got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}

	cfg, err := config.Load(nil, envOf(env), false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SessionIdle != 2*time.Hour || cfg.SessionAbsolute != 72*time.Hour || !cfg.TrustProxy {
		t.Fatalf("sessions %v/%v, trust proxy %v; want 2h/72h, true", cfg.SessionIdle, cfg.SessionAbsolute, cfg.TrustProxy)
	}
}

func TestInvalidSettings(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing")
	for _, c := range []struct {
		name    string
		env     map[string]string
		flags   []string
		setting string // the variable the error must name
	}{
		{"addr without port", map[string]string{"SENDOPS_ADDR": "nonsense"}, nil, "SENDOPS_ADDR"},
		{"addr flag", map[string]string{"SENDOPS_ADDR": "127.0.0.1:1"}, []string{"--addr", "nonsense"}, "SENDOPS_ADDR"},
		{"empty addr flag", nil, []string{"--addr="}, "SENDOPS_ADDR"},
		{"db of another kind", map[string]string{"SENDOPS_DB": "mysql://h/db"}, nil, "SENDOPS_DB"},
		{"db without path", map[string]string{"SENDOPS_DB": "sqlite:"}, nil, "SENDOPS_DB"},
		{"db flag", nil, []string{"--db", "sendops.db"}, "SENDOPS_DB"},
		{"base URL scheme", map[string]string{"SENDOPS_BASE_URL": "ftp://example.com"}, nil, "SENDOPS_BASE_URL"},
		{"base URL path", map[string]string{"SENDOPS_BASE_URL": "https://example.com/sendops"}, nil, "SENDOPS_BASE_URL"},
		{"base URL host", map[string]string{"SENDOPS_BASE_URL": "https://"}, nil, "SENDOPS_BASE_URL"},
		{"base URL flag", nil, []string{"--base-url", "example.com"}, "SENDOPS_BASE_URL"},
		{"log level", map[string]string{"SENDOPS_LOG_LEVEL": "loud"}, nil, "SENDOPS_LOG_LEVEL"},
		{"log level flag", nil, []string{"--log-level", "loud"}, "SENDOPS_LOG_LEVEL"},
		{"log format", map[string]string{"SENDOPS_LOG_FORMAT": "xml"}, nil, "SENDOPS_LOG_FORMAT"},
		{"log format flag", nil, []string{"--log-format", "JSON5"}, "SENDOPS_LOG_FORMAT"},
		{"SMTP scheme", map[string]string{"SENDOPS_SMTP_URL": "http://mail.example.com"}, nil, "SENDOPS_SMTP_URL"},
		{"SMTP host", map[string]string{"SENDOPS_SMTP_URL": "smtp://"}, nil, "SENDOPS_SMTP_URL"},
		{"SMTP file missing", map[string]string{"SENDOPS_SMTP_URL_FILE": missing}, nil, "SENDOPS_SMTP_URL_FILE"},
		{"session idle not a duration", map[string]string{"SENDOPS_SESSION_IDLE": "forever"}, nil, "SENDOPS_SESSION_IDLE"},
		{"session idle too short", map[string]string{"SENDOPS_SESSION_IDLE": "30s"}, nil, "SENDOPS_SESSION_IDLE"},
		{"session idle negative", map[string]string{"SENDOPS_SESSION_IDLE": "-1h"}, nil, "SENDOPS_SESSION_IDLE"},
		{"session max without unit", map[string]string{"SENDOPS_SESSION_MAX": "30"}, nil, "SENDOPS_SESSION_MAX"},
	} {
		var f *config.Flags
		if c.flags != nil {
			f = flags(t, c.flags...)
		}
		cfg, err := config.Load(f, envOf(c.env), false)
		var ce *config.Error
		if !errors.As(err, &ce) {
			t.Errorf("%s: Load = %+v, %v; want a *config.Error", c.name, cfg, err)
			continue
		}
		if name, _, _ := strings.Cut(ce.Setting, " "); name != c.setting {
			t.Errorf("%s: error names %q, want %s", c.name, ce.Setting, c.setting)
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "invalid "+c.setting) || strings.Contains(msg, "\n") {
			t.Errorf("%s: message %q is not one line naming %s", c.name, msg, c.setting)
		}
	}
}

func TestSecretKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte("  "+key32+"-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const pg = "postgres://db.example.com/sendops"
	for _, c := range []struct {
		name    string
		env     map[string]string
		want    string // the key, or "" for an error
		setting string // the setting an error names
	}{
		{"from the environment", map[string]string{"SENDOPS_DB": pg, "SENDOPS_SECRET_KEY": key32 + "0123456789"}, key32 + "0123456789", ""},
		{"32 characters", map[string]string{"SENDOPS_DB": pg, "SENDOPS_SECRET_KEY": key32}, key32, ""},
		{"from a file", map[string]string{"SENDOPS_DB": pg, "SENDOPS_SECRET_KEY_FILE": keyFile}, key32 + "-from-file", ""},
		{"file missing", map[string]string{"SENDOPS_DB": pg, "SENDOPS_SECRET_KEY_FILE": filepath.Join(dir, "nope")}, "", "SENDOPS_SECRET_KEY_FILE"},
		{"missing with PostgreSQL", map[string]string{"SENDOPS_DB": pg}, "", "SENDOPS_SECRET_KEY"},
		{"empty with PostgreSQL", map[string]string{"SENDOPS_DB": pg, "SENDOPS_SECRET_KEY": ""}, "", "SENDOPS_SECRET_KEY"},
		{"too short", map[string]string{"SENDOPS_DB": pg, "SENDOPS_SECRET_KEY": key32[:31]}, "", "SENDOPS_SECRET_KEY"},
		{"too short with SQLite", map[string]string{"SENDOPS_DB": "sqlite:" + filepath.Join(dir, "s.db"), "SENDOPS_SECRET_KEY": "short"}, "", "SENDOPS_SECRET_KEY"},
	} {
		cfg, err := config.Load(nil, envOf(c.env), true)
		if c.want != "" {
			if err != nil || string(cfg.SecretKey) != c.want || cfg.SecretKeyFile != "" {
				t.Errorf("%s: Load = %+v, %v; want the key %q", c.name, cfg, err, c.want)
			}
			continue
		}
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Setting != c.setting {
			t.Errorf("%s: Load = %+v, %v; want a *config.Error naming %s", c.name, cfg, err, c.setting)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "s.db.secret")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a key file was made though SENDOPS_SECRET_KEY was given: %v", err)
	}

	// Commands that need no secret (migrate) load without one.
	cfg, err := config.Load(nil, envOf(map[string]string{"SENDOPS_DB": pg}), false)
	if err != nil || cfg.SecretKey != nil {
		t.Fatalf("Load without secret = %+v, %v", cfg, err)
	}
}

func TestSecretKeyGeneratedForSQLite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "data", "sendops.db")
	env := envOf(map[string]string{"SENDOPS_DB": "sqlite:" + dbPath})

	// Without the secret, nothing is written.
	if _, err := config.Load(nil, env, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dbPath + ".secret"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load(withSecret=false) made a key file: %v", err)
	}

	first, err := config.Load(nil, env, true)
	if err != nil {
		t.Fatal(err)
	}
	if first.SecretKeyFile != dbPath+".secret" || len(first.SecretKey) < 32 {
		t.Fatalf("generated key file %q, key of %d bytes", first.SecretKeyFile, len(first.SecretKey))
	}
	fi, err := os.Stat(first.SecretKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Fatalf("key file mode %o, want 600", mode)
	}
	stored, err := os.ReadFile(first.SecretKeyFile)
	if err != nil || strings.TrimSpace(string(stored)) != string(first.SecretKey) {
		t.Fatalf("key file holds %q, Load returned %q (%v)", stored, first.SecretKey, err)
	}

	second, err := config.Load(nil, env, true)
	if err != nil || string(second.SecretKey) != string(first.SecretKey) || second.SecretKeyFile != first.SecretKeyFile {
		t.Fatalf("second Load = %q, %v; want the kept key %q", second.SecretKey, err, first.SecretKey)
	}

	// Another database gets another key.
	other, err := config.Load(nil, envOf(map[string]string{"SENDOPS_DB": "sqlite:" + filepath.Join(dir, "other.db")}), true)
	if err != nil || string(other.SecretKey) == string(first.SecretKey) {
		t.Fatalf("another database's key = %q, %v", other.SecretKey, err)
	}
}

// SENDOPS_ALLOW_AWS_ENDPOINT allows any endpoint, none, or only those it
// lists.
func TestAllowAWSEndpoint(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		value   string
		any     bool
		list    []string
		problem string
	}{
		{value: "1", any: true},
		{value: "true", any: true},
		{value: "TRUE", any: true},
		{value: "false"},
		{value: "0"},
		{value: ""},
		{value: "http://127.0.0.1:4566", list: []string{"http://127.0.0.1:4566"}},
		{value: " http://127.0.0.1:4566/ , https://ses.internal.example ,", list: []string{"http://127.0.0.1:4566", "https://ses.internal.example"}},
		{value: "127.0.0.1:4566", problem: `"127.0.0.1:4566" is not an endpoint URL`},
		{value: "ftp://files.example", problem: "is not an endpoint URL"},
		{value: "http://user:pass@127.0.0.1:4566", problem: "is not an endpoint URL"},
		{value: "http://127.0.0.1:4566/?x=1", problem: "is not an endpoint URL"},
	} {
		cfg, err := config.Load(nil, envOf(map[string]string{"SENDOPS_ALLOW_AWS_ENDPOINT": c.value}), false)
		if c.problem != "" {
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Setting != "SENDOPS_ALLOW_AWS_ENDPOINT" || !strings.Contains(ce.Problem, c.problem) {
				t.Errorf("%q: %v, want an error saying %q", c.value, err, c.problem)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.value, err)
			continue
		}
		if cfg.AllowAWSEndpoint != c.any || strings.Join(cfg.AWSEndpoints, " ") != strings.Join(c.list, " ") {
			t.Errorf("%q: any %v, list %q; want %v, %q", c.value, cfg.AllowAWSEndpoint, cfg.AWSEndpoints, c.any, c.list)
		}
	}
}
