package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"sendops/internal/config"
)

func TestSecretKeyPrevious(t *testing.T) {
	t.Parallel()
	const pg = "postgres://db.example.com/sendops"
	prevFile := filepath.Join(t.TempDir(), "previous")
	if err := os.WriteFile(prevFile, []byte("previous-"+key32+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		env     map[string]string
		want    string // the previous key; "" for none
		setting string // the setting an error names
	}{
		{"unset", map[string]string{}, "", ""},
		{"from the environment", map[string]string{"SENDOPS_SECRET_KEY_PREVIOUS": "old-" + key32}, "old-" + key32, ""},
		{"from a file", map[string]string{"SENDOPS_SECRET_KEY_PREVIOUS_FILE": prevFile}, "previous-" + key32, ""},
		{"file missing", map[string]string{"SENDOPS_SECRET_KEY_PREVIOUS_FILE": prevFile + ".missing"}, "", "SENDOPS_SECRET_KEY_PREVIOUS_FILE"},
		{"too short", map[string]string{"SENDOPS_SECRET_KEY_PREVIOUS": "short"}, "", "SENDOPS_SECRET_KEY_PREVIOUS"},
		{"the current key", map[string]string{"SENDOPS_SECRET_KEY_PREVIOUS": key32}, "", "SENDOPS_SECRET_KEY_PREVIOUS"},
	} {
		c.env["SENDOPS_DB"], c.env["SENDOPS_SECRET_KEY"] = pg, key32
		cfg, err := config.Load(nil, envOf(c.env), true)
		if c.setting == "" {
			if err != nil || string(cfg.SecretKeyPrevious) != c.want {
				t.Errorf("%s: Load = %+v, %v; want the previous key %q", c.name, cfg, err, c.want)
			}
			continue
		}
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Setting != c.setting {
			t.Errorf("%s: Load = %+v, %v; want a *config.Error naming %s", c.name, cfg, err, c.setting)
		}
	}
}
