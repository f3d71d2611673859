package sesim

import (
	"encoding/json"
	"fmt"
	"strings"
)

// EventBridge event patterns: an object whose leaves are arrays of
// matchers. A leaf matches when the event's value (or any element of an
// array value) equals a literal of the array or satisfies one of its
// content filters: {"prefix"}, {"suffix"}, {"equals-ignore-case"},
// {"anything-but"}, {"exists"} and {"numeric"}. Nested objects match
// nested event objects; every key of the pattern must match.

// compilePattern parses and validates an EventPattern.
func compilePattern(src string) (map[string]any, error) {
	var p map[string]any
	if err := json.Unmarshal([]byte(src), &p); err != nil || p == nil {
		return nil, fmt.Errorf("Event pattern is not valid. Reason: it must be a JSON object")
	}
	if err := validatePattern(p, ""); err != nil {
		return nil, fmt.Errorf("Event pattern is not valid. Reason: %v", err)
	}
	return p, nil
}

func validatePattern(p map[string]any, at string) error {
	if len(p) == 0 && at == "" {
		return fmt.Errorf("empty pattern")
	}
	for k, v := range p {
		path := strings.TrimPrefix(at+"."+k, ".")
		switch v := v.(type) {
		case map[string]any:
			if err := validatePattern(v, path); err != nil {
				return err
			}
		case []any:
			if len(v) == 0 {
				return fmt.Errorf("empty arrays are not allowed (at %s)", path)
			}
			for _, m := range v {
				if f, ok := m.(map[string]any); ok {
					if err := validateFilter(f, path); err != nil {
						return err
					}
				}
			}
		default:
			return fmt.Errorf("match value must be put inside a json array (at %s)", path)
		}
	}
	return nil
}

func validateFilter(f map[string]any, path string) error {
	if len(f) != 1 {
		return fmt.Errorf("a content filter has exactly one key (at %s)", path)
	}
	for k, v := range f {
		switch k {
		case "prefix", "suffix", "equals-ignore-case":
			if _, ok := v.(string); !ok {
				return fmt.Errorf("%s match pattern must be a string (at %s)", k, path)
			}
		case "exists":
			if _, ok := v.(bool); !ok {
				return fmt.Errorf("exists match pattern must be either true or false (at %s)", path)
			}
		case "anything-but":
		case "numeric":
			arr, ok := v.([]any)
			if !ok || len(arr) == 0 || len(arr)%2 != 0 {
				return fmt.Errorf("numeric match needs operator/value pairs (at %s)", path)
			}
			for i := 0; i < len(arr); i += 2 {
				op, _ := arr[i].(string)
				if _, ok := arr[i+1].(float64); !ok || !validNumericOp(op) {
					return fmt.Errorf("invalid numeric match (at %s)", path)
				}
			}
		default:
			return fmt.Errorf("unrecognized match type %s (at %s)", k, path)
		}
	}
	return nil
}

func validNumericOp(op string) bool {
	switch op {
	case "=", "<", "<=", ">", ">=":
		return true
	}
	return false
}

// matchPattern reports whether event matches pattern.
func matchPattern(pattern, event map[string]any) bool {
	for k, pv := range pattern {
		ev, present := event[k]
		switch pv := pv.(type) {
		case map[string]any:
			// A missing or non-object value matches only filters that
			// accept absence ({"exists": false}).
			sub, _ := ev.(map[string]any)
			if sub == nil {
				sub = map[string]any{}
			}
			if !matchPattern(pv, sub) {
				return false
			}
		case []any:
			if !matchLeaf(pv, ev, present) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func matchLeaf(matchers []any, v any, present bool) bool {
	values := []any{v}
	if arr, ok := v.([]any); ok {
		values = arr
	}
	for _, m := range matchers {
		if f, ok := m.(map[string]any); ok {
			if e, ok := f["exists"].(bool); ok {
				if e == present {
					return true
				}
				continue
			}
		}
		if !present {
			continue
		}
		for _, x := range values {
			if matchOne(m, x) {
				return true
			}
		}
	}
	return false
}

func matchOne(m, v any) bool {
	f, ok := m.(map[string]any)
	if !ok {
		return literalEqual(m, v)
	}
	for k, arg := range f {
		switch k {
		case "prefix":
			s, ok := v.(string)
			return ok && strings.HasPrefix(s, arg.(string))
		case "suffix":
			s, ok := v.(string)
			return ok && strings.HasSuffix(s, arg.(string))
		case "equals-ignore-case":
			s, ok := v.(string)
			return ok && strings.EqualFold(s, arg.(string))
		case "anything-but":
			switch a := arg.(type) {
			case []any:
				for _, x := range a {
					if literalEqual(x, v) {
						return false
					}
				}
				return true
			case map[string]any:
				return !matchOne(a, v)
			default:
				return !literalEqual(a, v)
			}
		case "numeric":
			n, ok := v.(float64)
			if !ok {
				return false
			}
			arr := arg.([]any)
			for i := 0; i+1 < len(arr); i += 2 {
				op, _ := arr[i].(string)
				x, _ := arr[i+1].(float64)
				if !compareNumber(n, op, x) {
					return false
				}
			}
			return true
		}
	}
	return false
}

func literalEqual(a, b any) bool {
	switch a := a.(type) {
	case string:
		s, ok := b.(string)
		return ok && a == s
	case float64:
		n, ok := b.(float64)
		return ok && a == n
	case bool:
		x, ok := b.(bool)
		return ok && a == x
	case nil:
		return b == nil
	}
	return false
}

func compareNumber(n float64, op string, x float64) bool {
	switch op {
	case "=":
		return n == x
	case "<":
		return n < x
	case "<=":
		return n <= x
	case ">":
		return n > x
	case ">=":
		return n >= x
	}
	return false
}
