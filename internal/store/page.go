package store

import (
	"encoding/base64"
	"strings"

	"sendops/internal/domain"
)

// MaxLimit is the most rows one page may hold.
const MaxLimit = 200

// pageArgs validates a page request: the row limit (default 50) and the id
// after which the page starts ("" for the first page).
func pageArgs(p domain.Page) (limit int, after string, err error) {
	limit = p.Limit
	if limit == 0 {
		limit = 50
	}
	if limit < 1 || limit > MaxLimit {
		return 0, "", domain.FieldError("limit", "limit must be between 1 and %d.", MaxLimit)
	}
	if p.Cursor != "" {
		if after, err = DecodeCursor(p.Cursor); err != nil {
			return 0, "", err
		}
	}
	return limit, after, nil
}

// nextCursor trims a result fetched with limit+1 rows and returns the
// cursor of the next page, "" on the last page.
func nextCursor[T any](rows []T, limit int, key func(T) string) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, EncodeCursor(key(rows[limit-1]))
}

// EncodeCursor makes the opaque cursor of a page that ends at key. Cursors
// of the store's listings and of the API's in-memory ones are the same.
func EncodeCursor(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

// DecodeCursor returns the key a cursor was made from. Errors: EInvalid.
func DecodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) == 0 {
		return "", domain.FieldError("cursor", "The cursor is not one this server gave out.")
	}
	return string(b), nil
}

// escapeLike escapes LIKE wildcards; queries say ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
