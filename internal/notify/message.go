package notify

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
)

// maxHeaderLine is the length RFC 5322 recommends header lines keep to.
const maxHeaderLine = 78

// buildMessage returns the RFC 5322 message, with CRLF line endings, for a
// plain-text notice. The body is quoted-printable, so long lines and any
// UTF-8 text pass through every mail server unchanged.
func buildMessage(from, to *mail.Address, subject, text string, now time.Time) ([]byte, error) {
	var b bytes.Buffer
	header := func(name, value string) {
		b.WriteString(foldHeader(name, value))
		b.WriteString("\r\n")
	}
	header("From", from.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", messageID(from.Address))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")

	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	w := quotedprintable.NewWriter(&b)
	if _, err := w.Write([]byte(text)); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// foldHeader returns "name: value", folded at spaces so that its lines keep
// to maxHeaderLine characters where the words allow. Unfolding (removing
// each CRLF) gives back the value unchanged.
func foldHeader(name, value string) string {
	line := name + ":"
	if len(line)+1+len(value) <= maxHeaderLine {
		return line + " " + value
	}
	var b strings.Builder
	lineLen := len(line)
	b.WriteString(line)
	for _, word := range strings.Split(value, " ") {
		// A line may break before its first word, leaving "Name:" alone
		// on the first line; some encoded words are too long to follow
		// it on the same line.
		if lineLen+1+len(word) > maxHeaderLine && lineLen > 1 {
			b.WriteString("\r\n")
			lineLen = 0
		}
		b.WriteString(" ")
		b.WriteString(word)
		lineLen += 1 + len(word)
	}
	return b.String()
}

// messageID returns a new, unique Message-ID in the domain of the From
// address.
func messageID(from string) string {
	domain := "sendops.invalid"
	if at := strings.LastIndex(from, "@"); at >= 0 && at+1 < len(from) {
		domain = from[at+1:]
	}
	var id [16]byte
	rand.Read(id[:])
	return "<" + hex.EncodeToString(id[:]) + "@" + domain + ">"
}
