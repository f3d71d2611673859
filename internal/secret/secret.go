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
)

// Keyring seals and opens secrets. Sealed values name the key version that
// sealed them ("v1:…"), so that keys can be rotated and old values still open.
type Keyring struct {
	current int
	aeads   map[int]cipher.AEAD
}

// NewKeyring derives the keyring from the server's secret key. Version 1 is
// derived from it; later versions are added by rotation.
func NewKeyring(secretKey []byte) (*Keyring, error) {
	if len(secretKey) < 32 {
		return nil, errors.New("the secret key must be at least 32 bytes")
	}
	k := &Keyring{aeads: map[int]cipher.AEAD{}}
	if err := k.add(secretKey, 1); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *Keyring) add(secretKey []byte, version int) error {
	key, err := hkdf.Key(sha256.New, secretKey, nil, "sendops seal v"+strconv.Itoa(version), 32)
	if err != nil {
		return err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return err
	}
	k.aeads[version] = aead
	if version > k.current {
		k.current = version
	}
	return nil
}

// Seal encrypts plaintext under the current key. context binds the value to
// its place (e.g. "totp:USERID"): a value moved elsewhere does not open.
func (k *Keyring) Seal(plaintext, context string) string {
	aead := k.aeads[k.current]
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	ct := aead.Seal(nonce, nonce, []byte(plaintext), []byte(context))
	return "v" + strconv.Itoa(k.current) + ":" + base64.RawStdEncoding.EncodeToString(ct)
}

// Open decrypts a value made by Seal with the same context.
func (k *Keyring) Open(sealed, context string) (string, error) {
	ver, body, ok := strings.Cut(sealed, ":")
	if !ok || !strings.HasPrefix(ver, "v") {
		return "", errors.New("not a sealed value")
	}
	v, err := strconv.Atoi(ver[1:])
	if err != nil {
		return "", errors.New("not a sealed value")
	}
	aead, ok := k.aeads[v]
	if !ok {
		return "", fmt.Errorf("sealed with key version %d, which this keyring lacks", v)
	}
	ct, err := base64.RawStdEncoding.DecodeString(body)
	if err != nil || len(ct) < aead.NonceSize() {
		return "", errors.New("not a sealed value")
	}
	pt, err := aead.Open(nil, ct[:aead.NonceSize()], ct[aead.NonceSize():], []byte(context))
	if err != nil {
		return "", errors.New("sealed value does not open: wrong key or context")
	}
	return string(pt), nil
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
