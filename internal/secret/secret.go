// Package secret holds SendOps's cryptography: the keyring that seals
// secrets at rest (AES-256-GCM under versioned keys derived from the server's
// secret key), password hashing (argon2id) and random tokens.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Keyring seals and opens secrets. Sealed values name the key version that
// sealed them ("v1:…"), so that keys can be rotated and old values still open.
//
// Key version N is derived from a server secret key by HKDF-SHA256 with the
// info "sendops seal vN". A keyring holds the server's secret key and,
// while it changes, the previous one; the database records which of them
// each version came from (by Fingerprint). Seal uses one version, fixed when
// the keyring is made; Open takes any version it can derive, including
// versions added by a rotation after the keyring was made: it derives them
// on demand from its secret keys and keeps the one that authenticates.
// A Keyring is safe for concurrent use.
type Keyring struct {
	current []byte // the server's secret key
	prev    []byte // the previous secret key, or nil

	mu       sync.RWMutex
	seal     int                 // the version Seal uses
	versions map[int]string      // known versions: the fingerprint of their secret key
	aeads    map[int]cipher.AEAD // derived keys
}

// maxVersion bounds the versions Open derives on demand.
const maxVersion = 1 << 20

// Fingerprint names a secret key without revealing it: 16 hex digits of a
// key derived from it for no other purpose.
func Fingerprint(secretKey []byte) string {
	fp, err := hkdf.Key(sha256.New, secretKey, nil, "sendops key fingerprint", 8)
	if err != nil {
		panic(err) // only for lengths HKDF cannot produce
	}
	return hex.EncodeToString(fp)
}

// NewKeyring derives a keyring from one secret key that seals under
// version 1: the keyring of a database without recorded key versions, and
// of tests.
func NewKeyring(secretKey []byte) (*Keyring, error) {
	return NewVersionedKeyring(secretKey, nil, map[int]string{1: Fingerprint(secretKey)})
}

// NewVersionedKeyring makes the keyring of a server whose secret key is
// current (and was previous, or nil) for a database whose key versions are
// versions (version: fingerprint of the secret key it was derived from).
// It seals under the newest version derived from current, and fails when
// there is none.
func NewVersionedKeyring(current, previous []byte, versions map[int]string) (*Keyring, error) {
	if len(current) < 32 {
		return nil, errors.New("the secret key must be at least 32 bytes")
	}
	if previous != nil && len(previous) < 32 {
		return nil, errors.New("the previous secret key must be at least 32 bytes")
	}
	k := &Keyring{current: current, prev: previous, versions: map[int]string{}, aeads: map[int]cipher.AEAD{}}
	fp := Fingerprint(current)
	for v, f := range versions {
		if v < 1 || v > maxVersion {
			return nil, fmt.Errorf("key version %d is out of range", v)
		}
		k.versions[v] = f
		if f == fp && v > k.seal {
			k.seal = v
		}
	}
	if k.seal == 0 {
		return nil, errors.New("no key version is derived from this secret key")
	}
	if _, err := k.aead(k.seal); err != nil {
		return nil, err
	}
	return k, nil
}

// Version is the key version Seal uses.
func (k *Keyring) Version() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.seal
}

// Fingerprint is the fingerprint of the keyring's (current) secret key.
func (k *Keyring) Fingerprint() string { return Fingerprint(k.current) }

// Advance makes Seal use version, a version newer than the one it uses,
// derived from the keyring's current secret key (a rotation recorded it).
func (k *Keyring) Advance(version int) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if version <= k.seal || version > maxVersion {
		return fmt.Errorf("key version %d is not newer than %d", version, k.seal)
	}
	if f, ok := k.versions[version]; ok && f != Fingerprint(k.current) {
		return &MissingKeyError{Version: version, Fingerprint: f}
	}
	aead, err := derive(k.current, version)
	if err != nil {
		return err
	}
	k.versions[version] = Fingerprint(k.current)
	k.aeads[version] = aead
	k.seal = version
	return nil
}

// MissingKeyError is a key version derived from a secret key the keyring
// does not hold.
type MissingKeyError struct {
	Version     int
	Fingerprint string // of the secret key it was derived from; "" if never recorded
}

func (e *MissingKeyError) Error() string {
	if e.Fingerprint == "" {
		return fmt.Sprintf("values sealed under key version %d do not open with this server's secret key", e.Version)
	}
	return fmt.Sprintf("key version %d was derived from a secret key this server does not have (fingerprint %s)", e.Version, e.Fingerprint)
}

// aead returns the key of a recorded version.
func (k *Keyring) aead(version int) (cipher.AEAD, error) {
	k.mu.RLock()
	aead, ok := k.aeads[version]
	fp, known := k.versions[version]
	k.mu.RUnlock()
	if ok {
		return aead, nil
	}
	if !known {
		return nil, fmt.Errorf("key version %d is not recorded", version)
	}
	var key []byte
	switch fp {
	case Fingerprint(k.current):
		key = k.current
	case k.prevFingerprint():
		key = k.prev
	default:
		return nil, &MissingKeyError{Version: version, Fingerprint: fp}
	}
	aead, err := derive(key, version)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.aeads[version] = aead
	k.mu.Unlock()
	return aead, nil
}

func (k *Keyring) prevFingerprint() string {
	if k.prev == nil {
		return ""
	}
	return Fingerprint(k.prev)
}

func derive(secretKey []byte, version int) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, secretKey, nil, "sendops seal v"+strconv.Itoa(version), 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Seal encrypts plaintext under the keyring's version. context binds the
// value to its place (e.g. "totp:USERID"): a value moved elsewhere does not
// open.
func (k *Keyring) Seal(plaintext, context string) string {
	v := k.Version()
	aead, err := k.aead(v)
	if err != nil {
		panic(err) // the keyring derived it when it was made or advanced
	}
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	ct := aead.Seal(nonce, nonce, []byte(plaintext), []byte(context))
	return "v" + strconv.Itoa(v) + ":" + base64.RawStdEncoding.EncodeToString(ct)
}

// SealedVersion returns the key version a sealed value names.
func SealedVersion(sealed string) (int, bool) {
	ver, _, ok := strings.Cut(sealed, ":")
	if !ok || !strings.HasPrefix(ver, "v") {
		return 0, false
	}
	v, err := strconv.Atoi(ver[1:])
	if err != nil || v < 1 || v > maxVersion || ver[1] == '0' || ver[1] == '+' {
		return 0, false
	}
	return v, true
}

// Open decrypts a value made by Seal with the same context. A version the
// keyring has not recorded (a rotation made it since) is derived from the
// keyring's secret keys; it must authenticate the value.
func (k *Keyring) Open(sealed, context string) (string, error) {
	v, ok := SealedVersion(sealed)
	if !ok {
		return "", errors.New("not a sealed value")
	}
	_, body, _ := strings.Cut(sealed, ":")
	ct, err := base64.RawStdEncoding.DecodeString(body)
	if err != nil || len(ct) < 12+16 {
		return "", errors.New("not a sealed value")
	}
	k.mu.RLock()
	_, known := k.versions[v]
	k.mu.RUnlock()
	if !known {
		return k.openNew(v, ct, context)
	}
	aead, err := k.aead(v)
	if err != nil {
		return "", err
	}
	pt, err := aead.Open(nil, ct[:aead.NonceSize()], ct[aead.NonceSize():], []byte(context))
	if err != nil {
		return "", errors.New("sealed value does not open: wrong key or context")
	}
	return string(pt), nil
}

// openNew opens a value sealed under a version the keyring has not
// recorded, trying each of its secret keys; the one that authenticates the
// value is kept for that version.
func (k *Keyring) openNew(v int, ct []byte, context string) (string, error) {
	for _, key := range [][]byte{k.current, k.prev} {
		if key == nil {
			continue
		}
		aead, err := derive(key, v)
		if err != nil {
			return "", err
		}
		pt, err := aead.Open(nil, ct[:aead.NonceSize()], ct[aead.NonceSize():], []byte(context))
		if err != nil {
			continue
		}
		k.mu.Lock()
		if _, ok := k.versions[v]; !ok {
			k.versions[v] = Fingerprint(key)
			k.aeads[v] = aead
		}
		k.mu.Unlock()
		return string(pt), nil
	}
	return "", fmt.Errorf("sealed value does not open: key version %d is not derived from this server's secret keys, or the context is wrong", v)
}

// Token returns a new random token of 32 bytes (256 bits), URL-safe, with
// an optional visible prefix.
func Token(prefix string) string {
	b := make([]byte, 32)
	rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// HashToken returns the hex SHA-256 of a high-entropy token, which is what
// the database keeps. (Passwords use HashPassword instead.)
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Equal compares two strings in constant time.
func Equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
