package web_test

import (
	"testing"
	"time"

	"sendops/internal/testutil/smtpsink"
)

const defaultWait = 10 * time.Second

func linkIn(t testing.TB, text, prefix string) string {
	t.Helper()
	return smtpsink.Link(t, text, prefix)
}
