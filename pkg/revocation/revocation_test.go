package revocation

import "testing"

func TestParsePayload(t *testing.T) {
	if u, g, err := parsePayload("42:7"); err != nil || u != 42 || g != 7 {
		t.Errorf(`parsePayload("42:7") = %d, %d, %v`, u, g, err)
	}
	for _, bad := range []string{"", "42", "x:1", "1:y", "1:2:3"} {
		if _, _, err := parsePayload(bad); err == nil {
			t.Errorf("parsePayload(%q) accepted", bad)
		}
	}
}
