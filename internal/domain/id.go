package domain

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"time"
)

const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// NewID returns a new identifier: 26 lower-case Crockford base32 characters
// holding a 48-bit millisecond time and 80 random bits, so that ids sort by
// creation time (cursor pagination relies on it) and cannot be guessed.
func NewID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	rand.Read(b[6:])
	// 128 bits as 26 base32 digits, most significant first.
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// IDAfter returns a new identifier that sorts after prev (an identifier
// NewID made): prev advanced by a random amount below 2^32, so that
// entries written within one millisecond can sort in the order written.
func IDAfter(prev string) string {
	var r [4]byte
	rand.Read(r[:])
	carry := uint64(binary.BigEndian.Uint32(r[:])) + 1
	out := []byte(prev)
	for i := len(out) - 1; i >= 0 && carry > 0; i-- {
		d := uint64(strings.IndexByte(crockford, out[i])) + carry
		out[i], carry = crockford[d%32], d/32
	}
	return string(out)
}
