package hbs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Object is a JSON object that keeps its keys in the order JavaScript
// iterates them, which is what {{#each}} over an object sees: keys that
// are array indices ("0", "1", …) first in ascending order, then the
// others in the order they first appeared.
type Object struct {
	keys  []string // insertion order
	vals  map[string]any
	order []string // iteration order, nil when stale
}

// NewObject returns an empty object.
func NewObject() *Object { return &Object{vals: map[string]any{}} }

// Set sets key to v. A key set again keeps its first position, as in
// JavaScript.
func (o *Object) Set(key string, v any) {
	if _, ok := o.vals[key]; !ok {
		o.keys = append(o.keys, key)
		o.order = nil
	}
	o.vals[key] = v
}

// Get returns the value of key and whether the object has it.
func (o *Object) Get(key string) (any, bool) {
	v, ok := o.vals[key]
	return v, ok
}

// Len is the number of keys.
func (o *Object) Len() int { return len(o.keys) }

// Keys returns the keys in iteration order. The caller must not modify
// the slice.
func (o *Object) Keys() []string {
	if o.order == nil {
		var idx, rest []string
		for _, k := range o.keys {
			if _, ok := arrayIndex(k); ok {
				idx = append(idx, k)
			} else {
				rest = append(rest, k)
			}
		}
		sort.Slice(idx, func(i, j int) bool {
			a, _ := arrayIndex(idx[i])
			b, _ := arrayIndex(idx[j])
			return a < b
		})
		o.order = append(idx, rest...)
	}
	return o.order
}

// arrayIndex reports whether k is the canonical form of a JavaScript
// array index (0 to 2³²−2), and its value.
func arrayIndex(k string) (uint64, bool) {
	if k == "" || len(k) > 10 || (len(k) > 1 && k[0] == '0') {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(k); i++ {
		if k[i] < '0' || k[i] > '9' {
			return 0, false
		}
		n = n*10 + uint64(k[i]-'0')
	}
	return n, n < math.MaxUint32
}

// MaxDataDepth bounds how deeply template data may nest.
const MaxDataDepth = 100

// DataError is template data that is not valid JSON, with where.
type DataError struct {
	Line, Col int
	Msg       string
}

func (e *DataError) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg) }

// DecodeJSON decodes template data: any JSON value, with objects as
// *Object (in JavaScript's key order), arrays as []any, numbers as
// float64 (as JavaScript holds them), strings, booleans and nil. SES's
// TemplateData must be a JSON object; callers that need that check the
// result is an *Object.
func DecodeJSON(b []byte) (any, error) {
	// Unmarshal places syntax errors exactly (its offset is just past the
	// bad character); the decoder below then reads a valid document.
	var raw json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		var se *json.SyntaxError
		if !errors.As(err, &se) {
			return nil, dataErr(b, 0, err.Error())
		}
		off := se.Offset - 1
		if strings.HasPrefix(se.Error(), "unexpected end") {
			off = int64(len(b))
		}
		return nil, dataErr(b, off, se.Error())
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	v, err := decodeValue(d, b, 0)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, dataErr(b, d.InputOffset(), "unexpected data after the JSON value")
	}
	return v, nil
}

func decodeValue(d *json.Decoder, b []byte, depth int) (any, error) {
	start := d.InputOffset()
	tok, err := d.Token()
	if err != nil {
		return nil, jsonErr(b, d, err)
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= MaxDataDepth {
			return nil, dataErr(b, start, fmt.Sprintf("data nests deeper than %d levels", MaxDataDepth))
		}
		if t == '[' {
			arr := []any{}
			for d.More() {
				v, err := decodeValue(d, b, depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := d.Token(); err != nil {
				return nil, jsonErr(b, d, err)
			}
			return arr, nil
		}
		obj := NewObject()
		for d.More() {
			kt, err := d.Token()
			if err != nil {
				return nil, jsonErr(b, d, err)
			}
			k, _ := kt.(string)
			v, err := decodeValue(d, b, depth+1)
			if err != nil {
				return nil, err
			}
			obj.Set(k, v)
		}
		if _, err := d.Token(); err != nil {
			return nil, jsonErr(b, d, err)
		}
		return obj, nil
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, dataErr(b, start, "invalid number "+string(t))
		}
		return f, nil // out of range: ±Inf or 0, as JavaScript reads it
	default:
		return t, nil // string, bool or nil
	}
}

func jsonErr(b []byte, d *json.Decoder, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return dataErr(b, se.Offset, se.Error())
	}
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return dataErr(b, int64(len(b)), "unexpected end of JSON")
	}
	return dataErr(b, d.InputOffset(), err.Error())
}

func dataErr(b []byte, off int64, msg string) error {
	l, c := lineCol(string(b), int(min(max(off, 0), int64(len(b)))))
	return &DataError{Line: l, Col: c, Msg: msg}
}

// lineCol returns the 1-based line and column (in characters) of byte
// offset off in s.
func lineCol(s string, off int) (int, int) {
	s = s[:off]
	line := 1 + strings.Count(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return line, 1 + len([]rune(s))
}

// normal maps the Go values a caller may pass as data onto the JSON
// model: map[string]any becomes an *Object (keys sorted, having no order
// of their own), json.Number and Go integers become float64.
func normal(v any) any {
	switch x := v.(type) {
	case map[string]any:
		o := NewObject()
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			o.Set(k, x[k])
		}
		return o
	case json.Number:
		f, _ := strconv.ParseFloat(string(x), 64)
		return f
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case float32:
		return float64(x)
	}
	return v
}

// deepNormal converts the Go maps in data to *Object, once, so that a
// render does not convert them at every lookup. It copies only what it
// changes.
func deepNormal(v any, depth int) (any, bool) {
	if depth > MaxDataDepth {
		return v, false
	}
	switch x := v.(type) {
	case map[string]any:
		o := normal(x).(*Object)
		for _, k := range o.Keys() {
			e, _ := o.Get(k)
			if ne, ok := deepNormal(e, depth+1); ok {
				o.Set(k, ne)
			}
		}
		return o, true
	case []any:
		var out []any
		for i, e := range x {
			if ne, ok := deepNormal(e, depth+1); ok {
				if out == nil {
					out = slices.Clone(x)
				}
				out[i] = ne
			}
		}
		if out != nil {
			return out, true
		}
	}
	return v, false
}

// truthy is Handlebars's #if test: false, undefined, null, "", 0 and []
// are falsy; everything else (an empty object too) is truthy.
func truthy(v any) bool {
	switch x := normal(v).(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case float64:
		return x != 0 && !math.IsNaN(x)
	case []any:
		return len(x) > 0
	}
	return true
}

// empty is Handlebars's isEmpty, the #with test: like !truthy except
// that 0 is not empty.
func empty(v any) bool {
	if f, ok := normal(v).(float64); ok {
		return math.IsNaN(f)
	}
	return !truthy(v)
}

// stringify renders a value as JavaScript's String() does, with null and
// undefined as "" (Handlebars's escapeExpression).
func stringify(v any) string {
	switch x := normal(v).(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return formatNumber(x)
	case []any:
		var b strings.Builder
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(stringify(e)) // null elements join as ""
		}
		return b.String()
	}
	return "[object Object]"
}

// formatNumber is JavaScript's Number.prototype.toString for base 10.
func formatNumber(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	}
	sign := ""
	if f < 0 {
		sign, f = "-", -f
	}
	// The shortest digits that round-trip, and the decimal exponent.
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±xx
	mant, exp, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	k, n := len(digits), x+1
	switch {
	case k <= n && n <= 21:
		return sign + digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		return sign + digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		return sign + "0." + strings.Repeat("0", -n) + digits
	}
	es := "+"
	if n-1 < 0 {
		es = "-"
	}
	ev := strconv.Itoa(abs(n - 1))
	if k == 1 {
		return sign + digits + "e" + es + ev
	}
	return sign + digits[:1] + "." + digits[1:] + "e" + es + ev
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

var htmlEscaper = strings.NewReplacer(
	"&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#x27;", "`", "&#x60;", "=", "&#x3D;",
)

// EscapeHTML escapes s as Handlebars.js escapes {{expressions}}: the
// characters & < > " ' ` and =.
func EscapeHTML(s string) string { return htmlEscaper.Replace(s) }

// sameContext reports whether a block's new context is the current one,
// in which case Handlebars does not add a level for ../ to climb.
// Objects and arrays compare by identity, other values by value.
func sameContext(a, b any) bool {
	a, b = normal(a), normal(b)
	switch x := a.(type) {
	case *Object:
		y, ok := b.(*Object)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		return ok && len(x) == len(y) && (len(x) == 0 || &x[0] == &y[0])
	case nil, string, bool, float64:
		return a == b
	}
	return false
}
