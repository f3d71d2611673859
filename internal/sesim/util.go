package sesim

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

const (
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
)

func randomFrom(alphabet string, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func randomUpper(n int) string { return randomFrom(upperAlnum, n) }

func randomSecret(n int) string {
	return randomFrom("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", n)
}

// stableUpper derives an IAM-style unique id from a seed, so a principal
// keeps its id when re-added.
func stableUpper(seed string, n int) string {
	sum := sha256.Sum256([]byte(seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = upperAlnum[int(sum[i%len(sum)])%len(upperAlnum)]
	}
	return string(b)
}

// newUUID returns a random version 4 UUID.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// sesRegionPrefix is the first four hex digits of SES message ids, which
// name the region that sent them (0100 us-east-1, 0102 eu-west-1, …).
var sesRegionPrefix = map[string]string{
	"us-east-1":    "0100",
	"us-west-2":    "0101",
	"eu-west-1":    "0102",
	"eu-central-1": "0107",
	"us-east-2":    "010f",
}

// sesID returns an SES message or feedback id:
// "<region prefix><12 hex digits of epoch ms>-<uuid>-000000".
func sesID(region string, t time.Time) string {
	p := sesRegionPrefix[region]
	if p == "" {
		p = "0100"
	}
	return fmt.Sprintf("%s%012x-%s-000000", p, t.UnixMilli(), newUUID())
}

// epoch renders a time as the JSON protocols' default timestamp format:
// seconds since the epoch with millisecond precision.
func epoch(t time.Time) float64 {
	return float64(t.UnixMilli()) / 1000
}

// isoMillis is SES's event timestamp format.
func isoMillis(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// parseTimestamp accepts the SDK's query timestamp formats: ISO 8601
// date-time (with or without fraction) or epoch seconds.
func parseTimestamp(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return time.UnixMilli(int64(f * 1000)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("invalid timestamp %q", v)
}

// page slices items for NextToken/PageSize paging. The token is opaque to
// clients: an encoded offset.
func page[T any](items []T, token string, size, def, max int) ([]T, string, error) {
	if size == 0 {
		size = def
	}
	if size < 1 || size > max {
		return nil, "", fmt.Errorf("page size must be between 1 and %d", max)
	}
	off := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || !strings.HasPrefix(string(raw), "o:") {
			return nil, "", errBadToken
		}
		off, err = strconv.Atoi(string(raw[2:]))
		if err != nil || off < 0 {
			return nil, "", errBadToken
		}
	}
	if off > len(items) {
		off = len(items)
	}
	end := off + size
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(end)))
	} else {
		end = len(items)
	}
	return items[off:end], next, nil
}

var errBadToken = fmt.Errorf("invalid NextToken")
