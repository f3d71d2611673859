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
		b, err := base64.RawURLEncoding.DecodeString(p.Cursor)
		if err != nil || len(b) == 0 {
			return 0, "", domain.FieldError("cursor", "The cursor is not one this server gave out.")
		}
		after = string(b)
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
	return rows, encodeCursor(key(rows[limit-1]))
}

func encodeCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

// escapeLike escapes LIKE wildcards; queries say ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
