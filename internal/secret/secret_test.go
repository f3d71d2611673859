package secret

import (
	"errors"
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

func TestKeyringVersions(t *testing.T) {
	oldKey, newKey := []byte(strings.Repeat("a", 32)), []byte(strings.Repeat("b", 32))
	if Fingerprint(oldKey) == Fingerprint(newKey) || Fingerprint(oldKey) != Fingerprint([]byte(strings.Repeat("a", 32))) || len(Fingerprint(oldKey)) != 16 {
		t.Fatalf("fingerprints %q and %q do not tell keys apart", Fingerprint(oldKey), Fingerprint(newKey))
	}

	// A server that started at version 1 of the old key.
	running, err := NewKeyring(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	v1 := running.Seal("first", "c")

	// A rotation with the same key: version 2 seals, version 1 still opens.
	rotating, err := NewVersionedKeyring(oldKey, nil, map[int]string{1: Fingerprint(oldKey)})
	if err != nil {
		t.Fatal(err)
	}
	if err := rotating.Advance(2); err != nil {
		t.Fatal(err)
	}
	v2 := rotating.Seal("second", "c")
	if !strings.HasPrefix(v2, "v2:") || rotating.Version() != 2 {
		t.Fatalf("after Advance(2) Seal made %q", v2)
	}
	if got, err := rotating.Open(v1, "c"); err != nil || got != "first" {
		t.Fatalf("version 1 after rotation: %q, %v", got, err)
	}
	// The server that still seals under version 1 opens version 2 (it
	// derives it on demand) and keeps sealing under version 1.
	if got, err := running.Open(v2, "c"); err != nil || got != "second" {
		t.Fatalf("a running server opened the rotated value as %q, %v", got, err)
	}
	if !strings.HasPrefix(running.Seal("x", "c"), "v1:") {
		t.Fatal("a running server changed its sealing version by itself")
	}
	if _, err := running.Open(v2, "other"); err == nil {
		t.Fatal("a value of an unrecorded version opened under another context")
	}

	// The secret key changes: version 3 comes from the new key; the old key,
	// given as the previous one, opens versions 1 and 2.
	versions := map[int]string{1: Fingerprint(oldKey), 2: Fingerprint(oldKey), 3: Fingerprint(newKey)}
	changed, err := NewVersionedKeyring(newKey, oldKey, versions)
	if err != nil {
		t.Fatal(err)
	}
	v3 := changed.Seal("third", "c")
	if !strings.HasPrefix(v3, "v3:") {
		t.Fatalf("the new key sealed %q, not under version 3", v3)
	}
	for sealed, want := range map[string]string{v1: "first", v2: "second", v3: "third"} {
		if got, err := changed.Open(sealed, "c"); err != nil || got != want {
			t.Fatalf("Open(%.3s…) = %q, %v; want %q", sealed, got, err, want)
		}
	}
	// Without the previous key, old versions name what is missing.
	alone, err := NewVersionedKeyring(newKey, nil, versions)
	if err != nil {
		t.Fatal(err)
	}
	_, err = alone.Open(v2, "c")
	var missing *MissingKeyError
	if !errors.As(err, &missing) || missing.Version != 2 || missing.Fingerprint != Fingerprint(oldKey) {
		t.Fatalf("opening version 2 without the old key: %v", err)
	}
	// Version 3 of the new key is not version 3 of the old key.
	if _, err := running.Open(v3, "c"); err == nil {
		t.Fatal("a value sealed under the new key opened with the old one")
	}
	// A keyring needs a version of its own key to seal under.
	if _, err := NewVersionedKeyring(newKey, nil, map[int]string{1: Fingerprint(oldKey)}); err == nil {
		t.Fatal("a keyring without a version of its key was made")
	}
	if err := changed.Advance(3); err == nil {
		t.Fatal("Advance went back to the version in use")
	}
	if err := changed.Advance(4); err != nil || !strings.HasPrefix(changed.Seal("y", "c"), "v4:") {
		t.Fatalf("Advance(4): %v", err)
	}
}

func TestSealedVersion(t *testing.T) {
	for in, want := range map[string]int{"v1:abc": 1, "v12:x": 12, "v0:x": 0, "v01:x": 0, "v+1:x": 0, "v-1:x": 0, "1:x": 0, "v1": 0, "": 0, "vx:y": 0} {
		if got, ok := SealedVersion(in); got != want || ok != (want != 0) {
			t.Errorf("SealedVersion(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
}
