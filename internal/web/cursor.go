package web

import (
	"encoding/base64"

	"sendops/internal/domain"
)

// Cursors are opaque to clients: the base64 of the last key of a page.
func encodeCursor(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

func decodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) == 0 {
		return "", domain.FieldError("cursor", "The cursor is not one this server gave out.")
	}
	return string(b), nil
}
