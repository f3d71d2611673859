package secret

import (
	"strings"
	"testing"
)

func TestKeyringSealOpen(t *testing.T) {
	k, err := NewKeyring([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	sealed := k.Seal("JBSWY3DPEHPK3PXP", "totp:u1")
	if strings.Contains(sealed, "JBSWY3DPEHPK3PXP") || !strings.HasPrefix(sealed, "v1:") {
		t.Fatalf("sealed value %q shows the secret or lacks its version", sealed)
	}
	if got, err := k.Open(sealed, "totp:u1"); err != nil || got != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := k.Open(sealed, "totp:u2"); err == nil {
		t.Fatal("a value opened under another context")
	}
	other, _ := NewKeyring([]byte(strings.Repeat("x", 32)))
	if _, err := other.Open(sealed, "totp:u1"); err == nil {
		t.Fatal("a value opened under another secret key")
	}
	if _, err := NewKeyring([]byte("short")); err == nil {
		t.Fatal("a short secret key was accepted")
	}
}

func TestPassword(t *testing.T) {
	h := HashPassword("correct horse battery staple")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not argon2id PHC", h)
	}
	if !CheckPassword(h, "correct horse battery staple") {
		t.Fatal("the right password was refused")
	}
	if CheckPassword(h, "correct horse battery stapl") || CheckPassword("", "x") || CheckPassword("garbage", "x") {
		t.Fatal("a wrong password was accepted")
	}
	if HashPassword("a") == HashPassword("a") {
		t.Fatal("two hashes of one password are equal: no salt")
	}
}
