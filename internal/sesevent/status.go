package sesevent

// StatusCode returns the SMTP enhanced status code (RFC 3463, e.g. "5.1.1")
// of a bounced or delayed recipient: the first one found in status, else the
// first one found in diagnostic (e.g. "smtp; 550-5.1.1 The email account…"),
// else "". A code is class 2, 4 or 5, then one to three digits, a dot, and
// one to three digits, standing alone (not inside an IP address, a version
// number or a word).
func StatusCode(status, diagnostic string) string {
	if c := findStatusCode(status); c != "" {
		return c
	}
	return findStatusCode(diagnostic)
}

func findStatusCode(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '2' && c != '4' && c != '5' {
			continue
		}
		if i > 0 && !isBoundary(s[i-1]) {
			continue
		}
		j := i + 1
		if j >= len(s) || s[j] != '.' {
			continue
		}
		j = digits(s, j+1)
		if j < 0 || j >= len(s) || s[j] != '.' {
			continue
		}
		j = digits(s, j+1)
		if j < 0 {
			continue
		}
		if j < len(s) && (isDigit(s[j]) || s[j] == '.' && j+1 < len(s) && isDigit(s[j+1]) || isLetter(s[j])) {
			continue
		}
		return s[i:j]
	}
	return ""
}

// digits returns the index after one to three digits starting at i, or -1.
func digits(s string, i int) int {
	j := i
	for j < len(s) && j-i < 3 && isDigit(s[j]) {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// isBoundary reports whether c may precede a status code: anything but a
// letter, digit, dot or the like ("550-5.1.1", "(#5.1.1)", "; 5.1.1").
func isBoundary(c byte) bool {
	return !isDigit(c) && !isLetter(c) && c != '.' && c != '_' && c != '/'
}

func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
